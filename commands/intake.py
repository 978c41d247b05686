"""Command intake from Kafka (``serviceorder intake``): carriers' and devices' systems write
commands to ``<prefix>.commands``; each is run exactly once and its result published on
``<prefix>.command-results`` (topics and shapes: streams/intake_topics.py).

Each message is a batch command (commands/api/batch.py) with an ``id``: it runs through its
own HTTP route in this process, as the principal of ``SERVICEORDER_INTAKE_TOKEN``, with the
message id as its idempotency key. A poll's messages run as one batch (group commit), then
their results and dead letters are produced and flushed, and only then are the offsets
committed. A crash anywhere before that commit reads the messages again: the commands that
were written replay their first result (the idempotency record was saved in the command's
own transaction), the rest run now, so every command is written once. Results are therefore
at least once; dedupe them by ``id``.

Messages bypass the HTTP stack's input guard, so ``parse`` applies its checks here (the
guard's own code, commands/api/input_guard.py): no control character (tab and line breaks
only in free-text fields), no duplicate key at any depth.

Several intake processes share the partitions as one consumer group. Messages that are not
commands (not JSON, duplicate keys, no id, unknown fields...) go to the dead-letter topic
with the reason, unchanged. A poll whose commands met an unavailable store is not committed
and runs again after a pause.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata
from pydantic import ValidationError

from commands.api import schemas
from commands.api.app import create_app
from commands.api.batch import BatchCommandIn, BatchExecutor, Outcome
from commands.api.input_guard import Refused, checked_json
from commands.bootstrap import Runtime
from engine.application.context import Principal
from streams import intake_topics as topics

log = structlog.get_logger(__name__)
RETRY_PAUSE = 1.0


class IntakeRefused(Exception):
    """The intake's token is unknown, revoked or expired: it must not run anything."""


class BadMessage(ValueError):
    """A message that is not a command; its text is the dead letter's reason."""


@dataclass(frozen=True)
class Received:
    record: Any
    command: BatchCommandIn


def parse(value: bytes | None, max_bytes: int, free_text: frozenset[str] | None = None) -> BatchCommandIn:
    """The command a message carries, its id as the idempotency key; BadMessage otherwise.
    ``free_text``: the fields that may hold tabs and line breaks (by default the API's)."""
    if value is None:
        raise BadMessage("empty message")
    if len(value) > max_bytes:
        raise BadMessage(f"message of {len(value)} bytes exceeds {max_bytes}")
    try:
        value.decode("utf-8")  # only UTF-8: json.loads would also read UTF-16 and UTF-32 bytes
        document = checked_json(value, schemas.free_text_fields() if free_text is None else free_text, "message")
    except Refused as refused:
        raise BadMessage(f"{refused.slug}: {refused.detail}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise BadMessage("a command is a JSON object")
    message_id = document.pop("id", None)
    if not isinstance(message_id, str) or not 1 <= len(message_id) <= 200 or not message_id.isprintable():
        raise BadMessage("'id' must be 1 to 200 printable characters")
    if "idempotency_key" in document:
        raise BadMessage("'idempotency_key' is the message's 'id'; send only 'id'")
    try:
        return BatchCommandIn.model_validate({**document, "idempotency_key": message_id})
    except ValidationError as exc:
        issues = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise BadMessage(issues) from None


class Intake:
    def __init__(self, runtime: Runtime, token: str, *, batch_size: int = 500, fetch_wait_ms: int = 100,
                 group_id: str | None = None) -> None:
        self.runtime = runtime
        self.token = token
        self.kafka = runtime.start_kafka()
        self.batch_size = batch_size
        self.fetch_wait_ms = fetch_wait_ms
        self.group_id = group_id or self.kafka.topic("intake")
        self.max_bytes = runtime.settings.max_request_bytes
        self.free_text = schemas.free_text_fields()
        self.executor = BatchExecutor(create_app(runtime))
        self.loop = asyncio.new_event_loop()
        self.consumer: KafkaConsumer | None = None
        self.producer: KafkaProducer | None = None
        self.processed = 0

    def principal(self) -> Principal:
        principal = self.runtime.tokens.authenticate(self.token)
        if principal is None:
            raise IntakeRefused("SERVICEORDER_INTAKE_TOKEN is not a valid token (unknown, revoked or expired)")
        return principal

    def start(self) -> None:
        self.principal()
        self.kafka.ensure_topics([topics.COMMANDS, topics.RESULTS, topics.DEAD_LETTERS])
        self.producer = self.kafka.producer()
        self.consumer = self.kafka.consumer(
            group_id=self.group_id, client_id=f"{self.kafka.client_id}-intake", max_poll_records=self.batch_size,
            fetch_max_wait_ms=self.fetch_wait_ms,
            # A killed member's partitions move to the others after the session timeout;
            # the broker also waits about that long for members before a first assignment.
            session_timeout_ms=6_000, heartbeat_interval_ms=1_000, max_poll_interval_ms=60_000)
        self.consumer.subscribe([self.kafka.topic(topics.COMMANDS)])

    def run(self, stop: threading.Event) -> None:
        self.start()
        log.info("intake_started", topic=self.kafka.topic(topics.COMMANDS), group=self.group_id)
        try:
            while not stop.is_set():
                self.cycle()
        finally:
            self.close()
            log.info("intake_stopped", processed=self.processed)

    def cycle(self) -> int:
        """One poll: run its commands, publish what became of them, commit. How many it read."""
        assert self.consumer is not None and self.producer is not None
        polled = self.consumer.poll(timeout_ms=self.fetch_wait_ms, max_records=self.batch_size)
        records = [r for part in polled.values() for r in part]
        if not records:
            return 0
        principal = self.principal()
        received, dead = [], []
        for record in records:
            try:
                received.append(Received(record, parse(record.value, self.max_bytes, self.free_text)))
            except BadMessage as exc:
                dead.append((record, str(exc)))
        outcomes = self.loop.run_until_complete(self.executor.run_alone(
            [r.command for r in received], principal, f"intake-{records[0].partition}-{records[0].offset}"))
        if any(o.status >= 500 for o in outcomes):
            # Nothing is lost by running the poll again: what was written replays.
            log.warning("intake_retrying", commands=len(outcomes),
                        unavailable=sum(1 for o in outcomes if o.status >= 500))
            self._rewind(polled)
            time.sleep(RETRY_PAUSE)
            return 0
        for item, outcome in zip(received, outcomes):
            self._publish_result(item, outcome)
        for record, reason in dead:
            self._dead_letter(record, reason)
        self.producer.flush()
        self.consumer.commit({tp: OffsetAndMetadata(part[-1].offset + 1, "", -1) for tp, part in polled.items()})
        self.processed += len(records)
        log.info("intake_batch", commands=len(received), refused=sum(1 for o in outcomes if not o.ok),
                 dead_letters=len(dead))
        return len(records)

    def _rewind(self, polled: dict[TopicPartition, list[Any]]) -> None:
        assert self.consumer is not None
        for tp, part in polled.items():
            self.consumer.seek(tp, part[0].offset)

    def _publish_result(self, item: Received, outcome: Outcome) -> None:
        assert self.producer is not None
        record = item.record
        value = outcome.json(id=item.command.idempotency_key,
                             source={"partition": record.partition, "offset": record.offset})
        self.producer.send(self.kafka.topic(topics.RESULTS), key=record.key, value=value,
                           headers=[("content-type", topics.CONTENT_TYPE.encode())])

    def _dead_letter(self, record: Any, reason: str) -> None:
        assert self.producer is not None
        log.warning("intake_dead_letter", partition=record.partition, offset=record.offset, reason=reason)
        headers = [(topics.REASON_HEADER, reason.encode()),
                   *zip(topics.SOURCE_HEADERS, (record.topic.encode(), str(record.partition).encode(),
                                                str(record.offset).encode()))]
        self.producer.send(self.kafka.topic(topics.DEAD_LETTERS), key=record.key, value=record.value or b"",
                           headers=headers)

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close(autocommit=False)
        if self.producer is not None:
            self.producer.close()
        self.loop.close()

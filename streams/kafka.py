"""Kafka clients configured the one way this project uses them (standard protocol only)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, OffsetOutOfRangeError, TopicAlreadyExistsError
from kafka.net.compat import KafkaNetClient

from streams.group_joins import keep_finished_joins

log = structlog.get_logger(__name__)

# kafka-python 3 runs each client's network I/O as tasks on a thread of its own and warns
# when one task step takes over 0.1 s of wall time ("... is blocking the event loop"). In
# our processes that thread shares the interpreter lock with the relay, a dozen projection
# workers and the API: at start-up, while the views catch up, the step that reads a large
# fetch response (KafkaTCPTransport._read_from_sock, not a loop) took 0.11-0.15 s, most of
# it waiting for the lock. A stall worth a warning is seconds long: warn from there.
SLOW_IO_STEP_SECONDS = 2.0


def net_client(**configs: Any) -> KafkaNetClient:
    """kafka-python's own network client (its ``kafka_client`` option), warning only on real stalls."""
    return KafkaNetClient(**{**configs, "slow_task_threshold_secs": SLOW_IO_STEP_SECONDS})


# How long a new client waits for a broker to answer before failing (kafka-python's default
# is 30 s): the caller retries anyway, and a process stopping while the broker is down
# must not sit in a client's constructor that long.
BOOTSTRAP_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str
    topic_prefix: str = "serviceorder"
    partitions: int = 3
    replication_factor: int = 1
    client_id: str = "serviceorder"

    def topic(self, category: str) -> str:
        return f"{self.topic_prefix}.{category}"

    def producer(self) -> KafkaProducer:
        # Idempotence makes the broker drop the producer's own retried sends; the relay's
        # stable event ids cover what idempotence cannot (a restarted producer).
        return KafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=f"{self.client_id}-relay",
            kafka_client=net_client,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            retries=2_147_483_647,
            max_in_flight_requests_per_connection=5,
            # Topics are created with the configured partitions (ensure_topics), never by a
            # metadata request: a broker that came back empty would otherwise create them
            # with its own default count under a producer still running.
            allow_auto_create_topics=False,
            # A send waits this long for a topic's metadata before failing (a broker that is
            # gone), not a minute: the relay retries with a new producer.
            max_block_ms=5_000,
            bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        )

    def consumer(self, **overrides: Any) -> KafkaConsumer:
        settings: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            # Offsets live in the read-model database, never in Kafka's auto-commit.
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
            "kafka_client": net_client,
            "allow_auto_create_topics": False,
            "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
        }
        settings.update(overrides)
        consumer = KafkaConsumer(**settings)
        if settings.get("group_id") is not None:
            keep_finished_joins(consumer)
        return consumer

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=f"{self.client_id}-admin",
                                kafka_client=net_client, bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS)

    def ensure_topics(self, categories: Iterable[str]) -> list[str]:
        names = [self.topic(c) for c in categories]
        admin = self.admin()
        try:
            existing = set(admin.list_topics())
            missing = [n for n in names if n not in existing]
            for name in missing:
                try:
                    admin.create_topics([NewTopic(name, self.partitions, self.replication_factor)])
                    log.info("topic_created", topic=name, partitions=self.partitions)
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()
        return names


def close_producer(producer: KafkaProducer, timeout: float) -> None:
    """Close a producer, waiting at most ``timeout`` seconds for what it still holds; what is
    not delivered by then is dropped (at-least-once callers send it again).

    kafka-python 3 flushes in ``close`` and, when that times out (a broker that is gone),
    raises before it stops its sender thread, which then keeps the records and may deliver
    them minutes later, after newer ones. The sender is stopped here as ``close`` would have
    done with a zero timeout.
    """
    try:
        producer.close(timeout=timeout)
    except KafkaTimeoutError:
        producer._sender.force_close()  # noqa: SLF001 - see above
        producer._sender.join(1.0)  # noqa: SLF001
        # The sender failed what it held, so the flush is over: this close completes (else
        # the producer's finaliser would flush and wait again, at exit).
        try:
            producer.close(timeout=0)
        except KafkaTimeoutError:
            pass
        log.warning("producer_closed_undelivered", timeout_s=timeout)


def partitions_of(consumer: KafkaConsumer, topic: str, timeout: float = 30.0) -> list[TopicPartition]:
    """The topic's partitions, waiting for it to appear (the relay creates it)."""
    deadline = time.monotonic() + timeout
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} did not appear within {timeout:.0f}s")
        consumer.topics()  # refresh metadata
        time.sleep(0.2)


def records_at(config: KafkaConfig, wanted: Mapping[TopicPartition, int],
               timeout: float = 5.0) -> dict[TopicPartition, Any | None]:
    """The record at each partition's offset, or None where the partition no longer holds it
    (a broker that came back empty, a topic recreated), read with one consumer for all.

    Reads instead of asking for end offsets: some brokers answer ListOffsets with the base
    of the last batch, and the record itself is what we want to compare anyway. A partition
    is known not to hold its offset as soon as a fetch says so (out of range, or a high
    watermark at or below it), so an empty partition costs one fetch, not the timeout (it
    cost three seconds a topic, one after another: issue 19). What the timeout cuts short
    counts as not held.
    """
    found: dict[TopicPartition, Any | None] = {}
    pending = dict(wanted)
    if not pending:
        return found
    # A short fetch wait: a broker holds a fetch that finds nothing for up to that long.
    consumer = config.consumer(client_id=f"{config.client_id}-verify", auto_offset_reset="none",
                               fetch_max_wait_ms=20)

    def resolve(tp: TopicPartition, record: Any | None) -> None:
        found[tp] = record
        del pending[tp]
        consumer.pause(tp)

    try:
        consumer.assign(list(pending))
        for tp, offset in pending.items():
            consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            try:
                batch = consumer.poll(timeout_ms=100, max_records=500)
            except OffsetOutOfRangeError as exc:
                out_of_range = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
                for tp in out_of_range:
                    if tp in pending:
                        resolve(tp, None)
                continue
            for tp, records in batch.items():
                for record in records:
                    if tp in pending and record.offset >= pending[tp]:
                        resolve(tp, record if record.offset == pending[tp] else None)
            for tp in list(pending):
                highwater = consumer.highwater(tp)
                if highwater is not None and highwater <= pending[tp]:
                    resolve(tp, None)
        for tp in list(pending):
            found[tp] = None
        return found
    finally:
        consumer.close()


def wait_for_broker(bootstrap_servers: str, timeout: float = 30.0) -> None:
    """Wait until a broker accepts TCP connections and answers a metadata request."""
    deadline = time.monotonic() + timeout
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            # A plain TCP probe first: kafka-python logs every refused connection as an error.
            socket.create_connection((host, int(port)), timeout=1).close()
            admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000,
                                     kafka_client=net_client)
            admin.list_topics()
            admin.close()
            return
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise TimeoutError(f"no Kafka broker answered at {bootstrap_servers} within {timeout:.0f}s: {last}")

"""The consumer loop that feeds one projection from Kafka.

Per poll, one database transaction applies the records and moves the stored offsets.
Guards keep the view exact:
- a record below the stored offset of its partition is skipped (re-delivery);
- an event whose aggregate version is not above the stored version is skipped (the same
  event republished at another offset);
- an event whose version jumps past the next expected one reveals a gap: the partition is
  read again from its beginning, once, before the worker gives up loudly;
- an event the view's code cannot apply is retried, then parked with the events of its
  aggregate behind it and sent to the dead-letter topic (projections/parking.py): one
  poison event never stalls the view.
Bookkeeping costs a few statements per batch, not per event: version marks are read and
written for the whole batch, and savepoints are taken only when a batch has to be applied
again because a view's code failed on one of its events.
On assignment, the record just before the stored offset is read back and compared with
the last event applied; a broker that lost or rewrote the log sends the partition back to
its beginning, where the version marks drop what is already in the view.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable

import psycopg2
import structlog
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import OffsetOutOfRangeError

from projections import parking
from projections.base import Projection
from projections.storable import storable_envelope, storable_text
from streams import envelope as ce
from streams.kafka import KafkaConfig, close_producer, partitions_of, records_at
from sqlstore.sqldb import Cursor, Database

log = structlog.get_logger(__name__)


class ProjectionGap(RuntimeError):
    def __init__(self, tp: TopicPartition, aggregate_id: str, expected: int, got: int) -> None:
        super().__init__(
            f"{tp.topic}[{tp.partition}]: aggregate {aggregate_id} jumped from version {expected - 1} to {got}"
        )
        self.tp = tp


class ProjectionWorker:
    def __init__(
        self,
        projection: Projection,
        db: Database,
        kafka: KafkaConfig,
        *,
        mode: str = "assign",
        group_id: str | None = None,
        max_poll_interval_ms: int = 30_000,
        poll_timeout_ms: int = 500,
        max_records: int = 500,
        verify_interval: float = 30.0,
        fetch_max_wait_ms: int = 100,
    ) -> None:
        if mode not in ("assign", "group"):
            raise ValueError("mode must be 'assign' (all partitions) or 'group' (consumer group member)")
        self.projection = projection
        self.db = db
        self.kafka = kafka
        self.mode = mode
        self.group_id = group_id or f"{kafka.topic_prefix}.projection.{projection.name}"
        self.max_poll_interval_ms = max_poll_interval_ms
        self.poll_timeout_ms = poll_timeout_ms
        self.max_records = max_records
        self.verify_interval = verify_interval
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.topics = [kafka.topic(c) for c in projection.categories]
        self.consumer: Any = None
        self._producer: Any = None
        self._dead_letters: list[tuple[dict[str, Any], str, TopicPartition, int]] = []
        self._floor: dict[TopicPartition, int] = {}
        self._rewound: set[TopicPartition] = set()
        projection.create(db)

    # Offsets ----------------------------------------------------------------------------

    def stored_offsets(self) -> dict[TopicPartition, tuple[int, str]]:
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT topic, partition_no, next_offset, last_event_id FROM projection_offsets WHERE projection = %s",
                (self.projection.name,),
            ).fetchall()
        return {TopicPartition(t, int(p)): (int(o), e) for t, p, o, e in rows}

    def _position_partitions(self, partitions: list[TopicPartition]) -> None:
        stored = self.stored_offsets()
        replaced = self._replaced(partitions, stored)
        for tp in partitions:
            next_offset, last_event_id = stored.get(tp, (0, ""))
            if tp in replaced:
                log.warning("projection_log_mismatch", projection=self.projection.name, topic=tp.topic,
                            partition=tp.partition, offset=next_offset - 1, expected_event_id=last_event_id)
                next_offset = 0
            self._floor[tp] = next_offset
            self.consumer.seek(tp, next_offset)
            log.info("partition_positioned", projection=self.projection.name, topic=tp.topic,
                     partition=tp.partition, offset=next_offset)

    def _replaced(self, partitions: list[TopicPartition],
                  stored: dict[TopicPartition, tuple[int, str]]) -> set[TopicPartition]:
        """The partitions that no longer hold, just before their stored offset, the record
        this view applied last (one read-back for all; a partition with nothing applied
        holds trivially)."""
        applied = {tp: stored[tp] for tp in partitions if stored.get(tp, (0, ""))[0] > 0}
        found = records_at(self.kafka, {tp: next_offset - 1 for tp, (next_offset, _) in applied.items()})
        return {tp for tp, record in found.items() if record is None or _event_id(record.value) != applied[tp][1]}

    def verify_log(self) -> bool:
        """Check that the broker still holds the records this view has applied; if a
        partition's log was replaced (a broker that lost its memory, a topic recreated and
        republished), reconnect, which positions every partition again: replayed events are
        skipped by version, and the ones the old offsets would have jumped over are applied.
        True if it reconnected."""
        if self.consumer is None:
            return False
        replaced = self._replaced(list(self.consumer.assignment()), self.stored_offsets())
        if replaced:
            log.warning("projection_log_replaced", projection=self.projection.name,
                        partitions=[f"{tp.topic}[{tp.partition}]" for tp in replaced])
            # A fresh consumer: the old one's fetch positions and metadata belong to the
            # log that is gone (seen to stall a consumer that was only re-seeked).
            self.close()
            self.connect()
        return bool(replaced)

    def _reseek(self) -> None:
        """After a rolled-back batch, return every partition to its last committed floor."""
        for tp in self.consumer.assignment():
            self.consumer.seek(tp, self._floor.get(tp, 0))

    # Consumer ---------------------------------------------------------------------------

    def connect(self) -> None:
        if self.mode == "assign":
            self.consumer = self.kafka.consumer(max_poll_interval_ms=self.max_poll_interval_ms,
                                                fetch_max_wait_ms=self.fetch_max_wait_ms, auto_offset_reset="none")
            try:
                partitions = [tp for topic in self.topics for tp in partitions_of(self.consumer, topic, timeout=5)]
            except TimeoutError:
                self.close()
                raise
            self.consumer.assign(partitions)
            self._position_partitions(partitions)
        else:
            worker = self

            class Listener(ConsumerRebalanceListener):
                def on_partitions_revoked(self, revoked: Any) -> None:
                    for tp in revoked:
                        worker._floor.pop(tp, None)

                def on_partitions_assigned(self, assigned: Any) -> None:
                    worker._position_partitions(list(assigned))

            self.consumer = self.kafka.consumer(
                group_id=self.group_id,
                max_poll_interval_ms=self.max_poll_interval_ms,
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                auto_offset_reset="none",
                session_timeout_ms=min(10_000, self.max_poll_interval_ms),
                heartbeat_interval_ms=min(3_000, self.max_poll_interval_ms // 3),
            )
            self.consumer.subscribe(self.topics, listener=Listener())

    def close(self) -> None:
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            close_producer(producer, 5)

    # Applying ---------------------------------------------------------------------------

    def _apply_record(self, cur: Cursor, marks: parking.BatchMarks, tp: TopicPartition, record: Any,
                      env: dict[str, Any] | ce.MalformedEnvelope, careful: str | None) -> bool:
        if isinstance(env, ce.MalformedEnvelope):
            log.error("projection_record_rejected", projection=self.projection.name, error=str(env))
            cur.execute(
                "INSERT INTO projection_rejects (projection, topic, partition_no, record_offset, error, raw) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (self.projection.name, tp.topic, tp.partition, record.offset, str(env),
                 storable_text((record.value or b"")[:10_000].decode("utf-8", "replace"))),
            )
            return False
        aggregate_id, version = env["subject"], int(env["aggregateversion"])
        name = self.projection.name
        applied = marks.applied(aggregate_id)
        if version <= applied:
            log.debug("event_skipped_duplicate", event_id=env["id"], version=version, applied=applied)
            return False
        waiting = marks.waiting(aggregate_id)
        if waiting is not None:
            # Behind a poison event of the same aggregate: wait, keeping that aggregate's order.
            if version > waiting:
                parking.park(cur, name, env, record.value, tp.topic, tp.partition, record.offset, "blocked",
                             f"waiting behind version {waiting}", 0)
            return False
        if version != applied + 1:
            raise ProjectionGap(tp, aggregate_id, applied + 1, version)
        if careful is not None:
            # The event that failed without a savepoint has had one of its attempts.
            attempts = parking.MAX_ATTEMPTS - (env["id"] == careful)
            error = parking.try_apply(cur, self.projection, env, attempts)
            if error is not None:
                parking.park(cur, name, env, record.value, tp.topic, tp.partition, record.offset, "failed", error,
                             parking.MAX_ATTEMPTS)
                marks.mark_parked(aggregate_id, version)
                self._dead_letters.append((env, error, tp, record.offset))
                return False
        else:
            try:
                self.projection.apply(cur, env)
            except (*parking.TRANSIENT, psycopg2.DatabaseError):
                raise  # transient, or possibly a statement of an earlier event (held back)
            except Exception as exc:  # noqa: BLE001 - the careful pass retries, then parks it
                raise _ViewCodeFailed(env["id"], f"{type(exc).__name__}: {exc}") from exc
        log.debug("event_applied", projection=name, event_id=env["id"], type=env["type"])
        marks.mark_applied(aggregate_id, version)
        return True

    def apply_batch(self, batch: dict[TopicPartition, list[Any]]) -> int:
        """Apply a poll's records and move the offsets, in one transaction.

        The fast pass applies events without a savepoint each and holds the views' writes back
        until the next read or the commit (sqlstore.sqldb.Cursor, PostgreSQL), so a batch costs
        a round trip per read rather than per statement. If a view's code fails, the
        transaction is rolled back and the batch applied again carefully: a savepoint per
        event, every statement sent at once, so the failing event is retried and parked alone.
        """
        try:
            return self._apply_batch(batch, careful=None)
        except _ViewCodeFailed as failed:
            log.warning("projection_batch_reapplied_carefully", projection=self.projection.name,
                        event_id=failed.event_id, error=failed.error)
            return self._apply_batch(batch, careful=failed.event_id)

    def _apply_batch(self, batch: dict[TopicPartition, list[Any]], careful: str | None) -> int:
        """``careful``: None for the fast pass, else the id of the event that failed in it."""
        self._dead_letters = []
        fresh: dict[TopicPartition, list[tuple[Any, dict[str, Any] | ce.MalformedEnvelope]]] = {}
        for tp, records in batch.items():
            fresh[tp] = [(r, _decoded(r.value)) for r in records if r.offset >= self._floor.get(tp, 0)]
        aggregate_ids = {env["subject"] for records in fresh.values() for _, env in records if isinstance(env, dict)}
        try:
            return self._apply_fresh(batch, fresh, aggregate_ids, careful)
        except psycopg2.DatabaseError as exc:
            # With writes held back (the fast pass), the database reports a view's bad
            # statement later than the event that made it: the careful pass finds the event.
            if careful is not None or isinstance(exc, parking.TRANSIENT):
                raise
            raise _ViewCodeFailed("", f"{type(exc).__name__}: {exc}") from exc

    def _apply_fresh(self, batch: dict[TopicPartition, list[Any]],
                     fresh: dict[TopicPartition, list[tuple[Any, dict[str, Any] | ce.MalformedEnvelope]]],
                     aggregate_ids: set[str], careful: str | None) -> int:
        applied = 0
        with self.db.transaction(deferred=careful is None) as cur:
            marks = parking.BatchMarks(cur, self.projection.name, aggregate_ids)
            self.projection.prepare_batch(cur, [env for records in fresh.values() for _, env in records
                                                if isinstance(env, dict)])
            for tp, records in fresh.items():
                if not records:
                    continue
                for record, env in records:
                    structlog.contextvars.bind_contextvars(
                        topic=tp.topic, partition=tp.partition, offset=record.offset)
                    applied += self._apply_record(cur, marks, tp, record, env, careful)
                last, last_env = records[-1]
                cur.execute(
                    "INSERT INTO projection_offsets (projection, topic, partition_no, next_offset, last_event_id) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (projection, topic, partition_no) DO UPDATE SET "
                    "next_offset = EXCLUDED.next_offset, last_event_id = EXCLUDED.last_event_id",
                    (self.projection.name, tp.topic, tp.partition, last.offset + 1, _id_of(last_env)),
                )
            marks.flush()
        structlog.contextvars.unbind_contextvars("topic", "partition", "offset")
        for tp, polled in batch.items():
            if polled:
                self._floor[tp] = max(self._floor.get(tp, 0), polled[-1].offset + 1)
        if self._dead_letters:
            self._send_dead_letters()
        return applied

    @property
    def dead_letter_topic(self) -> str:
        return self.kafka.topic(f"dlq.{self.projection.name}")

    def _send_dead_letters(self) -> None:
        """Publish parked events to the dead-letter topic, after they are safely parked.

        At least once: a crash before this leaves them parked (the table is the record);
        consumers of the dead-letter topic dedupe by the event id.
        """
        try:
            if self._producer is None:
                self.kafka.ensure_topics([f"dlq.{self.projection.name}"])
                self._producer = self.kafka.producer()
            for env, error, tp, offset in self._dead_letters:
                self._producer.send(self.dead_letter_topic, key=env["subject"].encode(), value=json.dumps({
                    "projection": self.projection.name, "error": error, "attempts": parking.MAX_ATTEMPTS,
                    "topic": tp.topic, "partition": tp.partition, "offset": offset, "event": env,
                }, ensure_ascii=False).encode())
            self._producer.flush(timeout=10)
        except Exception:  # noqa: BLE001 - the parked rows remain; the topic is a notification
            log.exception("dead_letter_publish_failed", projection=self.projection.name,
                          events=len(self._dead_letters))
        self._dead_letters = []

    def _poll(self) -> dict[TopicPartition, list[Any]]:
        """One poll. The consumer does not reset out-of-range positions by itself: a position
        beyond the end of its partition is the first sign of a broker that came back empty
        (or a topic recreated), so the log is verified at once instead of at the next
        periodic check; otherwise (retention moved the start past it) it reads from the start."""
        try:
            return self.consumer.poll(timeout_ms=self.poll_timeout_ms, max_records=self.max_records)
        except OffsetOutOfRangeError as exc:
            out_of_range = list(exc.args[0]) if exc.args and isinstance(exc.args[0], dict) else []
            log.warning("projection_offset_out_of_range", projection=self.projection.name,
                        partitions=[f"{tp.topic}[{tp.partition}]" for tp in out_of_range])
            if not self.verify_log():
                for tp in out_of_range:
                    self.consumer.seek_to_beginning(tp)
            return {}

    def poll_once(self) -> int:
        if self.consumer is None:
            self.connect()
        batch = self._poll()
        if not batch:
            return 0
        try:
            applied = self.apply_batch(batch)
        except ProjectionGap as gap:
            self._reseek()
            if gap.tp in self._rewound:
                raise
            log.warning("projection_gap_rewinding", projection=self.projection.name, detail=str(gap))
            self._rewound.add(gap.tp)
            self._floor[gap.tp] = 0
            self.consumer.seek(gap.tp, 0)
            return 0
        except Exception:
            self._reseek()
            raise
        if applied:
            log.info("projection_batch_applied", projection=self.projection.name, applied=applied,
                     records=sum(len(r) for r in batch.values()))
        return applied

    def run(self, stop: threading.Event) -> None:
        log.info("projection_started", projection=self.projection.name, mode=self.mode, topics=self.topics)
        backoff = 0.5
        verified = time.monotonic()
        while not stop.is_set():
            try:
                self.poll_once()
                backoff = 0.5
                if time.monotonic() - verified >= self.verify_interval:
                    verified = time.monotonic()
                    self.verify_log()
            except TimeoutError as exc:
                log.warning("projection_waiting_for_topics", projection=self.projection.name, detail=str(exc))
                stop.wait(1.0)
            except Exception:
                log.exception("projection_batch_failed", projection=self.projection.name, retry_in_s=backoff)
                self.close()
                stop.wait(backoff)
                # Capped low: the view follows within seconds of its database or broker returning.
                backoff = min(backoff * 2, 2.0)
        self.close()
        log.info("projection_stopped", projection=self.projection.name)

    # Rebuilding -------------------------------------------------------------------------

    def rebuild(self, progress: Callable[[int, int], None] | None = None, idle_polls: int = 6) -> int:
        """Drop the view and replay its topics from offset zero until caught up.

        Caught up means every partition's position has reached the high watermark the
        broker reported in its fetch responses (or nothing arrived for ``idle_polls``).
        """
        self.projection.drop(self.db)
        self._floor.clear()
        self._rewound.clear()
        self.mode = "assign"
        self.close()
        self.connect()
        total = 0
        quiet = 0
        while quiet < idle_polls:
            batch = self._poll()
            if batch:
                quiet = 0
                self.apply_batch(batch)
                total += sum(len(r) for r in batch.values())
            else:
                quiet += 1
            marks = {tp: self.consumer.highwater(tp) for tp in self.consumer.assignment()}
            if progress:
                progress(total, sum(m or 0 for m in marks.values()))
            if all(m is not None and self.consumer.position(tp) >= m for tp, m in marks.items()):
                break
        self.close()
        log.info("projection_rebuilt", projection=self.projection.name, records=total)
        return total


# The last_event_id of a partition whose last record was not an envelope (offsets still move past it).
REJECTED = "rejected"


class _ViewCodeFailed(Exception):
    """A view's code raised while a batch was applied without savepoints."""

    def __init__(self, event_id: str, error: str) -> None:
        super().__init__(f"{event_id}: {error}")
        self.event_id, self.error = event_id, error


def _decoded(raw: bytes) -> dict[str, Any] | ce.MalformedEnvelope:
    """The envelope as the views get it: with text they can store (projections/storable.py)."""
    try:
        return storable_envelope(raw, ce.decode(raw))
    except ce.MalformedEnvelope as exc:
        return exc


def _id_of(env: dict[str, Any] | ce.MalformedEnvelope) -> str:
    """The id of a decoded envelope, or the marker of a rejected record."""
    return str(env["id"]) if isinstance(env, dict) else REJECTED


def _event_id(raw: bytes) -> str:
    return _id_of(_decoded(raw))


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)

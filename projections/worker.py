"""The consumer loop that feeds one projection from Kafka.

It positions each assigned partition at the view's stored offset, polls, and hands each
poll's records to the batch applier (projections/batches.py: one transaction per poll, the
guards that keep the view exact, the careful pass, parking); a gap sends a partition back to
its beginning once, and a failing batch is retried with a backoff.
On assignment, and every ``verify_interval``, the record just before the stored offset is
read back and compared with the last event applied; a broker that lost or rewrote the log
sends the partition back to its beginning, where the version marks drop what is already in
the view.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import structlog
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import OffsetOutOfRangeError

from projections.base import Projection
from projections.batches import BatchApplier, ProjectionGap, decoded, id_of
from projections.dead_letters import DeadLetterPublisher
from sqlstore.sqldb import Database
from streams.kafka import KafkaConfig, partitions_of, records_at

log = structlog.get_logger(__name__)


class ProjectionWorker:
    """Feeds one projection from its topics: every partition (``assign``), or those its
    consumer group gives it (``group``)."""

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
        self._floor: dict[TopicPartition, int] = {}
        self._rewound: set[TopicPartition] = set()
        self.dead_letters = DeadLetterPublisher(kafka, projection.name)
        self.batches = BatchApplier(projection, db, self._floor, self.dead_letters)
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
        self.dead_letters.close()

    # Applying ---------------------------------------------------------------------------

    def apply_batch(self, batch: dict[TopicPartition, list[Any]]) -> int:
        """Apply a poll's records and move the offsets, in one transaction (projections/batches.py)."""
        return self.batches.apply(batch)

    @property
    def dead_letter_topic(self) -> str:
        return self.dead_letters.topic

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


def _event_id(raw: bytes) -> str:
    return id_of(decoded(raw))


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)

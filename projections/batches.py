"""Applying a poll's records to one view: in one database transaction, the records and the
moved offsets of their partitions.

Guards keep the view exact:
- a record below its partition's floor (the committed offset) is skipped (re-delivery);
- an event whose aggregate version is not above the stored version is skipped (the same
  event republished at another offset);
- an event whose version jumps past the next expected one reveals a gap (``ProjectionGap``:
  the worker reads the partition again from its beginning, once, before it gives up loudly);
- an event the view's code cannot apply is retried, then parked with the events of its
  aggregate behind it and sent to the dead-letter topic (projections/parking.py,
  projections/dead_letters.py): one poison event never stalls the view.
Bookkeeping costs a few statements per batch, not per event: version marks are read and
written for the whole batch, and savepoints are taken only when a batch has to be applied
again because a view's code failed on one of its events (the careful pass).
"""

from __future__ import annotations

from typing import Any

import psycopg2
import structlog
from kafka import TopicPartition

from projections import parking
from projections.base import Projection
from projections.dead_letters import DeadLetter, DeadLetterPublisher
from projections.storable import storable_envelope, storable_text
from sqlstore.sqldb import Cursor, Database
from streams import envelope as ce

log = structlog.get_logger(__name__)

# The last_event_id of a partition whose last record was not an envelope (offsets still move past it).
REJECTED = "rejected"


class ProjectionGap(RuntimeError):
    def __init__(self, tp: TopicPartition, aggregate_id: str, expected: int, got: int) -> None:
        super().__init__(
            f"{tp.topic}[{tp.partition}]: aggregate {aggregate_id} jumped from version {expected - 1} to {got}"
        )
        self.tp = tp


class BatchApplier:
    """Applies a projection's polled batches. ``floor`` is the worker's: per partition, the
    offset below which records are already applied; a committed batch raises it."""

    def __init__(self, projection: Projection, db: Database, floor: dict[TopicPartition, int],
                 publisher: DeadLetterPublisher) -> None:
        self.projection = projection
        self.db = db
        self.publisher = publisher
        self._floor = floor
        self._parked: list[DeadLetter] = []  # parked in this batch, announced once it commits

    def apply(self, batch: dict[TopicPartition, list[Any]]) -> int:
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
        self._parked = []
        fresh: dict[TopicPartition, list[tuple[Any, dict[str, Any] | ce.MalformedEnvelope]]] = {}
        for tp, records in batch.items():
            fresh[tp] = [(r, decoded(r.value)) for r in records if r.offset >= self._floor.get(tp, 0)]
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
                    (self.projection.name, tp.topic, tp.partition, last.offset + 1, id_of(last_env)),
                )
            marks.flush()
        structlog.contextvars.unbind_contextvars("topic", "partition", "offset")
        for tp, polled in batch.items():
            if polled:
                self._floor[tp] = max(self._floor.get(tp, 0), polled[-1].offset + 1)
        if self._parked:
            self.publisher.publish(self._parked)
            self._parked = []
        return applied

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
                self._parked.append((env, error, tp, record.offset))
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


class _ViewCodeFailed(Exception):
    """A view's code raised while a batch was applied without savepoints."""

    def __init__(self, event_id: str, error: str) -> None:
        super().__init__(f"{event_id}: {error}")
        self.event_id, self.error = event_id, error


def decoded(raw: bytes) -> dict[str, Any] | ce.MalformedEnvelope:
    """The envelope as the views get it: with text they can store (projections/storable.py)."""
    try:
        return storable_envelope(raw, ce.decode(raw))
    except ce.MalformedEnvelope as exc:
        return exc


def id_of(env: dict[str, Any] | ce.MalformedEnvelope) -> str:
    """The id of a decoded envelope, or the marker of a rejected record."""
    return str(env["id"]) if isinstance(env, dict) else REJECTED

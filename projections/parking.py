"""Poison events: bounded retries, parking, and the operator's retry and skip.

An event whose ``apply`` keeps failing is parked (``projection_parked``, status ``failed``)
after ``MAX_ATTEMPTS`` tries, each inside a savepoint so the rest of the batch commits. The
later events of the same aggregate are parked behind it (``blocked``): per-aggregate order
is kept, every other aggregate moves on. ``retry`` applies an aggregate's parked events
again in version order; ``skip`` records the head event as skipped (with who and why) and
releases the ones behind it. The version mark moves only when an event is applied or
skipped, so nothing is applied twice and nothing is lost silently.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import psycopg2
import structlog

from projections.base import Projection
from projections.storable import storable_envelope, storable_text
from streams import envelope as ce
from sqlstore.sqldb import Cursor, Database

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 3
TRANSIENT: tuple[type[BaseException], ...] = (sqlite3.OperationalError, psycopg2.OperationalError,
                                              psycopg2.InterfaceError, ConnectionError, TimeoutError, MemoryError)
WAITING = ("failed", "blocked")
COLUMNS = ("projection", "aggregate_id", "version", "event_id", "topic", "partition_no", "record_offset", "status",
           "error", "attempts", "parked_at")


def applied_version(cur: Cursor, projection: str, aggregate_id: str) -> int:
    """The aggregate's version mark, locked for this transaction on PostgreSQL."""
    lock = " FOR UPDATE" if cur.dialect == "postgres" else ""
    row = cur.execute(f"SELECT version FROM projection_versions WHERE projection = %s AND aggregate_id = %s{lock}",
                      (projection, aggregate_id)).fetchone()
    return int(row[0]) if row else 0


def mark_applied(cur: Cursor, projection: str, aggregate_id: str, version: int) -> None:
    cur.execute(
        "INSERT INTO projection_versions (projection, aggregate_id, version) VALUES (%s, %s, %s) "
        "ON CONFLICT (projection, aggregate_id) DO UPDATE SET version = EXCLUDED.version",
        (projection, aggregate_id, version))


def waiting_head(cur: Cursor, projection: str, aggregate_id: str) -> int | None:
    row = cur.execute("SELECT MIN(version) FROM projection_parked WHERE projection = %s AND aggregate_id = %s "
                      "AND status IN ('failed', 'blocked')", (projection, aggregate_id)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


class BatchMarks:
    """The version marks and parked heads of one batch's aggregates.

    Read with one query each for the whole batch (the marks locked on PostgreSQL, as
    ``applied_version`` does) and the moved marks written back with one statement, where
    asking per event cost four round trips per event (benchmarks.pipeline).
    """

    CHUNK = 500

    def __init__(self, cur: Cursor, projection: str, aggregate_ids: set[str]) -> None:
        self.cur = cur
        self.projection = projection
        self._applied: dict[str, int] = {}
        self._waiting: dict[str, int] = {}
        self._moved: dict[str, int] = {}
        ids = sorted(aggregate_ids)
        lock = " FOR UPDATE" if cur.dialect == "postgres" else ""
        for start in range(0, len(ids), self.CHUNK):
            chunk = ids[start:start + self.CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            for aggregate_id, version in cur.execute(
                    f"SELECT aggregate_id, version FROM projection_versions WHERE projection = %s "
                    f"AND aggregate_id IN ({marks}) ORDER BY aggregate_id{lock}", (projection, *chunk)).fetchall():
                self._applied[aggregate_id] = int(version)
            for aggregate_id, version in cur.execute(
                    f"SELECT aggregate_id, MIN(version) FROM projection_parked WHERE projection = %s "
                    f"AND aggregate_id IN ({marks}) AND status IN ('failed', 'blocked') GROUP BY aggregate_id",
                    (projection, *chunk)).fetchall():
                self._waiting[aggregate_id] = int(version)

    def applied(self, aggregate_id: str) -> int:
        return self._applied.get(aggregate_id, 0)

    def waiting(self, aggregate_id: str) -> int | None:
        return self._waiting.get(aggregate_id)

    def mark_applied(self, aggregate_id: str, version: int) -> None:
        self._applied[aggregate_id] = self._moved[aggregate_id] = version

    def mark_parked(self, aggregate_id: str, version: int) -> None:
        head = self._waiting.get(aggregate_id)
        self._waiting[aggregate_id] = version if head is None else min(head, version)

    def flush(self) -> None:
        moved = sorted(self._moved.items())
        for start in range(0, len(moved), self.CHUNK):
            chunk = moved[start:start + self.CHUNK]
            rows = ", ".join(["(%s, %s, %s)"] * len(chunk))
            self.cur.execute(
                f"INSERT INTO projection_versions (projection, aggregate_id, version) VALUES {rows} "
                "ON CONFLICT (projection, aggregate_id) DO UPDATE SET version = EXCLUDED.version",
                [value for aggregate_id, version in chunk for value in (self.projection, aggregate_id, version)])
        self._moved.clear()


def try_apply(cur: Cursor, projection: Projection, env: dict[str, Any], attempts: int = MAX_ATTEMPTS) -> str | None:
    """Apply inside a savepoint, up to ``attempts`` times. None on success, else the last error.

    A failure of the machinery (the database or the network going away) is not the event's
    fault: it propagates, the whole batch rolls back, and the worker tries again later.
    """
    error = ""
    for attempt in range(1, attempts + 1):
        cur.execute("SAVEPOINT apply_event")
        try:
            projection.apply(cur, env)
        except TRANSIENT:
            raise
        except Exception as exc:  # noqa: BLE001 - any other failure of a view's code is a poison candidate
            cur.execute("ROLLBACK TO SAVEPOINT apply_event")
            cur.execute("RELEASE SAVEPOINT apply_event")
            error = f"{type(exc).__name__}: {exc}"
            log.warning("event_apply_failed", projection=projection.name, event_id=env["id"], attempt=attempt,
                        error=error)
            continue
        cur.execute("RELEASE SAVEPOINT apply_event")
        return None
    return error


def park(cur: Cursor, projection: str, env: dict[str, Any], raw: bytes, topic: str, partition: int, offset: int,
         status: str, error: str, attempts: int) -> None:
    cur.execute(
        "INSERT INTO projection_parked (projection, aggregate_id, version, event_id, topic, partition_no, "
        "record_offset, status, error, attempts, raw, parked_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s) ON CONFLICT DO NOTHING",
        (projection, env["subject"], int(env["aggregateversion"]), env["id"], topic, partition, offset, status,
         storable_text(error), attempts, storable_text(raw.decode("utf-8", "replace")),
         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))
    log.error("event_parked", projection=projection, event_id=env["id"], aggregate_id=env["subject"],
              version=env["aggregateversion"], status=status, error=error)


def parked(db: Database, projection: str | None = None) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(COLUMNS)} FROM projection_parked WHERE status IN ('failed', 'blocked')"
    params: list[Any] = []
    if projection:
        sql += " AND projection = %s"
        params.append(projection)
    with db.transaction() as cur:
        rows = cur.execute(sql + " ORDER BY projection, aggregate_id, version", params).fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]


def counts(db: Database) -> dict[str, int]:
    with db.transaction() as cur:
        rows = cur.execute("SELECT projection, COUNT(*) FROM projection_parked WHERE status IN ('failed', 'blocked') "
                           "GROUP BY projection").fetchall()
    return {p: int(n) for p, n in rows}


def retry(db: Database, projection: Projection, aggregate_id: str) -> dict[str, Any]:
    """Apply the aggregate's parked events again, in version order, stopping at the first failure."""
    applied = 0
    with db.transaction() as cur:
        current = applied_version(cur, projection.name, aggregate_id)
        rows = cur.execute("SELECT version, raw, attempts FROM projection_parked WHERE projection = %s AND "
                           "aggregate_id = %s AND status IN ('failed', 'blocked') ORDER BY version",
                           (projection.name, aggregate_id)).fetchall()
        for version, raw, attempts in rows:
            version = int(version)
            if version <= current:
                _release(cur, projection.name, aggregate_id, version)
                continue
            if version != current + 1:
                break
            error = try_apply(cur, projection, storable_envelope(raw.encode(), ce.decode(raw.encode())))
            if error is not None:
                cur.execute("UPDATE projection_parked SET status = 'failed', error = %s, attempts = %s "
                            "WHERE projection = %s AND aggregate_id = %s AND version = %s",
                            (error, int(attempts) + MAX_ATTEMPTS, projection.name, aggregate_id, version))
                break
            mark_applied(cur, projection.name, aggregate_id, version)
            _release(cur, projection.name, aggregate_id, version)
            current, applied = version, applied + 1
        waiting = waiting_head(cur, projection.name, aggregate_id)
    log.info("parked_events_retried", projection=projection.name, aggregate_id=aggregate_id, applied=applied,
             still_parked_from=waiting)
    return {"projection": projection.name, "aggregate_id": aggregate_id, "applied": applied,
            "still_parked_from_version": waiting}


def skip(db: Database, projection: Projection, aggregate_id: str, *, actor: str, reason: str) -> dict[str, Any]:
    """Give up on the aggregate's head parked event (recorded, with who and why), then retry the rest."""
    with db.transaction() as cur:
        head = waiting_head(cur, projection.name, aggregate_id)
        if head is None:
            raise LookupError(f"{projection.name} has no parked event of {aggregate_id}")
        current = applied_version(cur, projection.name, aggregate_id)
        if head != current + 1:
            raise LookupError(f"the head parked event is version {head}, but the view is at {current}: retry first")
        cur.execute("UPDATE projection_parked SET status = 'skipped', error = error || %s WHERE projection = %s "
                    "AND aggregate_id = %s AND version = %s",
                    (f" | skipped by {actor}: {reason}", projection.name, aggregate_id, head))
        mark_applied(cur, projection.name, aggregate_id, head)
    log.warning("parked_event_skipped", projection=projection.name, aggregate_id=aggregate_id, version=head,
                actor=actor, reason=reason)
    return {**retry(db, projection, aggregate_id), "skipped_version": head}


def _release(cur: Cursor, projection: str, aggregate_id: str, version: int) -> None:
    cur.execute("DELETE FROM projection_parked WHERE projection = %s AND aggregate_id = %s AND version = %s",
                (projection, aggregate_id, version))

"""The demo clock: real time shifted by an offset that only grows, for demo stores only.

`serviceorder demo` marks its store as a demo store by starting this clock in the state
database; from then on every process on that store (serve, the CLI) reads the same shifted
time, and an operator moves it forward (`serviceorder clock advance 2h`, or
``POST /demo/clock``) to watch SLAs, follow-ups and the 48-hour proposal clock fire. A store
that is not a demo store has no demo clock, and moving time is refused: real data keeps real
time. The offset never shrinks, so the store's times never run backwards.

In a demo store the events' own timestamps follow the demo clock too (``stamp_events``):
the history then reads as one continuous story, whatever the clock was moved by.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from eventsourcing.domain import CanCreateTimestamp
from pydantic import TypeAdapter, ValidationError

from sqlstore.sqldb import Database

DDL = """CREATE TABLE IF NOT EXISTS demo_clock (
    id INTEGER PRIMARY KEY,
    offset_seconds DOUBLE PRECISION NOT NULL,
    started_at TEXT NOT NULL
)"""


class NotADemoStore(Exception):
    """Moving time was asked of a store that keeps real time."""

    def __init__(self) -> None:
        super().__init__("the demo clock exists only in demo mode (a store filled by `serviceorder demo`); "
                         "this store keeps real time and its clock cannot be moved")


class DemoClock:
    """Now = real time + the store's offset (re-read at most every ``refresh`` seconds, so a
    clock moved by another process reaches this one within that time)."""

    def __init__(self, db: Database, refresh: float = 1.0) -> None:
        self.db = db
        self.refresh = refresh
        self._lock = threading.Lock()
        self._offset = self._read()
        self._read_at = time.monotonic()

    def _read(self) -> timedelta:
        with self.db.read() as cur:
            row = cur.execute("SELECT offset_seconds FROM demo_clock WHERE id = 1").fetchone()
        if row is None:
            raise NotADemoStore()
        return timedelta(seconds=float(row[0]))

    @property
    def offset(self) -> timedelta:
        with self._lock:
            if time.monotonic() - self._read_at >= self.refresh:
                self._offset, self._read_at = max(self._offset, self._read()), time.monotonic()
            return self._offset

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by ``delta`` for every process on this store."""
        if delta <= timedelta(0):
            raise ValueError("the demo clock only moves forward")
        with self.db.transaction() as cur:
            cur.execute("UPDATE demo_clock SET offset_seconds = offset_seconds + %s WHERE id = 1",
                        (delta.total_seconds(),))
        with self._lock:
            self._offset, self._read_at = self._read(), time.monotonic()
        return self.now()

    def advance_to(self, moment: datetime) -> datetime:
        """Move forward to ``moment`` (nothing happens if it is not ahead of now)."""
        ahead = moment - self.now()
        return self.advance(ahead) if ahead > timedelta(0) else self.now()


def prepare(db: Database) -> None:
    with db.transaction() as cur:
        cur.execute(DDL)


def is_demo_store(db: Database) -> bool:
    prepare(db)
    with db.read() as cur:
        return cur.execute("SELECT 1 FROM demo_clock WHERE id = 1").fetchone() is not None


def start(db: Database, at: datetime) -> DemoClock:
    """Make ``db``'s store a demo store whose clock reads ``at`` now."""
    prepare(db)
    offset = at - datetime.now(timezone.utc)
    with db.transaction() as cur:
        cur.execute("INSERT INTO demo_clock (id, offset_seconds, started_at) VALUES (1, %s, %s)",
                    (offset.total_seconds(), at.isoformat()))
    return DemoClock(db)


def stamp_events(clock: DemoClock) -> Callable[[], None]:
    """Date new events by the demo clock in this process; returns what undoes it.

    eventsourcing dates events with a static method of its event classes; a demo process
    holds a single application and a single clock, so replacing it is safe there (and only
    there: build_runtime calls this for demo stores alone)."""
    original = CanCreateTimestamp.__dict__["create_timestamp"]
    CanCreateTimestamp.create_timestamp = staticmethod(clock.now)  # type: ignore[method-assign]
    return lambda: setattr(CanCreateTimestamp, "create_timestamp", original)


_PARTS = re.compile(r"(\d+(?:\.\d+)?)\s*(d|h|m|s)", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """'2h', '1d12h', '90m', '45s' or an ISO 8601 duration such as 'PT2H'."""
    compact = text.strip().replace(" ", "")
    if compact and _PARTS.sub("", compact) == "":
        total = timedelta()
        for number, unit in _PARTS.findall(compact):
            total += timedelta(**{_UNITS[unit.lower()]: float(number)})
        return total
    try:
        return TypeAdapter(timedelta).validate_python(compact)
    except ValidationError:
        raise ValueError(f"{text!r} is not a duration: write 2h, 1d12h, 90m or PT2H") from None

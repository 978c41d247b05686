"""The ServiceLevel aggregate: one resolution clock per tracked item, in business time (workflow 6).

The clock runs on the tier's business calendar; it warns at 75% of the allowed time and
breaches at 100% (both fired by deadlines). Pausing (waiting on the customer) stops it and
resuming starts it again from the business time already used. A breach stays a breach even
if the work completes later. Everything is derived from the events, so replaying them gives
the same deadlines and breaches.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.calendar import BusinessCalendar
from engine.domain.errors import InvalidCommand, RuleViolation

WARN_AT = 0.75
_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:sla")


def sla_id(subject_id: UUID | str) -> UUID:
    return uuid5(_NAMESPACE, str(subject_id))


class ServiceLevel(Aggregate):
    """Category ``slas`` on the event backbone."""

    @staticmethod
    def create_id(subject_id: str, **_: Any) -> UUID:
        return sla_id(subject_id)

    @classmethod
    def start(cls, *, subject_id: str, subject_kind: str, customer_id: str, tier: str, calendar: BusinessCalendar,
              allowed: timedelta, now: datetime, meta: dict[str, str]) -> ServiceLevel:
        if allowed <= timedelta(0):
            raise InvalidCommand("the allowed time must be positive")
        return cls(subject_id=subject_id, subject_kind=subject_kind, customer_id=customer_id, tier=tier,
                   calendar=calendar.spec(), allowed_seconds=int(allowed.total_seconds()), started_at=now,
                   warn_at=calendar.add(now, allowed * WARN_AT), due_at=calendar.add(now, allowed), meta=meta)

    @event("SlaStarted")
    def __init__(self, subject_id: str, subject_kind: str, customer_id: str, tier: str, calendar: dict[str, Any],
                 allowed_seconds: int, started_at: datetime, warn_at: datetime, due_at: datetime,
                 meta: dict[str, str]) -> None:
        self.subject_id = subject_id
        self.customer_id = customer_id
        self.tier = tier
        self.calendar_spec = calendar
        self.allowed_seconds = allowed_seconds
        self.status = "running"
        self.used_seconds = 0  # business time used before the current run
        self.run_started_at: datetime | None = started_at
        self.warn_at: datetime | None = warn_at
        self.due_at: datetime | None = due_at
        self.warned = False
        self.breached = False
        self.runs = 1

    @property
    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar.from_spec(self.calendar_spec)

    def used(self, now: datetime) -> timedelta:
        running = self.calendar.elapsed(self.run_started_at, now) if self.run_started_at else timedelta(0)
        return timedelta(seconds=self.used_seconds) + running

    def time_left(self, now: datetime) -> timedelta:
        return timedelta(seconds=self.allowed_seconds) - self.used(now)

    def pause(self, *, now: datetime, meta: dict[str, str]) -> None:
        if self.status != "running":
            raise RuleViolation(f"the clock is {self.status}, not running")
        if not meta.get("reason"):
            raise InvalidCommand("pausing the clock needs a reason (waiting on the customer...)")
        self._paused(at=now, used_seconds=int(self.used(now).total_seconds()), meta=meta)

    def resume(self, *, now: datetime, meta: dict[str, str]) -> None:
        if self.status != "paused":
            raise RuleViolation(f"the clock is {self.status}, not paused")
        left = timedelta(seconds=self.allowed_seconds - self.used_seconds)
        warn_left = timedelta(seconds=self.allowed_seconds * WARN_AT - self.used_seconds)
        cal = self.calendar
        self._resumed(at=now, warn_at=None if self.warned or warn_left <= timedelta(0) else cal.add(now, warn_left),
                      due_at=None if self.breached or left <= timedelta(0) else cal.add(now, left), meta=meta)

    def warn(self, *, now: datetime, meta: dict[str, str]) -> bool:
        if self.status != "running" or self.warned or self.used(now) < timedelta(seconds=self.allowed_seconds * WARN_AT):
            return False
        self._warned(at=now, meta=meta)
        return True

    def breach(self, *, now: datetime, meta: dict[str, str]) -> bool:
        if self.status != "running" or self.breached or self.used(now) < timedelta(seconds=self.allowed_seconds):
            return False
        self._breached(at=now, meta=meta)
        return True

    def complete(self, *, now: datetime, meta: dict[str, str]) -> None:
        if self.status == "completed":
            raise RuleViolation("the item is already completed")
        used = self.used(now) if self.status == "running" else timedelta(seconds=self.used_seconds)
        self._completed(at=now, used_seconds=int(used.total_seconds()),
                        breached=self.breached or used > timedelta(seconds=self.allowed_seconds), meta=meta)

    @event("SlaPaused")
    def _paused(self, at: datetime, used_seconds: int, meta: dict[str, str]) -> None:
        self.status = "paused"
        self.used_seconds = used_seconds
        self.run_started_at = self.warn_at = self.due_at = None

    @event("SlaResumed")
    def _resumed(self, at: datetime, warn_at: datetime | None, due_at: datetime | None, meta: dict[str, str]) -> None:
        self.status = "running"
        self.run_started_at = at
        self.warn_at, self.due_at = warn_at, due_at
        self.runs += 1

    @event("SlaWarning")
    def _warned(self, at: datetime, meta: dict[str, str]) -> None:
        self.warned = True

    @event("SlaBreached")
    def _breached(self, at: datetime, meta: dict[str, str]) -> None:
        self.breached = True

    @event("SlaCompleted")
    def _completed(self, at: datetime, used_seconds: int, breached: bool, meta: dict[str, str]) -> None:
        self.status = "completed"
        self.used_seconds = used_seconds
        self.run_started_at = self.warn_at = self.due_at = None

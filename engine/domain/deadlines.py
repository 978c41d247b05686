"""Durable deadlines: a timer whose scheduling, cancellation and firing are events.

A deadline names what it waits for (its ``kind`` and ``subject``), when it is due, and the
action to take when it passes. Its id is derived from (kind, subject, key), so scheduling
is idempotent and whoever stops waiting can cancel it without looking it up. Firing is
saved in the same atomic write as the action's own events; two schedulers racing to fire
the same deadline collide on its version and only one write survives.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import RuleViolation

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:deadline")


def deadline_id(kind: str, subject_id: UUID | str, key: str = "") -> UUID:
    return uuid5(_NAMESPACE, f"{kind}:{subject_id}:{key}")


class Deadline(Aggregate):
    """Category ``deadlines`` on the event backbone."""

    @staticmethod
    def create_id(kind: str, subject_id: str, key: str = "", **_: Any) -> UUID:
        return deadline_id(kind, subject_id, key)

    @event("DeadlineScheduled")
    def __init__(self, kind: str, subject_id: str, key: str, due_at: datetime, action: str,
                 args: dict[str, Any], customer_id: str | None, meta: dict[str, str]) -> None:
        self.kind = kind
        self.subject_id = subject_id
        self.key = key
        self.due_at = due_at
        self.action = action
        self.args = args
        self.customer_id = customer_id
        self.status = "scheduled"
        self.fired_at: datetime | None = None

    def is_due(self, now: datetime) -> bool:
        return self.status == "scheduled" and now >= self.due_at

    def cancel(self, *, reason: str, meta: dict[str, str]) -> bool:
        """Stop waiting. Returns False (and records nothing) if it already fired or was cancelled."""
        if self.status != "scheduled":
            return False
        self._cancelled(reason=reason, meta=meta)
        return True

    def fire(self, *, now: datetime, meta: dict[str, str]) -> None:
        if self.status != "scheduled":
            raise RuleViolation(f"deadline {self.id} is {self.status}, it cannot fire")
        if now < self.due_at:
            raise RuleViolation(f"deadline {self.id} is due at {self.due_at.isoformat()}, not yet")
        self._fired(fired_at=now, meta=meta)

    @event("DeadlineCancelled")
    def _cancelled(self, reason: str, meta: dict[str, str]) -> None:
        self.status = "cancelled"

    @event("DeadlineFired")
    def _fired(self, fired_at: datetime, meta: dict[str, str]) -> None:
        self.status = "fired"
        self.fired_at = fired_at

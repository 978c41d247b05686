"""Durable deadlines: the command that starts a wait schedules one, the command that ends
the wait cancels it in the same write, and firing a due one saves its action's events
with the firing, so a crash fires nothing and two schedulers fire once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable
from uuid import UUID

import structlog
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from engine.application.context import SYSTEM, CommandContext
from engine.application.unit_of_work import UnitOfWork
from engine.domain.deadlines import Deadline, deadline_id

log = structlog.get_logger(__name__)

# A deadline's action: given the deadline, the time and the event metadata, change what
# the wait was for and return the aggregates to save with the firing.
Action = Callable[[Deadline, datetime, dict[str, str]], list[Aggregate]]


class Deadlines:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.actions: dict[str, Action] = {}

    def on(self, action: str, run: Action) -> None:
        """Name what a deadline does when it fires; handlers register theirs at start."""
        if action in self.actions:
            raise ValueError(f"deadline action {action!r} is registered twice")
        self.actions[action] = run

    def schedule(self, *, kind: str, subject_id: UUID | str, key: str, due_at: datetime, action: str,
                 args: dict[str, Any] | None = None, customer_id: str | None = None,
                 meta: dict[str, str]) -> Deadline:
        if action not in self.actions:
            raise ValueError(f"no deadline action {action!r}")
        return Deadline(kind=kind, subject_id=str(subject_id), key=key, due_at=due_at, action=action,
                        args=args or {}, customer_id=customer_id, meta=meta)

    def cancel(self, kind: str, subject_id: UUID | str, key: str, *, reason: str,
               meta: dict[str, str]) -> list[Aggregate]:
        deadline = self.uow.find(Deadline, deadline_id(kind, subject_id, key))
        if deadline is not None and deadline.cancel(reason=reason, meta=meta):
            return [deadline]
        return []

    def fire(self, deadline_uuid: UUID, ctx: CommandContext | None = None) -> str:
        """Fire one due deadline: its action and its firing are one atomic write.

        Returns ``fired``, ``not_due``, ``not_scheduled`` (cancelled or already fired) or
        ``lost_race`` (another scheduler fired it first).
        """
        ctx = ctx or CommandContext.new(SYSTEM)
        deadline = self.uow.find(Deadline, deadline_uuid)
        if deadline is None or deadline.status != "scheduled":
            return "not_scheduled"
        now = self.uow.now()
        if not deadline.is_due(now):
            return "not_due"
        meta = ctx.meta()
        changed = self.actions[deadline.action](deadline, now, meta)
        deadline.fire(now=now, meta=meta)
        try:
            self.uow.store.save(deadline, *changed)
        except IntegrityError:
            return "lost_race"
        log.info("deadline_fired", deadline_id=str(deadline.id), kind=deadline.kind, subject=deadline.subject_id,
                 action=deadline.action, changed=len(changed))
        return "fired"

"""Workflow 3, follow-up call-backs: recording one (which may confirm the job, see
``policies.job_confirmed_by_follow_up``) and marking one overdue when nobody called."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from engine.application import policies
from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import CommandResult, Effects
from engine.application.waits import FOLLOW_UP, FOLLOW_UP_OVERDUE
from engine.domain.deadlines import Deadline
from engine.domain.errors import NotFound
from engine.domain.followups import FollowUp


def _not_found(follow_up_id: UUID) -> NotFound:
    return NotFound(f"follow-up {follow_up_id} does not exist")


class FollowUps(Handler):
    def register_deadline_actions(self) -> None:
        self.deadlines.on(FOLLOW_UP_OVERDUE, self._on_follow_up_overdue)

    def record_follow_up(self, ctx: CommandContext, follow_up_id: UUID, *, fixed: bool, conduct: str,
                         satisfaction: int, arrival_time: datetime | None = None, comments: str | None = None,
                         customer_paid: Any | None = None, expected_version: int | None = None,
                         idempotency_key: str | None = None) -> CommandResult:
        """Record the call-back; with what the customer says they paid, it also checks the charges."""
        def change(follow_up: FollowUp) -> Effects:
            now = self.uow.now()
            follow_up.record(fixed=fixed, arrival_time=arrival_time, conduct=conduct, satisfaction=satisfaction,
                             comments=comments, now=now, meta=ctx.meta())
            extra, touched = policies.job_confirmed_by_follow_up(self.uow, follow_up, fixed, customer_paid,
                                                                 self.config.currency, now, ctx.meta())
            stale = self.deadlines.cancel(FOLLOW_UP, follow_up.id, "", reason="recorded", meta=ctx.meta())
            return Effects(follow_up, extra, [*stale, *touched])

        return self.uow.change(ctx, "record_follow_up", FollowUp, follow_up_id,
                               {"fixed": fixed, "conduct": conduct, "satisfaction": satisfaction,
                                "arrival": arrival_time.isoformat() if arrival_time else None, "comments": comments,
                                "paid": None if customer_paid is None else str(customer_paid)},
                               change, expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=_not_found)

    def get_follow_up(self, follow_up_id: UUID) -> dict[str, Any]:
        f = self.uow.load(FollowUp, follow_up_id, not_found=_not_found)
        return {"follow_up_id": str(f.id), "version": f.version, "job_id": f.job_id, "completion": f.completion,
                "customer_id": f.customer_id,
                "engineer": f.engineer, "fault_cause": f.fault_cause, "due_at": f.due_at.isoformat(),
                "status": f.status}

    def _on_follow_up_overdue(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        follow_up = self.uow.load(FollowUp, UUID(deadline.subject_id))
        return [follow_up] if follow_up.mark_overdue(now=now, meta=meta) else []

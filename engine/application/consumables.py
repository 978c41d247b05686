"""Workflow 7, consumables: reminders that fall due, are declined (asked again later) or
accepted (``policies.replacement_job_on_acceptance`` opens the replacement job)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from engine.application import policies
from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import Change, CommandResult, Effects
from engine.application.waits import REMINDER_DUE, reminder_deadline
from engine.domain.deadlines import Deadline
from engine.domain.errors import InvalidCommand, NotFound
from engine.domain.reminders import DECLINED_REPEAT_DAYS, ConsumableReminder


def _not_found(reminder_id: UUID) -> NotFound:
    return NotFound(f"reminder {reminder_id} does not exist")


class Consumables(Handler):
    def register_deadline_actions(self) -> None:
        self.deadlines.on(REMINDER_DUE, self._on_reminder_due)

    def decline_reminder(self, ctx: CommandContext, reminder_id: UUID, *, repeat_after_days: int = DECLINED_REPEAT_DAYS,
                         expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        def change(reminder: ConsumableReminder) -> Effects:
            reminder.decline(now=self.uow.now(), repeat_after_days=repeat_after_days, meta=ctx.meta())
            return Effects(reminder, {"next_due_at": reminder.due_at.isoformat()},
                           [reminder_deadline(self.deadlines, reminder, ctx.meta())])

        return self._reminder(ctx, "decline_reminder", reminder_id, {"repeat": repeat_after_days, "reason": ctx.reason},
                              change, expected_version, idempotency_key)

    def accept_reminder(self, ctx: CommandContext, reminder_id: UUID, *, consumables: list[str] | None = None,
                        fee: Any = "0", expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        def change(reminder: ConsumableReminder) -> Effects:
            chosen = consumables or reminder.due_consumables
            if set(chosen) - set(reminder.consumables):
                raise InvalidCommand(f"replaceable consumables are {', '.join(reminder.consumables)}")
            job = policies.replacement_job_on_acceptance(reminder, chosen, fee, ctx.meta())
            reminder.accept(replacement_job_id=str(job.id), meta=ctx.meta())
            return Effects(reminder, {"job_id": str(job.id)}, [job])

        return self._reminder(ctx, "accept_reminder", reminder_id, {"consumables": consumables, "fee": str(fee)},
                              change, expected_version, idempotency_key)

    def get_reminder(self, reminder_id: UUID) -> dict[str, Any]:
        r = self.uow.load(ConsumableReminder, reminder_id, not_found=_not_found)
        return {"reminder_id": str(r.id), "version": r.version, "customer_id": r.customer_id,
                "installation_job_id": r.installation_job_id, "product": r.product, "consumables": r.consumables,
                "status": r.status, "round": r.round, "due_at": r.due_at.isoformat(),
                "due": {c: r.due_of(c).isoformat() for c in r.consumables}, "due_consumables": r.due_consumables,
                "replacement_job_id": r.replacement_job_id}

    def _on_reminder_due(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        reminder = self.uow.load(ConsumableReminder, UUID(deadline.subject_id))
        return [reminder] if reminder.fall_due(now=now, meta=meta) else []

    def _reminder(self, ctx: CommandContext, name: str, reminder_id: UUID, payload: dict[str, Any],
                  change: Change[ConsumableReminder], expected_version: int | None,
                  idempotency_key: str | None) -> CommandResult:
        return self.uow.change(ctx, name, ConsumableReminder, reminder_id, payload, change,
                               expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=_not_found)

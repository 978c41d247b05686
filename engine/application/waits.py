"""What each workflow waits for: the deadline kinds, their actions' names (stored in every
Deadline, so they never change) and the deadlines that watch an appointment window, a
follow-up call and a consumable reminder.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from engine.application.scheduling import Deadlines
from engine.domain.deadlines import Deadline
from engine.domain.followups import FollowUp
from engine.domain.jobs import FieldJob
from engine.domain.reminders import ConsumableReminder

# Deadline kinds (part of each deadline's id).
WINDOW = "appointment"
FOLLOW_UP = "follow_up"
REMINDER = "consumable_reminder"
PROPOSAL = "claim_proposal"
WARNING, BREACH = "sla_warning", "sla_breach"

# Action names.
MISS_APPOINTMENT = "job.miss_appointment"
FOLLOW_UP_OVERDUE = "followup.mark_overdue"
REMINDER_DUE = "reminder.fall_due"
PROPOSAL_OVERDUE = "claim.proposal_overdue"
SLA_WARN, SLA_BREACH = "sla.warn", "sla.breach"


def window_deadline(deadlines: Deadlines, job: FieldJob, meta: dict[str, str]) -> Deadline:
    assert job.window is not None
    return deadlines.schedule(kind=WINDOW, subject_id=job.id, key=str(job.windows_agreed), due_at=job.window["end"],
                              action=MISS_APPOINTMENT, customer_id=job.customer_id, meta=meta)


def stop_window_deadline(deadlines: Deadlines, job: FieldJob, why: str, meta: dict[str, str]) -> list[Aggregate]:
    if job.window is None:
        return []
    return deadlines.cancel(WINDOW, job.id, str(job.windows_agreed), reason=why, meta=meta)


def follow_up_deadline(deadlines: Deadlines, follow_up: FollowUp, meta: dict[str, str]) -> Deadline:
    return deadlines.schedule(kind=FOLLOW_UP, subject_id=follow_up.id, key="", due_at=follow_up.due_at,
                              action=FOLLOW_UP_OVERDUE, customer_id=follow_up.customer_id, meta=meta)


def reminder_deadline(deadlines: Deadlines, reminder: ConsumableReminder, meta: dict[str, str]) -> Deadline:
    return deadlines.schedule(kind=REMINDER, subject_id=reminder.id, key=str(reminder.round), due_at=reminder.due_at,
                              action=REMINDER_DUE, customer_id=reminder.customer_id, meta=meta)

"""Scheduling a field job: dispatching it to an engineer, who accepts or declines it, and agreeing,
moving or missing its appointment window.

Each function is a command of ``FieldJob`` (assigned there as a method): it checks the rules on the
job's state, then records the event through the aggregate's own event method.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.jobs.rules import CLOSED, DEFAULT_MIN_NOTICE, INITIATORS, MAX_WINDOW, ROUTINGS
from engine.domain.values import moment, text

if TYPE_CHECKING:
    from engine.domain.jobs.field_job import FieldJob


def dispatch(job: FieldJob, engineer: str, *, routing: str, now: datetime, meta: dict[str, str],
             note: str | None = None) -> None:
    job._refuse_if_closed("dispatch")
    if routing not in ROUTINGS:
        raise InvalidCommand(f"routing must be one of {', '.join(ROUTINGS)}")
    if job.status not in ("open", "declined"):
        raise RuleViolation(f"the job is already {job.status} to {job.engineer}; it can be dispatched "
                            "again only after a decline")
    job._dispatched(engineer=text(engineer, "engineer", limit=100), routing=routing,
                    note=text(note, "note", required=False), at=now, meta=meta)



def accept(job: FieldJob, engineer: str, *, meta: dict[str, str]) -> None:
    _require_dispatched_to(job, engineer, "accept")
    job._accepted(engineer=engineer, meta=meta)



def decline(job: FieldJob, engineer: str, *, now: datetime, meta: dict[str, str]) -> None:
    """The engineer gives the job back (or a dispatcher does on their behalf): before they
    accept it, or after, as long as its appointment has not begun. The appointment stays
    agreed with the customer for the next engineer (its deadline keeps watching it); a window
    that has begun is kept or missed, never moved onto someone else silently."""
    job._refuse_if_closed("decline")
    if job.status == "accepted":
        _require_window_not_begun(job, engineer, now)
    else:
        _require_dispatched_to(job, engineer, "decline")
    if not meta.get("reason"):
        raise InvalidCommand("declining a job needs a reason (ill, cannot install that model, too far...)")
    job._declined(engineer=engineer, meta=meta)


def _require_window_not_begun(job: FieldJob, engineer: str, now: datetime) -> None:
    if engineer != job.engineer:
        raise RuleViolation(f"the job is accepted by {job.engineer}, not {engineer}")
    if job.open_visit is not None:
        raise RuleViolation("the engineer is on site: check out before handing the job back")
    if job.window is None:
        return
    if now >= job.window["start"]:
        raise RuleViolation(
            f"the window starting {job.window['start'].isoformat()} has begun: the job can no longer be handed "
            "back; the engineer keeps it, or the window is recorded as missed", rule="hand-back-before-window")
    if job.visits[job.window["visits_before"]:]:
        raise RuleViolation("the engineer has already been on site for this appointment: it is kept by them",
                            rule="hand-back-before-window")



def agree_appointment(job: FieldJob, start: datetime, end: datetime, *, now: datetime, meta: dict[str, str]) -> None:
    job._refuse_if_closed("agree an appointment")
    if job.status != "accepted":
        raise RuleViolation("an appointment is agreed once an engineer has accepted the job")
    if job.window is not None:
        raise RuleViolation("an appointment is already agreed: reschedule it instead")
    check_window(start, end, now)
    job._appointment_agreed(window_start=start, window_end=end, meta=meta)



def reschedule(job: FieldJob, start: datetime, end: datetime, *, now: datetime, initiator: str,
               meta: dict[str, str], min_notice: timedelta = DEFAULT_MIN_NOTICE) -> None:
    job._refuse_if_closed("reschedule")
    if job.window is None:
        raise RuleViolation("there is no appointment to reschedule")
    if initiator not in INITIATORS:
        raise InvalidCommand(f"initiator must be one of {', '.join(INITIATORS)}")
    if not meta.get("reason"):
        raise InvalidCommand("rescheduling needs a reason the customer is told")
    if job.open_visit is not None:
        raise RuleViolation("the engineer is on site: check out before moving the appointment")
    if now >= job.window["start"]:
        raise RuleViolation(
            f"the window starting {job.window['start'].isoformat()} has begun: it can no longer be "
            "rescheduled; check in, or it will be recorded as missed")
    notice = job.window["start"] - now
    if initiator != "customer" and notice < min_notice:
        raise RuleViolation(
            f"the window starts in {notice.total_seconds() / 3600:.2f} h: unless the customer asks, an "
            f"appointment is moved at least {min_notice.total_seconds() / 3600:g} h before it starts; keep it, "
            "or it is recorded as missed", rule="reschedule-notice")
    check_window(start, end, now)
    notice_hours = round(notice.total_seconds() / 3600, 2)
    job._rescheduled(window_start=start, window_end=end, previous_start=job.window["start"],
                     notice_hours=notice_hours, initiator=initiator, meta=meta)



def miss_appointment(job: FieldJob, *, now: datetime, meta: dict[str, str]) -> bool:
    """Record the breach of a window that passed with no check-in. False if nothing was missed."""
    if job.window is None or now < job.window["end"] or job.status in CLOSED:
        return False
    # Kept if someone checked in, after the window was agreed, by the window's end.
    if any(v["checked_in_at"] <= job.window["end"] for v in job.visits[job.window["visits_before"]:]):
        return False
    job._appointment_missed(window_start=job.window["start"], window_end=job.window["end"], meta=meta)
    return True



def _require_dispatched_to(job: FieldJob, engineer: str, action: str) -> None:
    job._refuse_if_closed(action)
    if job.status != "dispatched":
        raise RuleViolation(f"the job is {job.status}, there is nothing to {action}")
    if engineer != job.engineer:
        raise RuleViolation(f"the job is dispatched to {job.engineer}, not {engineer}")



def check_window(start: datetime, end: datetime, now: datetime) -> None:
    moment(start, "start")
    moment(end, "end")
    if start <= now:
        raise RuleViolation("an appointment window must start in the future")
    if not start < end <= start + MAX_WINDOW:
        raise InvalidCommand("a window ends after it starts and lasts at most 12 hours")

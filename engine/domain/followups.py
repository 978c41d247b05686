"""The FollowUp aggregate: the call-back every completed job gets within 24 hours.

It records whether the fault is fixed, when the engineer arrived, how they worked, the
customer's satisfaction (1-5) and comments; the application also asks what the customer
paid, to confirm the job's charges before the engineer's fee becomes payable (seed 002:
every engineer's job is followed up before they are paid). One follow-up per completion of
a job (its id derives from the job's). If nobody records it in time, a deadline records it
as overdue.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.values import moment, text

DUE_WITHIN = timedelta(hours=24)
CONDUCT = ("excellent", "good", "acceptable", "poor")
_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:followup")


def followup_id(job_id: UUID | str, completion: int = 1) -> UUID:
    """One follow-up per completion of a job (a reopened job is followed up again)."""
    return uuid5(_NAMESPACE, str(job_id) if completion <= 1 else f"{job_id}#{completion}")


class FollowUp(Aggregate):
    """Category ``followups`` on the event backbone."""

    @staticmethod
    def create_id(job_id: str, completion: int = 1, **_: Any) -> UUID:
        return followup_id(job_id, completion)

    @event("FollowUpScheduled")
    def __init__(self, job_id: str, customer_id: str, engineer: str | None, fault_cause: str | None,
                 due_at: datetime, meta: dict[str, str], completion: int = 1) -> None:
        self.job_id = job_id
        self.completion = completion
        self.customer_id = customer_id
        self.engineer = engineer
        self.fault_cause = fault_cause
        self.due_at = due_at
        self.status = "due"

    def record(self, *, fixed: bool, arrival_time: datetime | None, conduct: str, satisfaction: int,
               comments: str | None, now: datetime, meta: dict[str, str]) -> None:
        if self.status == "recorded":
            raise RuleViolation("the follow-up has already been recorded")
        if conduct not in CONDUCT:
            raise InvalidCommand(f"conduct must be one of {', '.join(CONDUCT)}")
        if not isinstance(satisfaction, int) or isinstance(satisfaction, bool) or not 1 <= satisfaction <= 5:
            raise InvalidCommand("satisfaction is a whole number from 1 to 5")
        self._recorded(fixed=bool(fixed), arrival_time=None if arrival_time is None else moment(arrival_time, "arrival_time"),
                       conduct=conduct, satisfaction=satisfaction, comments=text(comments, "comments", required=False),
                       late=now > self.due_at, meta=meta)

    def mark_overdue(self, *, now: datetime, meta: dict[str, str]) -> bool:
        if self.status != "due" or now < self.due_at:
            return False
        self._overdue(meta=meta)
        return True

    @event("FollowUpRecorded")
    def _recorded(self, fixed: bool, arrival_time: datetime | None, conduct: str, satisfaction: int,
                  comments: str | None, late: bool, meta: dict[str, str]) -> None:
        self.status = "recorded"

    @event("FollowUpOverdue")
    def _overdue(self, meta: dict[str, str]) -> None:
        self.status = "overdue"


# Version 2 of FollowUpScheduled added ``completion`` (a reopened job is followed up again);
# every version-1 event followed a first completion.
def _follow_up_scheduled_v1_v2(state: dict[str, Any]) -> None:
    state["completion"] = 1


FollowUp.FollowUpScheduled.class_version = 2  # type: ignore[attr-defined]
FollowUp.FollowUpScheduled.upcast_v1_v2 = staticmethod(_follow_up_scheduled_v1_v2)  # type: ignore[attr-defined]

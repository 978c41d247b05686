"""Hotline calls (workflow 6, seed 002): answered or missed; every missed call gets a call-back."""

from __future__ import annotations

from datetime import datetime, timedelta

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import RuleViolation
from engine.domain.values import text

CALL_BACK_WITHIN = timedelta(hours=2)


class HotlineCall(Aggregate):
    """Category ``calls`` on the event backbone."""

    @classmethod
    def record(cls, *, phone: str, at: datetime, day: str, answered: bool, customer_id: str | None,
               agent: str | None, meta: dict[str, str]) -> HotlineCall:
        phone = text(phone, "phone", limit=40)
        if answered:
            return cls(phone=phone, at=at, day=day, answered=True, customer_id=customer_id,
                       agent=text(agent, "agent", limit=100), call_back_due_at=None, meta=meta)
        return cls(phone=phone, at=at, day=day, answered=False, customer_id=customer_id, agent=None,
                   call_back_due_at=at + CALL_BACK_WITHIN, meta=meta)

    @event("CallReceived")
    def __init__(self, phone: str, at: datetime, day: str, answered: bool, customer_id: str | None,
                 agent: str | None, call_back_due_at: datetime | None, meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.answered = answered
        self.call_back_due_at = call_back_due_at
        self.called_back = False

    def call_back(self, *, at: datetime, reached: bool, meta: dict[str, str]) -> None:
        if self.answered:
            raise RuleViolation("the call was answered: there is nothing to call back")
        if self.called_back:
            raise RuleViolation("the customer was already called back")
        assert self.call_back_due_at is not None  # an unanswered call always has one
        self._called_back(at=at, reached=reached, late=at > self.call_back_due_at, meta=meta)

    @event("CalledBack")
    def _called_back(self, at: datetime, reached: bool, late: bool, meta: dict[str, str]) -> None:
        self.called_back = reached

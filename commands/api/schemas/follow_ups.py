"""Bodies of follow-ups and reminders: the customer's answers after a visit, and consumable reminders
accepted or declined."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from commands.api.schemas.common import AmountText, FreeText, Strict
from engine.domain.followups import CONDUCT


class FollowUpIn(Strict):
    fixed: bool
    arrival_time: AwareDatetime | None = None
    conduct: Literal[CONDUCT]  # type: ignore[valid-type]
    satisfaction: int = Field(ge=1, le=5)
    comments: FreeText | None = Field(default=None, max_length=2000)
    customer_paid: AmountText | None = Field(default=None, examples=["150.00"],
                                      description="what the customer says they paid the engineer; when it matches "
                                                  "the engineer's report and the work is fixed, the fee is payable")


class AcceptReminderIn(Strict):
    consumables: list[str] | None = Field(default=None, max_length=20, description="only some, if the customer wants")
    fee: AmountText = "0"


class DeclineReminderIn(Strict):
    repeat_after_days: int = Field(default=30, ge=1, le=365)
    reason: FreeText | None = Field(default=None, max_length=2000)

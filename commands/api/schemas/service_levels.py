"""Bodies of service levels and the hotline: starting an SLA clock, recording a call, a call-back's outcome."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from commands.api.schemas.common import Strict


class StartSlaIn(Strict):
    subject_id: str = Field(min_length=1, max_length=100, description="the job, complaint... being timed")
    subject_kind: str = Field(min_length=1, max_length=40, examples=["job"])
    customer_id: str = Field(min_length=1, max_length=100)
    tier: Literal["basic", "vip", "svip"] | None = Field(default=None, description="or give order_id")
    order_id: str | None = Field(default=None, max_length=100)


class CallIn(Strict):
    phone: str = Field(min_length=3, max_length=40)
    answered: bool
    at: AwareDatetime | None = None
    customer_id: str | None = Field(default=None, max_length=100)
    agent: str | None = Field(default=None, max_length=100)


class CallBackIn(Strict):
    reached: bool

"""Bodies of money: disputed charges, deductions, settlement statements, customers' payments and refunds."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from commands.api.schemas.common import AmountText, FreeText, Strict
from engine.domain.accounts import DEDUCTION_RULES
from engine.domain.payments import METHODS


Period = Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"], description="a month, YYYY-MM")


class ResolveChargesIn(Strict):
    agreed: AmountText
    reason: FreeText = Field(min_length=1, max_length=2000)


class DeductionIn(Strict):
    rule: Literal[tuple(DEDUCTION_RULES)]  # type: ignore[valid-type]
    amount: AmountText
    job_id: UUID | None = None
    evidence: dict[str, str] = Field(min_length=1, max_length=20, examples=[{"complaint_id": "..."}])
    reason: FreeText = Field(min_length=1, max_length=2000)


class SettlementIn(Strict):
    period: str = Period


class StatementPaidIn(Strict):
    reference: str = Field(min_length=1, max_length=200, examples=["bank transfer 2026-12-02 #8812"])


class CustomerPaymentIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    amount: AmountText
    method: Literal[METHODS]  # type: ignore[valid-type]
    order_id: UUID | None = None
    job_id: UUID | None = None
    on_site: bool = False
    collected_by: str | None = Field(default=None, max_length=100, description="the engineer who took it on site")


class CustomerRefundIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    amount: AmountText
    method: Literal[METHODS]  # type: ignore[valid-type]
    order_id: UUID | None = None
    job_id: UUID | None = None
    engineer_at_fault: bool = Field(default=False, description="reverses the engineer's fee for the job")
    reason: FreeText = Field(min_length=1, max_length=2000)

"""Bodies of the returns workflow: requesting a return, votes, pickup, inspection, refund or exchange,
and the returned part's steps."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from commands.api.schemas.common import AmountText, FreeText, Strict


class ReturnItemIn(Strict):
    sku: str = Field(min_length=1, max_length=100)
    quantity: int = Field(default=1, ge=1, le=10_000)


class RequestReturnIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    order_id: UUID = Field(description="the order whose delivered goods come back")
    resolution: Literal["refund", "exchange"]
    reason: FreeText = Field(min_length=1, max_length=2000)
    items: list[ReturnItemIn] = Field(min_length=1, max_length=200)


class VoteIn(Strict):
    approve: bool
    reason: FreeText | None = Field(default=None, max_length=2000,
                                    description="required to reject; the customer reads it")


class PickupIn(Strict):
    pickup_at: AwareDatetime


class InspectionIn(Strict):
    faulty_parts: list[str] = Field(default_factory=list, max_length=50)
    notes: FreeText | None = Field(default=None, max_length=2000)


class RefundIn(Strict):
    amount: AmountText


class ExchangeIn(Strict):
    shipment: str = Field(min_length=1, max_length=200)


class PartStepIn(Strict):
    step: Literal["collected", "inspected", "repaired", "scrapped"]

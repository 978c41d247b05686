"""Bodies of field work: opening jobs and repairs, dispatch, visit windows, check-in and out,
completion and the payment reported on site."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, Field

from commands.api.schemas.common import AmountText, FreeText, PositionIn, Strict
from engine.domain.jobs import FAULT_CAUSES, INITIATORS, KINDS


class ProductIn(Strict):
    sku: str = Field(min_length=1, max_length=100)
    description: FreeText = Field(default="", max_length=2000)


class OpenJobIn(Strict):
    kind: Literal[KINDS]  # type: ignore[valid-type]
    customer_id: str = Field(min_length=1, max_length=100)
    product: ProductIn
    site_address: str = Field(min_length=1, max_length=500)
    site_location: PositionIn | None = None
    fee: AmountText = "0"
    consumables: list[str] = Field(default_factory=list, max_length=20)


class OpenRepairIn(Strict):
    fee: AmountText = "0"
    engineer: str | None = Field(default=None, max_length=100,
                                 description="only when the original installer is unavailable")
    original_unavailable: FreeText | None = Field(default=None, max_length=2000,
                                             description="why the original installer cannot take it")


class EngineerIn(Strict):
    engineer: str = Field(min_length=1, max_length=100)


class DispatchIn(EngineerIn):
    note: FreeText | None = Field(default=None, max_length=2000)


class DeclineIn(EngineerIn):
    reason: FreeText = Field(min_length=1, max_length=2000)


class WindowIn(Strict):
    start: AwareDatetime
    end: AwareDatetime


class RescheduleIn(WindowIn):
    initiator: Literal[INITIATORS]  # type: ignore[valid-type]
    reason: FreeText = Field(min_length=1, max_length=2000)


class CheckInIn(EngineerIn):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0, le=10_000)
    at: AwareDatetime | None = Field(default=None, description="when it happened (default: now)")


class CheckOutIn(EngineerIn):
    at: AwareDatetime | None = None


class CompleteIn(Strict):
    fault_cause: Literal[FAULT_CAUSES] | None = None  # type: ignore[valid-type]
    fixed: bool = True
    consumables_replaced: list[str] | None = Field(default=None, max_length=20)
    notes: FreeText | None = Field(default=None, max_length=2000)


class PaymentIn(Strict):
    collected: bool
    amount: AmountText = "0"
    method: str | None = Field(default=None, max_length=50)
    reason: FreeText | None = Field(default=None, max_length=2000, description="required when not collected")

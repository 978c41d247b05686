"""Bodies of the orders workflow: placing an order, its delivery steps, incidents and cancelling."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from commands.api.schemas.common import AmountText, FreeText, PositionIn, Strict
from engine.domain.orders import INCIDENT_KINDS, RESOLUTIONS, STEPS, TIERS


class ItemIn(Strict):
    sku: str = Field(min_length=1, max_length=100, examples=["WP-500"])
    description: FreeText = Field(default="", max_length=2000, examples=["Water purifier, 5-stage"])
    quantity: int = Field(default=1, ge=1, le=10_000)
    needs_installation: bool = False
    installation_fee: AmountText = "0"
    consumables: list[str] = Field(default_factory=list, max_length=20, examples=[["PP cotton", "RO membrane"]])
    consumable_interval_days: int = Field(default=90, ge=1, le=3650)


class PlaceOrderIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100, examples=["cust-0042"])
    items: list[ItemIn] = Field(min_length=1, max_length=200)
    tier: Literal[TIERS] = Field(examples=["vip"])  # type: ignore[valid-type]
    delivery_address: str = Field(min_length=1, max_length=500, examples=["12 Lake Road, Hangzhou"])
    site_location: PositionIn | None = Field(default=None, description="where installers' check-ins are verified")


class DeliveryStepIn(Strict):
    step: Literal[STEPS]  # type: ignore[valid-type]
    driver: str | None = Field(default=None, max_length=200)
    position: PositionIn | None = None
    note: FreeText | None = Field(default=None, max_length=2000)


class IncidentIn(Strict):
    kind: Literal[INCIDENT_KINDS]  # type: ignore[valid-type]
    description: FreeText = Field(min_length=1, max_length=2000)


class ResolveIncidentIn(Strict):
    resolution: Literal[RESOLUTIONS]  # type: ignore[valid-type]
    reason: FreeText = Field(min_length=1, max_length=2000,
                             description="why: recorded on the event and shown to the customer")
    note: FreeText | None = Field(default=None, max_length=2000)


class CancelIn(Strict):
    reason: FreeText = Field(min_length=1, max_length=2000)

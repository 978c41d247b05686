"""Request and response bodies. Unknown fields are refused rather than silently dropped."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.orders import INCIDENT_KINDS, RESOLUTIONS, STEPS, TIERS


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Strict):
    sku: str = Field(min_length=1, max_length=100, examples=["WP-500"])
    description: str = Field(default="", max_length=2000, examples=["Water purifier, 5-stage"])
    quantity: int = Field(default=1, ge=1, le=10_000)
    needs_installation: bool = False


class PlaceOrderIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100, examples=["cust-0042"])
    items: list[ItemIn] = Field(min_length=1, max_length=200)
    tier: Literal[TIERS] = Field(examples=["vip"])  # type: ignore[valid-type]
    delivery_address: str = Field(min_length=1, max_length=500, examples=["12 Lake Road, Hangzhou"])


class PositionIn(Strict):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class DeliveryStepIn(Strict):
    step: Literal[STEPS]  # type: ignore[valid-type]
    driver: str | None = Field(default=None, max_length=200)
    position: PositionIn | None = None
    note: str | None = Field(default=None, max_length=2000)


class IncidentIn(Strict):
    kind: Literal[INCIDENT_KINDS]  # type: ignore[valid-type]
    description: str = Field(min_length=1, max_length=2000)


class ResolveIncidentIn(Strict):
    resolution: Literal[RESOLUTIONS]  # type: ignore[valid-type]
    reason: str = Field(min_length=1, max_length=2000, description="why: recorded on the event and shown to the customer")
    note: str | None = Field(default=None, max_length=2000)


class CancelIn(Strict):
    reason: str = Field(min_length=1, max_length=2000)


class CommandOut(BaseModel):
    order_id: str
    version: int
    position: int | None = Field(description="store position of the write; pass as wait_for_position to read it back")
    replayed: bool = Field(description="true when an Idempotency-Key matched an earlier command")
    incident_id: str | None = None


class TimelineOut(BaseModel):
    customer_id: str
    entries: list[dict[str, Any]]
    next_after: int | None

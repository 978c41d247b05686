"""Request and response bodies. Unknown fields are refused rather than silently dropped."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal, get_args, get_type_hints
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from engine.domain.accounts import DEDUCTION_RULES
from engine.domain.customers import LANGUAGES
from engine.domain.followups import CONDUCT
from engine.domain.jobs import FAULT_CAUSES, INITIATORS, KINDS
from engine.domain.orders import INCIDENT_KINDS, RESOLUTIONS, STEPS, TIERS
from engine.domain.payments import METHODS
from engine.domain.values import MAX_AMOUNT


def _at_most_max_amount(value: str) -> str:
    if Decimal(value) > MAX_AMOUNT:
        raise ValueError(f"an amount is at most {MAX_AMOUNT}")
    return value


# Every amount of money in a command: a decimal string with up to two places, 0 to MAX_AMOUNT
# (engine.domain.values, the one limit the domain also applies).
AmountText = Annotated[str, Field(pattern=r"^\d{1,7}(\.\d{1,2})?$", examples=["120.00"],
                                  description=f"a decimal amount from 0 to {MAX_AMOUNT}"),
                       AfterValidator(_at_most_max_amount)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _FreeTextMarker:
    """Marks a field as free text: the one place tabs and line breaks are accepted."""


# Free text (descriptions, notes, reasons...): may hold tabs and line breaks, which every
# other text field refuses (commands/api/input_guard.py reads the names from here).
FreeText = Annotated[str, _FreeTextMarker()]


def free_text_fields() -> frozenset[str]:
    """The names of the free-text fields of every request body."""
    def mentions(hint: Any) -> bool:
        return any(isinstance(a, _FreeTextMarker) or mentions(a) for a in get_args(hint))

    names: set[str] = set()
    models: list[type[BaseModel]] = [Strict]
    while models:
        model = models.pop()
        models.extend(model.__subclasses__())
        names.update(name for name, hint in get_type_hints(model, include_extras=True).items() if mentions(hint))
    return frozenset(names)


class ItemIn(Strict):
    sku: str = Field(min_length=1, max_length=100, examples=["WP-500"])
    description: FreeText = Field(default="", max_length=2000, examples=["Water purifier, 5-stage"])
    quantity: int = Field(default=1, ge=1, le=10_000)
    needs_installation: bool = False
    installation_fee: AmountText = "0"
    consumables: list[str] = Field(default_factory=list, max_length=20, examples=[["PP cotton", "RO membrane"]])
    consumable_interval_days: int = Field(default=90, ge=1, le=3650)


class PositionIn(Strict):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


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


class TimelineOut(BaseModel):
    customer_id: str
    entries: list[dict[str, Any]]
    next_after: int | None
    next_before: int | None = None


# Field work ---------------------------------------------------------------------------------


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


class ReasonIn(Strict):
    reason: FreeText = Field(min_length=1, max_length=2000)


class PaymentIn(Strict):
    collected: bool
    amount: AmountText = "0"
    method: str | None = Field(default=None, max_length=50)
    reason: FreeText | None = Field(default=None, max_length=2000, description="required when not collected")


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


class RegisterCustomerIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=40)
    address: str = Field(min_length=1, max_length=500)


class UpdateCustomerIn(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=3, max_length=40)
    address: str | None = Field(default=None, min_length=1, max_length=500)


class LanguageIn(Strict):
    language: Literal[LANGUAGES]  # type: ignore[valid-type]


class ResultOut(BaseModel):
    """A command's result: the id of what it changed, its version and store position."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int
    position: int | None
    replayed: bool



# Returns ------------------------------------------------------------------------------------


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


# Complaints and claims ------------------------------------------------------------------------


class FileComplaintIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    category: Literal["delivery", "shipping", "service", "product", "product_quality", "engineer_conduct", "hotline"]
    description: FreeText = Field(min_length=1, max_length=2000)
    order_id: str | None = Field(default=None, max_length=100)
    job_id: str | None = Field(default=None, max_length=100)


class FindingsIn(Strict):
    findings: FreeText = Field(min_length=1, max_length=2000)


class ResolutionIn(Strict):
    resolution: FreeText = Field(min_length=1, max_length=2000)


class OpenClaimIn(Strict):
    damage: FreeText = Field(min_length=1, max_length=2000, examples=["wooden floor of 30 m2 flooded"])


class FactIn(Strict):
    fact: FreeText = Field(min_length=1, max_length=2000)
    evidence: list[str] = Field(default_factory=list, max_length=50, description="photo ids, reports, statements")


class LiabilityIn(Strict):
    party: Literal["manufacturer", "installer", "customer", "shared"]
    facts: list[FreeText] = Field(min_length=1, max_length=50)
    reason: FreeText = Field(min_length=1, max_length=2000)


class ProposalIn(Strict):
    amount: AmountText
    facts: list[FreeText] = Field(default_factory=list, max_length=50)


class RevisionIn(ProposalIn):
    reason: FreeText = Field(min_length=1, max_length=2000)


class ClaimPaymentIn(Strict):
    amount: AmountText
    reference: str = Field(min_length=1, max_length=200)


# Service levels and hotline -------------------------------------------------------------------


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


# Settlement and payments -----------------------------------------------------------------

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

"""The FieldJob aggregate: its state, the events that change it, and its commands.

The commands are grouped by the job's phases in ``scheduling``, ``visits`` and ``completion``
(functions of the job, assigned below as its methods); the events here are the only code that
changes a job's state, and the only code replays run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Mapping, TypeVar

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.jobs import completion, scheduling, visits
from engine.domain.jobs.rules import CLOSED, KINDS
from engine.domain.values import money, position, text

# The topic the store records for the aggregate and each of its events (``module:Class.Event``).
# They name the module the class was written in before ``engine.domain.jobs`` became a package;
# stated explicitly (eventsourcing's explicit topics) so stores read the same before and after.
STORED_AS = "engine.domain.jobs:FieldJob"
_Method = TypeVar("_Method", bound=Callable[..., None])


def _stored(name: str) -> Callable[[_Method], _Method]:
    """``@event(name)``, stored under the topic ``STORED_AS.name``."""
    return event(name, topic=f"{STORED_AS}.{name}")


class FieldJob(Aggregate):
    """Category ``jobs`` on the event backbone."""

    TOPIC = STORED_AS

    class Event(Aggregate.Event):
        TOPIC = f"{STORED_AS}.Event"

    class Created(Event, Aggregate.Created):
        TOPIC = f"{STORED_AS}.Created"

    # Settlement state (workflow 8); class defaults keep snapshots taken before them readable.
    completions = 0
    confirmed = False
    charges_disputed: dict[str, Any] | None = None
    visits_since = 0
    # Visit-time bounds; class defaults keep snapshots taken before them readable.
    dispatched_at: datetime | None = None
    missed_until: datetime | None = None
    charged_to = "customer"
    replaced: tuple[str, ...] = ()

    # Commands -------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        *,
        kind: str,
        customer_id: str,
        product: Mapping[str, Any],
        site_address: str,
        site_location: Mapping[str, Any] | None,
        fee: Any,
        meta: dict[str, str],
        order_id: str | None = None,
        related_id: str | None = None,
        consumables: list[str] | None = None,
        consumable_interval_days: int = 90,
    ) -> FieldJob:
        if kind not in KINDS:
            raise InvalidCommand(f"job kind must be one of {', '.join(KINDS)}, not {kind!r}")
        consumables = [text(c, "consumable", limit=100) for c in (consumables or [])]
        if kind == "consumable_replacement" and not consumables:
            raise InvalidCommand("a consumable replacement job names the consumables to replace")
        return cls(
            kind=kind,
            customer_id=text(customer_id, "customer_id", limit=100),
            product={"sku": text(product.get("sku"), "product sku", limit=100),
                     "description": text(product.get("description"), "product description", required=False) or ""},
            site_address=text(site_address, "site_address", limit=500),
            site_location=position(site_location),
            fee=money(fee, "fee"),
            order_id=order_id,
            related_id=related_id,
            consumables=consumables,
            consumable_interval_days=consumable_interval_days,
            meta=meta,
        )

    dispatch = scheduling.dispatch
    accept = scheduling.accept
    decline = scheduling.decline
    agree_appointment = scheduling.agree_appointment
    reschedule = scheduling.reschedule
    miss_appointment = scheduling.miss_appointment

    check_in = visits.check_in
    check_out = visits.check_out
    visit_time = visits.visit_time
    set_site_location = visits.set_site_location

    complete = completion.complete
    install_by_customer = completion.install_by_customer
    cancel_at_door = completion.cancel_at_door
    record_payment = completion.record_payment
    reopen = completion.reopen
    confirm = completion.confirm
    resolve_charges = completion.resolve_charges

    # Queries --------------------------------------------------------------------------

    @property
    def open_visit(self) -> dict[str, Any] | None:
        return next((v for v in self.visits if v["checked_out_at"] is None), None)

    def _refuse_if_closed(self, action: str) -> None:
        if self.status in CLOSED:
            raise RuleViolation(f"cannot {action}: the job is {self.status.replace('_', ' ')}")

    # Events -----------------------------------------------------------------------------

    @_stored("JobOpened")
    def __init__(self, kind: str, customer_id: str, product: dict[str, str], site_address: str,
                 site_location: dict[str, float] | None, fee: str, order_id: str | None,
                 related_id: str | None, consumables: list[str], consumable_interval_days: int,
                 meta: dict[str, str]) -> None:
        self.kind = kind
        self.customer_id = customer_id
        self.product = product
        self.site_address = site_address
        self.site_location = site_location
        self.fee = fee
        self.order_id = order_id
        # The installation a repair follows, or the reminder a replacement answers.
        self.related_id = related_id
        self.consumables = consumables
        self.consumable_interval_days = consumable_interval_days
        self.status = "open"
        self.engineer: str | None = None
        self.declined_by: list[str] = []
        self.window: dict[str, Any] | None = None
        self.windows_agreed = 0
        self.missed_windows = 0
        self.visits: list[dict[str, Any]] = []
        self.fault_cause: str | None = None
        self.payment: dict[str, Any] | None = None

    @_stored("JobDispatched")
    def _dispatched(self, engineer: str, routing: str, note: str | None, at: datetime | None,
                    meta: dict[str, str]) -> None:
        self.status = "dispatched"
        self.engineer = engineer
        self.dispatched_at = at

    @_stored("JobAccepted")
    def _accepted(self, engineer: str, meta: dict[str, str]) -> None:
        self.status = "accepted"

    @_stored("JobDeclined")
    def _declined(self, engineer: str, meta: dict[str, str]) -> None:
        self.status = "declined"
        self.declined_by.append(engineer)
        self.engineer = None
        # An accepted job's appointment stays agreed with the customer for the next engineer
        # (a job only dispatched never had one: this was ``self.window = None`` before issue 20),
        # who completes it only after a verified visit of their own (a dispatched job has none).
        self.visits_since = len(self.visits)

    @_stored("AppointmentAgreed")
    def _appointment_agreed(self, window_start: datetime, window_end: datetime, meta: dict[str, str]) -> None:
        self.window = {"start": window_start, "end": window_end, "visits_before": len(self.visits)}
        self.windows_agreed += 1

    @_stored("AppointmentRescheduled")
    def _rescheduled(self, window_start: datetime, window_end: datetime, previous_start: datetime,
                     notice_hours: float, initiator: str, meta: dict[str, str]) -> None:
        self.window = {"start": window_start, "end": window_end, "visits_before": len(self.visits)}
        self.windows_agreed += 1

    @_stored("AppointmentMissed")
    def _appointment_missed(self, window_start: datetime, window_end: datetime, meta: dict[str, str]) -> None:
        self.window = None
        self.missed_until = window_end
        self.missed_windows += 1

    @_stored("SiteLocated")
    def _site_located(self, site_location: dict[str, float] | None, meta: dict[str, str]) -> None:
        self.site_location = site_location

    @_stored("EngineerCheckedIn")
    def _checked_in(self, engineer: str, location: dict[str, float], accuracy_m: float, at: datetime,
                    received_at: datetime, distance_m: float, verified: bool, meta: dict[str, str]) -> None:
        self.visits.append({"engineer": engineer, "checked_in_at": at, "checked_out_at": None,
                            "verified": verified, "distance_m": distance_m, "check_in_received_at": received_at})

    @_stored("EngineerCheckedOut")
    def _checked_out(self, engineer: str, at: datetime, received_at: datetime, duration_minutes: float,
                     meta: dict[str, str]) -> None:
        visit = self.open_visit
        assert visit is not None
        visit["checked_out_at"] = at
        visit["check_out_received_at"] = received_at

    @_stored("JobCompleted")
    def _completed(self, fault_cause: str | None, fixed: bool, consumables_replaced: list[str],
                   notes: str | None, charged_to: str, meta: dict[str, str]) -> None:
        self.status = "completed"
        self.charged_to = charged_to
        self.replaced = tuple(consumables_replaced)
        self.completions += 1
        self.fault_cause = fault_cause
        self.window = None

    @_stored("SelfInstallationAgreed")
    def _self_installed(self, fee_refunded: str, meta: dict[str, str]) -> None:
        self.status = "self_installed"
        self.window = None

    @_stored("JobCancelledAtDoor")
    def _cancelled_at_door(self, meta: dict[str, str]) -> None:
        self.status = "cancelled_at_door"
        self.window = None

    @_stored("JobReopened")
    def _reopened(self, completion: int, meta: dict[str, str]) -> None:
        self.status = "accepted"
        self.confirmed = False
        self.charges_disputed = None
        self.fault_cause = None
        self.visits_since = len(self.visits)

    @_stored("JobConfirmed")
    def _confirmed(self, follow_up_id: str | None, charged: str, resolution: str | None, meta: dict[str, str]) -> None:
        self.confirmed = True
        self.charges_disputed = None

    @_stored("ChargesDisputed")
    def _charges_disputed(self, follow_up_id: str, customer_paid: str, engineer_reported: str,
                          meta: dict[str, str]) -> None:
        self.charges_disputed = {"customer_paid": customer_paid, "engineer_reported": engineer_reported}

    @_stored("PaymentRecorded")
    def _payment_recorded(self, collected: bool, amount: str, method: str | None, meta: dict[str, str]) -> None:
        self.payment = {"collected": collected, "amount": amount, "method": method}


# Version 2 of these events added the server's side of time (issue 17): JobDispatched its
# ``at`` (unknown before: no lower bound), the visits their ``received_at`` (the device time
# was taken as given, so it stands for it), and JobCompleted who pays (``charged_to``:
# the customer, as every fee was charged then).
def _upcast(event_class: Any, name: str, *, default: Any = None, copy_of: str | None = None) -> None:
    def v1_v2(state: dict[str, Any]) -> None:
        state[name] = state[copy_of] if copy_of else default

    event_class.class_version = 2
    event_class.upcast_v1_v2 = staticmethod(v1_v2)


_upcast(FieldJob.JobDispatched, "at")  # type: ignore[attr-defined]
_upcast(FieldJob.EngineerCheckedIn, "received_at", copy_of="at")  # type: ignore[attr-defined]
_upcast(FieldJob.EngineerCheckedOut, "received_at", copy_of="at")  # type: ignore[attr-defined]
_upcast(FieldJob.JobCompleted, "charged_to", default="customer")  # type: ignore[attr-defined]

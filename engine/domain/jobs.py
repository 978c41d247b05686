"""The FieldJob aggregate: installation, repair, follow-up visit and consumable replacement.

Workflow 2 and 3 of the domain:
- a job is dispatched to an engineer, who accepts it or declines with a reason (a declined
  job waits to be dispatched again);
- an appointment window is agreed with the customer; it may be rescheduled only before it
  starts, recording the notice given, who asked and why; unless the customer asked, it is
  moved only with the configured minimum notice (seed 003's "no answer, keep delaying"); a
  window that passes with no check-in and no reschedule is recorded as missed (by a
  deadline), never silently moved;
- the engineer checks in and out with a location; a check-in within the allowed distance
  of the customer's site verifies the visit, and no job is completed without a verified
  visit (a self-installation by the customer excepted, which refunds the installation fee);
- visit times are the server's receive time; a device time (offline work) is bounded: never
  in the future, never before dispatch, never older than the configured age, never inside a
  window already recorded as missed; on-time, missed and duration are judged on those times;
- a completed repair names the fault's cause, and its fee is charged to whoever the recorded
  liability rule names for that cause (installation error -> the installer, product
  quality -> the maker, misuse -> the customer); a consumable replacement may replace only
  some consumables, may be cancelled by the customer at the door, and records whether the
  customer paid on site.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Mapping

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.geo import distance_m
from engine.domain.values import moment, money, position, text

KINDS = ("installation", "repair", "follow_up_visit", "consumable_replacement")
INITIATORS = ("customer", "engineer", "operator")
FAULT_CAUSES = ("weather_conditions", "installation_error", "customer_misuse", "product_quality")
ROUTINGS = ("operator_choice", "original_installer", "redispatch")
MAX_WINDOW = timedelta(hours=12)
CLOSED = ("completed", "self_installed", "cancelled_at_door")
# Who pays for a repair, by its fault cause: the recorded rule unless configured otherwise.
# Only misuse (and, outside warranty, weather) is the customer's; the others are the
# installer's (deducted from their account) or the maker's.
PAYERS = ("customer", "installer", "manufacturer")
DEFAULT_REPAIR_LIABILITY: Mapping[str, str] = MappingProxyType({
    "installation_error": "installer", "product_quality": "manufacturer", "customer_misuse": "customer",
    "weather_conditions": "customer"})
# Device clocks drift: a device time up to this far ahead of the server reads as the receive time.
DEVICE_CLOCK_SKEW = timedelta(minutes=2)
DEFAULT_MAX_DEVICE_AGE = timedelta(hours=24)
DEFAULT_MIN_NOTICE = timedelta(hours=4)


class FieldJob(Aggregate):
    """Category ``jobs`` on the event backbone."""

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

    def dispatch(self, engineer: str, *, routing: str, now: datetime, meta: dict[str, str],
                 note: str | None = None) -> None:
        self._refuse_if_closed("dispatch")
        if routing not in ROUTINGS:
            raise InvalidCommand(f"routing must be one of {', '.join(ROUTINGS)}")
        if self.status not in ("open", "declined"):
            raise RuleViolation(f"the job is already {self.status} to {self.engineer}; it can be dispatched "
                                "again only after a decline")
        self._dispatched(engineer=text(engineer, "engineer", limit=100), routing=routing,
                         note=text(note, "note", required=False), at=now, meta=meta)

    def accept(self, engineer: str, *, meta: dict[str, str]) -> None:
        self._require_dispatched_to(engineer, "accept")
        self._accepted(engineer=engineer, meta=meta)

    def decline(self, engineer: str, *, meta: dict[str, str]) -> None:
        self._require_dispatched_to(engineer, "decline")
        if not meta.get("reason"):
            raise InvalidCommand("declining a job needs a reason (ill, cannot install that model, too far...)")
        self._declined(engineer=engineer, meta=meta)

    def agree_appointment(self, start: datetime, end: datetime, *, now: datetime, meta: dict[str, str]) -> None:
        self._refuse_if_closed("agree an appointment")
        if self.status != "accepted":
            raise RuleViolation("an appointment is agreed once an engineer has accepted the job")
        if self.window is not None:
            raise RuleViolation("an appointment is already agreed: reschedule it instead")
        self._check_window(start, end, now)
        self._appointment_agreed(window_start=start, window_end=end, meta=meta)

    def reschedule(self, start: datetime, end: datetime, *, now: datetime, initiator: str,
                   meta: dict[str, str], min_notice: timedelta = DEFAULT_MIN_NOTICE) -> None:
        self._refuse_if_closed("reschedule")
        if self.window is None:
            raise RuleViolation("there is no appointment to reschedule")
        if initiator not in INITIATORS:
            raise InvalidCommand(f"initiator must be one of {', '.join(INITIATORS)}")
        if not meta.get("reason"):
            raise InvalidCommand("rescheduling needs a reason the customer is told")
        if self.open_visit is not None:
            raise RuleViolation("the engineer is on site: check out before moving the appointment")
        if now >= self.window["start"]:
            raise RuleViolation(
                f"the window starting {self.window['start'].isoformat()} has begun: it can no longer be "
                "rescheduled; check in, or it will be recorded as missed")
        notice = self.window["start"] - now
        if initiator != "customer" and notice < min_notice:
            raise RuleViolation(
                f"the window starts in {notice.total_seconds() / 3600:.2f} h: unless the customer asks, an "
                f"appointment is moved at least {min_notice.total_seconds() / 3600:g} h before it starts; keep it, "
                "or it is recorded as missed", rule="reschedule-notice")
        self._check_window(start, end, now)
        notice_hours = round(notice.total_seconds() / 3600, 2)
        self._rescheduled(window_start=start, window_end=end, previous_start=self.window["start"],
                          notice_hours=notice_hours, initiator=initiator, meta=meta)

    def miss_appointment(self, *, now: datetime, meta: dict[str, str]) -> bool:
        """Record the breach of a window that passed with no check-in. False if nothing was missed."""
        if self.window is None or now < self.window["end"] or self.status in CLOSED:
            return False
        # Kept if someone checked in, after the window was agreed, by the window's end.
        if any(v["checked_in_at"] <= self.window["end"] for v in self.visits[self.window["visits_before"]:]):
            return False
        self._appointment_missed(window_start=self.window["start"], window_end=self.window["end"], meta=meta)
        return True

    def check_in(self, engineer: str, *, location: Mapping[str, Any], accuracy_m: float, received_at: datetime,
                 max_distance_m: float, meta: dict[str, str], device_at: datetime | None = None,
                 max_device_age: timedelta = DEFAULT_MAX_DEVICE_AGE) -> bool:
        self._refuse_if_closed("check in")
        if self.status != "accepted" or engineer != self.engineer:
            raise RuleViolation(f"only the engineer who accepted the job ({self.engineer or 'nobody yet'}) "
                                "can check in")
        if self.open_visit is not None:
            raise RuleViolation("already checked in: check out first")
        if self.site_location is None:
            raise RuleViolation("the job has no site location to verify a visit against: set it first")
        where = position(location)
        assert where is not None
        if not 0 <= accuracy_m <= 10_000:
            raise InvalidCommand("accuracy_m must be between 0 and 10000")
        at = self.visit_time(device_at, received_at, max_device_age)
        if self.missed_until is not None and at <= self.missed_until:
            raise RuleViolation(f"the window ending {self.missed_until.isoformat()} is recorded as missed: a check-in "
                                "cannot be dated inside it (the breach stands); check in with the current time",
                                rule="visit-time-bounded")
        last_out = max((v["checked_out_at"] for v in self.visits), default=None)
        if last_out is not None and at < last_out:
            raise RuleViolation(f"the last visit ended at {last_out.isoformat()}: a check-in cannot be dated before it",
                                rule="visit-time-bounded")
        distance = round(distance_m(where, self.site_location), 1)
        verified = distance <= max_distance_m and accuracy_m <= max_distance_m
        self._checked_in(engineer=engineer, location=where, accuracy_m=float(accuracy_m), at=at,
                         received_at=received_at, distance_m=distance, verified=verified, meta=meta)
        return verified

    def check_out(self, engineer: str, *, received_at: datetime, meta: dict[str, str],
                  device_at: datetime | None = None, max_device_age: timedelta = DEFAULT_MAX_DEVICE_AGE) -> None:
        visit = self.open_visit
        if visit is None or visit["engineer"] != engineer:
            raise RuleViolation(f"{engineer} is not checked in on this job")
        at = self.visit_time(device_at, received_at, max_device_age)
        if at < visit["checked_in_at"]:
            raise RuleViolation(f"check-out cannot be before the check-in at {visit['checked_in_at'].isoformat()}",
                                rule="visit-time-bounded")
        minutes = round((at - visit["checked_in_at"]).total_seconds() / 60, 1)
        self._checked_out(engineer=engineer, at=at, received_at=received_at, duration_minutes=minutes, meta=meta)

    def visit_time(self, device_at: datetime | None, received_at: datetime, max_age: timedelta) -> datetime:
        """When a check-in or check-out happened: the receive time, or a bounded device time."""
        moment(received_at, "received_at")
        if device_at is None:
            return received_at
        moment(device_at, "at")
        if device_at > received_at + DEVICE_CLOCK_SKEW:
            raise RuleViolation(f"at {device_at.isoformat()} is later than the server received the report "
                                f"({received_at.isoformat()}): a device time is never in the future",
                                rule="visit-time-bounded")
        at = min(device_at, received_at)
        if at < received_at - max_age:
            raise RuleViolation(f"at {device_at.isoformat()} is more than {max_age.total_seconds() / 3600:g} h before "
                                "the report was received: a device time is at most that old",
                                rule="visit-time-bounded")
        if self.dispatched_at is not None and at < self.dispatched_at:
            raise RuleViolation(f"at {device_at.isoformat()} is before the job was dispatched "
                                f"({self.dispatched_at.isoformat()})", rule="visit-time-bounded")
        return at

    def set_site_location(self, location: Mapping[str, Any], *, meta: dict[str, str]) -> None:
        self._refuse_if_closed("change the site")
        self._site_located(site_location=position(location), meta=meta)

    def complete(self, *, meta: dict[str, str], fault_cause: str | None = None, fixed: bool = True,
                 consumables_replaced: list[str] | None = None, notes: str | None = None,
                 liability: Mapping[str, str] = DEFAULT_REPAIR_LIABILITY) -> None:
        self._refuse_if_closed("complete")
        if self.open_visit is not None:
            raise RuleViolation("check out before completing the job")
        if not any(v["verified"] for v in self.visits[self.visits_since:]):
            raise RuleViolation("no verified visit: a job is completed only after a check-in at the customer's site")
        if self.kind == "repair" and fault_cause not in FAULT_CAUSES:
            raise InvalidCommand(f"a repair records its fault cause: one of {', '.join(FAULT_CAUSES)}")
        if self.kind != "repair" and fault_cause is not None:
            raise InvalidCommand("only a repair records a fault cause")
        replaced: list[str] = []
        if self.kind == "consumable_replacement":
            replaced = list(consumables_replaced or self.consumables)
            unknown = sorted(set(replaced) - set(self.consumables))
            if unknown or not replaced:
                raise InvalidCommand(f"replace some of {', '.join(self.consumables)}; not {', '.join(unknown)}")
        charged_to = liability.get(fault_cause, "customer") if fault_cause else "customer"
        if charged_to not in PAYERS:
            raise InvalidCommand(f"the liability rule names {charged_to!r}; payers are {', '.join(PAYERS)}")
        self._completed(fault_cause=fault_cause, fixed=fixed, consumables_replaced=replaced,
                        notes=text(notes, "notes", required=False), charged_to=charged_to, meta=meta)

    def install_by_customer(self, *, meta: dict[str, str]) -> None:
        if self.kind != "installation":
            raise RuleViolation("only an installation can be done by the customer")
        self._refuse_if_closed("hand over to the customer")
        if not meta.get("reason"):
            raise InvalidCommand("self-installation is a decision: give the reason (no engineer can reach the site...)")
        self._self_installed(fee_refunded=self.fee, meta=meta)

    def cancel_at_door(self, *, meta: dict[str, str]) -> None:
        if self.kind != "consumable_replacement":
            raise RuleViolation("only a consumable replacement can be cancelled at the door")
        self._refuse_if_closed("cancel")
        if not self.visits:
            raise RuleViolation("the customer cancels at the door: the engineer must have checked in")
        if not meta.get("reason"):
            raise InvalidCommand("record why the customer changed their mind")
        self._cancelled_at_door(meta=meta)

    def record_payment(self, *, collected: bool, amount: Any, meta: dict[str, str], method: str | None = None) -> None:
        if self.status != "completed":
            raise RuleViolation("payment is recorded after the work is completed")
        if self.payment is not None and self.payment["collected"]:
            raise RuleViolation("payment was already collected")
        if not collected and not meta.get("reason"):
            raise InvalidCommand("record why the customer did not pay; it will be followed up")
        self._payment_recorded(collected=collected, amount=money(amount, "amount"),
                               method=text(method, "method", required=False, limit=50), meta=meta)

    def reopen(self, *, meta: dict[str, str]) -> None:
        """Completed work turned out not done: the engineer goes back; the fee is reversed."""
        if self.status != "completed":
            raise RuleViolation(f"only completed work can be reopened; the job is {self.status.replace('_', ' ')}")
        if not meta.get("reason"):
            raise InvalidCommand("reopening a job records why the work is not done")
        self._reopened(completion=self.completions, meta=meta)

    def confirm(self, *, follow_up_id: str, customer_paid: str, meta: dict[str, str]) -> bool:
        """The follow-up's check of the work and the charges. True if the job is now confirmed.

        The customer's account of what they paid is compared with the engineer's report; a
        difference is recorded as a dispute, to be resolved before the fee is payable.
        """
        self._require_unconfirmed()
        reported = self.payment["amount"] if self.payment and self.payment["collected"] else "0.00"
        if money(customer_paid, "customer_paid") != reported:
            self._charges_disputed(follow_up_id=follow_up_id, customer_paid=money(customer_paid, "customer_paid"),
                                   engineer_reported=reported, meta=meta)
            return False
        self._confirmed(follow_up_id=follow_up_id, charged=reported, resolution=None, meta=meta)
        return True

    def resolve_charges(self, *, agreed: Any, meta: dict[str, str]) -> None:
        """An operator settles what was charged (after a dispute, or when nobody was asked)."""
        self._require_unconfirmed()
        if not meta.get("reason"):
            raise InvalidCommand("resolving the charges records how they were agreed")
        self._confirmed(follow_up_id=None, charged=money(agreed, "agreed"), resolution="resolved by operator",
                        meta=meta)

    def _require_unconfirmed(self) -> None:
        if self.status != "completed":
            raise RuleViolation(f"only completed work is confirmed; the job is {self.status.replace('_', ' ')}")
        if self.confirmed:
            raise RuleViolation("the work and its charges are already confirmed")

    # Queries --------------------------------------------------------------------------

    @property
    def open_visit(self) -> dict[str, Any] | None:
        return next((v for v in self.visits if v["checked_out_at"] is None), None)

    def _require_dispatched_to(self, engineer: str, action: str) -> None:
        self._refuse_if_closed(action)
        if self.status != "dispatched":
            raise RuleViolation(f"the job is {self.status}, there is nothing to {action}")
        if engineer != self.engineer:
            raise RuleViolation(f"the job is dispatched to {self.engineer}, not {engineer}")

    def _refuse_if_closed(self, action: str) -> None:
        if self.status in CLOSED:
            raise RuleViolation(f"cannot {action}: the job is {self.status.replace('_', ' ')}")

    @staticmethod
    def _check_window(start: datetime, end: datetime, now: datetime) -> None:
        moment(start, "start")
        moment(end, "end")
        if start <= now:
            raise RuleViolation("an appointment window must start in the future")
        if not start < end <= start + MAX_WINDOW:
            raise InvalidCommand("a window ends after it starts and lasts at most 12 hours")

    # Events -----------------------------------------------------------------------------

    @event("JobOpened")
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

    @event("JobDispatched")
    def _dispatched(self, engineer: str, routing: str, note: str | None, at: datetime | None,
                    meta: dict[str, str]) -> None:
        self.status = "dispatched"
        self.engineer = engineer
        self.dispatched_at = at

    @event("JobAccepted")
    def _accepted(self, engineer: str, meta: dict[str, str]) -> None:
        self.status = "accepted"

    @event("JobDeclined")
    def _declined(self, engineer: str, meta: dict[str, str]) -> None:
        self.status = "declined"
        self.declined_by.append(engineer)
        self.engineer = None
        self.window = None

    @event("AppointmentAgreed")
    def _appointment_agreed(self, window_start: datetime, window_end: datetime, meta: dict[str, str]) -> None:
        self.window = {"start": window_start, "end": window_end, "visits_before": len(self.visits)}
        self.windows_agreed += 1

    @event("AppointmentRescheduled")
    def _rescheduled(self, window_start: datetime, window_end: datetime, previous_start: datetime,
                     notice_hours: float, initiator: str, meta: dict[str, str]) -> None:
        self.window = {"start": window_start, "end": window_end, "visits_before": len(self.visits)}
        self.windows_agreed += 1

    @event("AppointmentMissed")
    def _appointment_missed(self, window_start: datetime, window_end: datetime, meta: dict[str, str]) -> None:
        self.window = None
        self.missed_until = window_end
        self.missed_windows += 1

    @event("SiteLocated")
    def _site_located(self, site_location: dict[str, float] | None, meta: dict[str, str]) -> None:
        self.site_location = site_location

    @event("EngineerCheckedIn")
    def _checked_in(self, engineer: str, location: dict[str, float], accuracy_m: float, at: datetime,
                    received_at: datetime, distance_m: float, verified: bool, meta: dict[str, str]) -> None:
        self.visits.append({"engineer": engineer, "checked_in_at": at, "checked_out_at": None,
                            "verified": verified, "distance_m": distance_m, "check_in_received_at": received_at})

    @event("EngineerCheckedOut")
    def _checked_out(self, engineer: str, at: datetime, received_at: datetime, duration_minutes: float,
                     meta: dict[str, str]) -> None:
        visit = self.open_visit
        assert visit is not None
        visit["checked_out_at"] = at
        visit["check_out_received_at"] = received_at

    @event("JobCompleted")
    def _completed(self, fault_cause: str | None, fixed: bool, consumables_replaced: list[str],
                   notes: str | None, charged_to: str, meta: dict[str, str]) -> None:
        self.status = "completed"
        self.charged_to = charged_to
        self.replaced = tuple(consumables_replaced)
        self.completions += 1
        self.fault_cause = fault_cause
        self.window = None

    @event("SelfInstallationAgreed")
    def _self_installed(self, fee_refunded: str, meta: dict[str, str]) -> None:
        self.status = "self_installed"
        self.window = None

    @event("JobCancelledAtDoor")
    def _cancelled_at_door(self, meta: dict[str, str]) -> None:
        self.status = "cancelled_at_door"
        self.window = None

    @event("JobReopened")
    def _reopened(self, completion: int, meta: dict[str, str]) -> None:
        self.status = "accepted"
        self.confirmed = False
        self.charges_disputed = None
        self.fault_cause = None
        self.visits_since = len(self.visits)

    @event("JobConfirmed")
    def _confirmed(self, follow_up_id: str | None, charged: str, resolution: str | None, meta: dict[str, str]) -> None:
        self.confirmed = True
        self.charges_disputed = None

    @event("ChargesDisputed")
    def _charges_disputed(self, follow_up_id: str, customer_paid: str, engineer_reported: str,
                          meta: dict[str, str]) -> None:
        self.charges_disputed = {"customer_paid": customer_paid, "engineer_reported": engineer_reported}

    @event("PaymentRecorded")
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

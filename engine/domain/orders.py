"""The ServiceOrder aggregate: an order placed for a customer and its delivery (workflow 1).

Delivery passes through steps the customer can watch, strictly in order:
stock_prepared -> left_warehouse -> driver_assigned -> in_transit (repeatable, each a
position update) -> delivered. An incident may be reported at any point before delivery;
while one is open nothing else moves until it is resolved, either on the spot or by
re-dispatching the goods to a new driver. An order can be cancelled until it leaves
the warehouse.

Event bodies only change state; every check lives in the public command methods, so
replaying history never re-runs a rule against a newer rulebook.
"""

from __future__ import annotations

from typing import Any, Mapping
from uuid import uuid4

from eventsourcing.domain import Aggregate, event

from contract.names import DELIVERY_STEPS
from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.values import money
from engine.domain.values import position as _position
from engine.domain.values import text as _text

TIERS = ("basic", "vip", "svip")
STEPS = DELIVERY_STEPS
INCIDENT_KINDS = (
    "vehicle_breakdown",
    "traffic_accident",
    "goods_damaged",
    "address_problem",
    "customer_unreachable",
    "weather",
    "other",
)
RESOLUTIONS = ("resolved", "redispatched")
def _items(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, (list, tuple)) or not items:
        raise InvalidCommand("an order needs at least one item")
    cleaned = []
    for n, item in enumerate(items, 1):
        if not isinstance(item, Mapping):
            raise InvalidCommand(f"item {n} must be an object")
        quantity = item.get("quantity", 1)
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 10_000:
            raise InvalidCommand(f"item {n}: quantity must be a whole number from 1 to 10000")
        consumables = item.get("consumables") or []
        if not isinstance(consumables, (list, tuple)) or len(consumables) > 20:
            raise InvalidCommand(f"item {n}: consumables must be a list of at most 20 names")
        interval = item.get("consumable_interval_days", 90)
        if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 3650:
            raise InvalidCommand(f"item {n}: consumable_interval_days must be a whole number from 1 to 3650")
        cleaned.append(
            {
                "sku": _text(item.get("sku"), f"item {n} sku", limit=100),
                "description": _text(item.get("description"), f"item {n} description", required=False) or "",
                "quantity": quantity,
                "needs_installation": bool(item.get("needs_installation", False)),
                "installation_fee": money(item.get("installation_fee", "0"), f"item {n} installation_fee"),
                "consumables": [_text(c, f"item {n} consumable", limit=100) for c in consumables],
                "consumable_interval_days": interval,
            }
        )
    return cleaned


def _status(*, cancelled: bool, step: str | None, incidents_open: bool) -> str:
    """The order's status: what its events now say (v2), so views read it instead of deriving it."""
    if cancelled:
        return "cancelled"
    if step == "delivered":
        return "delivered"
    if incidents_open:
        return "incident_open"
    return "placed" if step is None else "in_delivery"


def _next_steps(*, cancelled: bool, step: str | None) -> tuple[str, ...]:
    if cancelled or step == "delivered":
        return ()
    if step is None:
        return (STEPS[0],)
    if step == "in_transit":
        return ("in_transit", "delivered")
    return (STEPS[STEPS.index(step) + 1],)


class ServiceOrder(Aggregate):
    """An order and its delivery. Category ``orders`` on the event backbone."""

    # Commands -------------------------------------------------------------------------

    @classmethod
    def place(
        cls,
        *,
        customer_id: str,
        items: list[Mapping[str, Any]],
        tier: str,
        delivery_address: str,
        meta: dict[str, str],
        site_location: Mapping[str, Any] | None = None,
    ) -> ServiceOrder:
        if tier not in TIERS:
            raise InvalidCommand(f"service tier must be one of {', '.join(TIERS)}, not {tier!r}")
        return cls(
            customer_id=_text(customer_id, "customer_id", limit=100),
            items=_items(items),
            tier=tier,
            delivery_address=_text(delivery_address, "delivery_address", limit=500),
            site_location=_position(site_location),
            meta=meta,
        )

    def record_step(
        self,
        step: str,
        *,
        meta: dict[str, str],
        driver: str | None = None,
        position: Mapping[str, Any] | None = None,
        note: str | None = None,
    ) -> None:
        if step not in STEPS:
            raise InvalidCommand(f"delivery step must be one of {', '.join(STEPS)}, not {step!r}")
        self._refuse_if_closed(f"record {step!r}")
        if self.open_incidents:
            ids = ", ".join(sorted(self.open_incidents))
            raise RuleViolation(f"incident {ids} is open: resolve it before recording {step!r}")
        allowed = self.next_steps
        if step not in allowed:
            if step in self.steps_done and step != "in_transit":
                raise RuleViolation(f"step {step!r} has already been recorded")
            raise RuleViolation(
                f"cannot record {step!r} now: the next step must be {' or '.join(map(repr, allowed))}"
            )
        driver = _text(driver, "driver", required=step == "driver_assigned", limit=200)
        pos = _position(position)
        if step == "in_transit" and pos is None:
            raise InvalidCommand("an in_transit update needs the vehicle's position")
        # What the view needs is said here, not re-derived by it: the status and next steps after.
        self._step_recorded(
            step=step, driver=driver, position=pos, note=_text(note, "note", required=False),
            status=_status(cancelled=False, step=step, incidents_open=False),
            next_steps=list(_next_steps(cancelled=False, step=step)), meta=meta,
        )

    def report_incident(self, *, kind: str, description: str, meta: dict[str, str]) -> str:
        if kind not in INCIDENT_KINDS:
            raise InvalidCommand(f"incident kind must be one of {', '.join(INCIDENT_KINDS)}, not {kind!r}")
        self._refuse_if_closed("report an incident")
        incident_id = uuid4().hex[:12]
        self._incident_reported(incident_id=incident_id, kind=kind, description=_text(description, "description"),
                                status="incident_open", meta=meta)
        return incident_id

    def resolve_incident(
        self, incident_id: str, *, resolution: str, meta: dict[str, str], note: str | None = None
    ) -> None:
        if resolution not in RESOLUTIONS:
            raise InvalidCommand(f"resolution must be one of {', '.join(RESOLUTIONS)}, not {resolution!r}")
        if incident_id not in self.incidents:
            raise RuleViolation(f"order {self.id} has no incident {incident_id!r}")
        if incident_id not in self.open_incidents:
            raise RuleViolation(f"incident {incident_id!r} is already resolved")
        if not meta.get("reason"):
            raise InvalidCommand("resolving an incident is a human decision: give a reason")
        if resolution == "redispatched" and STEPS.index(self.step or STEPS[0]) < STEPS.index("driver_assigned"):
            raise RuleViolation("nothing to re-dispatch: no driver has been assigned yet")
        # A re-dispatch sends the goods back to waiting for a driver: the step resumes there.
        step = "left_warehouse" if resolution == "redispatched" else self.step
        still_open = [i for i in self.open_incidents if i != incident_id]
        self._incident_resolved(
            incident_id=incident_id, resolution=resolution, note=_text(note, "note", required=False),
            status=_status(cancelled=False, step=step, incidents_open=bool(still_open)), step=step,
            next_steps=list(_next_steps(cancelled=False, step=step)), meta=meta,
        )

    def returnable_units(self, customer_id: str) -> dict[str, int]:
        """Units per SKU a return may ask back of this order: only the customer's delivered goods."""
        if customer_id != self.customer_id:
            raise RuleViolation(f"order {self.id} belongs to another customer", rule="return-matches-order")
        if self.status != "delivered":
            raise RuleViolation(f"the order is {self.status.replace('_', ' ')}: only delivered goods are returned "
                                "(cancel an order that has not left the warehouse)", rule="return-matches-order")
        units: dict[str, int] = {}
        for item in self.items:
            units[item["sku"]] = units.get(item["sku"], 0) + item["quantity"]
        return units

    def cancel(self, *, meta: dict[str, str]) -> None:
        if self.cancelled:
            raise RuleViolation("the order is already cancelled")
        if self.step not in (None, "stock_prepared"):
            raise RuleViolation(f"the order can no longer be cancelled: its goods are at step {self.step!r}")
        if not meta.get("reason"):
            raise InvalidCommand("cancelling an order is a human decision: give a reason")
        self._cancelled(meta=meta)

    # Queries --------------------------------------------------------------------------

    @property
    def status(self) -> str:
        return _status(cancelled=self.cancelled, step=self.step, incidents_open=bool(self.open_incidents))

    @property
    def open_incidents(self) -> list[str]:
        return [i for i, inc in self.incidents.items() if inc["status"] == "open"]

    @property
    def next_steps(self) -> tuple[str, ...]:
        return _next_steps(cancelled=self.cancelled, step=self.step)

    @property
    def steps_done(self) -> tuple[str, ...]:
        return () if self.step is None else STEPS[: STEPS.index(self.step) + 1]

    def _refuse_if_closed(self, action: str) -> None:
        if self.cancelled:
            raise RuleViolation(f"cannot {action}: the order is cancelled")
        if self.step == "delivered":
            raise RuleViolation(f"cannot {action}: the order has been delivered")

    # Events: state changes only --------------------------------------------------------

    @event("OrderPlaced")
    def __init__(
        self,
        customer_id: str,
        items: list[dict[str, Any]],
        tier: str,
        delivery_address: str,
        meta: dict[str, str],
        site_location: dict[str, float] | None = None,
    ) -> None:
        self.customer_id = customer_id
        self.site_location = site_location
        self.items = items
        self.tier = tier
        self.delivery_address = delivery_address
        self.step: str | None = None
        self.driver: str | None = None
        self.position: dict[str, float] | None = None
        self.position_updates = 0
        self.incidents: dict[str, dict[str, Any]] = {}
        self.cancelled = False

    @event("DeliveryStepRecorded")
    def _step_recorded(self, step: str, driver: str | None, position: dict[str, float] | None, note: str | None,
                       meta: dict[str, str], status: str | None = None, next_steps: list[str] | None = None) -> None:
        self.step = step
        if driver is not None:
            self.driver = driver
        if position is not None:
            self.position = position
        if step == "in_transit":
            self.position_updates += 1

    @event("IncidentReported")
    def _incident_reported(self, incident_id: str, kind: str, description: str, meta: dict[str, str],
                           status: str | None = None) -> None:
        self.incidents[incident_id] = {"kind": kind, "description": description, "status": "open"}

    @event("IncidentResolved")
    def _incident_resolved(
        self, incident_id: str, resolution: str, note: str | None, meta: dict[str, str],
        status: str | None = None, step: str | None = None, next_steps: list[str] | None = None,
    ) -> None:
        self.incidents[incident_id] = {**self.incidents[incident_id], "status": resolution}
        if resolution == "redispatched":
            # The goods go back to waiting for a driver; the old assignment is void.
            self.step = "left_warehouse"
            self.driver = None

    @event("OrderCancelled")
    def _cancelled(self, meta: dict[str, str]) -> None:
        self.cancelled = True


# Version 2 of the events that change an order's status says the status they leave it in
# and, where the delivery moves, the steps that may follow; a re-dispatch also says the step
# it resumes at (issue 16: views read what events say). Stored v1 events read these as null.
def _v1_v2(*names: str) -> Any:
    def upcast(state: dict[str, Any]) -> None:
        state.update(dict.fromkeys(names))

    return staticmethod(upcast)


for _event, _added in (("DeliveryStepRecorded", ("status", "next_steps")), ("IncidentReported", ("status",)),
                       ("IncidentResolved", ("status", "step", "next_steps"))):
    setattr(getattr(ServiceOrder, _event), "class_version", 2)
    setattr(getattr(ServiceOrder, _event), "upcast_v1_v2", _v1_v2(*_added))

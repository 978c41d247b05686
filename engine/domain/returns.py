"""The ReturnRequest aggregate: returns and exchanges judged in parallel (workflow 4).

Every required department (sales, technical, finance, logistics; which ones depends on the
request type and is fixed when the request is made) votes once, in any order. The request
is approved when all required departments approve and rejected on the first rejection, with
a reason the customer sees; a vote after the decision is refused. Then logistics collects
the goods, they are received and inspected, and a refund is issued or an exchange shipped.
Faulty parts follow reverse logistics: collected, inspected, then repaired or scrapped.

A return is made against its order: every line names a SKU the order holds, and no SKU
comes back more often than it was ordered, counting the order's other returns that were
not rejected. ``ReturnedGoods`` (one per order, internal) keeps that count, so two
concurrent returns of the last unit conflict instead of both passing.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.values import money, text

DEPARTMENTS = ("sales", "technical", "finance", "logistics")
RESOLUTIONS = ("refund", "exchange")
# Which departments judge each kind of request, unless the application is configured otherwise.
DEFAULT_REQUIRED = {"refund": ("sales", "technical", "finance", "logistics"),
                    "exchange": ("sales", "technical", "logistics")}
PART_STEPS = {"collected": (None,), "inspected": ("collected",), "repaired": ("inspected",),
              "scrapped": ("inspected",)}
AFTER_APPROVAL = ("pickup_scheduled", "received", "inspected")


def approver_role(department: str) -> str:
    return f"approver:{department}"


class ReturnRequest(Aggregate):
    """Category ``returns`` on the event backbone."""

    @classmethod
    def request(cls, *, customer_id: str, order_id: str | None, resolution: str, reason: str,
                items: list[Mapping[str, Any]], required: tuple[str, ...] | list[str],
                meta: dict[str, str]) -> ReturnRequest:
        if resolution not in RESOLUTIONS:
            raise InvalidCommand(f"resolution must be one of {', '.join(RESOLUTIONS)}")
        if not items:
            raise InvalidCommand("a return names at least one item")
        unknown = sorted(set(required) - set(DEPARTMENTS))
        if unknown or not required:
            raise InvalidCommand(f"required departments are some of {', '.join(DEPARTMENTS)}")
        cleaned = []
        for n, item in enumerate(items, 1):
            quantity = item.get("quantity", 1)
            if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 10_000:
                raise InvalidCommand(f"item {n}: quantity must be a whole number from 1 to 10000")
            cleaned.append({"sku": text(item.get("sku"), f"item {n} sku", limit=100), "quantity": quantity})
        return cls(customer_id=text(customer_id, "customer_id", limit=100), order_id=order_id,
                   resolution=resolution, reason=text(reason, "reason"), items=cleaned,
                   required=[d for d in DEPARTMENTS if d in required], meta=meta)

    def vote(self, department: str, *, approve: bool, meta: dict[str, str]) -> None:
        if department not in DEPARTMENTS:
            raise InvalidCommand(f"department must be one of {', '.join(DEPARTMENTS)}")
        if self.status != "requested":
            raise RuleViolation(f"the request is already {self.status}: {department}'s vote comes too late")
        if department not in self.required:
            raise RuleViolation(f"{department} is not asked to judge this request")
        if department in self.votes:
            raise RuleViolation(f"{department} has already voted")
        if not approve and not meta.get("reason"):
            raise InvalidCommand("a rejection gives the reason the customer will read")
        pending = [d for d in self.required if d != department and d not in self.votes]
        self._voted(department=department, approved=approve, pending=pending if approve else [], meta=meta)
        if not approve:
            self._rejected(department=department, meta=meta)
        elif not pending:
            self._approved(meta=meta)

    def schedule_pickup(self, *, pickup_at: Any, meta: dict[str, str]) -> None:
        self._advance("approved", "schedule a pickup")
        self._pickup_scheduled(pickup_at=pickup_at, meta=meta)

    def receive_goods(self, *, meta: dict[str, str]) -> None:
        self._advance("pickup_scheduled", "receive the goods")
        self._goods_received(meta=meta)

    def inspect(self, *, faulty_parts: list[str], notes: str | None, meta: dict[str, str]) -> None:
        self._advance("received", "inspect")
        self._inspected(faulty_parts=[text(p, "part", limit=100) for p in faulty_parts],
                        notes=text(notes, "notes", required=False), meta=meta)

    def issue_refund(self, *, amount: Any, meta: dict[str, str]) -> None:
        if self.resolution != "refund":
            raise RuleViolation("this request asks for an exchange, not a refund")
        self._advance("inspected", "refund")
        self._refunded(amount=money(amount, "amount"), meta=meta)

    def ship_exchange(self, *, shipment: str, meta: dict[str, str]) -> None:
        if self.resolution != "exchange":
            raise RuleViolation("this request asks for a refund, not an exchange")
        self._advance("inspected", "ship the exchange")
        self._exchange_shipped(shipment=text(shipment, "shipment", limit=200), meta=meta)

    def close(self, *, meta: dict[str, str]) -> None:
        if self.status not in ("refunded", "exchange_shipped", "rejected"):
            raise RuleViolation(f"a {self.status} request cannot be closed yet")
        open_parts = [p for p, step in self.parts.items() if step not in ("repaired", "scrapped")]
        if open_parts:
            raise RuleViolation(f"faulty parts still in reverse logistics: {', '.join(open_parts)}")
        self._closed(meta=meta)

    def track_part(self, part: str, step: str, *, meta: dict[str, str]) -> None:
        if part not in self.parts:
            raise RuleViolation(f"{part!r} was not found faulty at inspection")
        if step not in PART_STEPS:
            raise InvalidCommand(f"step must be one of {', '.join(PART_STEPS)}")
        if self.parts[part] not in PART_STEPS[step]:
            raise RuleViolation(f"part {part!r} is {self.parts[part] or 'awaiting collection'}: it cannot be {step}")
        self._part_tracked(part=part, step=step, meta=meta)

    @property
    def pending(self) -> list[str]:
        return [d for d in self.required if d not in self.votes] if self.status == "requested" else []

    def _advance(self, expected: str, action: str) -> None:
        if self.status != expected:
            raise RuleViolation(f"cannot {action}: the request is {self.status.replace('_', ' ')}")

    # Events -------------------------------------------------------------------------------

    @event("ReturnRequested")
    def __init__(self, customer_id: str, order_id: str | None, resolution: str, reason: str,
                 items: list[dict[str, Any]], required: list[str], meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.order_id = order_id
        self.resolution = resolution
        self.items = items
        self.required = required
        self.votes: dict[str, bool] = {}
        self.status = "requested"
        self.parts: dict[str, str | None] = {}
        self.rejection: dict[str, str | None] | None = None

    @event("DepartmentVoted")
    def _voted(self, department: str, approved: bool, pending: list[str], meta: dict[str, str]) -> None:
        self.votes[department] = approved

    @event("ReturnApproved")
    def _approved(self, meta: dict[str, str]) -> None:
        self.status = "approved"

    @event("ReturnRejected")
    def _rejected(self, department: str, meta: dict[str, str]) -> None:
        self.status = "rejected"
        # The reason the customer reads is the rejecting vote's reason, carried in the metadata.
        self.rejection = {"department": department, "reason": meta.get("reason")}

    @event("PickupScheduled")
    def _pickup_scheduled(self, pickup_at: Any, meta: dict[str, str]) -> None:
        self.status = "pickup_scheduled"

    @event("GoodsReceived")
    def _goods_received(self, meta: dict[str, str]) -> None:
        self.status = "received"

    @event("GoodsInspected")
    def _inspected(self, faulty_parts: list[str], notes: str | None, meta: dict[str, str]) -> None:
        self.status = "inspected"
        self.parts = {p: None for p in faulty_parts}

    @event("RefundIssued")
    def _refunded(self, amount: str, meta: dict[str, str]) -> None:
        self.status = "refunded"

    @event("ExchangeShipped")
    def _exchange_shipped(self, shipment: str, meta: dict[str, str]) -> None:
        self.status = "exchange_shipped"

    @event("FaultyPartTracked")
    def _part_tracked(self, part: str, step: str, meta: dict[str, str]) -> None:
        self.parts[part] = step

    @event("ReturnClosed")
    def _closed(self, meta: dict[str, str]) -> None:
        self.status = "closed"


def units(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Units per SKU in a list of return lines (a SKU may be named on several lines)."""
    counted: Counter[str] = Counter()
    for item in items:
        counted[str(item["sku"])] += int(item["quantity"])
    return dict(counted)


class ReturnedGoods(Aggregate):
    """What has been asked back of one order, per return request. Internal (not published)."""

    @staticmethod
    def create_id(order_id: str, **_: Any) -> UUID:
        return uuid5(NAMESPACE_URL, f"serviceorder:returned-goods:{order_id}")

    @event("ReturnedGoodsStarted")
    def __init__(self, order_id: str) -> None:
        self.order_id = order_id
        self.returns: dict[str, dict[str, int]] = {}

    def returned(self) -> dict[str, int]:
        total: Counter[str] = Counter()
        for lines in self.returns.values():
            total.update(lines)
        return dict(total)

    def reserve(self, *, return_id: str, items: Sequence[Mapping[str, Any]], ordered: Mapping[str, int]) -> None:
        """Count a new return's units against what the order holds less what is already asked back."""
        wanted, already = units(items), self.returned()
        unknown = sorted(set(wanted) - set(ordered))
        if unknown:
            raise RuleViolation(f"order {self.order_id} has no {', '.join(unknown)}: a return names what the "
                                "order delivered", rule="return-matches-order")
        over = [f"{sku} ({n} asked, {ordered[sku] - already.get(sku, 0)} of {ordered[sku]} left to return)"
                for sku, n in sorted(wanted.items()) if already.get(sku, 0) + n > ordered[sku]]
        if over:
            raise RuleViolation(f"more units than the order holds: {'; '.join(over)}", rule="return-matches-order")
        self._reserved(return_id=return_id, units=wanted)

    def release(self, *, return_id: str) -> bool:
        """A rejected return gives its units back. False if it held none."""
        if return_id not in self.returns:
            return False
        self._released(return_id=return_id)
        return True

    @event("ReturnUnitsReserved")
    def _reserved(self, return_id: str, units: dict[str, int]) -> None:
        self.returns[return_id] = dict(units)

    @event("ReturnUnitsReleased")
    def _released(self, return_id: str) -> None:
        del self.returns[return_id]

"""Human-readable one-line summaries of events, as a customer or operator reads them."""

from __future__ import annotations

from typing import Any, Callable

from streams.envelope import short_type

STEP_LABELS = {
    "stock_prepared": "Stock prepared",
    "left_warehouse": "Left the warehouse",
    "driver_assigned": "Driver assigned",
    "in_transit": "In transit",
    "delivered": "Delivered",
}
TIER_LABELS = {"basic": "basic warranty service", "vip": "VIP service", "svip": "SVIP service"}


def _placed(d: dict[str, Any], env: dict[str, Any]) -> str:
    items = ", ".join(f"{i['quantity']} x {i['sku']}" for i in d.get("items", []))
    return f"Order placed: {items} ({TIER_LABELS.get(d.get('tier'), d.get('tier'))}), to {d.get('delivery_address')}"


def _step(d: dict[str, Any], env: dict[str, Any]) -> str:
    text = STEP_LABELS.get(d.get("step"), str(d.get("step")))
    if d.get("step") == "driver_assigned" and d.get("driver"):
        text = f"Driver {d['driver']} assigned"
    if d.get("position"):
        text += f" at ({d['position']['lat']:.4f}, {d['position']['lng']:.4f})"
    if d.get("note"):
        text += f": {d['note']}"
    return text


def _incident(d: dict[str, Any], env: dict[str, Any]) -> str:
    return f"Incident reported ({str(d.get('kind', '')).replace('_', ' ')}): {d.get('description')}"


def _resolved(d: dict[str, Any], env: dict[str, Any]) -> str:
    how = "goods re-dispatched to a new driver" if d.get("resolution") == "redispatched" else "resolved"
    text = f"Incident {how}"
    if env.get("reason"):
        text += f": {env['reason']}"
    return text


def _cancelled(d: dict[str, Any], env: dict[str, Any]) -> str:
    return f"Order cancelled: {env.get('reason', 'no reason given')}"


SUMMARIES: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "OrderPlaced": _placed,
    "DeliveryStepRecorded": _step,
    "IncidentReported": _incident,
    "IncidentResolved": _resolved,
    "OrderCancelled": _cancelled,
}


def summarize(env: dict[str, Any]) -> str:
    kind = short_type(env)
    render = SUMMARIES.get(kind)
    return render(env["data"], env) if render else kind

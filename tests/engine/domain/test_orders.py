"""Rules of the ServiceOrder aggregate, one behaviour per test."""

from __future__ import annotations

import pytest

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.orders import ServiceOrder

META = {"actor": "op", "request_id": "r", "correlation_id": "c", "causation_id": "r"}
WHY = {**META, "reason": "customer asked"}
ITEMS = [{"sku": "WP-500", "quantity": 1, "needs_installation": True}]


def place(**overrides: object) -> ServiceOrder:
    args = {"customer_id": "cust-1", "items": ITEMS, "tier": "vip", "delivery_address": "1 Lake Rd", "meta": META}
    args.update(overrides)
    return ServiceOrder.place(**args)  # type: ignore[arg-type]


def dispatched() -> ServiceOrder:
    order = place()
    order.record_step("stock_prepared", meta=META)
    order.record_step("left_warehouse", meta=META)
    order.record_step("driver_assigned", driver="Wang", meta=META)
    return order


def test_placed_order_records_customer_items_and_tier() -> None:
    order = place()
    assert (order.customer_id, order.tier, order.status, order.version) == ("cust-1", "vip", "placed", 1)
    assert order.items == [{"sku": "WP-500", "description": "", "quantity": 1, "needs_installation": True,
                            "installation_fee": "0.00", "consumables": [], "consumable_interval_days": 90}]
    assert order.collect_events()[0].meta == META


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"tier": "gold"}, "service tier must be one of basic, vip, svip"),
        ({"items": []}, "at least one item"),
        ({"items": [{"sku": "X", "quantity": 0}]}, "quantity must be a whole number"),
        ({"items": [{"quantity": 1}]}, "item 1 sku is required"),
        ({"customer_id": "  "}, "customer_id is required"),
        ({"delivery_address": ""}, "delivery_address is required"),
    ],
)
def test_invalid_orders_are_refused_with_a_clear_message(overrides: dict, message: str) -> None:
    with pytest.raises(InvalidCommand, match=message):
        place(**overrides)


def test_delivery_steps_happen_in_order_and_position_updates_repeat() -> None:
    order = dispatched()
    order.record_step("in_transit", position={"lat": 30.1, "lng": 120.2}, meta=META)
    order.record_step("in_transit", position={"lat": 30.2, "lng": 120.3}, meta=META)
    order.record_step("delivered", note="signed by customer", meta=META)
    assert order.status == "delivered"
    assert order.position == {"lat": 30.2, "lng": 120.3}
    assert order.position_updates == 2
    assert order.driver == "Wang"


def test_a_step_cannot_be_skipped() -> None:
    order = place()
    with pytest.raises(RuleViolation, match="the next step must be 'stock_prepared'"):
        order.record_step("left_warehouse", meta=META)


def test_a_step_cannot_be_recorded_twice() -> None:
    order = place()
    order.record_step("stock_prepared", meta=META)
    with pytest.raises(RuleViolation, match="already been recorded"):
        order.record_step("stock_prepared", meta=META)


def test_driver_assignment_names_the_driver_and_transit_needs_a_position() -> None:
    order = place()
    order.record_step("stock_prepared", meta=META)
    order.record_step("left_warehouse", meta=META)
    with pytest.raises(InvalidCommand, match="driver is required"):
        order.record_step("driver_assigned", meta=META)
    order.record_step("driver_assigned", driver="Wang", meta=META)
    with pytest.raises(InvalidCommand, match="needs the vehicle's position"):
        order.record_step("in_transit", meta=META)
    with pytest.raises(InvalidCommand, match="not a point on Earth"):
        order.record_step("in_transit", position={"lat": 91, "lng": 0}, meta=META)


def test_an_open_incident_blocks_delivery_until_resolved() -> None:
    order = dispatched()
    incident = order.report_incident(kind="vehicle_breakdown", description="flat tyre", meta=META)
    assert order.status == "incident_open"
    with pytest.raises(RuleViolation, match=f"incident {incident} is open"):
        order.record_step("in_transit", position={"lat": 1, "lng": 1}, meta=META)
    order.resolve_incident(incident, resolution="resolved", meta=WHY)
    order.record_step("in_transit", position={"lat": 1, "lng": 1}, meta=META)
    assert order.status == "in_delivery"


def test_redispatch_sends_the_goods_back_for_a_new_driver() -> None:
    order = dispatched()
    incident = order.report_incident(kind="traffic_accident", description="van damaged", meta=META)
    order.resolve_incident(incident, resolution="redispatched", meta=WHY)
    assert (order.step, order.driver) == ("left_warehouse", None)
    with pytest.raises(RuleViolation, match="next step must be 'driver_assigned'"):
        order.record_step("in_transit", position={"lat": 1, "lng": 1}, meta=META)
    order.record_step("driver_assigned", driver="Zhao", meta=META)
    assert order.driver == "Zhao"


def test_resolving_needs_a_reason_and_an_open_incident() -> None:
    order = dispatched()
    incident = order.report_incident(kind="weather", description="storm", meta=META)
    with pytest.raises(InvalidCommand, match="give a reason"):
        order.resolve_incident(incident, resolution="resolved", meta=META)
    with pytest.raises(RuleViolation, match="no incident 'nope'"):
        order.resolve_incident("nope", resolution="resolved", meta=WHY)
    order.resolve_incident(incident, resolution="resolved", meta=WHY)
    with pytest.raises(RuleViolation, match="already resolved"):
        order.resolve_incident(incident, resolution="resolved", meta=WHY)


def test_redispatch_before_any_driver_is_refused() -> None:
    order = place()
    incident = order.report_incident(kind="goods_damaged", description="box crushed", meta=META)
    with pytest.raises(RuleViolation, match="no driver has been assigned"):
        order.resolve_incident(incident, resolution="redispatched", meta=WHY)


def test_no_incident_after_delivery() -> None:
    order = dispatched()
    order.record_step("in_transit", position={"lat": 1, "lng": 1}, meta=META)
    order.record_step("delivered", meta=META)
    with pytest.raises(RuleViolation, match="has been delivered"):
        order.report_incident(kind="other", description="late complaint", meta=META)


def test_cancel_only_before_leaving_the_warehouse_and_with_a_reason() -> None:
    order = place()
    order.record_step("stock_prepared", meta=META)
    with pytest.raises(InvalidCommand, match="give a reason"):
        order.cancel(meta=META)
    order.cancel(meta=WHY)
    assert order.status == "cancelled"
    assert order.collect_events()[-1].meta["reason"] == "customer asked"
    with pytest.raises(RuleViolation, match="already cancelled"):
        order.cancel(meta=WHY)
    with pytest.raises(RuleViolation, match="order is cancelled"):
        order.record_step("left_warehouse", meta=META)


def test_cancel_after_leaving_the_warehouse_is_refused() -> None:
    order = place()
    order.record_step("stock_prepared", meta=META)
    order.record_step("left_warehouse", meta=META)
    with pytest.raises(RuleViolation, match="can no longer be cancelled"):
        order.cancel(meta=WHY)


def test_the_order_events_say_what_they_leave_the_order_at() -> None:
    """v2 (issue 16): views copy the status, next steps and resumed step; they derive nothing."""
    order = dispatched()
    order.collect_events()
    order.record_step("in_transit", position={"lat": 30.0, "lng": 120.0}, meta=META)
    first = order.report_incident(kind="weather", description="storm", meta=META)
    order.report_incident(kind="vehicle_breakdown", description="flat tyre", meta=META)
    order.resolve_incident(first, resolution="resolved", meta=WHY)
    (stepped, reported, _, resolved) = order.collect_events()
    assert (stepped.status, stepped.next_steps) == ("in_delivery", ["in_transit", "delivered"])
    assert reported.status == "incident_open"
    # Another incident is still open: the order stays held, at the step it had reached.
    assert (resolved.status, resolved.step, resolved.next_steps) == ("incident_open", "in_transit",
                                                                      ["in_transit", "delivered"])
    (other,) = order.open_incidents
    order.resolve_incident(other, resolution="redispatched", meta=WHY)
    (redispatched,) = order.collect_events()
    assert (redispatched.status, redispatched.step, redispatched.next_steps) == (
        "in_delivery", "left_warehouse", ["driver_assigned"])
    assert (order.status, order.step, list(order.next_steps)) == ("in_delivery", "left_warehouse",
                                                                  ["driver_assigned"])


def test_v1_order_events_upcast_with_the_new_fields_null() -> None:
    state = {"incident_id": "i1", "resolution": "resolved", "note": None}
    ServiceOrder.IncidentResolved.upcast_v1_v2(state)  # type: ignore[attr-defined]
    assert state == {"incident_id": "i1", "resolution": "resolved", "note": None, "status": None, "step": None,
                     "next_steps": None}
    assert ServiceOrder.DeliveryStepRecorded.class_version == 2  # type: ignore[attr-defined]

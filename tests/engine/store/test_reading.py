"""Loading without the snapshot round trip where no snapshot can help, and still right."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext
from engine.application.idempotency import IdempotencyRecord

CTX = CommandContext.new()


def snapshot_reads(app: ServiceOrderApp) -> list[Any]:
    """Counts every read of the snapshot store from now on."""
    calls: list[Any] = []
    read = app.snapshots.get

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args or kwargs)
        return read(*args, **kwargs)

    app.snapshots.get = counted  # type: ignore[method-assign]
    return calls


def order_with_steps(app: ServiceOrderApp, positions: int) -> UUID:
    order = app.place_order(CTX, customer_id="c1", items=[{"sku": "A"}], tier="vip", delivery_address="1 Road")
    for step in ("stock_prepared", "left_warehouse"):
        app.record_delivery_step(CTX, order.aggregate_id, step)
    app.record_delivery_step(CTX, order.aggregate_id, "driver_assigned", driver="Wang")
    for k in range(positions):
        app.record_delivery_step(CTX, order.aggregate_id, "in_transit", position={"lat": 30 + k / 1000, "lng": 120})
    return order.aggregate_id


def test_a_short_history_is_read_from_its_events_alone(app: ServiceOrderApp) -> None:
    order_id = order_with_steps(app, 5)
    reads = snapshot_reads(app)
    assert app.get_order(order_id)["position_updates"] == 5
    app.record_delivery_step(CTX, order_id, "in_transit", position={"lat": 31, "lng": 121})
    assert app.get_order(order_id)["version"] == 10
    assert reads == []


def test_a_long_history_still_starts_from_its_snapshot(app: ServiceOrderApp) -> None:
    order_id = order_with_steps(app, 60)  # snapshots every 50 versions
    reads = snapshot_reads(app)
    assert app.get_order(order_id)["position_updates"] == 60
    assert app.get_order(order_id)["version"] == 64
    assert len(reads) == 2


def test_a_history_another_process_lengthened_is_read_whole_and_right(app: ServiceOrderApp) -> None:
    order_id = order_with_steps(app, 1)
    assert app.get_order(order_id)["version"] == 5  # remembered as short here
    other = ServiceOrderApp(EngineConfig(env=app.env))
    try:
        for k in range(60):
            other.record_delivery_step(CTX, order_id, "in_transit", position={"lat": 30, "lng": 120 + k / 1000})
    finally:
        other.close()
    reads = snapshot_reads(app)
    assert app.get_order(order_id)["position_updates"] == 61
    assert reads == []  # read whole once, and now known to be long
    assert app.get_order(order_id)["version"] == 65
    assert len(reads) == 1


def test_types_never_snapshotted_are_never_asked_for(app: ServiceOrderApp) -> None:
    reads = snapshot_reads(app)
    assert app.uow.find(IdempotencyRecord, uuid4()) is None
    first = app.place_order(CTX, customer_id="c1", items=[{"sku": "A"}], tier="vip", delivery_address="1 Road",
                            idempotency_key="k-1")
    again = app.place_order(CTX, customer_id="c1", items=[{"sku": "A"}], tier="vip", delivery_address="1 Road",
                            idempotency_key="k-1")
    assert again.replayed and again.aggregate_id == first.aggregate_id
    assert reads == []

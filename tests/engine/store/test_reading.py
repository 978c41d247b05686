"""Loading without the snapshot round trip where no snapshot can help, and still right."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext
from engine.application.idempotency import IdempotencyRecord
from engine.store.eventstore import event_store_env
from engine.store.signing import Signer
from engine.store.snapshots import EvidenceRepository

CTX = CommandContext.new()


def snapshot_reads(app: ServiceOrderApp) -> list[Any]:
    """Counts every read of the snapshot store from now on (a signed store's ``trusted`` too)."""
    calls: list[Any] = []
    for name in ("get", "trusted"):
        read = getattr(app.snapshots, name, None)
        if read is not None:
            def counted(*args: Any, _read: Any = read, **kwargs: Any) -> Any:
                calls.append(args or kwargs)
                return _read(*args, **kwargs)

            setattr(app.snapshots, name, counted)
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


def test_with_signing_short_histories_skip_snapshots_and_long_ones_start_from_evidence(tmp_path: Path) -> None:
    signed = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(tmp_path / "signed.sqlite")),
                                          signer=Signer.generate()))
    try:
        assert isinstance(signed.repository, EvidenceRepository)
        short, long = order_with_steps(signed, 3), order_with_steps(signed, 60)
        assert signed.get_order(long)["version"] == 64  # learns it is long
        reads = snapshot_reads(signed)
        assert signed.get_order(short)["version"] == 7
        assert reads == []
        assert signed.get_order(long)["position_updates"] == 60
        assert len(reads) == 1
    finally:
        signed.close()

"""The application service against both real event stores: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from uuid import uuid4

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.context import CommandContext, Principal
from engine.domain.errors import ConcurrencyConflict, IdempotencyKeyReused, OrderNotFound, StaleVersion
from engine.domain.orders import ServiceOrder
from engine.application.unit_of_work import Effects

ALICE = CommandContext.new(Principal("alice", frozenset({"operator"})))
ITEMS = [{"sku": "WP-500", "quantity": 2}]


def place(app: ServiceOrderApp, ctx: CommandContext = ALICE, key: str | None = None) -> object:
    return app.place_order(ctx, customer_id="cust-7", items=ITEMS, tier="svip", delivery_address="9 Hill St",
                           idempotency_key=key)


def test_events_carry_actor_request_correlation_causation_and_reason(app: ServiceOrderApp) -> None:
    result = place(app)
    ctx = CommandContext(ALICE.principal, "req-2", "corr-1", "cause-9", reason="customer moved house")
    app.cancel_order(ctx, result.aggregate_id)
    events = list(app.events.get(result.aggregate_id))
    assert events[0].meta["actor"] == "alice"
    assert events[1].meta == {"actor": "alice", "request_id": "req-2", "correlation_id": "corr-1",
                              "causation_id": "cause-9", "reason": "customer moved house"}


def test_results_give_version_and_increasing_store_positions(app: ServiceOrderApp) -> None:
    first = place(app)
    second = app.record_delivery_step(ALICE, first.aggregate_id, "stock_prepared")
    assert (first.version, second.version) == (1, 2)
    assert 0 < first.position < second.position == app.current_position()


def test_unknown_order_is_not_found(app: ServiceOrderApp) -> None:
    with pytest.raises(OrderNotFound):
        app.get_order(uuid4())


def test_stale_expected_version_is_refused_and_writes_nothing(app: ServiceOrderApp) -> None:
    result = place(app)
    app.record_delivery_step(ALICE, result.aggregate_id, "stock_prepared")
    before = app.current_position()
    with pytest.raises(StaleVersion, match="at version 2, not the expected version 1"):
        app.record_delivery_step(ALICE, result.aggregate_id, "left_warehouse", expected_version=1)
    assert app.current_position() == before


def test_concurrent_writers_one_wins_the_other_gets_a_conflict(app: ServiceOrderApp) -> None:
    order_id = place(app).aggregate_id
    a, b = app.repository.get(order_id), app.repository.get(order_id)
    a.record_step("stock_prepared", meta=ALICE.meta())
    b.record_step("stock_prepared", meta=ALICE.meta())
    app.save(a)
    # The application turns the store's integrity error into a domain conflict:
    loaded = app.repository.get(order_id)
    assert loaded.version == 2
    with pytest.raises(ConcurrencyConflict):
        app.uow.command(ALICE, "x", {}, None, lambda: Effects(b))
    assert app.repository.get(order_id).version == 2


def test_racing_threads_never_write_twice(app: ServiceOrderApp) -> None:
    order_id = place(app).aggregate_id
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            app.record_delivery_step(ALICE, order_id, "stock_prepared")
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - the outcome names what happened
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert set(outcomes) <= {"ok", "ConcurrencyConflict", "RuleViolation"}
    assert app.repository.get(order_id).version == 2


def test_idempotency_key_replays_first_result_and_writes_nothing(app: ServiceOrderApp) -> None:
    first = place(app, key="order-123")
    position = app.current_position()
    again = place(app, key="order-123")
    assert (again.aggregate_id, again.version, again.replayed) == (first.aggregate_id, 1, True)
    assert app.current_position() == position


def test_idempotency_key_with_a_different_request_is_refused(app: ServiceOrderApp) -> None:
    first = place(app, key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        app.record_delivery_step(ALICE, first.aggregate_id, "stock_prepared", idempotency_key="k-1")


def test_idempotency_keys_are_scoped_per_principal(app: ServiceOrderApp) -> None:
    bob = CommandContext.new(Principal("bob", frozenset({"operator"})))
    a, b = place(app, ALICE, key="same"), place(app, bob, key="same")
    assert a.aggregate_id != b.aggregate_id and not b.replayed


def test_refused_command_with_a_key_can_be_retried_after_fixing_the_state(app: ServiceOrderApp) -> None:
    order_id = place(app).aggregate_id
    with pytest.raises(Exception, match="next step must be 'stock_prepared'"):
        app.record_delivery_step(ALICE, order_id, "left_warehouse", idempotency_key="lw")
    app.record_delivery_step(ALICE, order_id, "stock_prepared")
    result = app.record_delivery_step(ALICE, order_id, "left_warehouse", idempotency_key="lw")
    assert (result.version, result.replayed) == (3, False)


def test_long_histories_are_snapshotted_and_load_identically(app: ServiceOrderApp) -> None:
    order_id = place(app).aggregate_id
    for step in ("stock_prepared", "left_warehouse"):
        app.record_delivery_step(ALICE, order_id, step)
    app.record_delivery_step(ALICE, order_id, "driver_assigned", driver="Wang")
    for i in range(60):
        app.record_delivery_step(ALICE, order_id, "in_transit", position={"lat": 30.0, "lng": 120 + i / 1000})
    assert app.snapshots is not None
    snapshots = list(app.snapshots.get(order_id))
    assert [s.originator_version for s in snapshots] == [50]
    from_snapshot = app.repository.get(order_id)
    replayed = None
    for e in app.events.get(order_id):
        replayed = e.mutate(replayed)
    assert isinstance(replayed, ServiceOrder)
    assert vars(from_snapshot) | {"_pending_events": []} == vars(replayed) | {"_pending_events": []}
    assert from_snapshot.version == 64 and from_snapshot.position_updates == 60

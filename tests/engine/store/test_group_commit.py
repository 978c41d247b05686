"""Group commit (engine/groupcommit.py) against both real event stores: concurrent saves
share a transaction, yet each keeps its own concurrency check and its own outcome."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Callable
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.application.context import CommandContext, Principal
from engine.domain.errors import ConcurrencyConflict
from engine.domain.orders import ServiceOrder

ALICE = CommandContext.new(Principal("alice", frozenset({"operator"})))
ITEMS = [{"sku": "WP-500", "quantity": 1}]


def new_order(n: int) -> ServiceOrder:
    return ServiceOrder.place(customer_id=f"cust-{n}", items=ITEMS, tier="vip", delivery_address="1 Lake Rd",
                              site_location=None, meta=ALICE.meta())


class Held:
    """Holds the first write in the store, so that the saves started meanwhile queue up
    behind it and form one batch when it is let go."""

    def __init__(self, app: ServiceOrderApp, fail_batches: bool = False) -> None:
        assert app.group_commit is not None
        self.group = app.group_commit
        self.release = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []
        real = self.group._record

        def record(processing: Any) -> Any:
            if not self.entered.is_set():
                self.entered.set()
                assert self.release.wait(10)
            self.sizes.append(len({e.originator_id for e in processing.events}))
            if fail_batches and len(self.sizes) > 1:
                raise OperationalError("the store went away")
            return real(processing)

        self.group._record = record  # type: ignore[method-assign]
        self.errors: dict[int, BaseException] = {}
        self.threads: list[threading.Thread] = []

    def start(self, n: int, work: Callable[[], Any]) -> None:
        def run() -> None:
            try:
                work()
            except BaseException as error:  # noqa: BLE001 - checked by the test
                self.errors[n] = error

        thread = threading.Thread(target=run)
        thread.start()
        self.threads.append(thread)
        if n == 0:
            assert self.entered.wait(10)

    def let_go(self, queued: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.group._queue) < queued:
            assert time.monotonic() < deadline, "the saves did not queue up"
            time.sleep(0.005)
        self.release.set()
        for thread in self.threads:
            thread.join(10)


def test_concurrent_saves_share_one_transaction_and_all_land(app: ServiceOrderApp) -> None:
    orders = [new_order(n) for n in range(12)]
    held = Held(app)
    for n, order in enumerate(orders):
        held.start(n, lambda order=order: app.save(order))
    held.let_go(queued=11)
    assert held.errors == {}
    # The first save alone, then the eleven that queued behind it in one transaction.
    assert held.sizes == [1, 11]
    for order in orders:
        assert app.repository.get(order.id).version == 1
    positions = [n.id for n in app.recorder.select_notifications(start=1, limit=100)]
    assert positions == list(range(1, 13))


def test_a_conflicting_save_fails_alone_and_its_neighbours_are_written(app: ServiceOrderApp) -> None:
    placed = app.place_order(ALICE, customer_id="c-1", items=ITEMS, tier="vip", delivery_address="1 Lake Rd")
    stale: ServiceOrder = app.repository.get(placed.aggregate_id)
    app.record_delivery_step(ALICE, placed.aggregate_id, "stock_prepared")  # version 2 is taken
    stale.record_step("stock_prepared", meta=ALICE.meta())  # also version 2: must be refused
    neighbours = [new_order(n) for n in range(6)]
    held = Held(app)
    held.start(0, lambda: app.save(neighbours[0]))
    for n, order in enumerate(neighbours[1:3], start=1):
        held.start(n, lambda order=order: app.save(order))
    held.start(3, lambda: app.save(stale))
    for n, order in enumerate(neighbours[3:], start=4):
        held.start(n, lambda order=order: app.save(order))
    held.let_go(queued=6)
    assert list(held.errors) == [3] and isinstance(held.errors[3], IntegrityError)
    for order in neighbours:
        assert app.repository.get(order.id).version == 1
    assert [e.originator_version for e in app.events.get(placed.aggregate_id)] == [1, 2]
    assert app.group_commit is not None and app.group_commit.retried_alone == 6


def test_two_saves_of_one_aggregate_never_share_a_batch(app: ServiceOrderApp) -> None:
    placed = app.place_order(ALICE, customer_id="c-1", items=ITEMS, tier="vip", delivery_address="1 Lake Rd")
    first: ServiceOrder = app.repository.get(placed.aggregate_id)
    second: ServiceOrder = app.repository.get(placed.aggregate_id)
    first.record_step("stock_prepared", meta=ALICE.meta())
    second.record_step("stock_prepared", meta=ALICE.meta())
    others = [new_order(n) for n in range(3)]
    held = Held(app)
    held.start(0, lambda: app.save(others[0]))
    held.start(1, lambda: app.save(first))
    time.sleep(0.05)
    held.start(2, lambda: app.save(second))
    held.start(3, lambda: app.save(others[1]))
    held.start(4, lambda: app.save(others[2]))
    held.let_go(queued=4)
    # first + the two others together; second waits for a batch of its own and is refused
    # there, without splitting (and re-writing) the batch its neighbours were in.
    assert held.sizes == [1, 3, 1]
    assert list(held.errors) == [2] and isinstance(held.errors[2], IntegrityError)
    assert app.group_commit is not None and app.group_commit.retried_alone == 0


def test_a_store_failure_fails_the_whole_batch_and_writes_nothing(app: ServiceOrderApp) -> None:
    orders = [new_order(n) for n in range(5)]
    held = Held(app, fail_batches=True)
    for n, order in enumerate(orders):
        held.start(n, lambda order=order: app.save(order))
    held.let_go(queued=4)
    assert sorted(held.errors) == [1, 2, 3, 4]
    assert all(isinstance(e, OperationalError) for e in held.errors.values())
    assert app.repository.get(orders[0].id).version == 1
    written = {n.originator_id for n in app.recorder.select_notifications(start=1, limit=100)}
    assert written == {orders[0].id}


def test_commands_racing_on_one_order_one_wins_per_version(app: ServiceOrderApp) -> None:
    placed = app.place_order(ALICE, customer_id="c-1", items=ITEMS, tier="vip", delivery_address="1 Lake Rd")
    app.record_delivery_step(ALICE, placed.aggregate_id, "stock_prepared")
    app.record_delivery_step(ALICE, placed.aggregate_id, "left_warehouse")
    app.record_delivery_step(ALICE, placed.aggregate_id, "driver_assigned", driver="d-1")
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(16)

    def update(n: int) -> None:
        start.wait()
        for _ in range(10):
            try:
                app.record_delivery_step(ALICE, placed.aggregate_id, "in_transit",
                                         position={"lat": 30 + n / 100, "lng": 120}, expected_version=None)
                outcome = "ok"
            except ConcurrencyConflict:
                outcome = "conflict"
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=update, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    order = app.get_order(placed.aggregate_id)
    versions = [e.originator_version for e in app.events.get(placed.aggregate_id)]
    # Every accepted update is exactly one version; every refused one wrote nothing.
    assert versions == list(range(1, len(versions) + 1))
    assert len(versions) == 4 + outcomes.count("ok") == order["version"]
    assert len(outcomes) == 160


def test_group_commit_can_be_turned_off(tmp_path: Path) -> None:
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(tmp_path / "e.sqlite")), group_commit_max=1))
    try:
        assert app.group_commit is None
        result = app.place_order(ALICE, customer_id="c", items=ITEMS, tier="vip", delivery_address="a")
        assert isinstance(result.aggregate_id, UUID) and result.version == 1
    finally:
        app.close()

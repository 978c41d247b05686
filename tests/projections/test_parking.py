"""A poison event never stalls a view: retried, parked with its aggregate's later events
behind it, sent to the dead-letter topic, visible; the operator retries or skips it."""

from __future__ import annotations

import json
from typing import Any

from commands.bootstrap import Runtime
from engine.application.context import CommandContext
from projections import parking
from projections.tracking import OrderTracking
from streams.kafka import partitions_of
from streams.sealed import PersonalFields
from tests.projections.test_worker import applied_events, deliver_some, drain, publish, rows


CTX = CommandContext.new()


class Poisoned(OrderTracking):
    """The tracking view with a bug that bites one order's events until it is fixed."""

    def __init__(self, victim: str, personal: PersonalFields | None) -> None:
        super().__init__(personal)
        self.victim, self.broken, self.calls = victim, True, 0

    def apply(self, cur: Any, envelope: dict[str, Any]) -> None:
        if self.broken and envelope["subject"] == self.victim:
            self.calls += 1
            raise ValueError(f"cannot render step of {self.victim}")
        super().apply(cur, envelope)


def dead_letters(runtime: Runtime, topic: str) -> list[dict[str, Any]]:
    consumer = runtime.kafka.consumer()
    try:
        partitions = partitions_of(consumer, topic, timeout=60)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        found: list[dict[str, Any]] = []
        for _ in range(20):
            for records in consumer.poll(timeout_ms=200).values():
                found += [json.loads(r.value) for r in records]
        return found
    finally:
        consumer.close()


def test_a_poison_event_is_parked_and_the_view_moves_on(runtime: Runtime) -> None:
    healthy, victim = deliver_some(runtime, 2)
    publish(runtime)
    projection = Poisoned(str(victim), runtime.personal_fields())
    worker = runtime.worker(projection)
    drain(worker, 3)  # the healthy order's three events
    for _ in range(5):
        worker.poll_once()
    assert runtime.views.tracking(str(healthy))["current_step"] == "left_warehouse"
    assert runtime.views.tracking(str(victim)) is None
    assert projection.calls == parking.MAX_ATTEMPTS  # bounded retries of the head event only
    waiting = parking.parked(runtime.views_db, "order_tracking")
    assert [(w["aggregate_id"], w["version"], w["status"]) for w in waiting] == [
        (str(victim), 1, "failed"), (str(victim), 2, "blocked"), (str(victim), 3, "blocked")]
    assert "ValueError: cannot render step" in waiting[0]["error"] and waiting[0]["attempts"] == 3
    assert parking.counts(runtime.views_db) == {"order_tracking": 3}
    letters = dead_letters(runtime, worker.dead_letter_topic)
    assert [(d["event"]["subject"], d["event"]["aggregateversion"]) for d in letters] == [(str(victim), 1)]
    assert letters[0]["error"].startswith("ValueError") and letters[0]["projection"] == "order_tracking"

    # New events of the parked order wait too, in order; new events of other orders do not.
    runtime.app.record_delivery_step(CTX, victim, "driver_assigned", driver="Wang")
    runtime.app.record_delivery_step(CTX, healthy, "driver_assigned", driver="Li")
    publish(runtime)
    drain(worker, 4)
    for _ in range(5):
        worker.poll_once()
    assert runtime.views.tracking(str(healthy))["driver"] == "Li"
    assert [w["version"] for w in parking.parked(runtime.views_db)] == [1, 2, 3, 4]

    # The bug is fixed; the operator retries: the order's events apply in order, once.
    projection.broken = False
    result = parking.retry(runtime.views_db, projection, str(victim))
    assert result == {"projection": "order_tracking", "aggregate_id": str(victim), "applied": 4,
                      "still_parked_from_version": None}
    view = runtime.views.tracking(str(victim))
    assert (view["current_step"], view["driver"], view["version"]) == ("driver_assigned", "Wang", 4)
    assert parking.parked(runtime.views_db) == [] and applied_events(worker) == 8
    for _ in range(3):
        worker.poll_once()
    assert len(rows(runtime.views_db, "tracking_history")) == 8
    worker.close()


def test_skipping_a_poison_event_is_recorded_and_releases_the_rest(runtime: Runtime) -> None:
    (victim,) = deliver_some(runtime, 1)
    publish(runtime)
    projection = Poisoned(str(victim), runtime.personal_fields())
    worker = runtime.worker(projection)
    for _ in range(8):
        worker.poll_once()
    assert [w["version"] for w in parking.parked(runtime.views_db)] == [1, 2, 3]
    projection.broken = False
    result = parking.skip(runtime.views_db, projection, str(victim), actor="olga", reason="duplicate of a test order")
    assert result["skipped_version"] == 1 and result["applied"] == 2
    with runtime.views_db.transaction() as cur:
        skipped = cur.execute("SELECT status, error FROM projection_parked WHERE version = 1").fetchone()
    assert skipped[0] == "skipped" and "skipped by olga: duplicate of a test order" in skipped[1]
    assert parking.parked(runtime.views_db) == []
    worker.close()



class BadStatement(OrderTracking):
    """A view whose SQL is wrong for one order: on PostgreSQL the error surfaces only when
    the held-back writes reach the database, after later events have been applied."""

    def __init__(self, victim: str, personal: PersonalFields | None) -> None:
        super().__init__(personal)
        self.victim = victim

    def apply(self, cur: Any, envelope: dict[str, Any]) -> None:
        super().apply(cur, envelope)
        if envelope["subject"] == self.victim:
            cur.execute("INSERT INTO tracking_orders (order_id) VALUES (%s)", (self.victim,))  # NOT NULLs unset


def test_a_view_statement_the_database_refuses_parks_its_event_not_the_batch(runtime: Runtime) -> None:
    first, victim, last = deliver_some(runtime, 3)
    publish(runtime)
    worker = runtime.worker(BadStatement(str(victim), runtime.personal_fields()))
    drain(worker, 6)  # both healthy orders' three events
    for _ in range(5):
        worker.poll_once()
    assert runtime.views.tracking(str(first))["current_step"] == "left_warehouse"
    assert runtime.views.tracking(str(last))["current_step"] == "left_warehouse"
    assert runtime.views.tracking(str(victim)) is None
    waiting = parking.parked(runtime.views_db, "order_tracking")
    assert [(w["aggregate_id"], w["version"], w["status"]) for w in waiting] == [
        (str(victim), 1, "failed"), (str(victim), 2, "blocked"), (str(victim), 3, "blocked")]
    assert "null value" in waiting[0]["error"].lower() or "not null" in waiting[0]["error"].lower()


def test_text_a_view_cannot_store_never_parks_it(runtime: Runtime) -> None:
    """Events stored before the edge refused NUL: the views store them with U+FFFD in place
    of the NUL, and nothing parks (PostgreSQL refuses NUL in text)."""
    from projections.storable import REPLACEMENT
    from projections.timeline import CustomerTimeline

    order = runtime.app.place_order(CTX, customer_id="cust-nul", items=[{"sku": "WP-500"}], tier="vip",
                                    delivery_address="late\u0000 road").aggregate_id
    runtime.app.record_delivery_step(CTX, order, "stock_prepared", note="a\u0000b")
    runtime.app.report_incident(CTX, order, kind="goods_damaged", description="broken\u0000glass")
    publish(runtime)
    workers = [runtime.worker(p) for p in (OrderTracking(runtime.personal_fields()),
                                           CustomerTimeline(runtime.personal_fields()))]
    for worker in workers:
        drain(worker, 3)
    assert parking.parked(runtime.views_db) == []
    history = str(rows(runtime.views_db, "tracking_history"))
    # Messages are stored as JSON, where U+FFFD may be written as an escape.
    assert (f"late{REPLACEMENT} road" in history or "late\\\\ufffd road" in history) and "\x00" not in history
    tracking = runtime.views.tracking(str(order))
    assert tracking["open_incidents"][0]["description"] == f"broken{REPLACEMENT}glass"
    timeline = str(rows(runtime.views_db, "timeline_entries"))
    assert f"a{REPLACEMENT}b" in timeline or "a\\\\ufffdb" in timeline
    for worker in workers:
        worker.close()

"""Projection workers against the real broker and both read-model databases."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from commands.bootstrap import Runtime
from engine.application.context import CommandContext
from projections.timeline import CustomerTimeline
from projections.tracking import OrderTracking
from projections.worker import ProjectionGap, ProjectionWorker
from streams.broker import BrokerProcess
from streams.kafka import KafkaConfig
from streams.relay import Relay, RelayState
from streams.sealed import PersonalFields
from sqlstore.sqldb import Database

CTX = CommandContext.new()


def deliver_some(runtime: Runtime, orders: int, customer: str = "cust-1") -> list:
    ids = []
    for _ in range(orders):
        oid = runtime.app.place_order(CTX, customer_id=customer, items=[{"sku": "WP", "quantity": 1}],
                                      tier="basic", delivery_address="addr").aggregate_id
        runtime.app.record_delivery_step(CTX, oid, "stock_prepared")
        runtime.app.record_delivery_step(CTX, oid, "left_warehouse")
        ids.append(oid)
    return ids


def publish(runtime: Runtime) -> None:
    relay = runtime.relay()
    relay.catch_up()
    relay.close()


def rows(db: Database, table: str) -> list[tuple[Any, ...]]:
    with db.transaction() as cur:
        return sorted(cur.execute(f"SELECT * FROM {table}").fetchall(), key=repr)


def view_dump(db: Database) -> dict[str, list]:
    return {t: rows(db, t) for t in ("timeline_entries", "timeline_subjects", "tracking_orders", "tracking_history")}


def drain(worker: ProjectionWorker, count: int, timeout: float = 60.0) -> None:
    """Poll until the projection's versions account for ``count`` applied events."""
    deadline = time.monotonic() + timeout
    while applied_events(worker) < count:
        assert time.monotonic() < deadline, f"only {applied_events(worker)} of {count} events applied"
        worker.poll_once()


def applied_events(worker: ProjectionWorker) -> int:
    with worker.db.transaction() as cur:
        row = cur.execute("SELECT COALESCE(SUM(version), 0) FROM projection_versions WHERE projection = %s",
                          (worker.projection.name,)).fetchone()
    return int(row[0])


def test_timeline_and_tracking_follow_the_topic(runtime: Runtime) -> None:
    (oid,) = deliver_some(runtime, 1)
    runtime.app.record_delivery_step(CTX, oid, "driver_assigned", driver="Wang")
    publish(runtime)
    timeline = runtime.worker(CustomerTimeline(runtime.personal_fields()))
    tracking = runtime.worker(OrderTracking(runtime.personal_fields()))
    drain(timeline, 4)
    drain(tracking, 4)
    entries = runtime.views.timeline("cust-1")
    assert [e["summary"] for e in entries] == [
        "Order placed: 1 x WP (basic warranty service), to addr", "Stock prepared", "Left the warehouse",
        "Driver Wang assigned"]
    assert [e["position"] for e in entries] == sorted(e["position"] for e in entries)
    view = runtime.views.tracking(str(oid))
    assert (view["current_step"], view["driver"], view["version"], len(view["history"])) == (
        "driver_assigned", "Wang", 4, 4)
    timeline.close()
    tracking.close()


class Explodes(CustomerTimeline):
    """The real timeline, failing on its n-th event the way a crash would."""

    def __init__(self, at: int, personal: PersonalFields | None) -> None:
        super().__init__(personal)
        self.at, self.seen = at, 0

    def apply(self, cur: Any, envelope: dict[str, Any]) -> None:
        self.seen += 1
        if self.seen == self.at:
            raise ConnectionError("crash while applying")  # the database went away
        super().apply(cur, envelope)


def test_offsets_and_rows_commit_together(runtime: Runtime) -> None:
    deliver_some(runtime, 3)
    publish(runtime)
    worker = runtime.worker(Explodes(at=5, personal=runtime.personal_fields()))
    with pytest.raises(ConnectionError, match="crash while applying"):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            worker.poll_once()
    # Nothing of the failed batch is visible: no rows, no offsets, no version marks.
    assert rows(runtime.views_db, "timeline_entries") == []
    assert worker.stored_offsets() == {}
    assert applied_events(worker) == 0
    drain(worker, 9)  # the same worker carries on from the stored offsets
    assert len(rows(runtime.views_db, "timeline_entries")) == 9
    assert sum(o for o, _ in worker.stored_offsets().values()) == 9
    worker.close()


def test_redelivered_events_change_nothing(runtime: Runtime) -> None:
    deliver_some(runtime, 2)
    publish(runtime)
    worker = runtime.worker(OrderTracking(runtime.personal_fields()))
    drain(worker, 6)
    before = view_dump(runtime.views_db)
    # Re-deliver everything: from offset zero, as after a lost offset or a republished topic.
    for tp in worker.consumer.assignment():
        worker.consumer.seek(tp, 0)
        worker._floor[tp] = 0
    deadline = time.monotonic() + 60
    while view_dump(runtime.views_db) != before and time.monotonic() < deadline:
        worker.poll_once()
    assert view_dump(runtime.views_db) == before
    worker.close()


def test_rebuild_from_offset_zero_equals_the_incremental_view(runtime: Runtime) -> None:
    workers = [runtime.worker(CustomerTimeline(runtime.personal_fields())),
               runtime.worker(OrderTracking(runtime.personal_fields()))]
    total = 0
    for round_ in range(3):  # interleave writes and consumption, as in production
        oids = deliver_some(runtime, 3, customer=f"cust-{round_}")
        runtime.app.report_incident(CTX, oids[0], kind="weather", description="snow")
        total += 10
        publish(runtime)
        for w in workers:
            drain(w, total)
    incremental = view_dump(runtime.views_db)
    for w in workers:
        w.close()
    progress: list[tuple[int, int]] = []
    for projection in (CustomerTimeline(runtime.personal_fields()), OrderTracking(runtime.personal_fields())):
        assert runtime.worker(projection).rebuild(progress=lambda d, t: progress.append((d, t))) == total
    assert view_dump(runtime.views_db) == incremental
    assert progress[-1] == (total, total)


@pytest.mark.parametrize("partitions", [3, 1], ids=["same-layout", "new-layout"])
def test_projection_survives_a_broker_that_comes_back_empty(runtime: Runtime, topic_prefix: str,
                                                            partitions: int) -> None:
    deliver_some(runtime, 2)
    publish(runtime)
    worker = runtime.worker(CustomerTimeline(runtime.personal_fields()))
    drain(worker, 6)
    worker.close()
    before = view_dump(runtime.views_db)
    more = deliver_some(runtime, 1)
    with BrokerProcess() as fresh:
        # With a new partition layout the stored offsets point at other events entirely.
        kafka = KafkaConfig(bootstrap_servers=fresh.bootstrap_servers, topic_prefix=topic_prefix,
                            partitions=partitions)
        relay = Relay(runtime.app, kafka, RelayState(runtime.state_db, f"{topic_prefix}.relay"))
        relay.catch_up()  # verifies, republishes the lost topic, then the new events
        relay.close()
        restarted = ProjectionWorker(CustomerTimeline(runtime.personal_fields()), runtime.views_db, kafka)
        drain(restarted, 9)
        restarted.close()
    after = view_dump(runtime.views_db)
    # Nothing applied twice, nothing lost: the six old entries are untouched, three are new.
    assert [r for r in after["timeline_entries"] if r in before["timeline_entries"]] == before["timeline_entries"]
    assert len(after["timeline_entries"]) == 9
    assert {r[4] for r in after["timeline_entries"]} >= {str(more[0])}


class Record:
    """A consumer record as kafka-python hands it over (offset, value)."""

    def __init__(self, offset: int, value: bytes) -> None:
        self.offset, self.value = offset, value


def test_a_version_gap_is_detected_not_papered_over(runtime: Runtime) -> None:
    from kafka import TopicPartition

    from streams import envelope

    worker = ProjectionWorker(OrderTracking(runtime.personal_fields()), runtime.views_db, runtime.start_kafka())
    oid = deliver_some(runtime, 1)[0]
    events = list(runtime.app.events.get(oid))

    def rec(offset: int, event: Any, name: str) -> Record:
        env = envelope.build(event=event, event_type=name, category="orders", aggregate_type="ServiceOrder",
                             position=offset + 1, source_prefix="/s")
        return Record(offset, envelope.encode(env))

    tp = TopicPartition("t", 0)
    with pytest.raises(ProjectionGap, match="jumped from version 1 to 3"):
        worker.apply_batch({tp: [rec(0, events[0], "OrderPlaced"), rec(1, events[2], "DeliveryStepRecorded")]})
    assert rows(runtime.views_db, "tracking_orders") == []


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_consumer_group_splits_partitions_and_applies_everything_once(runtime: Runtime) -> None:
    deliver_some(runtime, 6)
    publish(runtime)
    kafka = runtime.start_kafka()
    workers = [ProjectionWorker(OrderTracking(runtime.personal_fields()), runtime.views_db, kafka, mode="group",
                                max_poll_interval_ms=3000)
               for _ in range(2)]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(stop,)) for w in workers]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while applied_events(workers[0]) < 18 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert applied_events(workers[0]) == 18
        assert len(rows(runtime.views_db, "tracking_history")) == 18
    finally:
        stop.set()
        for t in threads:
            t.join(30)


def test_a_foreign_record_is_set_aside_and_the_view_carries_on(runtime: Runtime) -> None:
    from kafka import KafkaProducer

    kafka = runtime.start_kafka()
    kafka.ensure_topics(["orders"])
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    producer.send(kafka.topic("orders"), key=b"x", value=b"definitely not a cloudevent", partition=0).get(10)
    producer.close()
    deliver_some(runtime, 1)
    publish(runtime)
    worker = runtime.worker(CustomerTimeline(runtime.personal_fields()))
    drain(worker, 3)
    deadline = time.monotonic() + 60
    while not rows(runtime.views_db, "projection_rejects") and time.monotonic() < deadline:
        worker.poll_once()
    (reject,) = rows(runtime.views_db, "projection_rejects")
    assert reject[0] == "customer_timeline" and reject[3] == 0 and "not JSON" in reject[4]
    assert len(rows(runtime.views_db, "timeline_entries")) == 3
    worker.close()


def test_projection_process_killed_with_sigkill_neither_loses_nor_double_applies(
        runtime: Runtime, settings: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    oid = deliver_some(runtime, 1)[0]
    runtime.app.record_delivery_step(CTX, oid, "driver_assigned", driver="Wang")
    updates = 1000  # enough that the kill lands mid-stream even with a fast view
    for i in range(updates):
        runtime.app.record_delivery_step(CTX, oid, "in_transit", position={"lat": 30, "lng": 120 + i / 1e4})
    publish(runtime)
    total = 4 + updates
    env = {**os.environ, "SERVICEORDER_DATA_DIR": str(settings.data_dir),
           "SERVICEORDER_TOPIC_PREFIX": settings.topic_prefix,
           "KAFKA_BOOTSTRAP_SERVERS": runtime.start_kafka().bootstrap_servers,
           "SERVICEORDER_ADMIN_TOKEN": settings.admin_token, "SERVICEORDER_LOG_FORMAT": "json",
           "SERVICEORDER_PROJECTION_BATCH_SIZE": "5"}
    if settings.database_url:
        env |= {"DATABASE_URL": settings.database_url, "SERVICEORDER_DATABASE_SCHEMA": settings.database_schema}
    cmd = [sys.executable, "-m", "commands.cli", "project", "order_tracking"]
    probe = ProjectionWorker(OrderTracking(runtime.personal_fields()), runtime.views_db, runtime.start_kafka())

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while applied_events(probe) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = applied_events(probe)
    assert 0 < killed_at < total, "the kill should land mid-stream"

    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while applied_events(probe) < total and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    view = runtime.views.tracking(str(oid))
    # position_updates is a counter: any double-applied in_transit event would inflate it.
    assert view["position_updates"] == updates
    assert view["version"] == total and len(view["history"]) == total


def test_workers_bound_how_long_a_fetch_waits_at_the_broker(runtime: Runtime) -> None:
    # kafka-python's default (500 ms) set the views' lag at light load (docs/performance.md).
    deliver_some(runtime, 1)
    publish(runtime)
    worker = runtime.worker(OrderTracking(runtime.personal_fields()))
    worker.connect()
    try:
        assert runtime.settings.projection_fetch_wait_ms == 100
        assert worker.consumer.config["fetch_max_wait_ms"] == 100
    finally:
        worker.close()


def test_a_running_worker_notices_its_log_was_replaced_and_reads_it_again(runtime: Runtime, topic_prefix: str) -> None:
    deliver_some(runtime, 2)
    publish(runtime)
    worker = runtime.worker(OrderTracking(runtime.personal_fields()))
    drain(worker, 6)
    assert worker.verify_log() is False  # the broker still holds what was applied
    with runtime.views_db.transaction() as cur:  # as if the partitions now held other records
        cur.execute("UPDATE projection_offsets SET last_event_id = 'gone' WHERE projection = 'order_tracking'")
    assert worker.verify_log() is True
    # It reads the partitions again from offset zero: their records' ids replace the marks,
    # and the replayed events are skipped by version (applied once, still six).
    deadline = time.monotonic() + 20
    while True:
        with runtime.views_db.transaction() as cur:
            stale = cur.execute("SELECT COUNT(*) FROM projection_offsets WHERE last_event_id = 'gone'").fetchone()[0]
        if not stale:
            break
        assert time.monotonic() < deadline, "the worker did not read its partitions again"
        worker.poll_once()
    worker.close()
    assert applied_events(worker) == 6


def apply_all_counting(worker: ProjectionWorker, count: int, monkeypatch: pytest.MonkeyPatch
                       ) -> tuple[list[str], dict]:
    """Poll ``count`` records into one batch and apply it, recording every statement's SQL."""
    from sqlstore import sqldb

    statements: list[str] = []
    real_execute = sqldb.Cursor.execute

    def counting(self: sqldb.Cursor, sql: str, params: Any = ()) -> sqldb.Cursor:
        statements.append(sql)
        return real_execute(self, sql, params)

    worker.connect()
    batch: dict = {}
    deadline = time.monotonic() + 20
    while sum(len(r) for r in batch.values()) < count:
        assert time.monotonic() < deadline
        for tp, records in worker.consumer.poll(timeout_ms=500, max_records=1000).items():
            batch.setdefault(tp, []).extend(records)
    with monkeypatch.context() as patch:
        patch.setattr(sqldb.Cursor, "execute", counting)
        assert worker.apply_batch(batch) == count
    worker.close()
    return statements, batch


def test_a_batch_reads_and_writes_its_version_marks_once_not_per_event(runtime: Runtime,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Bookkeeping is per batch: the version marks and parked heads of every aggregate in the
    batch are read in one query each and written in one statement, and no savepoint is taken
    unless a view's code fails. Only the view's own statements are per event, and tracking
    writes delivery steps without reading the order's row first."""
    deliver_some(runtime, 20)  # 60 events, 20 aggregates
    publish(runtime)
    worker = runtime.worker(OrderTracking(runtime.personal_fields()))
    sql, batch = apply_all_counting(worker, 60, monkeypatch)
    labels = [s.split()[0] + " " + (s.split("projection_", 1)[1].split()[0] if "projection_" in s else "view")
              for s in sql]
    bookkeeping = [s for s in labels if not s.endswith("view")]
    assert not [s for s in labels if s.startswith(("SAVEPOINT", "RELEASE"))]
    assert bookkeeping.count("SELECT versions") == 1 and bookkeeping.count("SELECT parked") == 1
    assert bookkeeping.count("INSERT versions") == 1
    # Which of the batch's customers were erased (a view holding personal data), once.
    assert bookkeeping.count("SELECT erasures") == 1
    assert bookkeeping.count("INSERT offsets") == len(batch)
    assert len(bookkeeping) == 4 + len(batch)
    assert "SELECT view" not in labels
    assert applied_events(worker) == 60


def test_the_timeline_reads_an_aggregates_customer_once_per_process(runtime: Runtime,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    orders = deliver_some(runtime, 10)  # 30 events: each order's first names its customer
    publish(runtime)
    sql, _ = apply_all_counting(runtime.worker(CustomerTimeline(runtime.personal_fields())), 30, monkeypatch)
    assert not [s for s in sql if "FROM timeline_subjects" in s]
    for oid in orders:
        runtime.app.record_delivery_step(CTX, oid, "driver_assigned", driver="Wang")
        runtime.app.record_delivery_step(CTX, oid, "in_transit", position={"lat": 30.0, "lng": 120.0})
    publish(runtime)
    # A new process knows nothing yet: one read per order, not per event.
    sql, _ = apply_all_counting(runtime.worker(CustomerTimeline(runtime.personal_fields())), 20, monkeypatch)
    assert len([s for s in sql if "FROM timeline_subjects" in s]) == 10
    assert [e["summary"] for e in runtime.views.timeline("cust-1")].count("Driver Wang assigned") == 10

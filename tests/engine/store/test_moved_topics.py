"""A store written before issue 16 (events, snapshots and idempotency records stored under
``engine.<module>:Class`` topics) still loads, verifies and relays after the move into
engine/domain and engine/application; and a field job's history written before
``engine/domain/jobs.py`` became a package (``engine.domain.jobs:FieldJob.*`` topics, which it
keeps) loads, verifies and carries on after the split."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing import utils

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext
from engine.domain.catalogue import PUBLIC_STREAMS
from engine.domain.clock import ManualClock
from engine.domain.jobs import FieldJob
from engine.store.audit import Audit
from engine.store.eventstore import event_store_env
from engine.store.topics import category_of, register_moved_topics, stored_topics
from tests.engine.application.test_fieldwork import ITEM, NEAR, SITE, deliver

CTX = CommandContext.new()


def old_topic(topic: str) -> str:
    return topic.replace("engine.domain.", "engine.", 1).replace("engine.application.idempotency", "engine.idempotency", 1)


def test_every_stored_class_is_registered_under_its_old_topic() -> None:
    moved = register_moved_topics()
    for aggregate in PUBLIC_STREAMS.values():
        for cls in (aggregate, *[v for v in vars(aggregate).values() if isinstance(v, type)]):
            if cls.__module__.startswith("engine.domain."):
                assert utils.resolve_topic(old_topic(utils.get_topic(cls))) is cls
    assert utils.resolve_topic("engine.idempotency:IdempotencyRecord").__module__ == "engine.application.idempotency"
    assert all(topic.startswith("engine.") and ".domain." not in topic for topic in moved if "idempotency" not in topic)


@pytest.fixture
def old_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A store whose every record names the pre-move modules, hash chains and all."""
    path = tmp_path / "events.sqlite"
    register_moved_topics()
    for cls, topic in list(utils._type_cache.items()):
        if topic.startswith(("engine.domain.", "engine.application.idempotency")):
            monkeypatch.setitem(utils._type_cache, cls, old_topic(topic))
    clock = ManualClock()
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(path)), clock=clock))
    oid = app.place_order(CTX, customer_id="c1", items=[ITEM], tier="vip", delivery_address="1 Lake Rd",
                          site_location=SITE, idempotency_key="order-1").aggregate_id
    for step in ("stock_prepared", "left_warehouse", "driver_assigned", "in_transit"):
        app.record_delivery_step(CTX, oid, step, driver="Zhao" if step == "driver_assigned" else None,
                                 position=SITE if step == "in_transit" else None)
    app.take_snapshot(oid)
    stored = [n.topic for n in app.recorder.select_notifications(start=1, limit=100)]
    assert stored and all(t.startswith("engine.") and not t.startswith("engine.domain.") for t in stored)
    app.close()
    monkeypatch.undo()
    return path


def test_a_store_written_with_the_old_topics_still_loads(old_store: Path) -> None:
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(old_store)), clock=ManualClock()))
    notifications = list(app.recorder.select_notifications(start=1, limit=100))
    order_id = next(n.originator_id for n in notifications if n.topic == "engine.orders:ServiceOrder.OrderPlaced")
    order = app.get_order(order_id)
    assert (order["current_step"], order["driver"], order["tier"]) == ("in_transit", "Zhao", "vip")
    # The old snapshot is read back, and new events append to the old history.
    assert app.snapshots is not None and list(app.snapshots.get(order_id))
    delivered = app.record_delivery_step(CTX, order_id, "delivered")
    assert app.get_order(order_id)["version"] == order["version"] + 1
    (job_id,) = delivered.extra["job_ids"]
    assert app.get_job(UUID(job_id))["order_id"] == str(order_id)
    # A retried command finds its idempotency record stored under the old topic.
    again = app.place_order(CTX, customer_id="c1", items=[ITEM], tier="vip", delivery_address="1 Lake Rd",
                            site_location=SITE, idempotency_key="order-1")
    assert again.replayed and again.aggregate_id == order_id
    # Hash chains over the stored bytes (old topics included) still verify.
    report = Audit(app).verify(order_id)
    assert report.broken is None and report.events == order["version"] + 1
    # The relay maps old and new topics to one category and reads both.
    topics = {n.topic for n in app.recorder.select_notifications(start=1, limit=100)}
    assert {"engine.orders:ServiceOrder.OrderPlaced", "engine.domain.orders:ServiceOrder.DeliveryStepRecorded"} <= topics
    assert {category_of(t) for t in topics} == {"orders", "jobs", None}  # None: the idempotency record
    assert "engine.orders:ServiceOrder.OrderPlaced" in stored_topics("orders")
    assert "engine.domain.orders:ServiceOrder.OrderPlaced" in stored_topics("orders")
    app.close()


# Every topic engine/domain/jobs.py stored for a field job before it became a package. The
# classes now live in engine/domain/jobs/field_job.py and state these topics explicitly: a
# change here would strand every job already stored.
JOB_TOPICS_BEFORE_THE_SPLIT = {f"engine.domain.jobs:FieldJob{suffix}" for suffix in (
    "", ".Event", ".Created", ".JobOpened", ".JobDispatched", ".JobAccepted", ".JobDeclined", ".AppointmentAgreed",
    ".AppointmentRescheduled", ".AppointmentMissed", ".SiteLocated", ".EngineerCheckedIn", ".EngineerCheckedOut",
    ".JobCompleted", ".SelfInstallationAgreed", ".JobCancelledAtDoor", ".JobReopened", ".JobConfirmed",
    ".ChargesDisputed", ".PaymentRecorded")}


def test_field_jobs_keep_the_topics_they_were_stored_under_before_the_split() -> None:
    classes = [FieldJob, *[v for v in vars(FieldJob).values() if isinstance(v, type)]]
    assert {utils.get_topic(cls) for cls in classes} == JOB_TOPICS_BEFORE_THE_SPLIT
    assert all(utils.resolve_topic(topic) is cls for cls in classes for topic in [utils.get_topic(cls)])
    # Both older spellings resolve too, and the relay reads them all for the jobs category.
    assert all(utils.resolve_topic(old_topic(topic)) is utils.resolve_topic(topic)
               for topic in JOB_TOPICS_BEFORE_THE_SPLIT)
    jobs = stored_topics("jobs")
    assert {t for t in JOB_TOPICS_BEFORE_THE_SPLIT if not t.endswith(("FieldJob", ".Event", ".Created"))} <= set(jobs)
    assert {category_of(topic) for topic in jobs} == {"jobs"}


@pytest.fixture(params=["engine.jobs", "engine.domain.jobs"], ids=["before-issue-16", "before-the-split"])
def job_store(request: pytest.FixtureRequest, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> tuple[Path, UUID, ManualClock]:
    """A store holding a field job half done (dispatched, accepted, appointment agreed, engineer
    on site) and its snapshot, every record under the topics of the given module."""
    path = tmp_path / "events.sqlite"
    register_moved_topics()
    for aggregate in PUBLIC_STREAMS.values():  # every topic computed, so the patch below sees them all
        for cls in (aggregate, *[v for v in vars(aggregate).values() if isinstance(v, type)]):
            utils.get_topic(cls)
    if request.param == "engine.jobs":
        for cls, topic in list(utils._type_cache.items()):
            if topic.startswith(("engine.domain.", "engine.application.idempotency")):
                monkeypatch.setitem(utils._type_cache, cls, old_topic(topic))
    clock = ManualClock()
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(path)), clock=clock))
    (job_id,) = deliver(app)
    app.dispatch_job(CTX, job_id, "li")
    app.accept_job(CTX, job_id, "li")
    start = clock.now() + timedelta(hours=6)
    app.agree_appointment(CTX, job_id, start, start + timedelta(hours=3))
    clock.advance(timedelta(hours=7))
    app.check_in(CTX, job_id, "li", location=NEAR, accuracy_m=8)
    app.take_snapshot(job_id)
    stored = {n.topic for n in app.recorder.select_notifications(start=1, limit=100) if n.originator_id == job_id}
    assert stored and all(topic.startswith(f"{request.param}:FieldJob.") for topic in stored)
    app.close()
    monkeypatch.undo()
    return path, job_id, clock


def test_a_field_job_stored_before_the_split_loads_and_carries_on(job_store: tuple[Path, UUID, ManualClock]) -> None:
    path, job_id, clock = job_store
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(path)), clock=clock))
    job = app.get_job(job_id)
    assert (job["status"], job["engineer"], len(job["visits"])) == ("accepted", "li", 1)
    assert app.snapshots is not None and list(app.snapshots.get(job_id))
    # The job carries on: checked out and completed, the new events appended to the old history.
    clock.advance(timedelta(minutes=40))
    app.check_out(CTX, job_id, "li")
    app.complete_job(CTX, job_id)
    assert app.get_job(job_id)["status"] == "completed"
    new = [n.topic for n in app.recorder.select_notifications(start=1, limit=100) if n.originator_id == job_id][-2:]
    assert new == ["engine.domain.jobs:FieldJob.EngineerCheckedOut", "engine.domain.jobs:FieldJob.JobCompleted"]
    report = Audit(app).verify(job_id)
    assert report.broken is None and report.events == app.get_job(job_id)["version"]
    assert {category_of(n.topic) for n in app.recorder.select_notifications(start=1, limit=100)
            if n.originator_id == job_id} == {"jobs"}
    app.close()

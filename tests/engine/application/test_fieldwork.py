"""Field work through the application: reactions, routing and deadlines, with a manual clock."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.domain.clock import ManualClock
from engine.application.context import CommandContext, Principal
from engine.domain.accounts import account_id
from engine.domain.deadlines import Deadline, deadline_id
from engine.domain.errors import InvalidCommand, NotPermitted, RuleViolation
from engine.application.waits import FOLLOW_UP, MISS_APPOINTMENT, REMINDER, WINDOW

CTX = CommandContext.new()
WHY = CTX.because("the customer asked")
SITE = {"lat": 30.2741, "lng": 120.1551}
NEAR = {"lat": 30.2744, "lng": 120.1552}
ITEM = {"sku": "WP-500", "quantity": 1, "needs_installation": True, "installation_fee": "150",
        "consumables": ["PP", "CTO", "RO"], "consumable_interval_days": 90}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(clock: ManualClock) -> ServiceOrderApp:
    return ServiceOrderApp(EngineConfig(clock=clock))


def deliver(app: ServiceOrderApp, items: list[dict] | None = None) -> list[UUID]:
    oid = app.place_order(CTX, customer_id="c1", items=items or [ITEM], tier="vip", delivery_address="1 Lake Rd",
                          site_location=SITE).aggregate_id
    for step in ("stock_prepared", "left_warehouse"):
        app.record_delivery_step(CTX, oid, step)
    app.record_delivery_step(CTX, oid, "driver_assigned", driver="Zhao")
    app.record_delivery_step(CTX, oid, "in_transit", position=SITE)
    result = app.record_delivery_step(CTX, oid, "delivered")
    return [UUID(j) for j in result.extra.get("job_ids", [])]


def accepted_job(app: ServiceOrderApp, engineer: str = "li") -> UUID:
    (job_id,) = deliver(app)
    app.dispatch_job(CTX, job_id, engineer)
    app.accept_job(CTX, job_id, engineer)
    return job_id


def window(app: ServiceOrderApp, clock: ManualClock, job_id: UUID, days: int = 1) -> tuple:
    start = clock.now() + timedelta(days=days)
    app.agree_appointment(CTX, job_id, start, start + timedelta(hours=3))
    return start, start + timedelta(hours=3)


def visit_and_complete(app: ServiceOrderApp, clock: ManualClock, job_id: UUID, engineer: str = "li",
                       **outcome: object) -> dict:
    app.check_in(CTX, job_id, engineer, location=NEAR, accuracy_m=8)
    clock.advance(timedelta(minutes=40))
    app.check_out(CTX, job_id, engineer)
    return app.complete_job(CTX, job_id, **outcome).extra  # type: ignore[arg-type]


def test_delivery_opens_one_installation_job_per_unit_in_the_same_write(app: ServiceOrderApp) -> None:
    jobs = deliver(app, [ITEM | {"quantity": 2}, {"sku": "CABLE", "quantity": 3}])
    assert len(jobs) == 2
    job = app.get_job(jobs[0])
    assert (job["kind"], job["status"], job["fee"], job["site_location"]) == ("installation", "open", "150.00", SITE)
    assert job["consumables"] == ["PP", "CTO", "RO"]


def test_missed_window_is_recorded_by_its_deadline_exactly_once(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = accepted_job(app)
    _, end = window(app, clock, job_id)
    did = deadline_id(WINDOW, job_id, "1")
    assert app.fire_deadline(did) == "not_due"
    clock.set(end)
    assert app.fire_deadline(did) == "fired"
    assert app.fire_deadline(did) == "not_scheduled"
    job = app.get_job(job_id)
    assert (job["window"], job["missed_windows"]) == (None, 1)
    # A new window can be agreed after a miss; it gets its own deadline.
    window(app, clock, job_id)
    assert app.repository.get(deadline_id(WINDOW, job_id, "2")).status == "scheduled"


def test_rescheduling_moves_the_deadline_and_a_check_in_cancels_it(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = accepted_job(app)
    start, _ = window(app, clock, job_id)
    app.reschedule_appointment(WHY, job_id, start + timedelta(days=1), start + timedelta(days=1, hours=2),
                               initiator="customer")
    assert app.repository.get(deadline_id(WINDOW, job_id, "1")).status == "cancelled"
    assert app.repository.get(deadline_id(WINDOW, job_id, "2")).due_at == start + timedelta(days=1, hours=2)
    clock.set(start + timedelta(days=1, minutes=10))
    with pytest.raises(RuleViolation, match="can no longer be rescheduled"):
        app.reschedule_appointment(WHY, job_id, start + timedelta(days=2), start + timedelta(days=2, hours=2),
                                   initiator="engineer")
    app.check_in(CTX, job_id, "li", location=NEAR, accuracy_m=5)
    clock.advance(timedelta(days=1))
    assert app.fire_deadline(deadline_id(WINDOW, job_id, "2")) == "not_scheduled"
    assert app.get_job(job_id)["missed_windows"] == 0


def test_repair_goes_to_the_original_installer_unless_unavailable(app: ServiceOrderApp, clock: ManualClock) -> None:
    installation = accepted_job(app, "li")
    window(app, clock, installation)
    clock.advance(timedelta(days=1, minutes=5))
    visit_and_complete(app, clock, installation)
    repair = app.open_repair(CTX, installation)
    job = app.get_job(repair.aggregate_id)
    assert (job["kind"], job["engineer"], job["status"], job["related_id"]) == (
        "repair", "li", "dispatched", str(installation))
    dispatched = [e for e in app.events.get(repair.aggregate_id) if type(e).__name__ == "JobDispatched"][0]
    assert dispatched.routing == "original_installer"
    with pytest.raises(InvalidCommand, match="say why they are unavailable"):
        app.open_repair(CTX, installation, engineer="zhou")
    other = app.open_repair(CTX, installation, engineer="zhou", original_unavailable="on leave until May")
    dispatched = [e for e in app.events.get(other.aggregate_id) if type(e).__name__ == "JobDispatched"][0]
    assert (dispatched.engineer, dispatched.routing) == ("zhou", "operator_choice")
    assert "li unavailable: on leave until May" in dispatched.note


def completed_repair_follow_up(app: ServiceOrderApp, clock: ManualClock, cause: str) -> UUID:
    installation = accepted_job(app)
    window(app, clock, installation)
    clock.advance(timedelta(days=1, minutes=5))
    visit_and_complete(app, clock, installation)
    repair = app.open_repair(CTX, installation).aggregate_id
    app.accept_job(CTX, repair, "li")
    return UUID(visit_and_complete(app, clock, repair, fault_cause=cause)["follow_up_id"])


def test_completed_repair_gets_a_follow_up_due_within_24_hours(app: ServiceOrderApp, clock: ManualClock) -> None:
    follow_up = completed_repair_follow_up(app, clock, "product_quality")
    assert app.get_follow_up(follow_up)["due_at"] == (clock.now() + timedelta(hours=24)).isoformat()
    clock.advance(timedelta(hours=3))
    app.record_follow_up(CTX, follow_up, fixed=True, conduct="good", satisfaction=5, comments="quick")
    recorded = list(app.events.get(follow_up))[-1]
    assert (recorded.late, recorded.satisfaction) == (False, 5)
    assert app.repository.get(deadline_id(FOLLOW_UP, follow_up, "")).status == "cancelled"


def test_unrecorded_follow_up_becomes_overdue(app: ServiceOrderApp, clock: ManualClock) -> None:
    follow_up = completed_repair_follow_up(app, clock, "weather_conditions")
    clock.advance(timedelta(hours=24, seconds=1))
    assert app.fire_deadline(deadline_id(FOLLOW_UP, follow_up, "")) == "fired"
    assert app.get_follow_up(follow_up)["status"] == "overdue"


def test_consumable_reminder_cycle(app: ServiceOrderApp, clock: ManualClock) -> None:
    installation = accepted_job(app)
    window(app, clock, installation)
    clock.advance(timedelta(days=1, minutes=5))
    reminder = UUID(visit_and_complete(app, clock, installation)["reminder_id"])
    installed_at = clock.now()
    assert app.get_reminder(reminder)["due_at"] == (installed_at + timedelta(days=90)).isoformat()
    clock.advance(timedelta(days=90))
    assert app.fire_deadline(deadline_id(REMINDER, reminder, "1")) == "fired"
    assert app.get_reminder(reminder)["status"] == "due"
    app.decline_reminder(WHY, reminder, repeat_after_days=30)
    assert app.get_reminder(reminder)["round"] == 2
    clock.advance(timedelta(days=30))
    assert app.fire_deadline(deadline_id(REMINDER, reminder, "2")) == "fired"
    job_id = UUID(app.accept_reminder(CTX, reminder, consumables=["PP"], fee="60").extra["job_id"])
    job = app.get_job(job_id)
    assert (job["kind"], job["consumables"], job["related_id"]) == ("consumable_replacement", ["PP"], str(reminder))
    app.dispatch_job(CTX, job_id, "li")
    app.accept_job(CTX, job_id, "li")
    visit_and_complete(app, clock, job_id)
    renewed = app.get_reminder(reminder)
    assert (renewed["status"], renewed["round"]) == ("scheduled", 3)
    # Only PP was replaced: its next cycle is 90 days on; the others come back in 30.
    assert renewed["due"]["PP"] == (clock.now() + timedelta(days=90)).isoformat()
    assert renewed["due_at"] == (clock.now() + timedelta(days=30)).isoformat()
    app.record_payment(CTX.because("no cash on hand"), job_id, collected=False, amount="60")
    assert app.get_job(job_id)["payment"] == {"collected": False, "amount": "60.00", "method": None}


def test_self_installation_stops_the_window_deadline(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = accepted_job(app)
    window(app, clock, job_id)
    result = app.install_by_customer(CTX.because("no engineer can reach the island"), job_id)
    assert result.extra == {"fee_refunded": "150.00"}
    assert app.repository.get(deadline_id(WINDOW, job_id, "1")).status == "cancelled"


def test_a_crash_before_the_firing_is_saved_leaves_the_deadline_due(app: ServiceOrderApp, clock: ManualClock,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    job_id = accepted_job(app)
    _, end = window(app, clock, job_id)
    clock.set(end)
    did = deadline_id(WINDOW, job_id, "1")

    def crash(*_: object) -> list:
        raise RuntimeError("power cut mid-fire")

    monkeypatch.setitem(app.deadlines.actions, MISS_APPOINTMENT, crash)
    with pytest.raises(RuntimeError, match="power cut"):
        app.fire_deadline(did)
    monkeypatch.undo()
    assert app.repository.get(did).status == "scheduled"
    assert app.get_job(job_id)["missed_windows"] == 0
    assert app.fire_deadline(did) == "fired"
    assert app.get_job(job_id)["missed_windows"] == 1


def test_two_schedulers_racing_fire_each_deadline_once(tmp_path: Path, clock: ManualClock) -> None:
    env = event_store_env(sqlite_path=str(tmp_path / "events.sqlite"))
    config = EngineConfig(env=env, clock=clock)
    first, second = ServiceOrderApp(config), ServiceOrderApp(config)
    jobs = [accepted_job(first) for _ in range(6)]
    for job_id in jobs:
        window(first, clock, job_id)
    clock.advance(timedelta(days=2))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def scheduler(app: ServiceOrderApp) -> None:
        barrier.wait()
        for job_id in jobs:
            outcomes.append(app.fire_deadline(deadline_id(WINDOW, job_id, "1")))

    threads = [threading.Thread(target=scheduler, args=(a,)) for a in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("fired") == 6
    assert set(outcomes) <= {"fired", "lost_race", "not_scheduled"}
    for job_id in jobs:
        missed = [e for e in first.events.get(job_id) if type(e).__name__ == "AppointmentMissed"]
        assert len(missed) == 1
        assert isinstance(first.repository.get(deadline_id(WINDOW, job_id, "1")), Deadline)


def test_a_handed_back_job_keeps_its_window_deadline_for_the_next_engineer(app: ServiceOrderApp,
                                                                          clock: ManualClock) -> None:
    job_id = accepted_job(app, "wang")
    start, end = window(app, clock, job_id)
    did = deadline_id(WINDOW, job_id, "1")
    # wang calls in sick at 8:00; a dispatcher takes the job off his agenda and gives it to li.
    clock.advance(timedelta(hours=20))
    dispatcher = CommandContext.new(Principal("desk", frozenset({"dispatcher"})))
    app.decline_job(dispatcher.because("ill today"), job_id, "wang")
    assert app.repository.get(did).status == "scheduled"  # the appointment is kept, and watched
    app.dispatch_job(dispatcher, job_id, "li")
    app.accept_job(CTX, job_id, "li")
    assert app.get_job(job_id)["window"] == {"start": start.isoformat(), "end": end.isoformat()}
    # The rule that an engineer acts only on the jobs they hold follows the job to li.
    wang = CommandContext.new(Principal("wang", frozenset({"engineer"})))
    with pytest.raises(NotPermitted):
        app.check_in(wang, job_id, "wang", location=NEAR, accuracy_m=8)
    # Once the window has begun it is li's to keep or miss: no second hand-back.
    clock.set(start + timedelta(minutes=1))
    with pytest.raises(RuleViolation, match="has begun"):
        app.decline_job(dispatcher.because("li is late"), job_id, "li")
    clock.set(end)
    assert app.fire_deadline(did) == "fired"
    job = app.get_job(job_id)
    assert (job["engineer"], job["missed_windows"], job["window"]) == ("li", 1, None)


def test_the_next_engineer_who_completes_a_handed_back_job_earns_its_fee(app: ServiceOrderApp,
                                                                        clock: ManualClock) -> None:
    job_id = accepted_job(app, "wang")
    start, _ = window(app, clock, job_id)
    app.decline_job(WHY, job_id, "wang")
    app.dispatch_job(CTX, job_id, "li")
    app.accept_job(CTX, job_id, "li")
    clock.set(start + timedelta(minutes=5))
    visit_and_complete(app, clock, job_id, "li")
    assert app.repository.get(deadline_id(WINDOW, job_id, "1")).status == "cancelled"
    (line,) = app.repository.get(account_id("li")).lines
    assert (line["job_id"], line["amount"]) == (str(job_id), "150.00")
    with pytest.raises(AggregateNotFoundError):  # wang, who handed it back, earned nothing for it
        app.repository.get(account_id("wang"))


def test_a_write_names_the_position_of_every_aggregate_it_saved(app: ServiceOrderApp) -> None:
    """Delivering opens installation jobs (a policy): the reply gives each its own position, the
    idempotency record none; a replay knows no positions, as it knows no position."""
    oid = app.place_order(CTX, customer_id="c1", items=[ITEM, ITEM], tier="vip", delivery_address="1 Lake Rd",
                          site_location=SITE).aggregate_id
    for step, extra in (("stock_prepared", {}), ("left_warehouse", {}), ("driver_assigned", {"driver": "Zhao"}),
                        ("in_transit", {"position": SITE})):
        app.record_delivery_step(CTX, oid, step, **extra)
    result = app.record_delivery_step(CTX, oid, "delivered", idempotency_key="delivered-1")
    jobs = result.extra["job_ids"]
    assert len(jobs) == 2 and set(result.positions) == {str(oid), *jobs}
    assert result.positions[str(oid)] == result.position
    for writer, position in result.positions.items():
        assert app.event_at(position) == (UUID(writer), app.repository.get(UUID(writer)).version)
    replay = app.record_delivery_step(CTX, oid, "delivered", idempotency_key="delivered-1")
    assert (replay.replayed, replay.position, replay.positions) == (True, None, {})

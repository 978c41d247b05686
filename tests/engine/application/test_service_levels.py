"""SLA clocks in business time, with warnings, breaches, pauses; and hotline call-backs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.clock import ManualClock
from engine.application.context import CommandContext
from engine.domain.deadlines import deadline_id
from engine.domain.errors import InvalidCommand, RuleViolation
from engine.application.waits import BREACH, WARNING

CTX = CommandContext.new()
WAIT = CTX.because("waiting for the customer to send photos")
# Friday 9 Oct 2026, 16:00 in Shanghai (08:00 UTC); the default calendars have no holidays.
FRIDAY_4PM = datetime(2026, 10, 9, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(FRIDAY_4PM)


@pytest.fixture
def app(clock: ManualClock) -> ServiceOrderApp:
    return ServiceOrderApp(EngineConfig(clock=clock))


def fire(app: ServiceOrderApp, kind: str, level: object, run: int = 1) -> str:
    return app.fire_deadline(deadline_id(kind, level, str(run)))


def test_svip_warns_at_three_hours_and_breaches_at_four_and_stays_breached(app: ServiceOrderApp,
                                                                          clock: ManualClock) -> None:
    level = app.start_sla(CTX, subject_id="job-1", subject_kind="job", customer_id="c", tier="svip").aggregate_id
    assert app.get_sla(level)["due_at"] == (FRIDAY_4PM + timedelta(hours=4)).isoformat()
    clock.advance(timedelta(hours=2, minutes=59))
    assert fire(app, WARNING, level) == "not_due"
    clock.advance(timedelta(minutes=1))
    assert fire(app, WARNING, level) == "fired" and app.get_sla(level)["warned"]
    clock.advance(timedelta(hours=1))
    assert fire(app, BREACH, level) == "fired" and app.get_sla(level)["breached"]
    clock.advance(timedelta(hours=1))
    done = app.complete_sla(CTX, level)
    assert done.extra == {"breached": True}
    assert app.get_sla(level)["status"] == "completed"


def test_vip_counts_working_hours_only(app: ServiceOrderApp, clock: ManualClock) -> None:
    level = app.start_sla(CTX, subject_id="job-2", subject_kind="job", customer_id="c", tier="vip").aggregate_id
    # One hour on Friday (16-17), then Monday 09:00-16:00.
    assert app.get_sla(level)["due_at"] == datetime(2026, 10, 12, 8, 0, tzinfo=timezone.utc).isoformat()
    clock.set(datetime(2026, 10, 11, 12, 0, tzinfo=timezone.utc))  # Sunday: no business time passes
    assert app.get_sla(level)["used_seconds"] == 3600


def test_tier_comes_from_the_order_and_basic_has_no_clock(app: ServiceOrderApp) -> None:
    order = app.place_order(CTX, customer_id="c", items=[{"sku": "A"}], tier="svip",
                            delivery_address="x").aggregate_id
    level = app.start_sla(CTX, subject_id="job-3", subject_kind="job", customer_id="c", order_id=order)
    assert app.get_sla(level.aggregate_id)["tier"] == "svip"
    with pytest.raises(InvalidCommand, match="basic tier has no resolution clock"):
        app.start_sla(CTX, subject_id="job-4", subject_kind="job", customer_id="c", tier="basic")


def test_pausing_stops_the_clock_and_resuming_moves_the_deadlines(app: ServiceOrderApp, clock: ManualClock) -> None:
    level = app.start_sla(CTX, subject_id="job-5", subject_kind="job", customer_id="c", tier="svip").aggregate_id
    clock.advance(timedelta(hours=1))
    with pytest.raises(InvalidCommand, match="needs a reason"):
        app.pause_sla(CTX, level)
    app.pause_sla(WAIT, level)
    assert app.repository.get(deadline_id(BREACH, level, "1")).status == "cancelled"
    clock.advance(timedelta(days=3))
    assert app.get_sla(level)["used_seconds"] == 3600
    app.resume_sla(CTX, level)
    resumed = app.get_sla(level)
    assert resumed["due_at"] == (clock.now() + timedelta(hours=3)).isoformat()
    assert resumed["warn_at"] == (clock.now() + timedelta(hours=2)).isoformat()
    clock.advance(timedelta(hours=3))
    assert fire(app, BREACH, level, run=1) == "not_scheduled"
    assert fire(app, BREACH, level, run=2) == "fired"
    with pytest.raises(RuleViolation, match="not paused"):
        app.resume_sla(CTX, level)


def test_sla_state_is_recomputed_identically_from_its_events(app: ServiceOrderApp, clock: ManualClock) -> None:
    level = app.start_sla(CTX, subject_id="job-6", subject_kind="job", customer_id="c", tier="vip").aggregate_id
    clock.advance(timedelta(hours=1))
    app.pause_sla(WAIT, level)
    clock.advance(timedelta(days=1))
    app.resume_sla(CTX, level)
    replayed = None
    for e in app.events.get(level):
        replayed = e.mutate(replayed)
    live = app.repository.get(level)
    assert (replayed.due_at, replayed.warn_at, replayed.used_seconds) == (live.due_at, live.warn_at, live.used_seconds)


def test_every_missed_call_gets_a_call_back(app: ServiceOrderApp, clock: ManualClock) -> None:
    answered = app.record_call(CTX, phone="+86 571 1", answered=True, agent="amy")
    missed = app.record_call(CTX, phone="+86 571 2", answered=False)
    assert missed.extra == {"call_back_due_at": (clock.now() + timedelta(hours=2)).isoformat()}
    with pytest.raises(RuleViolation, match="nothing to call back"):
        app.call_back(CTX, answered.aggregate_id, reached=True)
    clock.advance(timedelta(hours=3))
    app.call_back(CTX, missed.aggregate_id, reached=True)
    assert list(app.events.get(missed.aggregate_id))[-1].late is True
    with pytest.raises(RuleViolation, match="already called back"):
        app.call_back(CTX, missed.aggregate_id, reached=True)

"""The scheduler loop against the real stores: deadlines fire exactly once with two
schedulers running, and a scheduler that dies mid-fire leaves the deadline due."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from commands.bootstrap import Runtime
from commands.scheduler import Scheduler
from engine.domain.clock import ManualClock
from engine.application.context import CommandContext
from engine.application.waits import MISS_APPOINTMENT
from projections.deadlines import DeadlineIndex

CTX = CommandContext.new()


def jobs_with_windows(runtime: Runtime, clock: ManualClock, count: int) -> list:
    ids = []
    for n in range(count):
        job = runtime.app.open_job(CTX, kind="repair", customer_id=f"c{n}", product={"sku": "SH-1"},
                                   site_address="a", site_location={"lat": 1, "lng": 1}).aggregate_id
        runtime.app.dispatch_job(CTX, job, "li")
        runtime.app.accept_job(CTX, job, "li")
        start = clock.now() + timedelta(hours=1)
        runtime.app.agree_appointment(CTX, job, start, start + timedelta(hours=2))
        ids.append(job)
    return ids


def index_deadlines(runtime: Runtime, count: int) -> None:
    relay = runtime.relay()
    relay.catch_up()
    relay.close()
    worker = runtime.worker(DeadlineIndex())
    deadline = time.monotonic() + 60
    while True:
        worker.poll_once()
        with runtime.views_db.transaction() as cur:
            if cur.execute("SELECT COUNT(*) FROM deadline_index").fetchone()[0] >= count:
                break
        assert time.monotonic() < deadline
    worker.close()


def missed(runtime: Runtime, job) -> int:  # noqa: ANN001
    return runtime.app.get_job(job)["missed_windows"]


def test_two_schedulers_fire_every_due_deadline_exactly_once(runtime: Runtime, clock: ManualClock) -> None:
    jobs = jobs_with_windows(runtime, clock, 8)
    index_deadlines(runtime, 8)
    schedulers = [Scheduler(runtime.app, runtime.views_db, clock) for _ in range(2)]
    assert all(not s.due() for s in schedulers)  # nothing due yet
    clock.advance(timedelta(hours=3, seconds=1))
    results: list = []
    barrier = threading.Barrier(2)

    def run(s: Scheduler) -> None:
        barrier.wait()
        results.append(s.run_once())

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r["fired"] for r in results) == 8
    assert sum(r["failed"] for r in results) == 0
    assert [missed(runtime, j) for j in jobs] == [1] * 8


def test_a_scheduler_dying_mid_fire_leaves_the_deadline_for_the_next_pass(
        runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    (job,) = jobs_with_windows(runtime, clock, 1)
    index_deadlines(runtime, 1)
    clock.advance(timedelta(hours=4))
    scheduler = Scheduler(runtime.app, runtime.views_db, clock)

    def die(*_: object) -> list:
        raise RuntimeError("killed while firing")

    monkeypatch.setitem(runtime.app.deadlines.actions, MISS_APPOINTMENT, die)
    assert scheduler.run_once()["failed"] == 1
    assert missed(runtime, job) == 0
    monkeypatch.undo()
    assert scheduler.run_once()["fired"] == 1
    assert missed(runtime, job) == 1

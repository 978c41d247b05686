"""The demo story reads the same whatever hour it is played at: it ends at ``now`` and leaves
nothing already due there (an appointment meant to come would otherwise be missed at once,
by the first scheduler pass). Played in memory, with no broker, at hours across a day and
at the turns of a month and a year, in UTC and in Shanghai."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from commands.demo.story import play
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.clock import ManualClock
from engine.domain.deadlines import Deadline
from engine.domain.jobs import FieldJob

ENDS = [datetime(2026, 11, 30, hour, 28, tzinfo=timezone.utc) for hour in range(0, 24, 4)] + [
    datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc), datetime(2027, 3, 1, 0, 5, tzinfo=timezone.utc)]


class StoryClock(ManualClock):
    """The demo clock's moves (commands/democlock.py), on a clock of the test's own."""

    def advance_to(self, moment: datetime) -> datetime:
        if moment > self.now():
            self.set(moment)
        return self.now()


def aggregates(app: ServiceOrderApp, cls: type) -> list[Any]:
    ids = {n.originator_id for n in app.uow.store.recorder.select_notifications(start=1, limit=1_000_000)}
    found = (app.uow.get_any(UUID(str(i))) for i in ids)
    return [a for a in found if isinstance(a, cls)]


@pytest.mark.parametrize("now", ENDS, ids=lambda d: d.strftime("%m-%dT%H:%M"))
def test_the_story_ends_at_now_with_nothing_already_due(now: datetime) -> None:
    clock = StoryClock(now - timedelta(days=70))
    app = ServiceOrderApp(EngineConfig(clock=clock))
    play(app, clock, now)  # type: ignore[arg-type]
    assert clock.now() == now
    overdue = [(d.kind, d.due_at) for d in aggregates(app, Deadline) if d.status == "scheduled" and d.due_at <= now]
    assert overdue == []
    jobs = aggregates(app, FieldJob)
    # The sick engineer's job waits in the queue with its appointment, and tomorrow's is booked.
    assert any(j.status == "declined" and j.window and j.window["start"] > now for j in jobs)
    assert any(j.status == "accepted" and j.window and now < j.window["start"] < now + timedelta(hours=36)
               for j in jobs)

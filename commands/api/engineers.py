"""Engineers' agendas: one engineer's jobs by day, and every engineer's jobs on a day."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from commands.api.deps import EngineerReader, RuntimeDep, Viewer, ViewsDep, scope
from commands.api.reads import Limit, PageCursor, WaitFor, WaitTimeout, wait_for_view
from commands.api.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, prefix="/engineers", tags=["engineers"])


@router.get("/agendas")
def agendas(_: Viewer, views: ViewsDep, runtime: RuntimeDep, day: Annotated[date, Query(description="the day (UTC)")],
            engineer: Annotated[str | None, Query(min_length=1, max_length=100)] = None, limit: Limit = 100,
            cursor: PageCursor = None, wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Every engineer's jobs on one day, by engineer and appointment time (the dispatch board),
    with the service's ``now``: a window that has begun can no longer be moved or handed back."""
    wait_for_view(runtime, "engineer_agenda", wait_for_position, wait_timeout,
                  lambda w: runtime.app.aggregate_type(w) == "FieldJob", "a job")
    return {"day": day.isoformat(), "now": runtime.app.clock.now().isoformat(),
            **views.day_agenda(day.isoformat(), engineer=engineer, limit=limit, cursor=cursor)}


@router.get("/{engineer}/agenda")
def agenda(engineer: Annotated[str, Path(min_length=1, max_length=100)], reader: EngineerReader, views: ViewsDep,
           runtime: RuntimeDep, day: Annotated[date | None, Query(description="only this day (UTC)")] = None,
           wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    scope(reader, engineer=engineer)
    wait_for_view(runtime, "engineer_agenda", wait_for_position, wait_timeout,
                  lambda w: runtime.app.aggregate_type(w) == "FieldJob", "a job")
    return {"engineer": engineer, "day": day.isoformat() if day else None, "now": runtime.app.clock.now().isoformat(),
            "jobs": views.agenda(engineer, day.isoformat() if day else None)}

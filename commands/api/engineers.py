"""Engineers' agenda: their jobs, by day."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query

from commands.api.deps import EngineerReader, RuntimeDep, ViewsDep, scope
from commands.api.reads import WaitFor, WaitTimeout, wait_for_view
from commands.api.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, prefix="/engineers", tags=["engineers"])


@router.get("/{engineer}/agenda")
def agenda(engineer: Annotated[str, Path(min_length=1, max_length=100)], reader: EngineerReader, views: ViewsDep,
           runtime: RuntimeDep, day: Annotated[date | None, Query(description="only this day (UTC)")] = None,
           wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    scope(reader, engineer=engineer)
    wait_for_view(runtime, "engineer_agenda", wait_for_position, wait_timeout,
                  lambda w: runtime.app.aggregate_type(w) == "FieldJob", "a job")
    return {"engineer": engineer, "day": day.isoformat() if day else None,
            "jobs": views.agenda(engineer, day.isoformat() if day else None)}

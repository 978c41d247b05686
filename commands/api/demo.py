"""The demo clock over HTTP (demo stores only): read it, move it forward, watch deadlines fire."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from commands.api.deps import Operator, RuntimeDep, Viewer
from commands.api.problems import Problem
from commands.api.routing import OneHopRoute
from commands.bootstrap import Runtime
from commands.democlock import DemoClock, NotADemoStore, parse_duration

router = APIRouter(route_class=OneHopRoute, tags=["demo"])


class AdvanceIn(BaseModel):
    advance: str = Field(min_length=1, max_length=40, examples=["2h", "1d12h", "PT30M"],
                         description="how far to move the clock forward: 2h, 1d12h, 90m or an ISO 8601 duration")


def _clock(runtime: Runtime) -> DemoClock:
    if runtime.demo_clock is None:
        raise Problem(409, "Not in demo mode", str(NotADemoStore()), "not-demo-mode")
    return runtime.demo_clock


def _state(clock: DemoClock) -> dict[str, Any]:
    return {"now": clock.now().isoformat(), "offset_seconds": round(clock.offset.total_seconds(), 3)}


@router.get("/demo/clock")
def read_clock(_: Viewer, runtime: RuntimeDep) -> dict[str, Any]:
    """The demo clock: real time plus the offset operators have moved it by."""
    return _state(_clock(runtime))


@router.post("/demo/clock")
def advance_clock(body: AdvanceIn, _: Operator, runtime: RuntimeDep) -> dict[str, Any]:
    """Move the demo clock forward (never back), then fire the deadlines now due at once
    (the scheduler would within its interval); the answer counts what they did."""
    clock = _clock(runtime)
    try:
        delta = parse_duration(body.advance)
        clock.advance(delta)
    except ValueError as exc:
        raise Problem(422, "Malformed request", str(exc), "malformed-request") from None
    outcomes = runtime.scheduler().run_once()
    return {**_state(clock), "advanced_seconds": delta.total_seconds(), "deadlines": dict(outcomes)}

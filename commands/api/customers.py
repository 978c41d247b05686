"""Customer views: the timeline of everything that happened for a customer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from commands.api.deps import RuntimeDep, ViewsDep, Viewer
from commands.api.orders import MAX_POSITION, WaitFor, WaitTimeout, wait_for_view
from commands.api.schemas import TimelineOut

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("/{customer_id}/timeline", response_model=TimelineOut)
def timeline(
    customer_id: Annotated[str, Path(min_length=1, max_length=100)],
    _: Viewer,
    views: ViewsDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="only entries after this position (paging)")] = 0,
    wait_for_position: WaitFor = None,
    wait_timeout: WaitTimeout = 5.0,
) -> TimelineOut:
    wait_for_view(runtime, "customer timeline", lambda: views.timeline_position(customer_id), wait_for_position,
                  wait_timeout, lambda writer: runtime.app.customer_of(writer) == customer_id,
                  f"customer {customer_id}")
    entries = views.timeline(customer_id, limit=limit, after=after)
    return TimelineOut(
        customer_id=customer_id,
        entries=entries,
        next_after=entries[-1]["position"] if len(entries) == limit else None,
    )

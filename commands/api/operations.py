"""Operating the streams: lag per reader (JSON and Prometheus), the AsyncAPI contract, and
the parked poison events an operator retries or skips."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from commands.api.deps import ContextDep, RuntimeDep, Viewer
from commands.api.problems import Problem
from commands.api.routing import OneHopRoute
from commands.api.schemas import ReasonIn
from commands.lag import lag_report, prometheus
from commands.bootstrap import Runtime
from projections import parking
from projections.base import Projection
from projections.registry import PROJECTIONS
from streams.asyncapi import document

router = APIRouter(route_class=OneHopRoute, tags=["operations"])
ProjectionName = Annotated[str, Path(min_length=1, max_length=100)]
AggregateId = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/lag")
def lag(_: Viewer, runtime: RuntimeDep) -> dict:
    """Relay lag behind the store, and each projection's lag, parked and rejected records."""
    return lag_report(runtime)


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(_: Viewer, runtime: RuntimeDep) -> PlainTextResponse:
    """The same figures in the Prometheus text format (scrape with a bearer token)."""
    return PlainTextResponse(prometheus(lag_report(runtime)), media_type="text/plain; version=0.0.4")


@router.get("/asyncapi.json")
def asyncapi(request: Request) -> JSONResponse:
    """The AsyncAPI 3 document of every topic and event (also docs/asyncapi.json)."""
    return JSONResponse(document())


def _projection(name: str, runtime: Runtime) -> Projection:
    if name not in PROJECTIONS:
        raise Problem(404, "Not found", f"no projection {name!r}; known: {', '.join(PROJECTIONS)}", "not-found")
    return runtime.projections([name])[0]


@router.get("/dead-letters")
def dead_letters(_: Viewer, runtime: RuntimeDep) -> dict:
    """Parked events: the failed one of each aggregate with its error, and those waiting behind it."""
    return {"parked": parking.parked(runtime.views_db)}


@router.post("/dead-letters/{projection}/{aggregate_id}/retry")
def retry(projection: ProjectionName, aggregate_id: AggregateId, ctx: ContextDep, runtime: RuntimeDep) -> dict:
    """Apply the aggregate's parked events again (after the view's code was fixed)."""
    result = parking.retry(runtime.views_db, _projection(projection, runtime), aggregate_id)
    return {**result, "retried_by": ctx.principal.name}


@router.post("/dead-letters/{projection}/{aggregate_id}/skip")
def skip(projection: ProjectionName, aggregate_id: AggregateId, body: ReasonIn, ctx: ContextDep,
         runtime: RuntimeDep) -> dict:
    """Give up on the aggregate's failed event (recorded with who and why) and release the rest."""
    try:
        return parking.skip(runtime.views_db, _projection(projection, runtime), aggregate_id, actor=ctx.principal.name,
                            reason=body.reason)
    except LookupError as exc:
        raise Problem(409, "Nothing to skip", str(exc), "rule-violation") from None

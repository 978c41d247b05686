"""Liveness and progress: is each part reachable, and how far behind the store is each reader."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from commands.api.deps import RuntimeDep
from commands.api.routing import OneHopRoute

router = APIRouter(route_class=OneHopRoute, tags=["health"])


@router.get("/health")
def health(runtime: RuntimeDep) -> JSONResponse:
    checks: dict[str, object] = {}
    ok = True
    try:
        checks["store_position"] = runtime.app.current_position()
    except Exception as exc:  # noqa: BLE001 - health reports, it does not raise
        ok, checks["store"] = False, f"unavailable: {type(exc).__name__}"
    try:
        checks["projections"] = runtime.views.progress()
    except Exception as exc:  # noqa: BLE001
        ok, checks["views"] = False, f"unavailable: {type(exc).__name__}"
    if runtime.broker is not None:
        checks["broker"] = "running" if runtime.broker.alive() else "stopped"
        ok = ok and runtime.broker.alive()
    workers = {t.name: t.is_alive() for t in runtime.threads}
    if workers:
        checks["workers"] = workers
        ok = ok and all(workers.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)

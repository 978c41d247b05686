"""Request ids: read or minted per request, bound to every log line, echoed back."""

from __future__ import annotations

import re
import time
from uuid import uuid4

import structlog
from fastapi import FastAPI, Request, Response

log = structlog.get_logger("serviceorder.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _id(value: str | None) -> str:
    return value if value and _SAFE_ID.match(value) else str(uuid4())


def install(app: FastAPI) -> None:
    @app.middleware("http")
    async def request_ids(request: Request, call_next):  # noqa: ANN001, ANN202
        request_id = _id(request.headers.get("x-request-id"))
        correlation_id = _id(request.headers.get("x-correlation-id") or request_id)
        request.state.request_id = request_id
        request.state.correlation_id = correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        started = time.perf_counter()
        response: Response = await call_next(request)
        response.headers["X-Request-ID"] = request_id
        response.headers["X-Correlation-ID"] = correlation_id
        principal = getattr(request.state, "principal", None)
        log.info("http_request", method=request.method, path=request.url.path, status=response.status_code,
                 duration_ms=round((time.perf_counter() - started) * 1000, 1),
                 principal=principal.name if principal else None)
        return response

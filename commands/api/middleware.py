"""Request ids: read or minted per request, bound to every log line, echoed back.

A plain ASGI middleware: Starlette's ``@app.middleware("http")`` wraps every request in a
task group and memory streams, which cost more CPU per request than the work done here.
"""

from __future__ import annotations

import re
import time
from typing import Any, Awaitable, Callable
from uuid import uuid4

import structlog
from fastapi import FastAPI

log = structlog.get_logger("serviceorder.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
Message = dict[str, Any]


def _id(value: str | None) -> str:
    return value if value and _SAFE_ID.match(value) else str(uuid4())


class RequestIds:
    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k: v for k, v in scope.get("headers", ()) if k in (b"x-request-id", b"x-correlation-id")}
        request_id = _id(headers.get(b"x-request-id", b"").decode("latin-1"))
        correlation_id = _id(headers.get(b"x-correlation-id", b"").decode("latin-1") or request_id)
        state = scope.setdefault("state", {})
        state["request_id"], state["correlation_id"] = request_id, correlation_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id, correlation_id=correlation_id)
        started = time.perf_counter()
        status = 500

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode()),
                                      (b"x-correlation-id", correlation_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            principal = state.get("principal")
            log.info("http_request", method=scope["method"], path=scope["path"], status=status,
                     duration_ms=round((time.perf_counter() - started) * 1000, 1),
                     principal=principal.name if principal else None)


def install(app: FastAPI) -> None:
    app.add_middleware(RequestIds)

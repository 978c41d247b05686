"""Assembles the FastAPI application: middleware, problem handlers, routers."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from commands.api import (audit, batch, complaints, customers, demo, engineers, followups, health, jobs, levels,
                          middleware, money, operations, orders, pages, problems, returns, schemas, tokens)
from commands.api.input_guard import InputGuard
from commands.api.limits import BodyLimit
from commands.bootstrap import Runtime

DESCRIPTION = """
Operators' API of the serviceorder engine. Every command is an immutable event.

* Authenticate with `Authorization: Bearer <token>`.
* Commands return the aggregate `version` (also as `ETag`); send `If-Match` to refuse a
  write on a stale version (412). `Idempotency-Key` makes a retried POST return its first result.
* Reads of views accept `wait_for_position` (from a command's response) to read your own writes.
* Errors are RFC 9457 `application/problem+json`.
* `POST /commands/batch` runs many commands in one request, each as its own route runs it.
"""


# Every router of the API, in the order they are matched (the authorization matrix walks them).
ROUTERS = [orders.router, jobs.router, followups.router, engineers.router, returns.router, complaints.router,
           levels.router, customers.router, money.router, audit.router, operations.router, tokens.router,
           batch.router, health.router, demo.router, pages.router]


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="serviceorder", version="0.1.0", description=DESCRIPTION)
    app.state.runtime = runtime
    problems.install(app)
    # The routes are placed on the application's own router rather than through
    # include_router(): FastAPI >= 0.137 keeps included routers as nested nodes that it
    # resolves on every request, which cost ~1.2 ms of CPU per request over our ~110 routes
    # (measured; fastapi/fastapi#16159). Every route still documents the problem responses.
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                route.responses = {**problems.PROBLEM_RESPONSES, **route.responses}
            app.router.routes.append(route)
    app.state.batch = batch.BatchExecutor(app)
    # The last added runs first: request ids, then the size limit (oversized bodies are
    # refused before anything reads them), then hostile text and duplicate keys.
    app.add_middleware(InputGuard, free_text=schemas.free_text_fields())
    app.add_middleware(BodyLimit, max_bytes=runtime.settings.max_request_bytes,
                       drain_bytes=runtime.settings.drain_request_bytes)
    middleware.install(app)
    return app

"""Assembles the FastAPI application: middleware, problem handlers, routers."""

from __future__ import annotations

from fastapi import FastAPI

from commands.api import (audit, complaints, customers, engineers, followups, health, jobs, levels, middleware, money,
                          operations, orders, problems, returns)
from commands.bootstrap import Runtime

DESCRIPTION = """
Operators' API of the serviceorder engine. Every command is an immutable event.

* Authenticate with `Authorization: Bearer <token>`.
* Commands return the aggregate `version` (also as `ETag`); send `If-Match` to refuse a
  write on a stale version (412). `Idempotency-Key` makes a retried POST return its first result.
* Reads of views accept `wait_for_position` (from a command's response) to read your own writes.
* Errors are RFC 9457 `application/problem+json`.
"""


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="serviceorder", version="0.1.0", description=DESCRIPTION)
    app.state.runtime = runtime
    middleware.install(app)
    problems.install(app)
    app.include_router(orders.router)
    app.include_router(jobs.router)
    app.include_router(followups.router)
    app.include_router(engineers.router)
    app.include_router(returns.router)
    app.include_router(complaints.router)
    app.include_router(levels.router)
    app.include_router(customers.router)
    app.include_router(money.router)
    app.include_router(audit.router)
    app.include_router(operations.router)
    app.include_router(health.router)
    return app

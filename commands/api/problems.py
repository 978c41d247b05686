"""RFC 9457 problem details for every error the API returns."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from eventsourcing import persistence
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine.domain import errors
from projections.paging import BadCursor
from projections.queries import ViewNotCaughtUp
from sqlstore.sqldb import UNAVAILABLE

# A store that cannot be reached (down, restarting, lock timeout): the command was not
# written (its events commit in one transaction or not at all), so the client may retry it.
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (persistence.OperationalError, persistence.InterfaceError,
                                                 *UNAVAILABLE)

log = structlog.get_logger(__name__)
MEDIA_TYPE = "application/problem+json"

# Domain error family -> (status, problem type slug). Most specific first.
STATUS: list[tuple[type[errors.DomainError], int, str]] = [
    (errors.StaleVersion, 412, "stale-version"),
    (errors.ConcurrencyConflict, 409, "concurrent-modification"),
    (errors.IdempotencyKeyReused, 422, "idempotency-key-reused"),
    (errors.NotFound, 404, "not-found"),
    (errors.NotPermitted, 403, "forbidden"),
    (errors.RuleViolation, 409, "rule-violation"),
    (errors.InvalidCommand, 422, "invalid-command"),
    (errors.DomainError, 400, "domain-error"),
]


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "urn:serviceorder:problem:<slug>"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": ["string", "null"]},
        "request_id": {"type": ["string", "null"]},
        "rule": {"type": "string", "description": "the named domain rule that refused the command"},
    },
    "additionalProperties": True,
}
# Every operation may answer with these (documented once for all, in the OpenAPI document).
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}}}
    for status, text in ((400, "Malformed request"), (401, "No or unknown bearer token"),
                         (403, "Not permitted for this principal"), (404, "Not found (or not yours to see)"),
                         (409, "A workflow rule or a concurrent write refused the command"),
                         (412, "If-Match names a stale version"), (413, "Request body too large"),
                         (422, "Invalid input"), (503, "A view has not caught up, or a store is unavailable"))
}


class Problem(Exception):
    """Raised by routes and dependencies for errors that are not domain errors (401, 403...)."""

    def __init__(self, status: int, title: str, detail: str, slug: str, headers: dict[str, str] | None = None,
                 **extensions: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.slug = status, title, detail, slug
        self.headers = headers or {}
        self.extensions = extensions


def problem_response(request: Request, status: int, title: str, detail: str, slug: str,
                     headers: dict[str, str] | None = None, **extensions: Any) -> JSONResponse:
    body = {
        "type": f"urn:serviceorder:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **extensions,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


async def send_problem(scope: dict[str, Any], send: Any, status: int, title: str, detail: str, slug: str,
                       headers: dict[str, str] | None = None, **extensions: Any) -> None:
    """Answer with a problem from an ASGI middleware, before any route (and without reading
    anything more of the request)."""
    response = problem_response(Request(scope), status, title, detail, slug, headers, **extensions)

    async def nothing() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(errors.DomainError)
    async def domain_error(request: Request, exc: errors.DomainError) -> JSONResponse:
        for family, status, slug in STATUS:
            if isinstance(exc, family):
                log.info("command_refused", problem=slug, status=status, detail=exc.detail, rule=exc.rule)
                named = {"rule": exc.rule} if exc.rule else {}
                return problem_response(request, status, exc.title, exc.detail, slug, None, **named)
        raise AssertionError("unreachable: DomainError is the last family")

    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(request, exc.status, exc.title, exc.detail, exc.slug, exc.headers, **exc.extensions)

    @app.exception_handler(ViewNotCaughtUp)
    async def not_caught_up(request: Request, exc: ViewNotCaughtUp) -> JSONResponse:
        return problem_response(request, 503, "View not caught up", str(exc), "view-not-caught-up",
                                {"Retry-After": "1"})

    @app.exception_handler(BadCursor)
    async def bad_cursor(request: Request, exc: BadCursor) -> JSONResponse:
        return problem_response(request, 422, "Malformed request", f"cursor: {exc}", "malformed-request")

    async def store_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("store_unavailable", error=type(exc).__name__, detail=str(exc).strip()[:300])
        return problem_response(request, 503, "Store unavailable",
                                "the event store or a view store cannot be reached just now; nothing was written, "
                                "retry later (with the same Idempotency-Key)", "store-unavailable",
                                {"Retry-After": "2"})

    for family in STORE_UNAVAILABLE:
        app.add_exception_handler(family, store_unavailable)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        issues = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{i['location']}: {i['message']}" for i in issues) or "the request is malformed"
        return problem_response(request, 422, "Malformed request", detail, "malformed-request", errors=issues)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(request, exc.status_code, str(exc.detail), str(exc.detail), f"http-{exc.status_code}",
                                dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request_failed")
        return problem_response(request, 500, "Internal error",
                                "the server failed; nothing was written unless a version was returned", "internal")

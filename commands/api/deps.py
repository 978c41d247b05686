"""Request-scoped dependencies: the runtime, the authenticated principal, the command context.

Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in
the thread pool, and each such hop cost more CPU than the dependency itself (measured:
eight hops per command). Only ``authenticate`` (a token lookup in the database) blocks; it
sends just that lookup to the thread pool, and none for a command of a batch, whose
principal the batch request authenticated already (commands/api/batch.py).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from commands.api.problems import Problem
from commands.bootstrap import Runtime
from engine.application.app import ServiceOrderApp
from engine.application.context import CommandContext, Principal
from engine.domain.returns import DEPARTMENTS, approver_role
from projections.queries import Views

_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_orders(runtime: RuntimeDep) -> ServiceOrderApp:
    return runtime.app


async def get_views(runtime: RuntimeDep) -> Views:
    return runtime.views


OrdersDep = Annotated[ServiceOrderApp, Depends(get_orders)]
ViewsDep = Annotated[Views, Depends(get_views)]


# Set in a batch command's scope (never from anything a client sends) to the principal the
# batch request authenticated with its own bearer token.
BATCH_PRINCIPAL = "serviceorder.batch_principal"


async def authenticate(request: Request, runtime: RuntimeDep) -> Principal:
    batch_principal = request.scope.get(BATCH_PRINCIPAL)
    if batch_principal is not None:
        return batch_principal
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="serviceorder"'}
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "Unauthorized", "send 'Authorization: Bearer <token>'", "unauthorized", challenge)
    principal = await run_in_threadpool(runtime.tokens.authenticate, token.strip())
    if principal is None:
        raise Problem(401, "Unauthorized", "the bearer token is not recognised", "unauthorized", challenge)
    request.state.principal = principal
    return principal


def requires(*roles: str):  # noqa: ANN201 - returns a FastAPI dependency
    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if not any(principal.has(role) for role in roles):
            raise Problem(403, "Forbidden", f"{principal.name} lacks the {' or '.join(map(repr, roles))} role",
                          "forbidden")
        return principal

    check.roles = roles  # type: ignore[attr-defined]  # read by the authorization matrix test and docs
    return check


Operator = Annotated[Principal, Depends(requires("operator"))]
FieldReporter = Annotated[Principal, Depends(requires("dispatcher", "engineer"))]
Viewer = Annotated[Principal, Depends(requires("viewer"))]
# Reads open to engineers (their own jobs) and customers (their own orders...), scoped by `scope`.
EngineerReader = Annotated[Principal, Depends(requires("viewer", "engineer"))]
CustomerReader = Annotated[Principal, Depends(requires("viewer", "customer"))]
JobReader = Annotated[Principal, Depends(requires("viewer", "engineer", "customer"))]


def scope(principal: Principal, *, customer_id: str | None = None, engineer: str | None = None) -> None:
    """Back-office readers see everything; a customer only what is theirs, an engineer only
    their own work. Anything else is 404: whether it exists is not theirs to know."""
    if principal.has("viewer"):
        return
    if principal.has("customer") and customer_id is not None and principal.name == customer_id:
        return
    if principal.has("engineer") and engineer is not None and principal.name == engineer:
        return
    raise Problem(404, "Not found", "no such resource", "not-found")


def _context(request: Request, principal: Principal) -> CommandContext:
    state = request.state
    return CommandContext(
        principal=principal,
        request_id=state.request_id,
        correlation_id=state.correlation_id,
        causation_id=request.headers.get("x-causation-id") or state.request_id,
    )


async def command_context(request: Request, principal: Operator) -> CommandContext:
    return _context(request, principal)


def role_context(*roles: str):  # noqa: ANN201 - returns a FastAPI dependency
    """A command context for principals holding any of ``roles``."""
    # The dependency is a default value, not an annotation: annotations here are strings
    # that FastAPI resolves in the module, where ``roles`` does not exist.
    async def build(request: Request, principal: Principal = Depends(requires(*roles))) -> CommandContext:  # noqa: B008
        return _context(request, principal)

    return build


async def field_context(request: Request, principal: FieldReporter) -> CommandContext:
    return _context(request, principal)


ContextDep = Annotated[CommandContext, Depends(command_context)]
DispatchContext = Annotated[CommandContext, Depends(role_context("dispatcher"))]
HotlineContext = Annotated[CommandContext, Depends(role_context("hotline"))]
ComplaintsContext = Annotated[CommandContext, Depends(role_context("complaints"))]
AdminContext = Annotated[CommandContext, Depends(role_context("admin"))]
FinanceContext = Annotated[CommandContext, Depends(role_context("finance"))]
DeskContext = Annotated[CommandContext, Depends(role_context("dispatcher", "hotline"))]
ServiceLevelContext = Annotated[CommandContext, Depends(role_context("dispatcher", "hotline", "complaints"))]
# Any department's approver may call; the engine checks it is *that* department's.
VoteContext = Annotated[CommandContext, Depends(role_context(*sorted(approver_role(d) for d in DEPARTMENTS)))]
FieldContextDep = Annotated[CommandContext, Depends(field_context)]


def acting_as(ctx: CommandContext, engineer: str) -> str:
    """An engineer reports for themselves only; dispatchers may report on anyone's behalf."""
    if not ctx.principal.has("dispatcher") and ctx.principal.name != engineer:
        raise Problem(403, "Forbidden", f"{ctx.principal.name} cannot report for engineer {engineer}", "forbidden")
    return engineer


async def expected_version(if_match: Annotated[str | None, Header()] = None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    m = _ETAG.match(if_match)
    if not m:
        raise Problem(422, "Malformed request", 'If-Match must be an ETag of the form "<version>"',
                      "malformed-request")
    return int(m.group(1))


ExpectedVersion = Annotated[int | None, Depends(expected_version)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]

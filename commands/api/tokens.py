"""API tokens, administered by admins: issue (the token is shown once), list, revoke."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field

from commands.api.deps import RuntimeDep, requires
from commands.api.problems import Problem
from commands.api.routing import OneHopRoute
from commands.api.schemas import Strict
from commands.auth import ROLES
from engine.application.context import Principal

router = APIRouter(route_class=OneHopRoute, tags=["tokens"])
Admin = Annotated[Principal, Depends(requires("admin"))]
TokenId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$", description="the token's id (first 12 hex digits of its digest)")]


class IssueTokenIn(Strict):
    principal: str = Field(min_length=1, max_length=100, pattern=r"^[^\s\x00-\x1f]+$",
                           description="who the token acts as: an engineer's or customer's id, an operator's name")
    roles: list[Literal[ROLES]] = Field(min_length=1, max_length=len(ROLES))  # type: ignore[valid-type]
    expires_in_days: int | None = Field(default=None, ge=1, le=3650,
                                        description="default: SERVICEORDER_TOKEN_TTL_DAYS")
    label: str | None = Field(default=None, max_length=200, description="what the token is for, e.g. a device")


@router.post("/tokens", status_code=201)
def issue(body: IssueTokenIn, admin: Admin, runtime: RuntimeDep, response: Response) -> dict:
    """A new token. The response is the only place the token itself ever appears."""
    days = body.expires_in_days or runtime.settings.token_ttl_days
    try:
        issued = runtime.tokens.issue(body.principal, body.roles, ttl=timedelta(days=days), created_by=admin.name,
                                      label=body.label)
    except ValueError as exc:
        raise Problem(422, "Invalid token request", str(exc), "invalid-command") from None
    response.headers["Cache-Control"] = "no-store"
    return {"token": issued.token, **issued.record}


@router.get("/me")
def me(principal: Annotated[Principal, Depends(requires(*ROLES))]) -> dict:
    """Who this token acts as, its roles, and every role they grant (``grants``: the console
    shows the boards of these; the tracking page and the console start here)."""
    return {"principal": principal.name, "roles": sorted(principal.roles),
            "grants": sorted(r for r in ROLES if principal.has(r))}


@router.post("/customers/{customer_id}/tracking-link", status_code=201)
def tracking_link(customer_id: Annotated[str, Path(min_length=1, max_length=100)],
                  desk: Annotated[Principal, Depends(requires("dispatcher", "hotline"))], runtime: RuntimeDep,
                  response: Response) -> dict:
    """A link the customer follows their orders, visits, returns and claims with, no login:
    a ``customer`` token for that customer only, in the link's fragment (never sent to a server)."""
    try:
        issued = runtime.tokens.issue(customer_id, ["customer"], created_by=desk.name, label="tracking link",
                                      ttl=timedelta(days=runtime.settings.token_ttl_days))
    except ValueError as exc:
        raise Problem(422, "Invalid customer id", str(exc), "invalid-command") from None
    response.headers["Cache-Control"] = "no-store"
    return {"url": f"/track#t={issued.token}", "token_id": issued.record["token_id"],
            "expires_at": issued.record["expires_at"]}


@router.get("/tokens")
def list_tokens(_: Admin, runtime: RuntimeDep,
                principal: Annotated[str | None, Query(min_length=1, max_length=100)] = None) -> dict:
    """Every token's id, principal, roles, expiry and revocation; never the token or its digest."""
    return {"tokens": runtime.tokens.list(principal)}


@router.delete("/tokens/{token_id}")
def revoke(token_id: TokenId, admin: Admin, runtime: RuntimeDep) -> dict:
    """Revoke at once: the next request with that token is 401."""
    record = runtime.tokens.get(token_id)
    if record is None:
        raise Problem(404, "Not found", f"no token {token_id}", "not-found")
    if not runtime.tokens.revoke(token_id, by=admin.name):
        raise Problem(409, "Already revoked", f"token {token_id} was revoked at {record['revoked_at']}",
                      "rule-violation")
    return runtime.tokens.get(token_id) or {}

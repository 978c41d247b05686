"""Customers: registration, search, the customer file, the timeline of everything that
happened for a customer (paged either way), and what the customer has, newest activity first."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query, Response

from commands.api.deps import (AdminContext, CustomerReader, DeskContext, ExpectedVersion, IdempotencyKey, OrdersDep,
                               RuntimeDep, ViewsDep, Viewer, role_context, scope)
from commands.api.problems import Problem
from commands.api.results import command_reply
from commands.api.reads import MAX_POSITION, Before, Language, WaitFor, WaitTimeout, wait_for_view
from commands.api.routing import OneHopRoute
from commands.api.schemas import LanguageIn, ReasonIn, RegisterCustomerIn, ResultOut, TimelineOut, UpdateCustomerIn
from engine.application.context import CommandContext

router = APIRouter(route_class=OneHopRoute, prefix="/customers", tags=["customers"])
CustomerId = Annotated[str, Path(min_length=1, max_length=100)]
# What the tracking page shows a card for.
FOLLOWED = ("orders", "jobs", "returns", "complaints", "claims")


@router.post("", status_code=201, response_model=ResultOut)
def register(body: RegisterCustomerIn, ctx: DeskContext, app: OrdersDep, response: Response,
             idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = app.register_customer(ctx, customer_id=body.customer_id, name=body.name, phone=body.phone,
                                   address=body.address, idempotency_key=idempotency_key)
    # Customer ids are free text (often Chinese): percent-encode them for the header.
    return command_reply(response, result, f"/customers/{quote(body.customer_id, safe='')}/file")


@router.patch("/{customer_id}", response_model=ResultOut)
def update(customer_id: CustomerId, body: UpdateCustomerIn, ctx: DeskContext, app: OrdersDep, response: Response,
           expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.update_customer(ctx, customer_id, name=body.name, phone=body.phone,
                                                       address=body.address, expected_version=expected,
                                                       idempotency_key=idempotency_key))


# The desk records a customer's language on the phone; the customer picks it on /track.
LanguageContext = Annotated[CommandContext, Depends(role_context("dispatcher", "hotline", "customer"))]


@router.put("/{customer_id}/language", response_model=ResultOut)
def prefer_language(customer_id: CustomerId, body: LanguageIn, ctx: LanguageContext, app: OrdersDep,
                    response: Response, expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Record the language the customer reads: summaries are written in it for readers whose
    Accept-Language names none we have (docs/api.md, Languages). A customer records their own."""
    if not ctx.principal.has("dispatcher") and not ctx.principal.has("hotline"):
        scope(ctx.principal, customer_id=customer_id)
    return command_reply(response, app.prefer_customer_language(ctx, customer_id, body.language,
                                                                expected_version=expected,
                                                                idempotency_key=idempotency_key))


@router.post("/{customer_id}/erasure", response_model=ResultOut)
def erase(customer_id: CustomerId, body: ReasonIn, ctx: AdminContext, app: OrdersDep, response: Response) -> ResultOut:
    """Erase the customer's personal data (name, phone, addresses, site locations) on request:
    their keys are destroyed, the history and its hash chains stay (docs/security.md)."""
    return command_reply(response, app.erase_personal_data(ctx.because(body.reason), customer_id))


@router.get("")
def search(_: Viewer, views: ViewsDep, q: Annotated[str, Query(max_length=200, description="words of a name, "
                                                                "phone or address")] = "",
           limit: Annotated[int, Query(ge=1, le=200)] = 50) -> dict:
    return {"query": q, "customers": views.search_customers(q, limit)}


@router.get("/{customer_id}/file")
def customer_file(customer_id: CustomerId, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep,
                  language: Language,
                  history_limit: Annotated[int, Query(ge=1, le=1000)] = 100, history_before: Before = None,
                  wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Contact details, products bought, installers and consumables, with the service history
    newest first: ``history_next_before`` pages back (as ``history_before``) to the first event."""
    scope(reader, customer_id=customer_id)
    wait_for_view(runtime, "customer_file", wait_for_position, wait_timeout,
                  lambda writer: runtime.app.customer_of(writer) == customer_id, f"customer {customer_id}")
    found = views.customer_file(customer_id)
    if found is None:
        raise Problem(404, "Not found", f"no file for customer {customer_id}", "not-found")
    history = views.timeline(customer_id, limit=history_limit, before=history_before, newest_first=True,
                             language=language.language(found.get("language")))
    return {**found, "history": history,
            "history_next_before": history[-1]["position"] if len(history) == history_limit else None}


@router.get("/{customer_id}/timeline", response_model=TimelineOut)
def timeline(
    customer_id: CustomerId,
    reader: CustomerReader,
    views: ViewsDep,
    runtime: RuntimeDep,
    language: Language,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="only entries after this position (paging)")] = 0,
    before: Before = None,
    order: Literal["oldest_first", "newest_first"] = "oldest_first",
    wait_for_position: WaitFor = None,
    wait_timeout: WaitTimeout = 5.0,
) -> TimelineOut:
    """Oldest first from ``after`` (``next_after`` pages on), or ``order=newest_first`` back
    from ``before`` (``next_before`` pages back) through any length of history."""
    scope(reader, customer_id=customer_id)
    wait_for_view(runtime, "customer_timeline", wait_for_position, wait_timeout,
                  lambda writer: runtime.app.customer_of(writer) == customer_id, f"customer {customer_id}")
    newest_first = order == "newest_first"
    if newest_first and after:
        raise Problem(422, "Malformed request", "newest_first pages back with 'before', not 'after'",
                      "malformed-request")
    entries = views.timeline(customer_id, limit=limit, after=after, before=before, newest_first=newest_first,
                             language=language.language(views.customer_language(customer_id)))
    full = len(entries) == limit
    return TimelineOut(
        customer_id=customer_id,
        entries=entries,
        next_after=entries[-1]["position"] if full and not newest_first else None,
        next_before=entries[-1]["position"] if full and newest_first else None,
    )


@router.get("/{customer_id}/subjects")
def subjects(customer_id: CustomerId, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep,
             limit: Annotated[int, Query(ge=1, le=200)] = 50, before: Before = None,
             wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The customer's orders, jobs, returns, complaints and claims, the most recently active
    first (``last_position``); ``next_before`` pages back."""
    scope(reader, customer_id=customer_id)
    wait_for_view(runtime, "customer_timeline", wait_for_position, wait_timeout,
                  lambda writer: runtime.app.customer_of(writer) == customer_id, f"customer {customer_id}")
    found = views.subjects(customer_id, FOLLOWED, limit=limit, before=before)
    return {"customer_id": customer_id, "subjects": found,
            "next_before": found[-1]["last_position"] if len(found) == limit else None}

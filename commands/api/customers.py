"""Customer views: the timeline of everything that happened for a customer."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response

from commands.api.deps import (AdminContext, CustomerReader, DeskContext, ExpectedVersion, IdempotencyKey, OrdersDep, RuntimeDep,
                               ViewsDep, Viewer, scope)
from commands.api.problems import Problem
from commands.api.results import command_reply
from commands.api.reads import MAX_POSITION, Language, WaitFor, WaitTimeout, wait_for_view
from commands.api.routing import OneHopRoute
from commands.api.schemas import LanguageIn, ReasonIn, RegisterCustomerIn, ResultOut, TimelineOut, UpdateCustomerIn

router = APIRouter(route_class=OneHopRoute, prefix="/customers", tags=["customers"])
CustomerId = Annotated[str, Path(min_length=1, max_length=100)]


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


@router.put("/{customer_id}/language", response_model=ResultOut)
def prefer_language(customer_id: CustomerId, body: LanguageIn, ctx: DeskContext, app: OrdersDep, response: Response,
                    expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Record the language the customer reads: summaries are written in it for readers whose
    Accept-Language names none we have (docs/api.md, Languages)."""
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
                  language: Language, wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Contact details, products bought, installers and consumables, with the service history."""
    scope(reader, customer_id=customer_id)
    wait_for_view(runtime, "customer_file", wait_for_position, wait_timeout,
                  lambda writer: runtime.app.customer_of(writer) == customer_id, f"customer {customer_id}")
    found = views.customer_file(customer_id)
    if found is None:
        raise Problem(404, "Not found", f"no file for customer {customer_id}", "not-found")
    return {**found, "history": views.timeline(
        customer_id, limit=1000, language=language.language(found.get("language")))}


@router.get("/{customer_id}/timeline", response_model=TimelineOut)
def timeline(
    customer_id: CustomerId,
    reader: CustomerReader,
    views: ViewsDep,
    runtime: RuntimeDep,
    language: Language,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[int, Query(ge=0, le=MAX_POSITION, description="only entries after this position (paging)")] = 0,
    wait_for_position: WaitFor = None,
    wait_timeout: WaitTimeout = 5.0,
) -> TimelineOut:
    scope(reader, customer_id=customer_id)
    wait_for_view(runtime, "customer_timeline", wait_for_position, wait_timeout,
                  lambda writer: runtime.app.customer_of(writer) == customer_id, f"customer {customer_id}")
    entries = views.timeline(customer_id, limit=limit, after=after,
                             language=language.language(views.customer_language(customer_id)))
    return TimelineOut(
        customer_id=customer_id,
        entries=entries,
        next_after=entries[-1]["position"] if len(entries) == limit else None,
    )

"""Order commands and queries."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from commands.api.deps import (CustomerReader, DispatchContext, ExpectedVersion, IdempotencyKey, OrdersDep, RuntimeDep,
                               Viewer, ViewsDep, scope)
from commands.api.problems import Problem
from commands.api.reads import Before, Language, Limit, PageCursor, WaitFor, WaitTimeout, read_one, wait_for_view
from commands.api.results import command_reply
from commands.api.routing import OneHopRoute
from commands.api.schemas import CancelIn, DeliveryStepIn, IncidentIn, PlaceOrderIn, ResolveIncidentIn, ResultOut
from engine.application.unit_of_work import CommandResult

router = APIRouter(route_class=OneHopRoute, prefix="/orders", tags=["orders"])


def _reply(response: Response, result: CommandResult) -> ResultOut:
    # The one reply of every command; order_id repeats id for clients written before it.
    return command_reply(response, result, order_id=str(result.aggregate_id))


@router.post("", status_code=201, response_model=ResultOut, response_model_exclude_none=True)
def place_order(body: PlaceOrderIn, ctx: DispatchContext, orders: OrdersDep, response: Response,
                idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = orders.place_order(
        ctx,
        customer_id=body.customer_id,
        items=[i.model_dump() for i in body.items],
        tier=body.tier,
        delivery_address=body.delivery_address,
        site_location=body.site_location.model_dump() if body.site_location else None,
        idempotency_key=idempotency_key,
    )
    response.headers["Location"] = f"/orders/{result.aggregate_id}"
    return _reply(response, result)


@router.post("/{order_id}/delivery-steps", response_model=ResultOut, response_model_exclude_none=True)
def record_delivery_step(order_id: UUID, body: DeliveryStepIn, ctx: DispatchContext, orders: OrdersDep,
                         response: Response, expected: ExpectedVersion,
                         idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = orders.record_delivery_step(
        ctx, order_id, body.step, driver=body.driver,
        position=body.position.model_dump() if body.position else None, note=body.note,
        expected_version=expected, idempotency_key=idempotency_key,
    )
    return _reply(response, result)


@router.post("/{order_id}/incidents", status_code=201, response_model=ResultOut, response_model_exclude_none=True)
def report_incident(order_id: UUID, body: IncidentIn, ctx: DispatchContext, orders: OrdersDep, response: Response,
                    expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = orders.report_incident(ctx, order_id, kind=body.kind, description=body.description,
                                    expected_version=expected, idempotency_key=idempotency_key)
    return _reply(response, result)


@router.post("/{order_id}/incidents/{incident_id}/resolve", response_model=ResultOut,
             response_model_exclude_none=True)
def resolve_incident(order_id: UUID, incident_id: str, body: ResolveIncidentIn, ctx: DispatchContext, orders: OrdersDep,
                     response: Response, expected: ExpectedVersion,
                     idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = orders.resolve_incident(ctx.because(body.reason), order_id, incident_id, resolution=body.resolution,
                                     note=body.note, expected_version=expected, idempotency_key=idempotency_key)
    return _reply(response, result)


@router.post("/{order_id}/cancel", response_model=ResultOut, response_model_exclude_none=True)
def cancel_order(order_id: UUID, body: CancelIn, ctx: DispatchContext, orders: OrdersDep, response: Response,
                 expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = orders.cancel_order(ctx.because(body.reason), order_id, expected_version=expected,
                                 idempotency_key=idempotency_key)
    return _reply(response, result)


# "open": every order not yet delivered or cancelled (the dispatcher's deliveries).
DELIVERY_STATES = {"open": ("placed", "in_delivery", "incident_open"), "placed": ("placed",),
                   "in_delivery": ("in_delivery",), "incident_open": ("incident_open",),
                   "delivered": ("delivered",), "cancelled": ("cancelled",)}


@router.get("")
def deliveries(_: Viewer, views: ViewsDep, runtime: RuntimeDep,
               status: Literal["open", "placed", "in_delivery", "incident_open", "delivered", "cancelled"] = "open",
               limit: Limit = 50, cursor: PageCursor = None, wait_for_position: WaitFor = None,
               wait_timeout: WaitTimeout = 5.0) -> dict:
    """Orders by delivery state, the longest unchanged first, each with its current step and
    the ``version`` to send as ``If-Match`` with the next step."""
    wait_for_view(runtime, "order_tracking", wait_for_position, wait_timeout, lambda w: True, "an order")
    return {"status": status, **views.deliveries(DELIVERY_STATES[status], limit=limit, cursor=cursor)}


@router.get("/{order_id}")
def get_order(order_id: UUID, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep, response: Response,
              wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The order and its delivery, from the tracking view: pass a command's ``position`` as
    ``wait_for_position`` to read that write (docs/api.md, read-your-writes)."""
    order = read_one(runtime, response, "order_tracking", order_id, f"order {order_id}", wait_for_position,
                     wait_timeout, lambda: views.order(str(order_id)))
    scope(reader, customer_id=order["customer_id"])
    return order


@router.get("/{order_id}/tracking")
def get_tracking(order_id: UUID, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep, response: Response,
                 language: Language,
                 history_limit: Annotated[int, Query(ge=1, le=1000)] = 100, history_before: Before = None,
                 wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Where the delivery stands, and its history newest first: ``history_next_before`` pages
    back (as ``history_before``, a version) to the order's first event."""
    wait_for_view(runtime, "order_tracking", wait_for_position, wait_timeout, lambda writer: writer == order_id,
                  f"order {order_id}")
    customer = views.customer_of_order(str(order_id))
    scope(reader, customer_id=customer)
    tracking = None if customer is None else views.tracking(
        str(order_id), language.language(views.customer_language(customer)), history_limit=history_limit,
        history_before=history_before)
    if tracking is None:
        raise Problem(404, "Not found", f"no tracking for order {order_id} (unknown, or not projected yet)",
                      "not-found")
    response.headers["ETag"] = f'"{tracking["version"]}"'
    return tracking

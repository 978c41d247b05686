"""Order commands and queries."""

from __future__ import annotations

from typing import Annotated, Callable
from uuid import UUID

from fastapi import APIRouter, Query, Response

from commands.api.deps import ContextDep, ExpectedVersion, IdempotencyKey, OrdersDep, RuntimeDep, ViewsDep, Viewer
from commands.api.problems import Problem
from commands.api.schemas import CancelIn, CommandOut, DeliveryStepIn, IncidentIn, PlaceOrderIn, ResolveIncidentIn
from commands.bootstrap import Runtime
from engine.application import CommandResult

router = APIRouter(prefix="/orders", tags=["orders"])
MAX_POSITION = 2**63 - 1  # BIGINT: larger numbers cannot be positions and must not reach SQL
WaitFor = Annotated[int | None, Query(ge=1, le=MAX_POSITION,
                                      description="block until the view has applied this store position")]
WaitTimeout = Annotated[float, Query(gt=0, le=60, description="seconds to wait for wait_for_position")]


def wait_for_view(runtime: Runtime, view: str, reached: Callable[[], int], position: int | None,
                  timeout: float, concerns: Callable[[UUID], bool], subject: str) -> None:
    """Read-your-writes: wait until the view holds the write at ``position``.

    The position must be one the store issued for this view's subject; anything else could
    never be reached and is refused at once instead of timing out.
    """
    if position is None:
        return
    writer = runtime.app.writer_at(position)
    if writer is None or not concerns(writer):
        raise Problem(422, "Malformed request",
                      f"store position {position} is not a write to {subject}", "malformed-request")
    runtime.views.wait_for(view, reached, position, min(timeout, runtime.settings.read_wait_max_seconds))


def _reply(response: Response, result: CommandResult) -> CommandOut:
    response.headers["ETag"] = f'"{result.version}"'
    if result.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return CommandOut(
        order_id=str(result.aggregate_id),
        version=result.version,
        position=result.position,
        replayed=result.replayed,
        incident_id=result.extra.get("incident_id"),
    )


@router.post("", status_code=201, response_model=CommandOut, response_model_exclude_none=True)
def place_order(body: PlaceOrderIn, ctx: ContextDep, orders: OrdersDep, response: Response,
                idempotency_key: IdempotencyKey = None) -> CommandOut:
    result = orders.place_order(
        ctx,
        customer_id=body.customer_id,
        items=[i.model_dump() for i in body.items],
        tier=body.tier,
        delivery_address=body.delivery_address,
        idempotency_key=idempotency_key,
    )
    response.headers["Location"] = f"/orders/{result.aggregate_id}"
    return _reply(response, result)


@router.post("/{order_id}/delivery-steps", response_model=CommandOut, response_model_exclude_none=True)
def record_delivery_step(order_id: UUID, body: DeliveryStepIn, ctx: ContextDep, orders: OrdersDep,
                         response: Response, expected: ExpectedVersion,
                         idempotency_key: IdempotencyKey = None) -> CommandOut:
    result = orders.record_delivery_step(
        ctx, order_id, body.step, driver=body.driver,
        position=body.position.model_dump() if body.position else None, note=body.note,
        expected_version=expected, idempotency_key=idempotency_key,
    )
    return _reply(response, result)


@router.post("/{order_id}/incidents", status_code=201, response_model=CommandOut, response_model_exclude_none=True)
def report_incident(order_id: UUID, body: IncidentIn, ctx: ContextDep, orders: OrdersDep, response: Response,
                    expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> CommandOut:
    result = orders.report_incident(ctx, order_id, kind=body.kind, description=body.description,
                                    expected_version=expected, idempotency_key=idempotency_key)
    return _reply(response, result)


@router.post("/{order_id}/incidents/{incident_id}/resolve", response_model=CommandOut,
             response_model_exclude_none=True)
def resolve_incident(order_id: UUID, incident_id: str, body: ResolveIncidentIn, ctx: ContextDep, orders: OrdersDep,
                     response: Response, expected: ExpectedVersion,
                     idempotency_key: IdempotencyKey = None) -> CommandOut:
    result = orders.resolve_incident(ctx.because(body.reason), order_id, incident_id, resolution=body.resolution,
                                     note=body.note, expected_version=expected, idempotency_key=idempotency_key)
    return _reply(response, result)


@router.post("/{order_id}/cancel", response_model=CommandOut, response_model_exclude_none=True)
def cancel_order(order_id: UUID, body: CancelIn, ctx: ContextDep, orders: OrdersDep, response: Response,
                 expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> CommandOut:
    result = orders.cancel_order(ctx.because(body.reason), order_id, expected_version=expected,
                                 idempotency_key=idempotency_key)
    return _reply(response, result)


@router.get("/{order_id}")
def get_order(order_id: UUID, _: Viewer, orders: OrdersDep, response: Response) -> dict:
    state = orders.get_order(order_id)
    response.headers["ETag"] = f'"{state["version"]}"'
    return state


@router.get("/{order_id}/tracking")
def get_tracking(order_id: UUID, _: Viewer, views: ViewsDep, runtime: RuntimeDep, response: Response,
                 wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    wait_for_view(runtime, "order tracking", lambda: views.tracking_position(str(order_id)), wait_for_position,
                  wait_timeout, lambda writer: writer == order_id, f"order {order_id}")
    tracking = views.tracking(str(order_id))
    if tracking is None:
        raise Problem(404, "Not found", f"no tracking for order {order_id} (unknown, or not projected yet)",
                      "not-found")
    response.headers["ETag"] = f'"{tracking["version"]}"'
    return tracking

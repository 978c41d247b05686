"""Returns and exchanges: request, parallel department votes, logistics, refund or exchange."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response

from commands.api.deps import (CustomerReader, DeskContext, DispatchContext, ExpectedVersion, FinanceContext,
                               IdempotencyKey, OrdersDep, RuntimeDep, VoteContext, ViewsDep, Viewer, scope)
from commands.api.reads import Limit, PageCursor, WaitFor, WaitTimeout, read_one, wait_for_view
from commands.api.results import command_reply
from commands.api.routing import OneHopRoute
from commands.api.schemas import (ExchangeIn, InspectionIn, PartStepIn, PickupIn, RefundIn, RequestReturnIn,
                                  ResultOut, VoteIn)

router = APIRouter(route_class=OneHopRoute, prefix="/returns", tags=["returns"])
Department = Literal["sales", "technical", "finance", "logistics"]


@router.post("", status_code=201, response_model=ResultOut)
def request_return(body: RequestReturnIn, ctx: DeskContext, app: OrdersDep, response: Response,
                   idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = app.request_return(ctx, customer_id=body.customer_id, order_id=str(body.order_id),
                                resolution=body.resolution, reason=body.reason,
                                items=[i.model_dump() for i in body.items], idempotency_key=idempotency_key)
    return command_reply(response, result, f"/returns/{result.aggregate_id}")


@router.post("/{return_id}/votes/{department}", response_model=ResultOut)
def vote(return_id: UUID, department: Department, body: VoteIn, ctx: VoteContext, app: OrdersDep,
         response: Response, expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    """A department's vote; only a principal with the ``approver:<department>`` role may cast it."""
    return command_reply(response, app.vote_on_return(ctx.because(body.reason), return_id, department,
                                                      approve=body.approve, expected_version=expected,
                                                      idempotency_key=idempotency_key))


@router.post("/{return_id}/pickup", response_model=ResultOut)
def schedule_pickup(return_id: UUID, body: PickupIn, ctx: DispatchContext, app: OrdersDep, response: Response,
                    expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.schedule_return_pickup(ctx, return_id, body.pickup_at,
                                                              expected_version=expected,
                                                              idempotency_key=idempotency_key))


@router.post("/{return_id}/received", response_model=ResultOut)
def receive(return_id: UUID, ctx: DispatchContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
            idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.receive_returned_goods(ctx, return_id, expected_version=expected,
                                                              idempotency_key=idempotency_key))


@router.post("/{return_id}/inspection", response_model=ResultOut)
def inspect(return_id: UUID, body: InspectionIn, ctx: DispatchContext, app: OrdersDep, response: Response,
            expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.inspect_return(ctx, return_id, faulty_parts=body.faulty_parts,
                                                      notes=body.notes, expected_version=expected,
                                                      idempotency_key=idempotency_key))


@router.post("/{return_id}/refund", response_model=ResultOut)
def refund(return_id: UUID, body: RefundIn, ctx: FinanceContext, app: OrdersDep, response: Response,
           expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.issue_return_refund(ctx, return_id, amount=body.amount,
                                                           expected_version=expected,
                                                           idempotency_key=idempotency_key))


@router.post("/{return_id}/exchange", response_model=ResultOut)
def exchange(return_id: UUID, body: ExchangeIn, ctx: DispatchContext, app: OrdersDep, response: Response,
             expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.ship_return_exchange(ctx, return_id, shipment=body.shipment,
                                                            expected_version=expected,
                                                            idempotency_key=idempotency_key))


@router.post("/{return_id}/parts/{part}", response_model=ResultOut)
def track_part(return_id: UUID, part: Annotated[str, Path(min_length=1, max_length=100)], body: PartStepIn,
               ctx: DispatchContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
               idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Reverse logistics of a faulty part: collected, inspected, then repaired or scrapped."""
    return command_reply(response, app.track_returned_part(ctx, return_id, part, body.step,
                                                           expected_version=expected,
                                                           idempotency_key=idempotency_key))


@router.post("/{return_id}/close", response_model=ResultOut)
def close(return_id: UUID, ctx: DispatchContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
          idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.close_return(ctx, return_id, expected_version=expected,
                                                    idempotency_key=idempotency_key))


@router.get("/{return_id}")
def get_return(return_id: UUID, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep, response: Response,
               wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The request, its votes and goods, from the returns board (``wait_for_position``: docs/api.md)."""
    found = read_one(runtime, response, "returns_board", return_id, f"return {return_id}", wait_for_position,
                     wait_timeout, lambda: views.return_request(str(return_id)))
    scope(reader, customer_id=found["customer_id"])
    return found


@router.get("")
def open_returns(_: Viewer, views: ViewsDep, runtime: RuntimeDep,
                 pending: Annotated[Department | None, Query(description="only those waiting for this "
                                                                         "department's vote")] = None,
                 limit: Limit = 50, cursor: PageCursor = None, wait_for_position: WaitFor = None,
                 wait_timeout: WaitTimeout = 5.0) -> dict:
    """Open returns, the oldest request first, with the departments still to vote and the
    ``version`` to send as ``If-Match``."""
    wait_for_view(runtime, "returns_board", wait_for_position, wait_timeout, lambda w: True, "a return")
    return {"pending": pending, **views.open_returns(pending, limit=limit, cursor=cursor)}

"""Service-level clocks (SLA board) and the hotline (calls, call-backs, answer rate)."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Response

from commands.api.deps import (ExpectedVersion, HotlineContext, IdempotencyKey, OrdersDep, RuntimeDep,
                               ServiceLevelContext, ViewsDep, Viewer)
from commands.api.problems import Problem
from commands.api.reads import Limit, PageCursor, WaitFor, WaitTimeout, read_one, wait_for_view
from commands.api.results import command_reply
from commands.api.routing import OneHopRoute
from commands.api.schemas import CallBackIn, CallIn, ReasonIn, ResultOut, StartSlaIn

router = APIRouter(route_class=OneHopRoute, tags=["service levels and hotline"])


@router.post("/slas", status_code=201, response_model=ResultOut)
def start(body: StartSlaIn, ctx: ServiceLevelContext, app: OrdersDep, response: Response,
          idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Start an item's resolution clock on its tier's business calendar (VIP 1 working day, SVIP 4 h)."""
    try:
        order = UUID(body.order_id) if body.order_id else None
    except ValueError:
        raise Problem(422, "Malformed request", "order_id must be a UUID", "malformed-request") from None
    result = app.start_sla(ctx, subject_id=body.subject_id, subject_kind=body.subject_kind,
                           customer_id=body.customer_id, tier=body.tier, order_id=order,
                           idempotency_key=idempotency_key)
    return command_reply(response, result, f"/slas/{result.aggregate_id}")


@router.post("/slas/{sla_id}/pause", response_model=ResultOut)
def pause(sla_id: UUID, body: ReasonIn, ctx: ServiceLevelContext, app: OrdersDep, response: Response,
          expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.pause_sla(ctx.because(body.reason), sla_id, expected_version=expected,
                                                 idempotency_key=idempotency_key))


@router.post("/slas/{sla_id}/resume", response_model=ResultOut)
def resume(sla_id: UUID, ctx: ServiceLevelContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
           idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.resume_sla(ctx, sla_id, expected_version=expected,
                                                  idempotency_key=idempotency_key))


@router.post("/slas/{sla_id}/complete", response_model=ResultOut)
def complete(sla_id: UUID, ctx: ServiceLevelContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
             idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.complete_sla(ctx, sla_id, expected_version=expected,
                                                    idempotency_key=idempotency_key))


@router.get("/slas/{sla_id}")
def get_sla(sla_id: UUID, _: Viewer, views: ViewsDep, runtime: RuntimeDep, response: Response,
            wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The SLA clock from the SLA board, its time used and left at the server's clock
    (``wait_for_position``: docs/api.md)."""
    return read_one(runtime, response, "sla_board", sla_id, f"SLA {sla_id}", wait_for_position, wait_timeout,
                    lambda: views.sla(str(sla_id), runtime.app.clock.now()))


@router.get("/slas")
def sla_board(_: Viewer, views: ViewsDep, runtime: RuntimeDep,
              state: Literal["open", "running", "paused", "warned", "breached"] = "open", limit: Limit = 50,
              cursor: PageCursor = None, wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Open items, the soonest deadline first: time left in business time at ``now``, warnings
    (``warned``: warned, not yet breached) and breaches, each with its ``version``."""
    wait_for_view(runtime, "sla_board", wait_for_position, wait_timeout, lambda w: True, "an SLA")
    now = runtime.app.clock.now()
    return {"now": now.isoformat(), "state": state, **views.sla_board(now, state, limit=limit, cursor=cursor)}


@router.post("/calls", status_code=201, response_model=ResultOut)
def record_call(body: CallIn, ctx: HotlineContext, app: OrdersDep, response: Response,
                idempotency_key: IdempotencyKey = None) -> ResultOut:
    """A hotline call, answered or missed; a missed call gets a call-back due within 2 hours."""
    return command_reply(response, app.record_call(ctx, phone=body.phone, answered=body.answered, at=body.at,
                                                   customer_id=body.customer_id, agent=body.agent,
                                                   idempotency_key=idempotency_key))


@router.post("/calls/{call_id}/call-back", response_model=ResultOut)
def call_back(call_id: UUID, body: CallBackIn, ctx: HotlineContext, app: OrdersDep, response: Response,
              expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.call_back(ctx, call_id, reached=body.reached, expected_version=expected,
                                                 idempotency_key=idempotency_key))


@router.get("/hotline")
def hotline(_: Viewer, views: ViewsDep) -> dict:
    """Answer rate per day (target 85%) and the call-backs still to make (the first 200)."""
    return views.hotline()


@router.get("/hotline/call-backs")
def call_backs(_: Viewer, views: ViewsDep, runtime: RuntimeDep, limit: Limit = 50, cursor: PageCursor = None,
               wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Missed calls still to call back, the soonest due first, each with its ``version``."""
    wait_for_view(runtime, "sla_board", wait_for_position, wait_timeout, lambda w: True, "a call")
    return {"now": runtime.app.clock.now().isoformat(), **views.call_backs(limit=limit, cursor=cursor)}

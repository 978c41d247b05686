"""Follow-up calls after completed jobs, and consumable replacement reminders."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from commands.api.deps import (ExpectedVersion, HotlineContext, IdempotencyKey, OrdersDep, RuntimeDep, Viewer,
                               ViewsDep)
from commands.api.reads import WaitFor, WaitTimeout, read_one
from commands.api.results import command_reply
from commands.api.routing import OneHopRoute
from commands.api.schemas import AcceptReminderIn, DeclineReminderIn, FollowUpIn, ResultOut

router = APIRouter(route_class=OneHopRoute, tags=["follow-ups and reminders"])


@router.post("/follow-ups/{follow_up_id}/record", response_model=ResultOut)
def record_follow_up(follow_up_id: UUID, body: FollowUpIn, ctx: HotlineContext, app: OrdersDep, response: Response,
                     expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.record_follow_up(
        ctx, follow_up_id, fixed=body.fixed, conduct=body.conduct, satisfaction=body.satisfaction,
        arrival_time=body.arrival_time, comments=body.comments, customer_paid=body.customer_paid,
        expected_version=expected,
        idempotency_key=idempotency_key))


@router.get("/follow-ups/{follow_up_id}")
def get_follow_up(follow_up_id: UUID, _: Viewer, views: ViewsDep, runtime: RuntimeDep, response: Response,
                  wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The follow-up call, from the follow-ups view (``wait_for_position``: docs/api.md)."""
    return read_one(runtime, response, "follow_ups", follow_up_id, f"follow-up {follow_up_id}", wait_for_position,
                    wait_timeout, lambda: views.follow_up(str(follow_up_id)))


@router.post("/reminders/{reminder_id}/accept", status_code=201, response_model=ResultOut)
def accept_reminder(reminder_id: UUID, body: AcceptReminderIn, ctx: HotlineContext, app: OrdersDep, response: Response,
                    expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    """The customer wants the replacement: a consumable replacement job is opened (``job_id``)."""
    return command_reply(response, app.accept_reminder(ctx, reminder_id, consumables=body.consumables, fee=body.fee,
                                                       expected_version=expected, idempotency_key=idempotency_key))


@router.post("/reminders/{reminder_id}/decline", response_model=ResultOut)
def decline_reminder(reminder_id: UUID, body: DeclineReminderIn, ctx: HotlineContext, app: OrdersDep,
                     response: Response, expected: ExpectedVersion,
                     idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.decline_reminder(ctx.because(body.reason), reminder_id,
                                                        repeat_after_days=body.repeat_after_days,
                                                        expected_version=expected, idempotency_key=idempotency_key))


@router.get("/reminders/{reminder_id}")
def get_reminder(reminder_id: UUID, _: Viewer, views: ViewsDep, runtime: RuntimeDep, response: Response,
                 wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The reminder and each consumable's due date, from the follow-ups view (``wait_for_position``: docs/api.md)."""
    return read_one(runtime, response, "follow_ups", reminder_id, f"reminder {reminder_id}", wait_for_position,
                    wait_timeout, lambda: views.reminder(str(reminder_id)))

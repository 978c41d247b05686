"""Field jobs: opening, routing, dispatch, appointments, visits, outcomes and payment."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from commands.api.deps import (DispatchContext, ExpectedVersion, FieldContextDep, IdempotencyKey, JobReader, OrdersDep,
                               RuntimeDep, Viewer, ViewsDep, acting_as, scope)
from commands.api.reads import Limit, PageCursor, WaitFor, WaitTimeout, read_one, wait_for_view
from commands.api.results import command_reply
from commands.api.routing import OneHopRoute
from commands.api.schemas import (CheckInIn, CheckOutIn, CompleteIn, DeclineIn, DispatchIn, EngineerIn, OpenJobIn,
                                  OpenRepairIn, PaymentIn, PositionIn, ReasonIn, RescheduleIn, ResultOut, WindowIn)

router = APIRouter(route_class=OneHopRoute, prefix="/jobs", tags=["jobs"])
Out: dict[str, Any] = {"response_model": ResultOut}
# "waiting": jobs no engineer holds, never dispatched or declined (the dispatcher's queue).
JOB_STATES = {"waiting": ("open", "declined"), "dispatched": ("dispatched",), "accepted": ("accepted",),
              "completed": ("completed",), "self_installed": ("self_installed",),
              "cancelled_at_door": ("cancelled_at_door",)}
JobState = Literal["waiting", "dispatched", "accepted", "completed", "self_installed", "cancelled_at_door"]


@router.get("")
def job_queue(_: Viewer, views: ViewsDep, runtime: RuntimeDep, status: JobState = "waiting",
              engineer: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
              kind: Annotated[str | None, Query(min_length=1, max_length=40)] = None, limit: Limit = 50,
              cursor: PageCursor = None, wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The dispatch board: jobs in a state (by default those waiting for an engineer), the
    longest unchanged first, each with the ``version`` to send as ``If-Match``."""
    wait_for_view(runtime, "engineer_agenda", wait_for_position, wait_timeout,
                  lambda w: runtime.app.aggregate_type(w) == "FieldJob", "a job")
    return {"status": status, "now": runtime.app.clock.now().isoformat(),
            **views.job_queue(statuses=JOB_STATES[status], engineer=engineer, kind=kind, limit=limit, cursor=cursor)}


@router.post("", status_code=201, **Out)
def open_job(body: OpenJobIn, ctx: DispatchContext, app: OrdersDep, response: Response,
             idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = app.open_job(ctx, kind=body.kind, customer_id=body.customer_id, product=body.product.model_dump(),
                          site_address=body.site_address,
                          site_location=body.site_location.model_dump() if body.site_location else None,
                          fee=body.fee, consumables=body.consumables, idempotency_key=idempotency_key)
    return command_reply(response, result, f"/jobs/{result.aggregate_id}")


@router.post("/{job_id}/repairs", status_code=201, **Out)
def open_repair(job_id: UUID, body: OpenRepairIn, ctx: DispatchContext, app: OrdersDep, response: Response,
                idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Open a repair on the product installed by job ``job_id``, routed to its installer by default."""
    result = app.open_repair(ctx, job_id, fee=body.fee, engineer=body.engineer,
                             original_unavailable=body.original_unavailable, idempotency_key=idempotency_key)
    return command_reply(response, result, f"/jobs/{result.aggregate_id}")


@router.post("/{job_id}/dispatch", **Out)
def dispatch(job_id: UUID, body: DispatchIn, ctx: DispatchContext, app: OrdersDep, response: Response,
             expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.dispatch_job(ctx, job_id, body.engineer, note=body.note,
                                                    expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/accept", **Out)
def accept(job_id: UUID, body: EngineerIn, ctx: FieldContextDep, app: OrdersDep, response: Response,
           expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.accept_job(ctx, job_id, acting_as(ctx, body.engineer),
                                                  expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/decline", **Out)
def decline(job_id: UUID, body: DeclineIn, ctx: FieldContextDep, app: OrdersDep, response: Response,
            expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    """The engineer gives the job back, or a dispatcher does for them: before accepting it, or
    after until its appointment window begins (then 409 ``hand-back-before-window``). The
    appointment stays agreed; the job waits in the queue with it, to be dispatched again."""
    return command_reply(response, app.decline_job(ctx.because(body.reason), job_id, acting_as(ctx, body.engineer),
                                                   expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/appointment", **Out)
def agree_appointment(job_id: UUID, body: WindowIn, ctx: DispatchContext, app: OrdersDep, response: Response,
                      expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.agree_appointment(ctx, job_id, body.start, body.end,
                                                         expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/appointment/reschedule", **Out)
def reschedule(job_id: UUID, body: RescheduleIn, ctx: DispatchContext, app: OrdersDep, response: Response,
               expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.reschedule_appointment(
        ctx.because(body.reason), job_id, body.start, body.end, initiator=body.initiator,
        expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/site-location", **Out)
def set_site_location(job_id: UUID, body: PositionIn, ctx: DispatchContext, app: OrdersDep, response: Response,
                      expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.set_site_location(ctx, job_id, body.model_dump(), expected_version=expected,
                                                         idempotency_key=idempotency_key))


@router.post("/{job_id}/check-ins", **Out)
def check_in(job_id: UUID, body: CheckInIn, ctx: FieldContextDep, app: OrdersDep, response: Response,
             expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.check_in(
        ctx, job_id, acting_as(ctx, body.engineer), location={"lat": body.lat, "lng": body.lng},
        accuracy_m=body.accuracy_m, at=body.at, expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/check-outs", **Out)
def check_out(job_id: UUID, body: CheckOutIn, ctx: FieldContextDep, app: OrdersDep, response: Response,
              expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.check_out(ctx, job_id, acting_as(ctx, body.engineer), at=body.at,
                                                 expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/complete", **Out)
def complete(job_id: UUID, body: CompleteIn, ctx: FieldContextDep, app: OrdersDep, response: Response,
             expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    if not ctx.principal.has("operator"):
        acting_as(ctx, app.get_job(job_id)["engineer"] or "")
    return command_reply(response, app.complete_job(
        ctx, job_id, fault_cause=body.fault_cause, fixed=body.fixed, consumables_replaced=body.consumables_replaced,
        notes=body.notes, expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/self-installation", **Out)
def self_installation(job_id: UUID, body: ReasonIn, ctx: DispatchContext, app: OrdersDep, response: Response,
                      expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.install_by_customer(ctx.because(body.reason), job_id,
                                                           expected_version=expected, idempotency_key=idempotency_key))


@router.post("/{job_id}/cancel-at-door", **Out)
def cancel_at_door(job_id: UUID, body: ReasonIn, ctx: FieldContextDep, app: OrdersDep, response: Response,
                   expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.cancel_at_door(ctx.because(body.reason), job_id, expected_version=expected,
                                                      idempotency_key=idempotency_key))


@router.post("/{job_id}/payments", **Out)
def record_payment(job_id: UUID, body: PaymentIn, ctx: FieldContextDep, app: OrdersDep, response: Response,
                   expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.record_payment(
        ctx.because(body.reason), job_id, collected=body.collected, amount=body.amount, method=body.method,
        expected_version=expected, idempotency_key=idempotency_key))


@router.get("/{job_id}")
def get_job(job_id: UUID, reader: JobReader, views: ViewsDep, runtime: RuntimeDep, response: Response,
            wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The job, its window, visits and outcome, from the engineer agenda view
    (``wait_for_position``: docs/api.md). A customer reads their own jobs; an engineer the
    jobs dispatched to them."""
    job = read_one(runtime, response, "engineer_agenda", job_id, f"job {job_id}", wait_for_position, wait_timeout,
                   lambda: views.job(str(job_id)))
    scope(reader, customer_id=job["customer_id"], engineer=job["engineer"])
    return job


@router.get("/{job_id}/visits")
def visits(job_id: UUID, reader: JobReader, views: ViewsDep, runtime: RuntimeDep, wait_for_position: WaitFor = None,
           wait_timeout: WaitTimeout = 5.0) -> dict:
    """Where, when and how long engineers were on site, and which check-ins verify a visit."""
    wait_for_view(runtime, "visit_log", wait_for_position, wait_timeout, lambda w: w == job_id, f"job {job_id}")
    if not reader.has("viewer"):
        # A customer reads their own jobs; an engineer the jobs dispatched to them (the agenda's row).
        job = views.job(str(job_id))
        scope(reader, customer_id=job["customer_id"] if job else None, engineer=job["engineer"] if job else None)
    return {"job_id": str(job_id), "visits": views.visits(str(job_id))}

"""Complaints and compensation claims, and the history auditors replay."""

from __future__ import annotations

from typing import Annotated, Any, Callable
from uuid import UUID

from fastapi import APIRouter, Query, Response

from commands.api.deps import (ComplaintsContext, CustomerReader, ExpectedVersion, FinanceContext, IdempotencyKey,
                               OrdersDep, RuntimeDep, ViewsDep, Viewer, scope)
from commands.api.problems import Problem
from commands.api.reads import Limit, PageCursor, WaitFor, WaitTimeout, read_one, wait_for_view
from commands.api.results import command_reply
from commands.api.routing import OneHopRoute
from commands.api.schemas import (ClaimPaymentIn, FactIn, FileComplaintIn, FindingsIn, LiabilityIn, OpenClaimIn,
                                  ProposalIn, ReasonIn, ResolutionIn, ResultOut, RevisionIn)
from engine.application.unit_of_work import CommandResult

router = APIRouter(route_class=OneHopRoute, tags=["complaints and claims"])


def _reply(response: Response, run: Callable[..., CommandResult], *args: Any, expected: int | None,
           key: str | None, **kwargs: Any) -> ResultOut:
    return command_reply(response, run(*args, expected_version=expected, idempotency_key=key, **kwargs))


@router.post("/complaints", status_code=201, response_model=ResultOut)
def file_complaint(body: FileComplaintIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
                   idempotency_key: IdempotencyKey = None) -> ResultOut:
    result = app.file_complaint(ctx, customer_id=body.customer_id, category=body.category,
                                description=body.description, order_id=body.order_id, job_id=body.job_id,
                                idempotency_key=idempotency_key)
    return command_reply(response, result, f"/complaints/{result.aggregate_id}")


@router.post("/complaints/{complaint_id}/acknowledge", response_model=ResultOut)
def acknowledge(complaint_id: UUID, ctx: ComplaintsContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
                idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.acknowledge_complaint, ctx, complaint_id, expected=expected, key=idempotency_key)


@router.post("/complaints/{complaint_id}/investigation", response_model=ResultOut)
def investigate(complaint_id: UUID, body: FindingsIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
                expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.investigate_complaint, ctx, complaint_id, findings=body.findings, expected=expected,
                  key=idempotency_key)


@router.post("/complaints/{complaint_id}/resolve", response_model=ResultOut)
def resolve(complaint_id: UUID, body: ResolutionIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
            expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.resolve_complaint, ctx, complaint_id, resolution=body.resolution, expected=expected,
                  key=idempotency_key)


@router.post("/complaints/{complaint_id}/close", response_model=ResultOut)
def close_complaint(complaint_id: UUID, ctx: ComplaintsContext, app: OrdersDep, response: Response,
                    expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.close_complaint, ctx, complaint_id, expected=expected, key=idempotency_key)


@router.post("/complaints/{complaint_id}/reopen", response_model=ResultOut)
def reopen_complaint(complaint_id: UUID, body: ReasonIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
                     expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.reopen_complaint, ctx.because(body.reason), complaint_id, expected=expected,
                  key=idempotency_key)


@router.get("/complaints/{complaint_id}")
def get_complaint(complaint_id: UUID, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep,
                  response: Response, wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The complaint and its claims, from the complaints board (``wait_for_position``: docs/api.md)."""
    found = read_one(runtime, response, "complaints_board", complaint_id, f"complaint {complaint_id}",
                     wait_for_position, wait_timeout, lambda: views.complaint(str(complaint_id)))
    scope(reader, customer_id=found["customer_id"])
    return found


@router.get("/complaints")
def complaints_board(_: Viewer, views: ViewsDep, runtime: RuntimeDep,
                     category: Annotated[str | None, Query(max_length=40)] = None,
                     status: Annotated[str | None, Query(max_length=40)] = None,
                     open_only: Annotated[bool, Query(description="only complaints not closed")] = False,
                     limit: Limit = 50, cursor: PageCursor = None,
                     wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Complaints by category and state (counts), and a page of those matching the filters
    (the oldest first), each with the ``version`` to send as ``If-Match``."""
    wait_for_view(runtime, "complaints_board", wait_for_position, wait_timeout, lambda w: True, "a complaint")
    return views.complaints(category, status, open_only=open_only, limit=limit, cursor=cursor)


@router.post("/complaints/{complaint_id}/claims", status_code=201, response_model=ResultOut)
def open_claim(complaint_id: UUID, body: OpenClaimIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
               idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Open a compensation claim; a proposal is due within 48 hours (``proposal_due_at``)."""
    result = app.open_claim(ctx, complaint_id, damage=body.damage, idempotency_key=idempotency_key)
    return command_reply(response, result, f"/claims/{result.aggregate_id}")


@router.post("/claims/{claim_id}/facts", response_model=ResultOut)
def record_fact(claim_id: UUID, body: FactIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
                expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.record_claim_fact, ctx, claim_id, fact=body.fact, evidence=body.evidence,
                  expected=expected, key=idempotency_key)


@router.post("/claims/{claim_id}/liability", response_model=ResultOut)
def liability(claim_id: UUID, body: LiabilityIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
              expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.determine_liability, ctx.because(body.reason), claim_id, party=body.party,
                  facts=body.facts, expected=expected, key=idempotency_key)


@router.post("/claims/{claim_id}/proposal", response_model=ResultOut)
def propose(claim_id: UUID, body: ProposalIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
            expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.propose_compensation, ctx, claim_id, amount=body.amount, facts=body.facts,
                  expected=expected, key=idempotency_key)


@router.post("/claims/{claim_id}/dispute", response_model=ResultOut)
def dispute(claim_id: UUID, body: ReasonIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
            expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.dispute_compensation, ctx.because(body.reason), claim_id, expected=expected,
                  key=idempotency_key)


@router.post("/claims/{claim_id}/revision", response_model=ResultOut)
def revise(claim_id: UUID, body: RevisionIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
           expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.revise_compensation, ctx.because(body.reason), claim_id, amount=body.amount,
                  facts=body.facts, expected=expected, key=idempotency_key)


@router.post("/claims/{claim_id}/accept", response_model=ResultOut)
def accept(claim_id: UUID, ctx: ComplaintsContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
           idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.accept_compensation, ctx, claim_id, expected=expected, key=idempotency_key)


@router.post("/claims/{claim_id}/payment", response_model=ResultOut)
def pay(claim_id: UUID, body: ClaimPaymentIn, ctx: FinanceContext, app: OrdersDep, response: Response,
        expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.pay_compensation, ctx, claim_id, amount=body.amount, reference=body.reference,
                  expected=expected, key=idempotency_key)


@router.post("/claims/{claim_id}/close", response_model=ResultOut)
def close_claim(claim_id: UUID, ctx: ComplaintsContext, app: OrdersDep, response: Response, expected: ExpectedVersion,
                idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.close_claim, ctx, claim_id, expected=expected, key=idempotency_key)


@router.post("/claims/{claim_id}/reopen", response_model=ResultOut)
def reopen_claim(claim_id: UUID, body: ReasonIn, ctx: ComplaintsContext, app: OrdersDep, response: Response,
                 expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return _reply(response, app.reopen_claim, ctx.because(body.reason), claim_id, expected=expected,
                  key=idempotency_key)


@router.get("/claims/{claim_id}")
def get_claim(claim_id: UUID, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep, response: Response,
              wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """The claim, its facts, amounts and deadline, from the complaints board (``wait_for_position``: docs/api.md)."""
    found = read_one(runtime, response, "complaints_board", claim_id, f"claim {claim_id}", wait_for_position,
                     wait_timeout, lambda: views.claim(str(claim_id)))
    scope(reader, customer_id=found["customer_id"])
    return found


@router.get("/claims/{claim_id}/history")
def claim_history(claim_id: UUID, _: Viewer, app: OrdersDep) -> dict:
    """Every event of the claim from the event store: who decided what, when, why, on which facts
    (an audit read: the store by design, docs/architecture.md)."""
    if app.aggregate_type(claim_id) != "CompensationClaim":
        raise Problem(404, "Not found", f"no claim {claim_id}", "not-found")
    return {"claim_id": str(claim_id), "events": app.history(claim_id)}


@router.get("/claims")
def claims_board(_: Viewer, views: ViewsDep, runtime: RuntimeDep, open_only: bool = True,
                 overdue: Annotated[bool | None, Query(description="only those past (true) or within (false) "
                                                                    "their proposal deadline")] = None,
                 limit: Limit = 50, cursor: PageCursor = None, wait_for_position: WaitFor = None,
                 wait_timeout: WaitTimeout = 5.0) -> dict:
    """Claims with their 48-hour proposal deadlines (the soonest first), escalations and
    amounts; ``now`` is the server's clock, which the deadlines count down against."""
    wait_for_view(runtime, "complaints_board", wait_for_position, wait_timeout, lambda w: True, "a claim")
    return {"now": runtime.app.clock.now().isoformat(),
            **views.claims(open_only, overdue=overdue, limit=limit, cursor=cursor)}


@router.get("/compensation/monthly")
def compensation_monthly(_: Viewer, views: ViewsDep) -> dict:
    return {"months": views.compensation_by_month()}

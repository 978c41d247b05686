"""Settlement, payments and quality figures (workflows 8 and 9) over HTTP.

Finance settles engineers, records deductions, takes payments and pays refunds; an engineer
reads only their own ledger and statements; operators reopen work and resolve disputed
charges; anyone who may view reads customer accounts and the quality figures.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Response

from commands.api.deps import (CustomerReader, FinanceContext, IdempotencyKey, OrdersDep, RuntimeDep,
                               ViewsDep, Viewer, expected_version, requires, role_context, scope)
from commands.api.problems import Problem
from commands.api.reads import Limit, PageCursor, WaitFor, WaitTimeout, wait_for_view
from commands.api.results import command_reply
from commands.api.routing import OneHopRoute
from commands.api.schemas import (CustomerPaymentIn, CustomerRefundIn, DeductionIn, ReasonIn, ResolveChargesIn,
                                  ResultOut, SettlementIn, StatementPaidIn)
from engine.application.context import CommandContext, Principal

router = APIRouter(route_class=OneHopRoute, tags=["settlement and payments"])
Engineer = Annotated[str, Path(min_length=1, max_length=100)]
PeriodPath = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
Out: dict[str, Any] = {"response_model": ResultOut}


# Ledgers and statements: finance and auditors read all; an engineer only their own (own_ledger).
LedgerReader = Annotated[Principal, Depends(requires("finance", "auditor", "engineer"))]
MoneyContext = Annotated[CommandContext, Depends(role_context("dispatcher", "finance"))]
PaymentContext = Annotated[CommandContext, Depends(role_context("finance", "dispatcher", "hotline", "engineer"))]
ExpectedVersion = Annotated[int | None, Depends(expected_version)]


def own_ledger(engineer: str, principal: Principal) -> None:
    """Finance and auditors read every ledger; an engineer reads only their own."""
    if principal.has("finance") or principal.has("auditor"):
        return
    if principal.has("engineer") and principal.name == engineer:
        return
    raise Problem(403, "Forbidden", f"{principal.name} may not read {engineer}'s ledger", "forbidden")


# Work and charges --------------------------------------------------------------------------

@router.post("/jobs/{job_id}/reopen", **Out)
def reopen_job(job_id: UUID, body: ReasonIn, ctx: MoneyContext, app: OrdersDep, response: Response,
               expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Completed work found not done: the engineer goes back and the fee is reversed."""
    return command_reply(response, app.reopen_job(ctx.because(body.reason), job_id, expected_version=expected,
                                                  idempotency_key=idempotency_key))


@router.post("/jobs/{job_id}/charges", **Out)
def resolve_charges(job_id: UUID, body: ResolveChargesIn, ctx: MoneyContext, app: OrdersDep, response: Response,
                    expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Settle what was charged (a disputed or unasked follow-up): the job's fee becomes payable."""
    return command_reply(response, app.resolve_charges(ctx.because(body.reason), job_id, agreed=body.agreed,
                                                       expected_version=expected, idempotency_key=idempotency_key))


# Settlement ------------------------------------------------------------------------------------

@router.post("/engineers/{engineer}/deductions", status_code=201, **Out)
def apply_deduction(engineer: Engineer, body: DeductionIn, ctx: FinanceContext, app: OrdersDep, response: Response,
                    idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.apply_deduction(ctx.because(body.reason), engineer, rule=body.rule,
                                                       amount=body.amount, evidence=body.evidence, job_id=body.job_id,
                                                       idempotency_key=idempotency_key))


@router.post("/settlements", status_code=201, **Out)
def run_settlement(body: SettlementIn, ctx: FinanceContext, app: OrdersDep, response: Response,
                   idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Issue every engineer's statement for a finished month, in one write."""
    return command_reply(response, app.run_settlement(ctx, body.period, idempotency_key=idempotency_key),
                         f"/settlements/{body.period}")


@router.get("/settlements/{period}")
def get_settlement(period: PeriodPath, _: Annotated[Principal, Depends(requires("finance", "auditor"))], views: ViewsDep,
                   runtime: RuntimeDep, wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    wait_for_view(runtime, "engineer_ledger", wait_for_position, wait_timeout,
                  lambda w: runtime.app.aggregate_type(w) == "SettlementRun", "a settlement run")
    run = views.settlement_run(period)
    if run is None:
        raise Problem(404, "Not found", f"{period} has not been settled", "not-found")
    return run


@router.get("/settlements/{period}/statements")
def period_statements(period: PeriodPath, _: Annotated[Principal, Depends(requires("finance", "auditor"))],
                      views: ViewsDep, runtime: RuntimeDep,
                      status: Annotated[Literal["issued", "paid"] | None, Query()] = None, limit: Limit = 50,
                      cursor: PageCursor = None, wait_for_position: WaitFor = None,
                      wait_timeout: WaitTimeout = 5.0) -> dict:
    """The period's statements by engineer (finance pays them from this list), each with the
    engineer account's ``version`` to send as ``If-Match`` when paying."""
    wait_for_view(runtime, "engineer_ledger", wait_for_position, wait_timeout, lambda w: True, "an account")
    return views.period_statements(period, status, limit=limit, cursor=cursor)


@router.get("/engineers/balances")
def balances(_: Annotated[Principal, Depends(requires("finance", "auditor"))], views: ViewsDep, runtime: RuntimeDep,
             limit: Limit = 50, cursor: PageCursor = None, wait_for_position: WaitFor = None,
             wait_timeout: WaitTimeout = 5.0) -> dict:
    """Every engineer's account by engineer: money pending, payable, held, settled, paid, owed."""
    wait_for_view(runtime, "engineer_ledger", wait_for_position, wait_timeout, lambda w: True, "an account")
    return views.balances(limit=limit, cursor=cursor)


@router.post("/engineers/{engineer}/statements/{period}/pay", **Out)
def pay_statement(engineer: Engineer, period: PeriodPath, body: StatementPaidIn, ctx: FinanceContext, app: OrdersDep,
                  response: Response, expected: ExpectedVersion, idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.pay_statement(ctx, engineer, period, reference=body.reference,
                                                     expected_version=expected, idempotency_key=idempotency_key))


def _wait_for_account(runtime: Any, engineer: str, position: int | None, timeout: float) -> None:
    def concerns(written: UUID) -> bool:
        kind = runtime.app.aggregate_type(written)
        return kind == "SettlementRun" or (kind == "EngineerAccount" and
                                           runtime.app.origin(written).get("engineer") == engineer)

    wait_for_view(runtime, "engineer_ledger", position, timeout, concerns, f"{engineer}'s account")


@router.get("/engineers/{engineer}/ledger")
def ledger(engineer: Engineer, principal: LedgerReader, views: ViewsDep, runtime: RuntimeDep,
           period: Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                               description="only the lines settled in this period")] = None,
           wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """Every line of the engineer's account with the event that caused it, and the totals."""
    own_ledger(engineer, principal)
    _wait_for_account(runtime, engineer, wait_for_position, wait_timeout)
    found = views.ledger(engineer, period)
    if found is None:
        raise Problem(404, "Not found", f"engineer {engineer} has no account", "not-found")
    return found


@router.get("/engineers/{engineer}/statements")
def statements(engineer: Engineer, principal: LedgerReader, views: ViewsDep, runtime: RuntimeDep,
               wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    own_ledger(engineer, principal)
    _wait_for_account(runtime, engineer, wait_for_position, wait_timeout)
    return {"engineer": engineer, "statements": views.statements(engineer)}


@router.get("/engineers/{engineer}/statements/{period}")
def statement(engineer: Engineer, period: PeriodPath, principal: LedgerReader, views: ViewsDep,
              runtime: RuntimeDep, wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    """One statement with exactly the lines it settled, each tracing back to its job and event."""
    own_ledger(engineer, principal)
    _wait_for_account(runtime, engineer, wait_for_position, wait_timeout)
    found = views.statements(engineer, period)
    if not found:
        raise Problem(404, "Not found", f"{engineer} has no statement for {period}", "not-found")
    ledger_view = views.ledger(engineer, period) or {"lines": []}
    return {**found[0], "lines": ledger_view["lines"]}


# Customer money ------------------------------------------------------------------------------

@router.post("/payments", status_code=201, **Out)
def receive_payment(body: CustomerPaymentIn, ctx: PaymentContext, app: OrdersDep, response: Response,
                    idempotency_key: IdempotencyKey = None) -> ResultOut:
    """Money received from a customer, on site (an engineer, as themselves) or afterwards."""
    collected_by = body.collected_by
    if not any(ctx.principal.has(r) for r in ("finance", "dispatcher", "hotline")):
        if not body.on_site or collected_by not in (None, ctx.principal.name):
            raise Problem(403, "Forbidden", "an engineer records only payments they took on site themselves",
                          "forbidden")
        collected_by = ctx.principal.name
    result = app.receive_payment(ctx, customer_id=body.customer_id, amount=body.amount, method=body.method,
                                 order_id=body.order_id, job_id=body.job_id, on_site=body.on_site,
                                 collected_by=collected_by, idempotency_key=idempotency_key)
    return command_reply(response, result)


@router.post("/refunds", status_code=201, **Out)
def pay_refund(body: CustomerRefundIn, ctx: FinanceContext, app: OrdersDep, response: Response,
               idempotency_key: IdempotencyKey = None) -> ResultOut:
    return command_reply(response, app.pay_refund(ctx.because(body.reason), customer_id=body.customer_id,
                                                  amount=body.amount, method=body.method, order_id=body.order_id,
                                                  job_id=body.job_id, engineer_at_fault=body.engineer_at_fault,
                                                  idempotency_key=idempotency_key))


MONEY_WRITERS = {"ServiceOrder", "FieldJob", "FollowUp", "Payment", "Refund", "ReturnRequest", "CompensationClaim",
                 "Complaint"}


@router.get("/customers/{customer_id}/account")
def customer_account(customer_id: Annotated[str, Path(min_length=1, max_length=100)], reader: CustomerReader,
                     views: ViewsDep, runtime: RuntimeDep, wait_for_position: WaitFor = None,
                     wait_timeout: WaitTimeout = 5.0) -> dict:
    """Charged, received, refunded and outstanding, per order, with the unresolved service issues."""
    scope(reader, customer_id=customer_id)
    wait_for_view(runtime, "customer_accounts", wait_for_position, wait_timeout,
                  lambda w: runtime.app.customer_of(w) == customer_id, f"customer {customer_id}")
    return views.customer_account(customer_id)


@router.get("/orders/{order_id}/account")
def order_account(order_id: UUID, reader: CustomerReader, views: ViewsDep, runtime: RuntimeDep,
                  wait_for_position: WaitFor = None, wait_timeout: WaitTimeout = 5.0) -> dict:
    scope(reader, customer_id=runtime.app.customer_of(order_id))
    wait_for_view(runtime, "customer_accounts", wait_for_position, wait_timeout,
                  lambda w: runtime.app.aggregate_type(w) in MONEY_WRITERS, f"order {order_id}")
    return views.order_account(str(order_id))


@router.get("/figures/quality")
def quality_figures(_: Viewer, views: ViewsDep, runtime: RuntimeDep,
                    since: Annotated[str | None, Query(max_length=40, description="ISO time, inclusive")] = None,
                    until: Annotated[str | None, Query(max_length=40, description="ISO time, exclusive")] = None,
                    repair_window_days: Annotated[int | None, Query(ge=1, le=3650)] = None) -> dict:
    """First-install repair rate per installer, first-time-fix and repeat-visit rates, SLA attainment
    and mean time to resolve per tier, complaints per category, compensation per month, CSAT."""
    window = repair_window_days or runtime.settings.first_install_repair_days
    return views.quality_figures(since=_iso(since, "since"), until=_iso(until, "until"), repair_window_days=window)


def _iso(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(422, "Malformed request", f"{name} must be an ISO 8601 time", "malformed-request") from None
    if moment.tzinfo is None:
        raise Problem(422, "Malformed request", f"{name} needs a UTC offset", "malformed-request")
    return moment

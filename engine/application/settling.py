"""Engineer settlement and customer payments (workflows 8 and 9): a mixin of ServiceOrderApp.

Money follows the work in the same atomic write as the work's own events: completing a
job earns its fee, a follow-up that confirms the work and the charges makes it payable, a
reopened or refunded job reverses it, and a repair caused by the installer's own work
deducts from the installer by rule. A settlement run is one write: the run's event and
every engineer's statement for the period.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate

from engine.domain.accounts import EngineerAccount, EngineerDirectory, SettlementRun, account_id, cause
from engine.application.context import CommandContext
from engine.domain.errors import InvalidCommand, NotFound, RuleViolation
from engine.domain.followups import FollowUp
from engine.domain.jobs import FieldJob
from engine.domain.payments import Payment, Refund
from engine.application.service import CommandResult, Effects
from engine.domain.values import text

if TYPE_CHECKING:
    from engine.application.service import ServiceBase

    _Base = ServiceBase
else:
    _Base = object


def period_bounds(period: str, zone: str) -> tuple[datetime, datetime]:
    """A settlement period is a calendar month (``2026-11``) in the business time zone."""
    try:
        year, month = (int(p) for p in period.split("-"))
        if len(period) != 7 or not 1 <= month <= 12 or not 2000 <= year <= 9999:
            raise ValueError
    except ValueError:
        raise InvalidCommand(f"a period is a month written YYYY-MM, not {period!r}") from None
    tz = ZoneInfo(zone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start, end


def _account_not_found(engineer: str) -> NotFound:
    return NotFound(f"engineer {engineer} has no account")


class Settlement(_Base):
    currency: str = "CNY"
    settlement_time_zone: str = "Asia/Shanghai"
    # The recorded holdback rule: a share of each period's fees kept back until the next
    # settlement, never from an engineer with fewer jobs in the period than min_jobs.
    holdback_rule: dict[str, Any] = {"rule": "quality_holdback", "percent": "10", "min_jobs": 10}

    # Money following the work (called inside the job commands) ------------------------------

    def _account(self, engineer: str, ctx: CommandContext, touched: list[Aggregate]) -> EngineerAccount:
        """The engineer's account, opened (and listed in the directory) on first use."""
        for aggregate in touched:
            if isinstance(aggregate, EngineerAccount) and aggregate.engineer == engineer:
                return aggregate
        account = self._find(EngineerAccount, account_id(engineer))
        if account is None:
            account = EngineerAccount(engineer=engineer, currency=self.currency, meta=ctx.meta())
            directory = self._find(EngineerDirectory, EngineerDirectory.create_id()) or EngineerDirectory()
            directory.enlist(engineer)
            touched.append(directory)
        touched.append(account)
        return account

    def _earn_fee(self, job: FieldJob, ctx: CommandContext, touched: list[Aggregate]) -> None:
        assert job.engineer is not None
        now, meta = self.clock.now(), ctx.meta()
        self._account(job.engineer, ctx, touched).earn(job_id=str(job.id), job_kind=job.kind, amount=job.fee,
                                                       cause=cause(job, "JobCompleted"), at=now, meta=meta)
        if job.kind == "repair" and job.fault_cause == "installation_error" and job.related_id:
            installation = self._load_as(FieldJob, UUID(job.related_id))
            if installation.engineer:
                self._account(installation.engineer, ctx, touched).deduct(
                    rule="installation_error_repair", amount=job.fee if job.fee != "0.00" else installation.fee,
                    job_id=str(job.id), cause=cause(job, "JobCompleted"), at=now, meta=meta,
                    evidence={"repair_job_id": str(job.id), "installation_job_id": str(installation.id),
                              "fault_cause": job.fault_cause, "repaired_by": job.engineer})

    def _reverse_fees(self, job: FieldJob, event_type: str, ctx: CommandContext, touched: list[Aggregate]) -> int:
        """Reverse what the job put on any account: its engineer's fee and deductions it caused."""
        engineers = {job.engineer} if job.engineer else set()
        if job.kind == "repair" and job.related_id:
            installation = self._find(FieldJob, UUID(job.related_id))
            if installation is not None and installation.engineer:
                engineers.add(installation.engineer)
        reversed_lines = 0
        for engineer in sorted(engineers):
            account = self._find(EngineerAccount, account_id(engineer))
            if account is None:
                continue
            n = account.reverse(job_id=str(job.id), cause=cause(job, event_type), at=self.clock.now(),
                                meta=ctx.meta())
            if n:
                touched.append(account)
                reversed_lines += n
        return reversed_lines

    def _confirm_fee(self, job: FieldJob, ctx: CommandContext, touched: list[Aggregate]) -> None:
        if job.engineer:
            self._account(job.engineer, ctx, touched).confirm(job_id=str(job.id), cause=cause(job, "JobConfirmed"),
                                                              at=self.clock.now(), meta=ctx.meta())

    def _check_after_follow_up(self, follow_up: FollowUp, fixed: bool, customer_paid: Any | None,
                               ctx: CommandContext) -> tuple[dict[str, Any], list[Aggregate]]:
        """A follow-up that finds the work done and the charges agreed makes the fee payable."""
        job = self._find(FieldJob, UUID(follow_up.job_id))
        if job is None or job.status != "completed" or job.confirmed or customer_paid is None or not fixed:
            return {"confirmed": False}, []
        if job.completions != follow_up.completion:
            return {"confirmed": False}, []
        touched: list[Aggregate] = [job]
        confirmed = job.confirm(follow_up_id=str(follow_up.id), customer_paid=customer_paid, meta=ctx.meta())
        if confirmed:
            self._confirm_fee(job, ctx, touched)
        return {"confirmed": confirmed, "charges_disputed": job.charges_disputed}, touched

    # Job commands about money ---------------------------------------------------------------

    def reopen_job(self, ctx: CommandContext, job_id: UUID, *, expected_version: int | None = None,
                   idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            job.reopen(meta=ctx.meta())
            touched: list[Aggregate] = []
            reversed_lines = self._reverse_fees(job, "JobReopened", ctx, touched)
            return Effects(job, {"reversed_lines": reversed_lines}, touched)

        return self._change(ctx, "reopen_job", FieldJob, job_id, expected_version, idempotency_key,
                            {"reason": ctx.reason}, change, lambda i: NotFound(f"job {i} does not exist"))

    def resolve_charges(self, ctx: CommandContext, job_id: UUID, *, agreed: Any, expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            job.resolve_charges(agreed=agreed, meta=ctx.meta())
            touched: list[Aggregate] = []
            self._confirm_fee(job, ctx, touched)
            return Effects(job, {"confirmed": True}, touched)

        return self._change(ctx, "resolve_charges", FieldJob, job_id, expected_version, idempotency_key,
                            {"agreed": str(agreed), "reason": ctx.reason}, change,
                            lambda i: NotFound(f"job {i} does not exist"))

    # Deductions and settlement ------------------------------------------------------------------

    def apply_deduction(self, ctx: CommandContext, engineer: str, *, rule: str, amount: Any,
                        evidence: Mapping[str, Any], job_id: UUID | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        """A deduction by a named rule, decided by finance, with its evidence and reason."""
        def act() -> Effects:
            if not ctx.reason:
                raise InvalidCommand("a deduction records the reason it applies")
            account = self._load_as(EngineerAccount, account_id(engineer), not_found=lambda _: _account_not_found(engineer))
            source: Aggregate = account
            if job_id is not None:
                job = self._load_as(FieldJob, job_id, not_found=lambda i: NotFound(f"job {i} does not exist"))
                source = job
            applied = account.deduct(rule=rule, amount=amount, job_id=None if job_id is None else str(job_id),
                                     evidence=dict(evidence), cause=cause(source, "DeductionDecided"),
                                     at=self.clock.now(), meta=ctx.meta())
            if not applied:
                raise RuleViolation(f"the {rule} deduction already applies to job {job_id}")
            return Effects(account, {"line": len(account.lines)})

        return self._command(ctx, "apply_deduction", {"engineer": engineer, "rule": rule, "amount": str(amount),
                                                      "evidence": dict(evidence), "job": str(job_id),
                                                      "reason": ctx.reason}, idempotency_key, act)

    def run_settlement(self, ctx: CommandContext, period: str, *, idempotency_key: str | None = None) -> CommandResult:
        """Issue every engineer's statement for a finished period, in one write."""
        def act() -> Effects:
            start, end = period_bounds(period, self.settlement_time_zone)
            now = self.clock.now()
            if now < end:
                raise RuleViolation(f"the {period} period ends at {end.isoformat()}: settle it after that")
            if self._find(SettlementRun, SettlementRun.create_id(period)) is not None:
                raise RuleViolation(f"{period} is already settled: corrections go into a later period")
            directory = self._find(EngineerDirectory, EngineerDirectory.create_id())
            accounts = [self._load_as(EngineerAccount, account_id(e)) for e in (directory.engineers if directory else [])]
            statements = []
            for account in accounts:
                s = account.issue_statement(period=period, period_end=end,
                                            jobs_in_period=account.jobs_completed_between(start, end),
                                            holdback=self.holdback_rule, run_id=period, at=now, meta=ctx.meta())
                statements.append({"engineer": account.engineer, "statement_id": s["statement_id"],
                                   "lines": len(s["lines"]), "total": s["total"], "holdback": s["holdback"]})
            run = SettlementRun(period=period, period_start=start, period_end=end, statements=statements,
                                holdback_rule=dict(self.holdback_rule), currency=self.currency, meta=ctx.meta())
            return Effects(run, {"period": period, "statements": statements}, list(accounts))

        return self._command(ctx, "run_settlement", {"period": period}, idempotency_key, act)

    def pay_statement(self, ctx: CommandContext, engineer: str, period: str, *, reference: str,
                      idempotency_key: str | None = None) -> CommandResult:
        return self._change(ctx, "pay_statement", EngineerAccount, account_id(engineer), None, idempotency_key,
                            {"period": period, "reference": reference},
                            lambda a: a.pay_statement(period=period, reference=reference, at=self.clock.now(),
                                                      meta=ctx.meta()),
                            lambda _: _account_not_found(engineer))

    def get_account(self, engineer: str) -> dict[str, Any]:
        account = self._load_as(EngineerAccount, account_id(engineer), not_found=lambda _: _account_not_found(engineer))
        return {"engineer": engineer, "version": account.version, "currency": account.currency,
                "totals": account.totals(),
                "lines": [{**line, "at": line["at"].isoformat()} for line in account.lines],
                "statements": [{**s, "issued_at": s["issued_at"].isoformat(),
                                "paid_at": s["paid_at"].isoformat() if s["paid_at"] else None}
                               for s in account.statements.values()]}

    # Customer payments and refunds ----------------------------------------------------------------

    def receive_payment(self, ctx: CommandContext, *, customer_id: str, amount: Any, method: str,
                        order_id: UUID | None = None, job_id: UUID | None = None, on_site: bool = False,
                        collected_by: str | None = None, idempotency_key: str | None = None) -> CommandResult:
        def act() -> Effects:
            order = self._check_money_subject(customer_id, order_id, job_id)
            return Effects(Payment.receive(customer_id=customer_id, amount=amount, currency=self.currency,
                                           method=method, order_id=_text_id(order), job_id=_text_id(job_id),
                                           on_site=on_site, collected_by=collected_by, at=self.clock.now(),
                                           meta=ctx.meta()))

        return self._command(ctx, "receive_payment", {"customer": customer_id, "amount": str(amount), "method": method,
                                                      "order": _text_id(order_id), "job": _text_id(job_id),
                                                      "on_site": on_site, "by": collected_by}, idempotency_key, act)

    def pay_refund(self, ctx: CommandContext, *, customer_id: str, amount: Any, method: str,
                   order_id: UUID | None = None, job_id: UUID | None = None, engineer_at_fault: bool = False,
                   idempotency_key: str | None = None) -> CommandResult:
        def act() -> Effects:
            order = self._check_money_subject(customer_id, order_id, job_id)
            refund = Refund.pay(customer_id=customer_id, amount=amount, currency=self.currency, method=method,
                                order_id=_text_id(order), job_id=_text_id(job_id),
                                engineer_at_fault=engineer_at_fault, at=self.clock.now(), meta=ctx.meta())
            touched: list[Aggregate] = []
            if engineer_at_fault and job_id is not None:
                job = self._load_as(FieldJob, job_id)
                self._reverse_fees(job, "RefundPaid", ctx, touched)
            return Effects(refund, {"reversed_lines": sum(1 for a in touched if isinstance(a, EngineerAccount))},
                           touched)

        return self._command(ctx, "pay_refund", {"customer": customer_id, "amount": str(amount), "method": method,
                                                 "order": _text_id(order_id), "job": _text_id(job_id),
                                                 "fault": engineer_at_fault, "reason": ctx.reason},
                             idempotency_key, act)

    def _check_money_subject(self, customer_id: str, order_id: UUID | None, job_id: UUID | None) -> UUID | None:
        """Check the order and job belong to the customer; the order is the job's when not given."""
        text(customer_id, "customer_id", limit=100)
        for subject_id, what in ((order_id, "order"), (job_id, "job")):
            if subject_id is None:
                continue
            subject = self._get_any(subject_id)
            if subject is None or type(subject).__name__ != {"order": "ServiceOrder", "job": "FieldJob"}[what]:
                raise NotFound(f"{what} {subject_id} does not exist")
            if subject.customer_id != customer_id:
                raise RuleViolation(f"{what} {subject_id} belongs to another customer")
            if what == "job" and order_id is None and subject.order_id:
                order_id = UUID(subject.order_id)
        return order_id


def _text_id(value: UUID | None) -> str | None:
    return None if value is None else str(value)


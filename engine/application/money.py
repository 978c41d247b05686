"""Workflows 8 and 9, money: deductions, settlement runs and paid statements for engineers;
payments and refunds from and to customers.

What the work itself puts on an engineer's account (a fee earned on completion, payable on
confirmation, reversed on reopening or on a refund for bad work) is in ``policies``, saved
with the work. A settlement run is one write: the run and every engineer's statement.
"""

from __future__ import annotations

from typing import Any, Mapping
from uuid import UUID

from eventsourcing.domain import Aggregate

from engine.application import policies
from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import CommandResult, Effects
from engine.domain.accounts import EngineerAccount, EngineerDirectory, SettlementRun, account_id, cause
from engine.domain.errors import InvalidCommand, NotFound, RuleViolation
from engine.domain.jobs import FieldJob
from engine.domain.orders import ServiceOrder
from engine.domain.payments import Payment, Refund
from engine.domain.periods import period_bounds
from engine.domain.values import text


def _account_not_found(engineer: str) -> NotFound:
    return NotFound(f"engineer {engineer} has no account")


class Money(Handler):
    # Engineer settlement ---------------------------------------------------------------------

    def apply_deduction(self, ctx: CommandContext, engineer: str, *, rule: str, amount: Any,
                        evidence: Mapping[str, Any], job_id: UUID | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        """A deduction by a named rule, decided by finance, with its evidence and reason."""
        def act() -> Effects:
            if not ctx.reason:
                raise InvalidCommand("a deduction records the reason it applies")
            account = self._account(engineer)
            source: Aggregate = account
            if job_id is not None:
                source = self.uow.load(FieldJob, job_id, not_found=lambda i: NotFound(f"job {i} does not exist"))
            applied = account.deduct(rule=rule, amount=amount, job_id=None if job_id is None else str(job_id),
                                     evidence=dict(evidence), cause=cause(source, "DeductionDecided"),
                                     at=self.uow.now(), meta=ctx.meta())
            if not applied:
                raise RuleViolation(f"the {rule} deduction already applies to job {job_id}")
            return Effects(account, {"line": len(account.lines)})

        return self.uow.command(ctx, "apply_deduction", {"engineer": engineer, "rule": rule, "amount": str(amount),
                                                         "evidence": dict(evidence), "job": str(job_id),
                                                         "reason": ctx.reason}, idempotency_key, act)

    def run_settlement(self, ctx: CommandContext, period: str, *, idempotency_key: str | None = None) -> CommandResult:
        """Issue every engineer's statement for a finished period, in one write."""
        def act() -> Effects:
            start, end = period_bounds(period, self.config.settlement_time_zone)
            now = self.uow.now()
            if now < end:
                raise RuleViolation(f"the {period} period ends at {end.isoformat()}: settle it after that")
            if self.uow.find(SettlementRun, SettlementRun.create_id(period)) is not None:
                raise RuleViolation(f"{period} is already settled: corrections go into a later period")
            directory = self.uow.find(EngineerDirectory, EngineerDirectory.create_id())
            accounts = [self.uow.load(EngineerAccount, account_id(e)) for e in (directory.engineers if directory else [])]
            holdback = dict(self.config.holdback_rule)
            statements = []
            for account in accounts:
                s = account.issue_statement(period=period, period_end=end,
                                            jobs_in_period=account.jobs_completed_between(start, end),
                                            holdback=holdback, run_id=period, at=now, meta=ctx.meta())
                statements.append({"engineer": account.engineer, "statement_id": s["statement_id"],
                                   "lines": len(s["lines"]), "total": s["total"], "holdback": s["holdback"]})
            run = SettlementRun(period=period, period_start=start, period_end=end, statements=statements,
                                holdback_rule=holdback, currency=self.config.currency, meta=ctx.meta())
            return Effects(run, {"period": period, "statements": statements}, list(accounts))

        return self.uow.command(ctx, "run_settlement", {"period": period}, idempotency_key, act)

    def pay_statement(self, ctx: CommandContext, engineer: str, period: str, *, reference: str,
                      expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self.uow.change(ctx, "pay_statement", EngineerAccount, account_id(engineer),
                               {"period": period, "reference": reference},
                               lambda a: a.pay_statement(period=period, reference=reference, at=self.uow.now(),
                                                         meta=ctx.meta()),
                               expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=lambda _: _account_not_found(engineer))

    def get_account(self, engineer: str) -> dict[str, Any]:
        account = self._account(engineer)
        return {"engineer": engineer, "version": account.version, "currency": account.currency,
                "totals": account.totals(),
                "lines": [{**line, "at": line["at"].isoformat()} for line in account.lines],
                "statements": [{**s, "issued_at": s["issued_at"].isoformat(),
                                "paid_at": s["paid_at"].isoformat() if s["paid_at"] else None}
                               for s in account.statements.values()]}

    def _account(self, engineer: str) -> EngineerAccount:
        return self.uow.load(EngineerAccount, account_id(engineer), not_found=lambda _: _account_not_found(engineer))

    # Customer payments and refunds -----------------------------------------------------------

    def receive_payment(self, ctx: CommandContext, *, customer_id: str, amount: Any, method: str,
                        order_id: UUID | None = None, job_id: UUID | None = None, on_site: bool = False,
                        collected_by: str | None = None, idempotency_key: str | None = None) -> CommandResult:
        def act() -> Effects:
            order = self._check_money_subject(customer_id, order_id, job_id)
            job = None if job_id is None else self.uow.load(FieldJob, job_id)
            if job is not None:
                policies.engineer_holds_job(ctx.principal, job)
                if on_site:
                    policies.on_site_payment_on_job(job, amount=amount, method=method, meta=ctx.meta())
            on_job = job is not None and on_site
            payment = Payment.receive(customer_id=customer_id, amount=amount, currency=self.config.currency,
                                      method=method, order_id=_text_id(order), job_id=_text_id(job_id),
                                      on_site=on_site, collected_by=collected_by, at=self.uow.now(),
                                      recorded_on_job=on_job, meta=ctx.meta())
            return Effects(payment, also=[job] if job is not None and on_job else [])

        return self.uow.command(ctx, "receive_payment", {"customer": customer_id, "amount": str(amount),
                                                         "method": method, "order": _text_id(order_id),
                                                         "job": _text_id(job_id), "on_site": on_site,
                                                         "by": collected_by}, idempotency_key, act)

    def pay_refund(self, ctx: CommandContext, *, customer_id: str, amount: Any, method: str,
                   order_id: UUID | None = None, job_id: UUID | None = None, engineer_at_fault: bool = False,
                   idempotency_key: str | None = None) -> CommandResult:
        def act() -> Effects:
            order = self._check_money_subject(customer_id, order_id, job_id)
            now = self.uow.now()
            refund = Refund.pay(customer_id=customer_id, amount=amount, currency=self.config.currency, method=method,
                                order_id=_text_id(order), job_id=_text_id(job_id),
                                engineer_at_fault=engineer_at_fault, at=now, meta=ctx.meta())
            touched: list[Aggregate] = []
            if engineer_at_fault and job_id is not None:
                job = self.uow.load(FieldJob, job_id)
                policies.fees_reversed_on_refund(self.uow, job, now, ctx.meta(), touched)
            return Effects(refund, {"reversed_lines": sum(1 for a in touched if isinstance(a, EngineerAccount))},
                           touched)

        return self.uow.command(ctx, "pay_refund", {"customer": customer_id, "amount": str(amount), "method": method,
                                                    "order": _text_id(order_id), "job": _text_id(job_id),
                                                    "fault": engineer_at_fault, "reason": ctx.reason},
                                idempotency_key, act)

    def _check_money_subject(self, customer_id: str, order_id: UUID | None, job_id: UUID | None) -> UUID | None:
        """Check the order and job belong to the customer; the order is the job's when not given."""
        text(customer_id, "customer_id", limit=100)
        for subject_id, what, cls in ((order_id, "order", ServiceOrder), (job_id, "job", FieldJob)):
            if subject_id is None:
                continue
            subject = self.uow.get_any(subject_id)
            if not isinstance(subject, cls):
                raise NotFound(f"{what} {subject_id} does not exist")
            if subject.customer_id != customer_id:
                raise RuleViolation(f"{what} {subject_id} belongs to another customer")
            if isinstance(subject, FieldJob) and order_id is None and subject.order_id:
                order_id = UUID(subject.order_id)
        return order_id


def _text_id(value: UUID | None) -> str | None:
    return None if value is None else str(value)

"""The EngineerAccount aggregate: what the company owes one field engineer, line by line.

Workflow 8 of the domain (seed 002). Every line is a money movement that names the event
that caused it (aggregate, version, event type):

- ``fee``: earned when the engineer completes a job; *pending* until the job's follow-up
  confirms the work and the charges, then *payable*;
- ``deduction``: by an explicit rule from ``DEDUCTION_RULES``, with its evidence; payable;
- ``reversal``: undoes a fee (or a deduction) when its job is reopened or refunded. An
  unsettled line and its reversal are both *void*; a settled line stays as it was and the
  reversal is a new payable line, settled in a later period;
- ``holdback``/``holdback_release``: a settlement keeps back a share of the period's fees
  only by the recorded holdback rule, never from an engineer with fewer jobs in the
  period than the rule's minimum; what is held is released by the next settlement.

A settlement puts every payable (or held) line dated before the period's end into one
statement; a settled line never changes again, and a paid statement cannot change.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.values import money, text

DEDUCTION_RULES = {
    "installation_error_repair": "a repair whose fault was caused by the engineer's own installation",
    "customer_property_damage": "damage to the customer's property found by a compensation claim",
    "missed_appointment": "an appointment window missed without notice",
}
# Lines in these states count towards what the engineer is owed.
LIVE = ("pending", "payable", "held", "settled", "paid")
_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:engineer-account")
CENT = Decimal("0.01")


def account_id(engineer: str) -> UUID:
    return uuid5(_NAMESPACE, engineer)


def statement_id(engineer: str, period: str) -> UUID:
    return uuid5(_NAMESPACE, f"{engineer}\x00{period}")


def cause(aggregate: Aggregate, event_type: str) -> dict[str, Any]:
    """Which event a line traces back to: the aggregate's latest pending event."""
    return {"aggregate_id": str(aggregate.id), "aggregate_type": type(aggregate).__name__,
            "version": aggregate.version, "event_type": event_type}


def signed(line: dict[str, Any]) -> Decimal:
    return Decimal(line["amount"])


class EngineerAccount(Aggregate):
    """Category ``accounts`` on the event backbone."""

    @staticmethod
    def create_id(engineer: str, **_: Any) -> UUID:
        return account_id(engineer)

    @event("AccountOpened")
    def __init__(self, engineer: str, currency: str, meta: dict[str, str]) -> None:
        self.engineer = engineer
        self.currency = currency
        self.lines: list[dict[str, Any]] = []
        self.statements: dict[str, dict[str, Any]] = {}

    # Commands -----------------------------------------------------------------------------

    def earn(self, *, job_id: str, job_kind: str, amount: str, cause: dict[str, Any], at: datetime,
             meta: dict[str, str]) -> None:
        if self._live_lines(job_id, "fee"):
            raise RuleViolation(f"the fee for job {job_id} is already on {self.engineer}'s account")
        self._fee_earned(line=len(self.lines) + 1, job_id=job_id, job_kind=job_kind, amount=money(amount, "fee"),
                         cause=cause, at=at, meta=meta)

    def confirm(self, *, job_id: str, cause: dict[str, Any], at: datetime, meta: dict[str, str]) -> bool:
        """The follow-up confirmed the work and the charges: the job's fee becomes payable.

        False when the job has no pending fee (a refund for bad work already reversed it).
        """
        pending = [line for line in self._live_lines(job_id, "fee") if line["status"] == "pending"]
        if not pending:
            return False
        self._fee_confirmed(line=pending[0]["line"], job_id=job_id, cause=cause, at=at, meta=meta)
        return True

    def deduct(self, *, rule: str, amount: Any, job_id: str | None, evidence: dict[str, Any],
               cause: dict[str, Any], at: datetime, meta: dict[str, str]) -> bool:
        """Apply a deduction by a named rule. False if that rule already applies to that job."""
        if rule not in DEDUCTION_RULES:
            raise InvalidCommand(f"deductions apply only by rule: one of {', '.join(DEDUCTION_RULES)}")
        if not evidence:
            raise InvalidCommand("a deduction names its evidence")
        value = money(amount, "amount")
        if Decimal(value) == 0:
            raise InvalidCommand("a deduction is more than 0.00")
        if job_id is not None and any(line.get("rule") == rule for line in self._live_lines(job_id, "deduction")):
            return False
        self._deducted(line=len(self.lines) + 1, rule=rule, amount=value, job_id=job_id, evidence=evidence,
                       cause=cause, at=at, meta=meta)
        return True

    def reverse(self, *, job_id: str, cause: dict[str, Any], at: datetime, meta: dict[str, str]) -> int:
        """Reverse the job's live fee and deductions (reopened or refunded). Returns how many."""
        targets = [line for line in self._live_lines(job_id, "fee") + self._live_lines(job_id, "deduction")]
        for target in targets:
            self._reversed(line=len(self.lines) + 1, reverses=target["line"], job_id=job_id,
                           amount=str(-signed(target)), voids=target["status"] in ("pending", "payable"),
                           cause=cause, at=at, meta=meta)
        return len(targets)

    def issue_statement(self, *, period: str, period_end: datetime, jobs_in_period: int,
                        holdback: dict[str, Any], run_id: str, at: datetime, meta: dict[str, str]) -> dict[str, Any]:
        if period in self.statements:
            raise RuleViolation(f"{self.engineer} already has a statement for {period}")
        included = [line["line"] for line in self.lines
                    if line["status"] in ("payable", "held") and line["at"] < period_end]
        fees = sum((signed(self.lines[n - 1]) for n in included if self.lines[n - 1]["kind"] == "fee"), Decimal(0))
        percent = Decimal(str(holdback.get("percent", "0")))
        applies = jobs_in_period >= int(holdback.get("min_jobs", 0)) and percent > 0 and fees > 0
        held = ((fees * percent / 100) if applies else Decimal(0)).quantize(CENT, ROUND_HALF_UP)
        rule = {**holdback, "applied": bool(held), "jobs_in_period": jobs_in_period}
        total = sum((signed(self.lines[n - 1]) for n in included), Decimal(0)) - held
        self._statement_issued(statement_id=str(statement_id(self.engineer, period)), period=period,
                               period_end=period_end, lines=included, holdback=str(held), holdback_rule=rule,
                               total=str(total.quantize(CENT)), run_id=run_id, at=at, meta=meta)
        return self.statements[period]

    def pay_statement(self, *, period: str, reference: str, at: datetime, meta: dict[str, str]) -> None:
        statement = self.statements.get(period)
        if statement is None:
            raise RuleViolation(f"{self.engineer} has no statement for {period}")
        if statement["status"] == "paid":
            raise RuleViolation(f"the {period} statement was paid on {statement['paid_at']}: it cannot change")
        self._statement_paid(period=period, reference=text(reference, "reference", limit=200), at=at, meta=meta)

    # Queries ------------------------------------------------------------------------------

    def jobs_completed_between(self, start: datetime, end: datetime) -> int:
        return len({line["job_id"] for line in self.lines
                    if line["kind"] == "fee" and start <= line["at"] < end})

    def totals(self) -> dict[str, str]:
        by_status: dict[str, Decimal] = {}
        for line in self.lines:
            by_status[line["status"]] = by_status.get(line["status"], Decimal(0)) + signed(line)
        balance = sum((signed(line) for line in self.lines), Decimal(0))
        return {**{s: str(by_status.get(s, Decimal(0)).quantize(CENT)) for s in (*LIVE, "void")},
                "balance": str(balance.quantize(CENT))}

    def _live_lines(self, job_id: str, kind: str) -> list[dict[str, Any]]:
        reversed_lines = {line["reverses"] for line in self.lines if line["kind"] == "reversal"}
        return [line for line in self.lines if line["job_id"] == job_id and line["kind"] == kind
                and line["status"] != "void" and line["line"] not in reversed_lines]

    def _add(self, **line: Any) -> None:
        self.lines.append({"job_id": None, "statement": None, "rule": None, "reverses": None, **line})

    # Events -------------------------------------------------------------------------------

    @event("FeeEarned")
    def _fee_earned(self, line: int, job_id: str, job_kind: str, amount: str, cause: dict[str, Any], at: datetime,
                    meta: dict[str, str]) -> None:
        self._add(line=line, kind="fee", amount=amount, status="pending", job_id=job_id, at=at)

    @event("FeeConfirmed")
    def _fee_confirmed(self, line: int, job_id: str, cause: dict[str, Any], at: datetime,
                       meta: dict[str, str]) -> None:
        self.lines[line - 1]["status"] = "payable"

    @event("DeductionApplied")
    def _deducted(self, line: int, rule: str, amount: str, job_id: str | None, evidence: dict[str, Any],
                  cause: dict[str, Any], at: datetime, meta: dict[str, str]) -> None:
        self._add(line=line, kind="deduction", amount=str(-Decimal(amount)), status="payable", job_id=job_id,
                  rule=rule, at=at)

    @event("FeeReversed")
    def _reversed(self, line: int, reverses: int, job_id: str, amount: str, voids: bool, cause: dict[str, Any],
                  at: datetime, meta: dict[str, str]) -> None:
        # An unsettled line is voided with its reversal; a settled one is corrected later.
        self._add(line=line, kind="reversal", amount=amount, status="void" if voids else "payable",
                  job_id=job_id, reverses=reverses, at=at)
        if voids:
            self.lines[reverses - 1]["status"] = "void"

    @event("StatementIssued")
    def _statement_issued(self, statement_id: str, period: str, period_end: datetime, lines: list[int],
                          holdback: str, holdback_rule: dict[str, Any], total: str, run_id: str, at: datetime,
                          meta: dict[str, str]) -> None:
        numbers = list(lines)
        if Decimal(holdback) > 0:
            self._add(line=len(self.lines) + 1, kind="holdback", amount=str(-Decimal(holdback)), status="payable",
                      rule=holdback_rule.get("rule"), at=at)
            numbers.append(len(self.lines))
            # Released by the next settlement: dated at this period's end so it is not in this one.
            self._add(line=len(self.lines) + 1, kind="holdback_release", amount=holdback, status="held",
                      rule=holdback_rule.get("rule"), at=period_end)
        for n in numbers:
            self.lines[n - 1]["status"] = "settled"
            self.lines[n - 1]["statement"] = period
        self.statements[period] = {"statement_id": statement_id, "period": period, "lines": numbers,
                                   "total": total, "holdback": holdback,
                                   "holdback_rule": holdback_rule, "status": "issued", "issued_at": at,
                                   "paid_at": None, "reference": None}

    @event("StatementPaid")
    def _statement_paid(self, period: str, reference: str, at: datetime, meta: dict[str, str]) -> None:
        statement = self.statements[period]
        statement.update(status="paid", paid_at=at, reference=reference)
        for n in statement["lines"]:
            self.lines[n - 1]["status"] = "paid"


class EngineerDirectory(Aggregate):
    """Every engineer with an account, so that a settlement run reaches them all. Internal."""

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid5(_NAMESPACE, "directory")

    @event("DirectoryStarted")
    def __init__(self) -> None:
        self.engineers: list[str] = []

    def enlist(self, engineer: str) -> None:
        if engineer not in self.engineers:
            self._enlisted(engineer=engineer)

    @event("EngineerEnlisted")
    def _enlisted(self, engineer: str) -> None:
        self.engineers.append(engineer)


class SettlementRun(Aggregate):
    """One settlement per period: running it is an event; its statements are the accounts'."""

    @staticmethod
    def create_id(period: str, **_: Any) -> UUID:
        return uuid5(_NAMESPACE, f"run\x00{period}")

    @event("PeriodSettled")
    def __init__(self, period: str, period_start: datetime, period_end: datetime, statements: list[dict[str, Any]],
                 holdback_rule: dict[str, Any], currency: str, meta: dict[str, str]) -> None:
        self.period = period
        self.period_start = period_start
        self.period_end = period_end
        self.statements = statements
        self.holdback_rule = holdback_rule
        self.currency = currency

"""A stateful model of engineer settlement: jobs completed, confirmed, disputed, reopened and
refunded; deductions; settlement runs and payments over several months.

Invariants: every account balances (sum of lines == balance); every statement equals the
lines it settled; no line is settled twice; an issued statement never changes; no holdback
from an engineer under the rule's minimum; and the ledger view built from the events
equals the accounts, line by line.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine.domain.accounts import EngineerAccount, account_id
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.clock import ManualClock
from engine.application.context import CommandContext
from engine.domain.followups import followup_id
from engine.domain.periods import period_bounds
from projections.ledger import EngineerLedger
from projections.queries import Views
from streams.relay import envelope_of
from sqlstore.sqldb import Database
from tests.engine.stateful import ModelChecked

CTX = CommandContext.new()
WHY = CTX.because("checked")
NEAR = {"lat": 30.2744, "lng": 120.1552}
SITE = {"lat": 30.2741, "lng": 120.1551}
ENGINEERS = ("li", "wang", "zhao")
MIN_JOBS = 3
FEES = st.sampled_from(["0", "80", "150", "99.99"])


class LedgerModel(ModelChecked, RuleBasedStateMachine):
    @initialize()
    def start(self) -> None:
        self.clock = ManualClock()
        self.app = ServiceOrderApp(EngineConfig(
            clock=self.clock, holdback_rule={"rule": "quality_holdback", "percent": "10", "min_jobs": MIN_JOBS}))
        # job id -> {"engineer", "confirmed", "fee_live", "completion", "paid"}
        self.jobs: dict[UUID, dict[str, Any]] = {}
        self.settled: dict[tuple[str, str], tuple[str, list[tuple[int, str]]]] = {}
        self.next_period = "2026-01"

    # Work ---------------------------------------------------------------------------------

    @rule(engineer=st.sampled_from(ENGINEERS), fee=FEES, paid=st.sampled_from([None, "50"]), confirm=st.booleans())
    def complete_a_job(self, engineer: str, fee: str, paid: str | None, confirm: bool) -> None:
        job = self.app.open_job(CTX, kind="installation", customer_id="c1", product={"sku": "WP"},
                                site_address="1 Lake Rd", site_location=SITE, fee=fee).aggregate_id
        self.app.dispatch_job(CTX, job, engineer)
        self.app.accept_job(CTX, job, engineer)
        self._visit_and_complete(job, engineer)
        if paid:
            self.app.record_payment(CTX, job, collected=True, amount=paid, method="cash")
        self.jobs[job] = {"engineer": engineer, "confirmed": confirm, "fee_live": True, "completion": 1,
                          "paid": paid or "0"}
        if confirm:
            self.app.record_follow_up(CTX, followup_id(job), fixed=True, conduct="good", satisfaction=5,
                                      customer_paid=paid or "0")

    def _visit_and_complete(self, job: UUID, engineer: str) -> None:
        self.app.check_in(CTX, job, engineer, location=NEAR, accuracy_m=5)
        self.app.check_out(CTX, job, engineer)
        self.app.complete_job(CTX, job)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), agree=st.booleans(), fixed=st.booleans())
    def follow_up(self, data: st.DataObject, agree: bool, fixed: bool) -> None:
        job = data.draw(st.sampled_from(sorted(self.jobs)))
        j = self.jobs[job]
        fid = followup_id(job, j["completion"])
        legal = self.app.get_follow_up(fid)["status"] != "recorded"
        said = j["paid"] if agree else "12.34"
        if self.attempt(legal, lambda: self.app.record_follow_up(CTX, fid, fixed=fixed, conduct="good", satisfaction=4,
                                                                   customer_paid=said)):
            confirms = fixed and agree and not j["confirmed"]
            assert self.last_result.extra["confirmed"] is confirms
            j["confirmed"] = j["confirmed"] or confirms

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def resolve_charges(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(sorted(self.jobs)))
        j = self.jobs[job]
        if self.attempt(not j["confirmed"], lambda: self.app.resolve_charges(WHY, job, agreed=j["paid"])):
            j["confirmed"] = True

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def reopen_and_redo(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(sorted(self.jobs)))
        j = self.jobs[job]
        self.app.reopen_job(WHY, job)
        self._visit_and_complete(job, j["engineer"])
        j.update(confirmed=False, fee_live=True, completion=j["completion"] + 1)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def refund_for_bad_work(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(sorted(self.jobs)))
        self.app.pay_refund(WHY, customer_id="c1", amount="10", method="transfer", job_id=job, engineer_at_fault=True)
        self.jobs[job]["fee_live"] = False

    @rule(engineer=st.sampled_from(ENGINEERS), amount=st.sampled_from(["5", "20.50"]))
    def deduct(self, engineer: str, amount: str) -> None:
        has_account = self.app.uow.find(EngineerAccount, account_id(engineer)) is not None
        self.attempt(has_account, lambda: self.app.apply_deduction(
            WHY, engineer, rule="missed_appointment", amount=amount, evidence={"window": "w"}))

    # Time and money ------------------------------------------------------------------------

    @rule(days=st.integers(1, 20))
    def pass_days(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @rule(wait_for_month_end=st.booleans())
    def settle(self, wait_for_month_end: bool) -> None:
        _, end = period_bounds(self.next_period, "Asia/Shanghai")
        if wait_for_month_end and self.clock.now() < end:
            self.clock.advance(end - self.clock.now() + timedelta(hours=2))
        due = {a.engineer: {x["line"] for x in a.lines if x["status"] in ("payable", "held") and x["at"] < end}
               for a in self.accounts()}
        if self.attempt(self.clock.now() >= end, lambda: self.app.run_settlement(CTX, self.next_period)):
            for account in self.accounts():
                settled = set(account.statements[self.next_period]["lines"])
                holdback = {x["line"] for x in account.lines if x["kind"] == "holdback"
                            and x["statement"] == self.next_period}
                assert settled - holdback == due[account.engineer]
            year, month = map(int, self.next_period.split("-"))
            self.next_period = f"{year + month // 12}-{month % 12 + 1:02d}"

    @rule(engineer=st.sampled_from(ENGINEERS))
    def pay_oldest_statement(self, engineer: str) -> None:
        account = self.app.uow.find(EngineerAccount, account_id(engineer))
        unpaid = [p for p, s in (account.statements.items() if account else []) if s["status"] == "issued"]
        if unpaid:
            self.app.pay_statement(CTX, engineer, unpaid[0], reference=f"transfer {unpaid[0]}")

    # Invariants ------------------------------------------------------------------------------

    def accounts(self) -> list[EngineerAccount]:
        found = (self.app.uow.find(EngineerAccount, account_id(e)) for e in ENGINEERS)
        return [a for a in found if a is not None]

    @invariant()
    def accounts_balance_and_statements_hold_still(self) -> None:
        for account in self.accounts():
            lines = account.lines
            assert [x["line"] for x in lines] == list(range(1, len(lines) + 1))
            assert Decimal(account.totals()["balance"]) == sum(Decimal(x["amount"]) for x in lines)
            seen: set[int] = set()
            for period, s in account.statements.items():
                assert not seen & set(s["lines"]), "a line settled twice"
                seen |= set(s["lines"])
                assert Decimal(s["total"]) == sum(Decimal(lines[n - 1]["amount"]) for n in s["lines"])
                assert all(lines[n - 1]["statement"] == period for n in s["lines"])
                if s["holdback_rule"]["jobs_in_period"] < MIN_JOBS:
                    assert s["holdback"] == "0.00"
                frozen = (s["total"], [(n, lines[n - 1]["amount"]) for n in s["lines"]])
                assert self.settled.setdefault((account.engineer, period), frozen) == frozen
                if s["status"] == "paid":
                    assert all(lines[n - 1]["status"] == "paid" for n in s["lines"])
            for line in lines:
                if line["kind"] == "fee" and line["status"] in ("pending", "payable"):
                    job = self.jobs[UUID(line["job_id"])]
                    assert job["fee_live"] and line["status"] == ("payable" if job["confirmed"] else "pending")

    def teardown(self) -> None:
        """The ledger view, built from the stored events, shows exactly the accounts' lines."""
        if not hasattr(self, "app"):
            return
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite:///{Path(tmp) / 'ledger.db'}")
            projection = EngineerLedger()
            projection.create(db)
            with db.transaction() as cur:
                for n in self.app.recorder.select_notifications(start=1, limit=1_000_000):
                    found = envelope_of(self.app, n, "/test")
                    if found and found[0] in projection.categories:
                        projection.apply(cur, found[1])
            views = Views(db)
            for account in self.accounts():
                view = views.ledger(account.engineer)
                assert view is not None
                assert [(x["line_no"], x["kind"], Decimal(x["amount"]), x["status"], x["statement_period"])
                        for x in view["lines"]] == [
                    (x["line"], x["kind"], Decimal(x["amount"]), x["status"], x["statement"]) for x in account.lines]
                assert view["totals"]["balance"] == account.totals()["balance"]
                assert [(s["period"], s["total"], s["status"]) for s in views.statements(account.engineer)] == [
                    (p, s["total"], s["status"]) for p, s in account.statements.items()]
            db.close()

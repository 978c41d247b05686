"""The invariants the cross-workflow model (cross_workflow_machine.py) checks after every step:

- compensation paid on a claim adds up to its last accepted amount once paid, across
  reopenings;
- no engineer's fee is payable (or paid) before a follow-up (or an operator) confirmed the
  work and its charges;
- no holdback from an engineer with fewer jobs in the period than the rule's minimum;
- the customer account view, built from the published events, holds the charges, payments,
  refunds and compensation the model expects, and its balance is charges less payments
  (and credits) plus refunds.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis.stateful import invariant

from engine.application.app import ServiceOrderApp
from engine.domain.accounts import EngineerAccount, account_id
from engine.domain.claims import CompensationClaim
from projections.payments import CustomerAccounts
from projections.queries import Views
from streams.relay import envelope_of
from sqlstore.sqldb import Database

ENGINEERS = ("li", "wang")
MIN_JOBS = 2


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


class CrossWorkflowInvariants:
    """Mixed into the model; reads its bookkeeping (claims, jobs, money) and the application."""

    app: ServiceOrderApp
    claims: dict[UUID, dict[str, Any]]
    jobs: dict[UUID, dict[str, Any]]
    money: dict[str, dict[str, Decimal]]

    def start_views(self) -> None:
        """The customer account view, fed the published events as the model goes."""
        self.tmp = tempfile.TemporaryDirectory()
        self.views_db = Database(f"sqlite:///{Path(self.tmp.name) / 'views.db'}")
        self.accounts_view = CustomerAccounts()
        self.accounts_view.create(self.views_db)
        self.applied = 0


    def engineer_accounts(self) -> list[EngineerAccount]:
        found = (self.app.uow.find(EngineerAccount, account_id(e)) for e in ENGINEERS)
        return [a for a in found if a is not None]

    @invariant()
    def compensation_paid_is_the_last_accepted_amount(self) -> None:
        for claim_id, c in self.claims.items():
            claim = self.app.uow.find(CompensationClaim, claim_id)
            assert claim is not None
            if c["status"] in ("paid", "closed") and c["amount"] is not None:
                paid = sum(dec(e["data"]["amount"]) for e in self.app.history(claim_id)
                           if e["event_type"] == "CompensationPaid")
                assert paid == dec(c["amount"]) == dec(claim.paid_total), (claim_id, paid, c)

    @invariant()
    def no_fee_is_payable_before_a_confirmed_follow_up_and_no_holdback_below_the_minimum(self) -> None:
        for account in self.engineer_accounts():
            for line in account.lines:
                if line["kind"] == "fee" and line["status"] in ("payable", "held", "settled", "paid"):
                    assert self.jobs[UUID(line["job_id"])].get("ever_confirmed"), line
            for statement in account.statements.values():
                if statement["holdback_rule"]["jobs_in_period"] < MIN_JOBS:
                    assert statement["holdback"] == "0.00", statement

    @invariant()
    def customer_accounts_hold_what_the_model_expects(self) -> None:
        with self.views_db.transaction() as cur:
            for n in self.app.recorder.select_notifications(start=self.applied + 1, limit=1_000_000):
                found = envelope_of(self.app, n, "/model")
                if found and found[0] in self.accounts_view.categories:
                    self.accounts_view.apply(cur, found[1])
                self.applied = n.id
        views = Views(self.views_db)
        for customer, expected in self.money.items():
            account = views.customer_account(customer)
            totals = {k: dec(v) for k, v in account["totals"].items()}
            assert {k: totals[k] for k in expected} == expected, (customer, account["totals"], expected)
            assert dec(account["outstanding"]) == (totals["charge"] - totals["credit"] - totals["received"]
                                                   + totals["refunded"])

    def teardown(self) -> None:
        if hasattr(self, "views_db"):
            self.views_db.close()
            self.tmp.cleanup()

"""A stateful model of a compensation claim: proposals, disputes, revisions, payment, reopening.

Across reopenings what is due is the last accepted amount less everything already paid, and
no revision goes below what was paid."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine.domain.claims import CompensationClaim
from tests.engine.stateful import ModelChecked

META = {"actor": "a", "request_id": "r", "correlation_id": "c", "causation_id": "r", "reason": "because"}
AMOUNTS = st.sampled_from(["100", "2500", "8000.50"])


class ClaimLifecycle(ModelChecked, RuleBasedStateMachine):
    @initialize()
    def open(self) -> None:
        self.c = CompensationClaim.open(complaint_id="k", customer_id="c", damage="floor",
                                        now=datetime(2026, 1, 1, tzinfo=timezone.utc), meta=META)
        self.status, self.amounts, self.paid = "open", [], []


    @rule(amount=AMOUNTS)
    def propose(self, amount: str) -> None:
        if self.attempt(self.status == "open", lambda: self.c.propose(amount=amount, facts=[], meta=META)):
            self.status = "proposed"
            self.amounts.append(amount)

    @rule()
    def dispute(self) -> None:
        if self.attempt(self.status == "proposed", lambda: self.c.dispute(meta=META)):
            self.status = "disputed"

    @property
    def due(self) -> Decimal:
        return Decimal(self.amounts[-1]) - sum((Decimal(p) for p in self.paid), Decimal(0)) if self.amounts else Decimal(0)

    @rule(amount=AMOUNTS)
    def revise(self, amount: str) -> None:
        paid = sum((Decimal(p) for p in self.paid), Decimal(0))
        if self.attempt(self.status in ("disputed", "reopened") and Decimal(amount) >= paid,
                        lambda: self.c.revise(amount=amount, facts=[], meta=META)):
            self.status = "proposed"
            self.amounts.append(amount)

    @rule()
    def accept(self) -> None:
        if self.attempt(self.status == "proposed", lambda: self.c.accept(meta=META)):
            self.status = "accepted"

    @rule(exact=st.booleans())
    def pay(self, exact: bool) -> None:
        amount = str(self.due) if exact else "1.00"
        legal = self.status == "accepted" and exact and self.due > 0
        if self.attempt(legal, lambda: self.c.pay(amount=amount, reference="tx", meta=META)):
            self.status = "paid"
            self.paid.append(amount)

    @rule()
    def close(self) -> None:
        settled = self.status == "paid" or (self.status == "accepted" and bool(self.paid) and self.due == 0)
        if self.attempt(settled, lambda: self.c.close(meta=META)):
            self.status = "closed"

    @rule()
    def reopen(self) -> None:
        if self.attempt(self.status == "closed", lambda: self.c.reopen(meta=META)):
            self.status = "reopened"

    @invariant()
    def claim_agrees_with_model(self) -> None:
        assert self.c.status == self.status
        assert self.c.revision == len(self.amounts)
        assert (self.c.amount or None) == (f"{float(self.amounts[-1]):.2f}" if self.amounts else None)
        assert self.c.already_paid == sum((Decimal(p) for p in self.paid), Decimal(0))

    @invariant()
    def every_revision_keeps_the_previous_amount(self) -> None:
        revisions = [e for e in self.c._pending_events if type(e).__name__ == "CompensationRevised"]
        proposals = [e for e in self.c._pending_events if type(e).__name__ in ("CompensationProposed",
                                                                                "CompensationRevised")]
        for before, revision in zip(proposals, revisions):
            assert revision.previous_amount == before.amount

"""Rules of the Complaint and CompensationClaim aggregates, and the 48-hour proposal deadline."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.claims import CompensationClaim
from engine.domain.clock import ManualClock
from engine.application.waits import PROPOSAL
from engine.domain.complaints import Complaint
from engine.application.context import CommandContext
from engine.domain.deadlines import deadline_id
from engine.domain.errors import InvalidCommand, RuleViolation

META = {"actor": "op", "request_id": "r", "correlation_id": "c", "causation_id": "r"}
WHY = {**META, "reason": "photos show the inlet hose split"}
NOW = datetime(2026, 7, 1, 9, tzinfo=timezone.utc)
CTX = CommandContext.new()


def test_complaint_closes_only_once_resolved_and_can_be_reopened() -> None:
    c = Complaint.file(customer_id="c1", category="product_quality", description="floor flooded", meta=META)
    with pytest.raises(InvalidCommand, match="category must be one of"):
        Complaint.file(customer_id="c1", category="weather", description="x", meta=META)
    with pytest.raises(RuleViolation, match="acknowledge it first"):
        c.investigate(findings="x", meta=META)
    c.acknowledge(meta=META)
    with pytest.raises(RuleViolation, match="closed only once resolved"):
        c.close(meta=META)
    c.investigate(findings="hose split", meta=META)
    c.resolve(resolution="hose replaced, floor compensated", meta=META)
    c.close(meta=META)
    with pytest.raises(InvalidCommand, match="needs a reason"):
        c.reopen(meta=META)
    c.reopen(meta=WHY)
    assert c.status == "reopened"


def claim() -> CompensationClaim:
    return CompensationClaim.open(complaint_id="k1", customer_id="c1", damage="floor", now=NOW, meta=META)


def test_liability_rests_on_recorded_facts_with_a_reason() -> None:
    c = claim()
    assert c.proposal_due_at == NOW + timedelta(hours=48)
    fact = c.record_fact(fact="inlet hose split", evidence=["photo-1", "engineer report"], meta=META)
    with pytest.raises(InvalidCommand, match="names the facts"):
        c.determine_liability(party="manufacturer", facts=[], meta=WHY)
    with pytest.raises(InvalidCommand, match="unknown facts: F9"):
        c.determine_liability(party="manufacturer", facts=["F9"], meta=WHY)
    with pytest.raises(InvalidCommand, match="say why"):
        c.determine_liability(party="manufacturer", facts=[fact], meta=META)
    c.determine_liability(party="manufacturer", facts=[fact], meta=WHY)
    assert c.liability == "manufacturer"


def test_proposal_dispute_revision_acceptance_payment_close_reopen() -> None:
    c = claim()
    c.propose(amount="3000", facts=[], meta=META)  # before liability is known: allowed
    with pytest.raises(RuleViolation, match="already has a proposal"):
        c.propose(amount="3500", facts=[], meta=META)
    c.dispute(meta={**META, "reason": "floor replacement costs 8000"})
    assert c.escalation_level == 1
    with pytest.raises(InvalidCommand, match="records why"):
        c.revise(amount="6000", facts=[], meta=META)
    c.revise(amount="6000", facts=[], meta={**META, "reason": "supplier quote"})
    revised = c.collect_events()[-1]
    assert (revised.previous_amount, revised.amount, revised.revision) == ("3000.00", "6000.00", 2)
    with pytest.raises(RuleViolation, match="paid once the customer accepts"):
        c.pay(amount="6000", reference="TX1", meta=META)
    c.accept(meta=META)
    with pytest.raises(RuleViolation, match="accepted amount is 6000.00"):
        c.pay(amount="5000", reference="TX1", meta=META)
    c.pay(amount="6000", reference="TX1", meta=META)
    c.close(meta=META)
    with pytest.raises(RuleViolation, match="claim is closed"):
        c.record_fact(fact="late", evidence=[], meta=META)
    c.reopen(meta={**META, "reason": "mould found under the new floor"})
    c.revise(amount="7500", facts=[], meta={**META, "reason": "mould treatment"})
    assert (c.status, c.revision) == ("proposed", 3)


def test_no_proposal_within_48_hours_is_a_breach_and_an_escalation() -> None:
    clock = ManualClock(NOW)
    app = ServiceOrderApp(EngineConfig(clock=clock))
    complaint = app.file_complaint(CTX, customer_id="c1", category="product_quality",
                                   description="flooded floor").aggregate_id
    late = app.open_claim(CTX, complaint, damage="floor").aggregate_id
    on_time = app.open_claim(CTX, complaint, damage="rug").aggregate_id
    assert app.get_complaint(complaint)["claim_ids"] == [str(late), str(on_time)]
    clock.advance(timedelta(hours=47))
    app.propose_compensation(CTX, on_time, amount="500", facts=[])
    assert app.fire_deadline(deadline_id(PROPOSAL, late, "")) == "not_due"
    clock.advance(timedelta(hours=1))
    assert app.fire_deadline(deadline_id(PROPOSAL, late, "")) == "fired"
    assert app.fire_deadline(deadline_id(PROPOSAL, on_time, "")) == "not_scheduled"
    assert (app.get_claim(late)["proposal_overdue"], app.get_claim(late)["escalation_level"]) == (True, 1)
    assert app.get_claim(on_time)["proposal_overdue"] is False
    history = app.history(late)
    assert [h["event_type"] for h in history] == ["ClaimOpened", "ProposalOverdue"]
    assert history[0]["meta"]["actor"] == "system"


def _paid_claim(amount: str) -> CompensationClaim:
    c = CompensationClaim.open(complaint_id="k1", customer_id="c1", damage="floor", now=NOW, meta=META)
    c.propose(amount=amount, facts=[], meta=META)
    c.accept(meta=META)
    c.pay(amount=amount, reference="T-1", meta=META)
    return c


def test_a_reopened_claim_pays_only_what_is_due_on_its_new_accepted_amount() -> None:
    c = _paid_claim("5000")
    c.close(meta=META)
    c.reopen(meta=WHY)
    c.revise(amount="6000", facts=[], meta=WHY)
    c.accept(meta=META)
    assert c.due == Decimal("1000")
    with pytest.raises(RuleViolation, match="1000.00 is due, not 6000.00") as refused:
        c.pay(amount="6000", reference="T-2", meta=META)
    assert refused.value.rule == "claim-due-after-payments"
    c.pay(amount="1000", reference="T-2", meta=META)
    assert (c.status, c.paid_total, c.due) == ("paid", "6000.00", Decimal(0))
    c.close(meta=META)


def test_a_revision_never_goes_below_what_was_paid_and_an_equal_one_closes_without_paying() -> None:
    c = _paid_claim("5000")
    c.close(meta=META)
    c.reopen(meta=WHY)
    with pytest.raises(RuleViolation, match="5000.00 was already paid"):
        c.revise(amount="4000", facts=[], meta=WHY)
    c.revise(amount="5000", facts=[], meta=WHY)
    c.accept(meta=META)
    with pytest.raises(RuleViolation, match="nothing is due"):
        c.pay(amount="0", reference="T-2", meta=META)
    c.close(meta=META)
    assert c.status == "closed"

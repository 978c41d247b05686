"""Engineer settlement and customer payments through the application, with a manual clock."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from engine.domain.accounts import EngineerAccount, account_id
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.clock import ManualClock
from engine.domain.errors import InvalidCommand, NotFound, RuleViolation
from engine.domain.followups import followup_id
from engine.domain.periods import period_bounds
from tests.engine.application.test_fieldwork import CTX, NEAR, deliver

WHY = CTX.because("checked with the customer")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def app(clock: ManualClock) -> ServiceOrderApp:
    app = ServiceOrderApp(EngineConfig(clock=clock, holdback_rule={"rule": "quality_holdback", "percent": "10",
                                                                   "min_jobs": 3}))
    return app


def installed(app: ServiceOrderApp, clock: ManualClock, engineer: str, fee: str = "150", paid: str | None = None,
              confirm: bool = True) -> UUID:
    """An installation done by ``engineer``; its follow-up confirms it unless told otherwise."""
    item = {"sku": "WP-500", "quantity": 1, "needs_installation": True, "installation_fee": fee}
    (job_id,) = deliver(app, [item])
    app.dispatch_job(CTX, job_id, engineer)
    app.accept_job(CTX, job_id, engineer)
    app.check_in(CTX, job_id, engineer, location=NEAR, accuracy_m=5)
    clock.advance(timedelta(minutes=30))
    app.check_out(CTX, job_id, engineer)
    done = app.complete_job(CTX, job_id)
    if paid is not None:
        app.record_payment(CTX, job_id, collected=True, amount=paid, method="cash")
    if confirm:
        app.record_follow_up(CTX, UUID(done.extra["follow_up_id"]), fixed=True, conduct="good", satisfaction=5,
                             customer_paid=paid or "0")
    return job_id


def account(app: ServiceOrderApp, engineer: str) -> EngineerAccount:
    return app.repository.get(account_id(engineer))


def test_completion_earns_a_pending_fee_that_the_follow_up_makes_payable(app: ServiceOrderApp,
                                                                        clock: ManualClock) -> None:
    job_id = installed(app, clock, "li", confirm=False)
    (line,) = account(app, "li").lines
    assert (line["kind"], line["amount"], line["status"], line["job_id"]) == ("fee", "150.00", "pending", str(job_id))
    assert app.get_follow_up(followup_id(job_id))["completion"] == 1
    result = app.record_follow_up(CTX, followup_id(job_id), fixed=True, conduct="good", satisfaction=4, customer_paid="0")
    assert result.extra["confirmed"] is True
    assert account(app, "li").lines[0]["status"] == "payable"
    history = [h["event_type"] for h in app.history(account_id("li"))]
    assert history == ["AccountOpened", "FeeEarned", "FeeConfirmed"]


def test_a_charge_the_customer_disputes_keeps_the_fee_pending_until_resolved(app: ServiceOrderApp,
                                                                           clock: ManualClock) -> None:
    job_id = installed(app, clock, "li", paid="80", confirm=False)
    result = app.record_follow_up(CTX, followup_id(job_id), fixed=True, conduct="good", satisfaction=3,
                                  customer_paid="100")
    assert result.extra == {"confirmed": False, "charges_disputed": {"customer_paid": "100.00",
                                                                     "engineer_reported": "80.00"}}
    assert account(app, "li").lines[0]["status"] == "pending"
    with pytest.raises(InvalidCommand):
        app.resolve_charges(CTX, job_id, agreed="80")
    app.resolve_charges(WHY, job_id, agreed="80")
    assert account(app, "li").lines[0]["status"] == "payable"
    with pytest.raises(RuleViolation, match="already confirmed"):
        app.resolve_charges(WHY, job_id, agreed="80")


def test_not_fixed_work_is_not_payable_and_reopening_reverses_the_fee(app: ServiceOrderApp,
                                                                    clock: ManualClock) -> None:
    job_id = installed(app, clock, "li", confirm=False)
    assert app.record_follow_up(CTX, followup_id(job_id), fixed=False, conduct="poor", satisfaction=2,
                                customer_paid="0").extra == {"confirmed": False}
    with pytest.raises(InvalidCommand, match="why"):
        app.reopen_job(CTX, job_id)
    assert app.reopen_job(WHY, job_id).extra == {"reversed_lines": 1}
    lines = account(app, "li").lines
    assert [(x["kind"], x["amount"], x["status"]) for x in lines] == [("fee", "150.00", "void"),
                                                                      ("reversal", "-150.00", "void")]
    # Back on site, completed again: a new fee and a second follow-up, with its own id.
    app.check_in(CTX, job_id, "li", location=NEAR, accuracy_m=5)
    app.check_out(CTX, job_id, "li")
    again = app.complete_job(CTX, job_id)
    assert UUID(again.extra["follow_up_id"]) == followup_id(job_id, 2) != followup_id(job_id)
    assert account(app, "li").lines[-1]["status"] == "pending"
    app.record_follow_up(CTX, followup_id(job_id, 2), fixed=True, conduct="good", satisfaction=5, customer_paid="0")
    assert account(app, "li").totals()["payable"] == "150.00"


def test_reopening_needs_a_new_verified_visit(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = installed(app, clock, "li")
    app.reopen_job(WHY, job_id)
    with pytest.raises(RuleViolation, match="no verified visit"):
        app.complete_job(CTX, job_id)


def test_a_repair_caused_by_the_installation_deducts_from_the_installer_by_rule(app: ServiceOrderApp,
                                                                              clock: ManualClock) -> None:
    installation = installed(app, clock, "li")
    repair = app.open_repair(CTX, installation, fee="60", engineer="wang", original_unavailable="on leave")
    rid = repair.aggregate_id
    app.accept_job(CTX, rid, "wang")
    app.check_in(CTX, rid, "wang", location=NEAR, accuracy_m=5)
    app.check_out(CTX, rid, "wang")
    app.complete_job(CTX, rid, fault_cause="installation_error")
    deduction = account(app, "li").lines[-1]
    assert (deduction["kind"], deduction["rule"], deduction["amount"], deduction["job_id"]) == (
        "deduction", "installation_error_repair", "-60.00", str(rid))
    applied = [h for h in app.history(account_id("li")) if h["event_type"] == "DeductionApplied"][0]
    assert applied["data"]["evidence"] == {"repair_job_id": str(rid), "installation_job_id": str(installation),
                                           "fault_cause": "installation_error", "repaired_by": "wang"}
    assert applied["data"]["cause"]["aggregate_type"] == "FieldJob"
    # Reopening the repair reverses both its fee and the deduction it caused.
    app.reopen_job(WHY, rid)
    assert account(app, "li").lines[-1]["kind"] == "reversal"
    assert account(app, "li").totals()["payable"] == "150.00"
    assert account(app, "wang").totals()["balance"] == "0.00"


def test_deductions_only_by_named_rule_with_evidence_and_reason(app: ServiceOrderApp, clock: ManualClock) -> None:
    installed(app, clock, "li")
    with pytest.raises(InvalidCommand, match="by rule"):
        app.apply_deduction(WHY, "li", rule="mood", amount="10", evidence={"x": "y"})
    with pytest.raises(InvalidCommand, match="evidence"):
        app.apply_deduction(WHY, "li", rule="missed_appointment", amount="10", evidence={})
    with pytest.raises(InvalidCommand, match="reason"):
        app.apply_deduction(CTX, "li", rule="missed_appointment", amount="10", evidence={"window": "w1"})
    with pytest.raises(NotFound):
        app.apply_deduction(WHY, "nobody", rule="missed_appointment", amount="10", evidence={"window": "w1"})
    app.apply_deduction(WHY, "li", rule="missed_appointment", amount="10", evidence={"window": "w1"})
    assert account(app, "li").totals()["balance"] == "140.00"


def test_settlement_holds_back_only_from_engineers_over_the_minimum(app: ServiceOrderApp,
                                                                  clock: ManualClock) -> None:
    for _ in range(3):
        installed(app, clock, "li")
    installed(app, clock, "wang")  # a low-volume engineer: nothing is withheld
    with pytest.raises(RuleViolation, match="settle it after"):
        app.run_settlement(CTX, "2026-01")
    clock.advance(timedelta(days=30))
    run = app.run_settlement(CTX, "2026-01")
    by = {s["engineer"]: s for s in run.extra["statements"]}
    assert by["li"]["total"] == "405.00" and by["li"]["holdback"] == "45.00"
    assert by["wang"]["total"] == "150.00" and by["wang"]["holdback"] == "0.00"
    li = account(app, "li")
    assert li.statements["2026-01"]["holdback_rule"]["applied"] is True
    assert account(app, "wang").statements["2026-01"]["holdback_rule"] | {} == {
        "rule": "quality_holdback", "percent": "10", "min_jobs": 3, "applied": False, "jobs_in_period": 1}
    with pytest.raises(RuleViolation, match="already settled"):
        app.run_settlement(CTX, "2026-01")
    # The holdback is released by the next settlement.
    clock.advance(timedelta(days=30))
    app.run_settlement(CTX, "2026-02")
    assert account(app, "li").statements["2026-02"]["total"] == "45.00"


def test_paid_statements_never_change_and_corrections_land_in_a_later_period(app: ServiceOrderApp,
                                                                            clock: ManualClock) -> None:
    job_id = installed(app, clock, "wang")
    clock.advance(timedelta(days=30))
    app.run_settlement(CTX, "2026-01")
    app.pay_statement(CTX, "wang", "2026-01", reference="transfer #1")
    with pytest.raises(RuleViolation, match="cannot change"):
        app.pay_statement(CTX, "wang", "2026-01", reference="again")
    app.reopen_job(WHY, job_id)
    wang = account(app, "wang")
    assert wang.statements["2026-01"]["total"] == "150.00"
    assert [(x["kind"], x["status"]) for x in wang.lines] == [("fee", "paid"), ("reversal", "payable")]
    clock.advance(timedelta(days=30))
    app.run_settlement(CTX, "2026-02")
    assert account(app, "wang").statements["2026-02"]["total"] == "-150.00"


def test_periods_are_months_in_the_settlement_time_zone() -> None:
    start, end = period_bounds("2026-12", "Asia/Shanghai")
    assert (start.isoformat(), end.isoformat()) == ("2026-12-01T00:00:00+08:00", "2027-01-01T00:00:00+08:00")
    for bad in ("2026-13", "26-01", "2026-1", "x"):
        with pytest.raises(InvalidCommand):
            period_bounds(bad, "UTC")


def test_payments_and_refunds_are_recorded_against_an_order_or_job_of_that_customer(
        app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = installed(app, clock, "li")
    order_id = UUID(app.get_job(job_id)["order_id"])
    paid = app.receive_payment(CTX, customer_id="c1", amount="150", method="wechat_pay", order_id=order_id)
    assert paid.version == 1
    with pytest.raises(RuleViolation, match="another customer"):
        app.receive_payment(CTX, customer_id="c2", amount="1", method="cash", order_id=order_id)
    with pytest.raises(InvalidCommand, match="order or a job"):
        app.receive_payment(CTX, customer_id="c1", amount="1", method="cash")
    with pytest.raises(InvalidCommand, match="more than 0"):
        app.receive_payment(CTX, customer_id="c1", amount="0", method="cash", job_id=job_id)
    with pytest.raises(NotFound):
        app.receive_payment(CTX, customer_id="c1", amount="1", method="cash", job_id=order_id)
    with pytest.raises(InvalidCommand, match="reason"):
        app.pay_refund(CTX, customer_id="c1", amount="150", method="transfer", job_id=job_id)
    refund = app.pay_refund(WHY, customer_id="c1", amount="150", method="transfer", job_id=job_id,
                            engineer_at_fault=True)
    assert refund.extra == {"reversed_lines": 1}
    assert account(app, "li").totals()["balance"] == "0.00"


def test_the_account_balances_line_by_line(app: ServiceOrderApp, clock: ManualClock) -> None:
    for engineer in ("li", "li", "li", "wang"):
        installed(app, clock, engineer)
    app.apply_deduction(WHY, "li", rule="missed_appointment", amount="12.34", evidence={"w": "1"})
    clock.advance(timedelta(days=31))
    app.run_settlement(CTX, "2026-01")
    li = account(app, "li")
    totals = li.totals()
    assert Decimal(totals["balance"]) == sum(Decimal(x["amount"]) for x in li.lines)
    statement = li.statements["2026-01"]
    assert Decimal(statement["total"]) == sum(Decimal(li.lines[n - 1]["amount"]) for n in statement["lines"])


def test_a_period_settles_only_lines_dated_before_its_end(app: ServiceOrderApp, clock: ManualClock) -> None:
    _, end = period_bounds("2026-01", "Asia/Shanghai")
    installed(app, clock, "li")
    clock.advance(end - clock.now() + timedelta(hours=1))
    installed(app, clock, "li")  # February's work
    app.run_settlement(CTX, "2026-01")
    li = account(app, "li")
    assert [x["status"] for x in li.lines] == ["settled", "payable"]

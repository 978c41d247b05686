"""A stateful model of the whole engine at the application level (issue 17): hypothesis
drives random sequences across orders, jobs, follow-ups, claims, payments and returns
through the application's public commands. The rules check, as they go, that an engineer's
command on another's job always fails and stores nothing, that a return never asks back
more than its order delivered, that a complaint closes only with its claims settled and that
the two on-site payment paths agree at the follow-up; cross_workflow_invariants.py checks
the money after every step."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any, Callable
from uuid import UUID

from hypothesis import note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext, Principal
from engine.domain.clock import ManualClock
from engine.domain.errors import NotPermitted
from engine.domain.followups import followup_id
from engine.domain.jobs import DEFAULT_REPAIR_LIABILITY, FAULT_CAUSES
from engine.domain.periods import period_bounds
from tests.engine.application.cross_workflow_hand_back import HandBack
from tests.engine.application.cross_workflow_invariants import ENGINEERS, MIN_JOBS, CrossWorkflowInvariants, dec
from tests.engine.stateful import ModelChecked

OPS = CommandContext.new(Principal("desk", frozenset({"operator", "finance"})))
WHY = OPS.because("as the model says")
SITE = {"lat": 30.2741, "lng": 120.1551}
NEAR = {"lat": 30.2743, "lng": 120.1553}
CUSTOMERS = ("c1", "c2")
AMOUNTS = st.sampled_from(["30", "99.50", "150"])
CLAIM_AMOUNTS = st.sampled_from(["500", "800", "1200"])


def engineer(name: str) -> CommandContext:
    return CommandContext.new(Principal(name, frozenset({"engineer"})))


class CrossWorkflowModel(HandBack, CrossWorkflowInvariants, ModelChecked, RuleBasedStateMachine):
    # Choices draw from lists in the order things were made, never sorted by their random
    # ids, so that a replayed example draws the same data.
    @initialize()
    def start(self) -> None:
        self.clock = ManualClock()
        self.app = ServiceOrderApp(EngineConfig(clock=self.clock, holdback_rule={
            "rule": "quality_holdback", "percent": "10", "min_jobs": MIN_JOBS}))
        self.orders: dict[UUID, dict[str, Any]] = {}
        self.jobs: dict[UUID, dict[str, Any]] = {}
        self.complaints: dict[UUID, dict[str, Any]] = {}
        self.claims: dict[UUID, dict[str, Any]] = {}
        self.returns: dict[UUID, dict[str, Any]] = {}
        self.money = {c: {k: Decimal(0) for k in ("charge", "received", "refunded", "compensation")}
                      for c in CUSTOMERS}
        self.next_period = "2026-01"
        self.start_views()

    # Orders and their jobs -------------------------------------------------------------------

    @rule(customer=st.sampled_from(CUSTOMERS), quantity=st.integers(1, 2), install=st.booleans(), fee=AMOUNTS)
    def place_and_deliver_an_order(self, customer: str, quantity: int, install: bool, fee: str) -> None:
        fee = fee if install else "0"
        order = self.app.place_order(OPS, customer_id=customer, tier="vip", delivery_address="1 Lake Rd",
                                     site_location=SITE, items=[{"sku": "WP-500", "quantity": quantity,
                                                                 "needs_installation": install,
                                                                 "installation_fee": fee}]).aggregate_id
        for step in ("stock_prepared", "left_warehouse"):
            self.app.record_delivery_step(OPS, order, step)
        self.app.record_delivery_step(OPS, order, "driver_assigned", driver="Zhao")
        self.app.record_delivery_step(OPS, order, "in_transit", position=SITE)
        delivered = self.app.record_delivery_step(OPS, order, "delivered")
        self.orders[order] = {"customer": customer, "units": quantity, "asked": 0}
        self.money[customer]["charge"] += dec(fee) * quantity
        for job in delivered.extra.get("job_ids", []):
            self._new_job(UUID(job), customer, "installation", fee, order_charged=True)

    def _new_job(self, job: UUID, customer: str, kind: str, fee: str, order_charged: bool) -> None:
        self.jobs[job] = {"customer": customer, "kind": kind, "fee": fee, "engineer": None, "status": "open",
                          "completions": 0, "confirmed": False, "paid": None, "order_charged": order_charged}

    def _jobs(self, *statuses: str) -> list[UUID]:
        return [j for j, m in self.jobs.items() if m["status"] in statuses]

    @precondition(lambda self: self._jobs("completed"))
    @rule(data=st.data(), fee=AMOUNTS)
    def open_a_repair(self, data: st.DataObject, fee: str) -> None:
        installation = data.draw(st.sampled_from(self._jobs("completed")))
        m = self.jobs[installation]
        legal = m["kind"] == "installation"
        if self.attempt(legal, lambda: self.app.open_repair(OPS, installation, fee=fee)):
            repair = self.last_result.aggregate_id
            self._new_job(repair, m["customer"], "repair", fee, order_charged=False)
            self.jobs[repair].update(engineer=m["engineer"], status="dispatched")

    @precondition(lambda self: self._jobs("open", "dispatched"))
    @rule(data=st.data(), who=st.sampled_from(ENGINEERS))
    def take_a_job(self, data: st.DataObject, who: str) -> None:
        job = data.draw(st.sampled_from(self._jobs("open", "dispatched")))
        m = self.jobs[job]
        if m["status"] == "open":
            self.app.dispatch_job(OPS, job, who)
            m["engineer"] = who
        self.app.accept_job(engineer(m["engineer"]), job, m["engineer"])
        m["status"] = "accepted"

    @precondition(lambda self: self._jobs("accepted"))
    @rule(data=st.data(), cause=st.sampled_from(FAULT_CAUSES))
    def visit_and_complete(self, data: st.DataObject, cause: str) -> None:
        job = data.draw(st.sampled_from(self._jobs("accepted")))
        m = self.jobs[job]
        me = engineer(m["engineer"])
        self.app.check_in(me, job, m["engineer"], location=NEAR, accuracy_m=5)
        self.clock.advance(timedelta(minutes=40))
        self.app.check_out(me, job, m["engineer"])
        repair = m["kind"] == "repair"
        self.app.complete_job(me, job, fault_cause=cause if repair else None)
        m.update(status="completed", completions=m["completions"] + 1, confirmed=False)
        payer = DEFAULT_REPAIR_LIABILITY[cause] if repair else "customer"
        assert self.app.get_job(job)["charged_to"] == payer
        if m["completions"] == 1 and not m["order_charged"] and payer == "customer":
            self.money[m["customer"]]["charge"] += dec(m["fee"])

    @precondition(lambda self: self._jobs("completed"))
    @rule(data=st.data(), amount=AMOUNTS, through_payments=st.booleans())
    def collect_on_site(self, data: st.DataObject, amount: str, through_payments: bool) -> None:
        """The two on-site payment paths: the job's own report, or POST /payments on site."""
        job = data.draw(st.sampled_from(self._jobs("completed")))
        m = self.jobs[job]
        me = engineer(m["engineer"])
        if through_payments:
            command: Callable[[], Any] = lambda: self.app.receive_payment(
                me, customer_id=m["customer"], amount=amount, method="cash", job_id=job, on_site=True,
                collected_by=m["engineer"])
        else:
            command = lambda: self.app.record_payment(me, job, collected=True, amount=amount, method="cash")  # noqa: E731
        if self.attempt(m["paid"] is None, command):
            m["paid"] = amount
            self.money[m["customer"]]["received"] += dec(amount)

    @precondition(lambda self: self._jobs("completed"))
    @rule(data=st.data(), agree=st.booleans(), fixed=st.booleans())
    def follow_up(self, data: st.DataObject, agree: bool, fixed: bool) -> None:
        job = data.draw(st.sampled_from(self._jobs("completed")))
        m = self.jobs[job]
        said = (m["paid"] or "0") if agree else "12.34"
        fid = followup_id(job, m["completions"])
        legal = self.app.get_follow_up(fid)["status"] != "recorded"
        if self.attempt(legal, lambda: self.app.record_follow_up(OPS, fid, fixed=fixed, conduct="good",
                                                                   satisfaction=4, customer_paid=said)):
            confirms = fixed and agree and not m["confirmed"]
            # Whichever path took the money, the customer's word agrees with it (case 4).
            assert self.last_result.extra["confirmed"] is confirms, (m, self.last_result.extra)
            m["confirmed"] = m["confirmed"] or confirms
            m["ever_confirmed"] = m.get("ever_confirmed", False) or confirms

    @precondition(lambda self: self._jobs("completed"))
    @rule(data=st.data())
    def reopen(self, data: st.DataObject) -> None:
        job = data.draw(st.sampled_from(self._jobs("completed")))
        self.app.reopen_job(WHY, job)
        self.jobs[job].update(status="accepted", confirmed=False)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), command=st.sampled_from(["check_in", "check_out", "complete", "payment", "on_site",
                                                   "cancel", "accept", "decline"]))
    def an_engineer_acts_on_anothers_job(self, data: st.DataObject, command: str) -> None:
        job = data.draw(st.sampled_from(list(self.jobs)))
        m = self.jobs[job]
        intruder = next(e for e in ENGINEERS if e != m["engineer"])
        me = engineer(intruder)
        calls: dict[str, Callable[[], Any]] = {
            "check_in": lambda: self.app.check_in(me, job, intruder, location=NEAR, accuracy_m=5),
            "check_out": lambda: self.app.check_out(me, job, intruder),
            "complete": lambda: self.app.complete_job(me, job),
            "payment": lambda: self.app.record_payment(me, job, collected=True, amount="999", method="cash"),
            "on_site": lambda: self.app.receive_payment(me, customer_id=m["customer"], amount="999", method="cash",
                                                        job_id=job, on_site=True, collected_by=intruder),
            "cancel": lambda: self.app.cancel_at_door(me.because("changed their mind"), job),
            "accept": lambda: self.app.accept_job(me, job, intruder),
            "decline": lambda: self.app.decline_job(me.because("too far"), job, intruder),
        }
        position = self.app.current_position()
        try:
            calls[command]()
        except NotPermitted as refused:
            assert refused.rule == "engineer-holds-job"
        else:
            raise AssertionError(f"{intruder} could {command} on {m['engineer']}'s job")
        assert self.app.current_position() == position, "a refused command stored something"

    # Complaints and claims -----------------------------------------------------------------

    @rule(customer=st.sampled_from(CUSTOMERS))
    def file_a_complaint_with_a_claim(self, customer: str) -> None:
        complaint = self.app.file_complaint(OPS, customer_id=customer, category="service",
                                            description="floor flooded").aggregate_id
        claim = self.app.open_claim(OPS, complaint, damage="wooden floor").aggregate_id
        self.complaints[complaint] = {"customer": customer, "claims": [claim], "status": "filed"}
        self.claims[claim] = {"customer": customer, "status": "open", "amount": None, "paid": Decimal(0)}

    @precondition(lambda self: self.claims)
    @rule(data=st.data(), step=st.sampled_from(["propose", "dispute", "revise", "accept", "pay", "close", "reopen"]),
          amount=CLAIM_AMOUNTS)
    def a_claim_moves(self, data: st.DataObject, step: str, amount: str) -> None:
        claim = data.draw(st.sampled_from(list(self.claims)))
        c = self.claims[claim]
        due = dec(c["amount"] or 0) - c["paid"]
        legal, command = {
            "propose": (c["status"] == "open", lambda: self.app.propose_compensation(OPS, claim, amount=amount,
                                                                                     facts=[])),
            "dispute": (c["status"] == "proposed", lambda: self.app.dispute_compensation(WHY, claim)),
            "revise": (c["status"] in ("disputed", "reopened") and dec(amount) >= c["paid"],
                       lambda: self.app.revise_compensation(WHY, claim, amount=amount, facts=[])),
            "accept": (c["status"] == "proposed", lambda: self.app.accept_compensation(OPS, claim)),
            "pay": (c["status"] == "accepted" and due > 0,
                    lambda: self.app.pay_compensation(OPS, claim, amount=str(due), reference="T")),
            "close": (c["status"] == "paid" or (c["status"] == "accepted" and due == 0 and c["paid"] > 0),
                      lambda: self.app.close_claim(OPS, claim)),
            "reopen": (c["status"] == "closed", lambda: self.app.reopen_claim(WHY, claim)),
        }[step]
        note(f"claim {str(claim)[:8]} {step} {amount}: {c}")
        if self.attempt(legal, command):
            if step in ("propose", "revise"):
                c.update(status="proposed", amount=amount)
            elif step == "pay":
                c.update(status="paid", paid=c["paid"] + due)
                self.money[c["customer"]]["compensation"] += due
            else:
                c["status"] = {"dispute": "disputed", "accept": "accepted", "close": "closed",
                               "reopen": "reopened"}[step]

    @precondition(lambda self: any(m["status"] != "closed" for m in self.complaints.values()))
    @rule(data=st.data())
    def close_a_complaint(self, data: st.DataObject) -> None:
        complaint = data.draw(st.sampled_from([k for k, m in self.complaints.items() if m["status"] != "closed"]))
        m = self.complaints[complaint]
        if m["status"] == "filed":
            self.app.acknowledge_complaint(OPS, complaint)
            self.app.investigate_complaint(OPS, complaint, findings="hose split")
            self.app.resolve_complaint(OPS, complaint, resolution="compensation agreed")
            m["status"] = "resolved"
        settled = all(self.claims[c]["status"] in ("paid", "closed") or (
            self.claims[c]["status"] == "accepted" and self.claims[c]["paid"] > 0
            and dec(self.claims[c]["amount"]) == self.claims[c]["paid"]) for c in m["claims"])
        if self.attempt(settled, lambda: self.app.close_complaint(OPS, complaint)):
            m["status"] = "closed"

    # Returns -------------------------------------------------------------------------------

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), quantity=st.integers(1, 3), sku=st.sampled_from(["WP-500", "WP-500", "NOPE"]))
    def ask_for_a_return(self, data: st.DataObject, quantity: int, sku: str) -> None:
        order = data.draw(st.sampled_from(list(self.orders)))
        o = self.orders[order]
        legal = sku == "WP-500" and o["asked"] + quantity <= o["units"]
        if self.attempt(legal, lambda: self.app.request_return(
                OPS, customer_id=o["customer"], order_id=str(order), resolution="refund", reason="leaks",
                items=[{"sku": sku, "quantity": quantity}])):
            o["asked"] += quantity
            self.returns[self.last_result.aggregate_id] = {"order": order, "quantity": quantity}

    @precondition(lambda self: self.returns)
    @rule(data=st.data())
    def reject_a_return(self, data: st.DataObject) -> None:
        request = data.draw(st.sampled_from(list(self.returns)))
        r = self.returns.pop(request)
        approver = CommandContext.new(Principal("fin", frozenset({"approver:finance"}))).because("too late")
        self.app.vote_on_return(approver, request, "finance", approve=False)
        self.orders[r["order"]]["asked"] -= r["quantity"]

    @rule(customer=st.sampled_from(CUSTOMERS), amount=AMOUNTS)
    def refund_goodwill(self, customer: str, amount: str) -> None:
        orders = [o for o, m in self.orders.items() if m["customer"] == customer]
        if orders:
            self.app.pay_refund(WHY, customer_id=customer, amount=amount, method="transfer", order_id=orders[0])
            self.money[customer]["refunded"] += dec(amount)

    # Time and settlement -------------------------------------------------------------------

    @rule(days=st.integers(1, 20))
    def pass_days(self, days: int) -> None:
        self.clock.advance(timedelta(days=days))

    @rule()
    def settle_a_month(self) -> None:
        _, end = period_bounds(self.next_period, "Asia/Shanghai")
        if self.clock.now() < end:
            self.clock.advance(end - self.clock.now() + timedelta(hours=1))
        self.app.run_settlement(OPS, self.next_period)
        for account in self.engineer_accounts():
            if account.statements.get(self.next_period, {}).get("status") == "issued":
                self.app.pay_statement(OPS, account.engineer, self.next_period, reference="bank")
        year, month = map(int, self.next_period.split("-"))
        self.next_period = f"{year + month // 12}-{month % 12 + 1:02d}"

"""Each cross-workflow policy on its own: given the aggregates a command holds, what the
policy changes (or opens) in the other workflow. Run over the in-memory store, with the
preceding work done through the application and the policy called directly."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from eventsourcing.domain import Aggregate

from engine.application import policies
from engine.application.app import ServiceOrderApp
from engine.application.waits import FOLLOW_UP, FOLLOW_UP_OVERDUE, REMINDER, REMINDER_DUE
from engine.application.context import Principal
from engine.domain.accounts import EngineerAccount, EngineerDirectory, account_id
from engine.domain.claims import CompensationClaim
from engine.domain.complaints import Complaint
from engine.domain.errors import NotPermitted, RuleViolation
from engine.domain.clock import ManualClock
from engine.domain.deadlines import Deadline, deadline_id
from engine.domain.followups import FollowUp, followup_id
from engine.domain.jobs import FieldJob
from engine.domain.orders import ServiceOrder
from engine.domain.reminders import ConsumableReminder
from engine.domain.returns import ReturnRequest
from tests.engine.application.test_fieldwork import CTX, ITEM, NEAR, SITE, WHY, accepted_job, deliver
from tests.engine.application.test_fieldwork import app, clock  # noqa: F401  (the in-memory app, a manual clock)

META = CTX.meta()


def visited(app: ServiceOrderApp, clock: ManualClock, job_id: UUID, engineer: str = "li") -> FieldJob:
    """The job after its engineer's visit, completed in memory (not saved)."""
    app.check_in(CTX, job_id, engineer, location=NEAR, accuracy_m=8)
    clock.advance(timedelta(minutes=40))
    app.check_out(CTX, job_id, engineer)
    return app.uow.load(FieldJob, job_id)


def completed(app: ServiceOrderApp, clock: ManualClock, job_id: UUID, engineer: str = "li",
              fault_cause: str | None = None) -> FieldJob:
    job = visited(app, clock, job_id, engineer)
    job.complete(fault_cause=fault_cause, meta=META)
    return job


def account_in(touched: list[Aggregate], engineer: str) -> EngineerAccount:
    (account,) = [a for a in touched if isinstance(a, EngineerAccount) and a.engineer == engineer]
    return account


def lines(touched: list[Aggregate], engineer: str) -> list[dict]:
    return account_in(touched, engineer).lines


def causes(touched: list[Aggregate], engineer: str) -> list[str]:
    """The event types the account's new events name as their cause."""
    return [e.cause["event_type"] for e in account_in(touched, engineer).pending_events if hasattr(e, "cause")]


def done(app: ServiceOrderApp, clock: ManualClock, job_id: UUID, engineer: str = "li") -> None:
    """The job visited and completed through the application."""
    visited(app, clock, job_id, engineer)
    app.complete_job(CTX, job_id)


def test_delivered_order_opens_one_installation_job_per_unit(app: ServiceOrderApp) -> None:
    oid = app.place_order(CTX, customer_id="c1", items=[ITEM | {"quantity": 2}, {"sku": "CABLE", "quantity": 3}],
                          tier="vip", delivery_address="1 Lake Rd", site_location=SITE).aggregate_id
    jobs = policies.installation_jobs_on_delivery(app.uow.load(ServiceOrder, oid), META)
    assert [(j.kind, j.order_id, j.fee, j.consumables, j.site_location) for j in jobs] == \
        [("installation", str(oid), "150.00", ["PP", "CTO", "RO"], SITE)] * 2
    assert len({j.id for j in jobs}) == 2


def test_completed_job_schedules_its_follow_up_call(app: ServiceOrderApp, clock: ManualClock) -> None:
    job = completed(app, clock, accepted_job(app))
    follow_up, scheduled = policies.follow_up_on_completion(job, app.deadlines, clock.now(), META)
    assert follow_up.id == followup_id(job.id, 1) and follow_up.engineer == "li"
    (deadline,) = [a for a in scheduled if isinstance(a, Deadline)]
    assert deadline.id == deadline_id(FOLLOW_UP, follow_up.id, "")
    assert (deadline.action, deadline.due_at) == (FOLLOW_UP_OVERDUE, clock.now() + timedelta(hours=24))


def test_completed_job_earns_its_engineer_the_fee(app: ServiceOrderApp, clock: ManualClock) -> None:
    job = completed(app, clock, accepted_job(app))
    touched: list[Aggregate] = []
    policies.fee_earned_on_completion(app.uow, job, "CNY", clock.now(), META, touched)
    # A first fee opens the engineer's account and lists them for settlement.
    assert any(isinstance(a, EngineerDirectory) for a in touched)
    (line,) = lines(touched, "li")
    assert (line["kind"], line["amount"], line["job_id"], line["status"]) == ("fee", "150.00", str(job.id), "pending")
    assert causes(touched, "li") == ["JobCompleted"]


def test_repair_of_an_installation_error_charges_the_installer(app: ServiceOrderApp, clock: ManualClock) -> None:
    installation = accepted_job(app, "li")
    done(app, clock, installation)
    repair_id = app.open_repair(CTX, installation, fee="90", engineer="wang",
                                original_unavailable="on leave").aggregate_id
    app.accept_job(CTX, repair_id, "wang")
    touched: list[Aggregate] = []
    other_fault = completed(app, clock, repair_id, "wang", fault_cause="customer_misuse")
    policies.installer_charged_for_installation_error(app.uow, other_fault, "CNY", clock.now(), META, touched)
    assert touched == []
    repair = app.uow.load(FieldJob, repair_id)  # the visit's state, not the in-memory completion above
    repair.complete(fault_cause="installation_error", meta=META)
    policies.installer_charged_for_installation_error(app.uow, repair, "CNY", clock.now(), META, touched)
    deductions = [line for line in lines(touched, "li") if line["kind"] == "deduction"]
    assert [(d["rule"], d["amount"], d["job_id"]) for d in deductions] == \
        [("installation_error_repair", "-90.00", str(repair_id))]


def test_first_installation_with_consumables_starts_a_reminder(app: ServiceOrderApp, clock: ManualClock) -> None:
    job = completed(app, clock, accepted_job(app))
    reminder = policies.reminder_on_installation(job, clock.now(), META)
    assert reminder is not None
    assert (reminder.installation_job_id, reminder.consumables) == (str(job.id), ["PP", "CTO", "RO"])
    assert reminder.due_at == clock.now() + timedelta(days=90)
    (plain,) = deliver(app, [{"sku": "TV", "quantity": 1, "needs_installation": True}])
    app.dispatch_job(CTX, plain, "li")
    app.accept_job(CTX, plain, "li")
    assert policies.reminder_on_installation(completed(app, clock, plain), clock.now(), META) is None


def due_reminder(app: ServiceOrderApp, clock: ManualClock) -> UUID:
    installation = accepted_job(app)
    visited(app, clock, installation)
    reminder = UUID(app.complete_job(CTX, installation).extra["reminder_id"])
    clock.advance(timedelta(days=90))
    assert app.fire_deadline(deadline_id(REMINDER, reminder, "1")) == "fired"
    return reminder


def test_accepted_reminder_opens_the_replacement_job(app: ServiceOrderApp, clock: ManualClock) -> None:
    reminder = app.uow.load(ConsumableReminder, due_reminder(app, clock))
    job = policies.replacement_job_on_acceptance(reminder, ["PP"], "60", META)
    assert (job.kind, job.consumables, job.related_id, job.fee) == ("consumable_replacement", ["PP"],
                                                                    str(reminder.id), "60.00")
    assert (job.customer_id, job.site_address, job.site_location) == ("c1", "1 Lake Rd", SITE)


def replacement(app: ServiceOrderApp, clock: ManualClock) -> tuple[UUID, UUID]:
    reminder = due_reminder(app, clock)
    job_id = UUID(app.accept_reminder(CTX, reminder, consumables=["PP"], fee="60").extra["job_id"])
    app.dispatch_job(CTX, job_id, "li")
    app.accept_job(CTX, job_id, "li")
    return reminder, job_id


def test_completed_replacement_renews_its_reminder(app: ServiceOrderApp, clock: ManualClock) -> None:
    reminder_id, job_id = replacement(app, clock)
    changed = policies.reminder_renewed_on_replacement(app.uow, completed(app, clock, job_id), app.deadlines,
                                                       clock.now(), META)
    (reminder,) = [a for a in changed if isinstance(a, ConsumableReminder)]
    (deadline,) = [a for a in changed if isinstance(a, Deadline)]
    assert (reminder.id, reminder.status, reminder.round) == (reminder_id, "scheduled", 2)
    # Only PP was replaced: it starts a new cycle; the others come back as if declined.
    assert reminder.due_of("PP") == clock.now() + timedelta(days=90)
    assert reminder.due_at == clock.now() + timedelta(days=30)
    assert (deadline.id, deadline.action) == (deadline_id(REMINDER, reminder_id, "2"), REMINDER_DUE)
    installation = completed(app, clock, accepted_job(app))
    assert policies.reminder_renewed_on_replacement(app.uow, installation, app.deadlines, clock.now(), META) == []


def test_replacement_cancelled_at_the_door_asks_again_later(app: ServiceOrderApp, clock: ManualClock) -> None:
    reminder_id, job_id = replacement(app, clock)
    app.check_in(CTX, job_id, "li", location=NEAR, accuracy_m=8)
    job = app.uow.load(FieldJob, job_id)
    job.cancel_at_door(meta=WHY.meta())
    changed = policies.reminder_repeats_after_door_cancellation(app.uow, job, app.deadlines, clock.now(), META)
    (reminder,) = [a for a in changed if isinstance(a, ConsumableReminder)]
    assert (reminder.id, reminder.status) == (reminder_id, "scheduled")
    assert reminder.due_at == clock.now() + timedelta(days=30)


def follow_up_of(app: ServiceOrderApp, clock: ManualClock, paid: str) -> tuple[UUID, FollowUp]:
    job_id = accepted_job(app)
    done(app, clock, job_id)
    app.record_payment(CTX, job_id, collected=True, amount=paid, method="cash")
    follow_up = app.uow.load(FollowUp, followup_id(job_id))
    follow_up.record(fixed=True, arrival_time=None, conduct="good", satisfaction=5, comments=None, now=clock.now(),
                     meta=META)
    return job_id, follow_up


def test_follow_up_that_finds_the_work_done_confirms_the_job(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id, follow_up = follow_up_of(app, clock, "150")
    extra, touched = policies.job_confirmed_by_follow_up(app.uow, follow_up, True, "150", "CNY", clock.now(), META)
    assert extra["confirmed"] is True and not extra["charges_disputed"]
    (job,) = [a for a in touched if isinstance(a, FieldJob)]
    assert job.id == job_id and job.confirmed
    # ...which makes the fee payable (the next policy, applied in the same call).
    assert [line["status"] for line in lines(touched, "li") if line["kind"] == "fee"] == ["payable"]
    # Not fixed, or nothing said about the charges: nothing is confirmed.
    assert policies.job_confirmed_by_follow_up(app.uow, follow_up, False, "150", "CNY", clock.now(), META) == \
        ({"confirmed": False}, [])
    assert policies.job_confirmed_by_follow_up(app.uow, follow_up, True, None, "CNY", clock.now(), META) == \
        ({"confirmed": False}, [])


def test_confirmed_job_makes_its_fee_payable(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = accepted_job(app)
    done(app, clock, job_id)
    touched: list[Aggregate] = []
    policies.fee_payable_on_confirmation(app.uow, app.uow.load(FieldJob, job_id), "CNY", clock.now(), META, touched)
    (fee,) = lines(touched, "li")
    assert (fee["status"], fee["amount"]) == ("payable", "150.00")
    assert causes(touched, "li") == ["JobConfirmed"]


def test_reopened_job_reverses_its_fee(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = accepted_job(app)
    done(app, clock, job_id)
    job = app.uow.load(FieldJob, job_id)
    job.reopen(meta=WHY.meta())
    touched: list[Aggregate] = []
    assert policies.fees_reversed_on_reopening(app.uow, job, clock.now(), META, touched) == 1
    assert [a.id for a in touched] == [account_id("li")]
    fee, reversal = lines(touched, "li")
    assert (reversal["kind"], reversal["amount"], reversal["reverses"]) == ("reversal", "-150.00", fee["line"])
    assert fee["status"] == "void" and causes(touched, "li") == ["JobReopened"]
    assert sum(Decimal(x["amount"]) for x in lines(touched, "li")) == 0


def test_refund_for_bad_work_reverses_the_jobs_fee(app: ServiceOrderApp, clock: ManualClock) -> None:
    job_id = accepted_job(app)
    done(app, clock, job_id)
    touched: list[Aggregate] = []
    job = app.uow.load(FieldJob, job_id)
    assert policies.fees_reversed_on_refund(app.uow, job, clock.now(), META, touched) == 1
    assert lines(touched, "li")[-1]["amount"] == "-150.00" and causes(touched, "li") == ["RefundPaid"]
    # Once the reversal is saved, nothing is left to take back a second time.
    app.save(*touched)
    assert policies.fees_reversed_on_refund(app.uow, job, clock.now(), META, []) == 0


def test_service_level_clock_takes_the_orders_tier(app: ServiceOrderApp) -> None:
    oid = app.place_order(CTX, customer_id="c1", items=[ITEM], tier="svip", delivery_address="1 Lake Rd").aggregate_id
    assert policies.tier_of_order(app.uow, oid) == "svip"


def test_an_engineer_holds_the_job_they_act_on(app: ServiceOrderApp) -> None:
    job = app.uow.load(FieldJob, accepted_job(app))
    policies.engineer_holds_job(Principal(job.engineer or "", frozenset({"engineer"})), job)
    policies.engineer_holds_job(Principal("desk", frozenset({"dispatcher"})), job)
    with pytest.raises(NotPermitted) as refused:
        policies.engineer_holds_job(Principal("someone-else", frozenset({"engineer"})), job)
    assert refused.value.rule == "engineer-holds-job"


def test_an_on_site_payment_is_the_jobs_payment_once(app: ServiceOrderApp, clock: ManualClock) -> None:
    job = completed(app, clock, accepted_job(app))
    policies.on_site_payment_on_job(job, amount="30", method="cash", meta=META)
    assert job.payment == {"collected": True, "amount": "30.00", "method": "cash"}
    with pytest.raises(RuleViolation) as refused:
        policies.on_site_payment_on_job(job, amount="30", method="cash", meta=META)
    assert refused.value.rule == "one-on-site-payment"


def test_a_complaint_closes_only_with_its_claims_settled(clock: ManualClock) -> None:
    complaint = Complaint.file(customer_id="c1", category="service", description="cabinet", meta=META)
    claim = CompensationClaim.open(complaint_id=str(complaint.id), customer_id="c1", damage="door",
                                   now=clock.now(), meta=META)
    claim.propose(amount="300", facts=[], meta=META)
    claim.accept(meta=META)
    with pytest.raises(RuleViolation, match="300.00 due") as refused:
        policies.complaint_claims_settled(complaint, [claim])
    assert refused.value.rule == "complaint-claims-settled"
    claim.pay(amount="300", reference="T", meta=META)
    policies.complaint_claims_settled(complaint, [claim])


def test_returned_goods_are_reserved_against_the_order_and_released_on_rejection(app: ServiceOrderApp) -> None:
    job = app.uow.load(FieldJob, deliver(app)[0])
    order = app.uow.load(ServiceOrder, UUID(job.order_id))
    request = ReturnRequest.request(customer_id=order.customer_id, order_id=str(order.id), resolution="refund",
                                    reason="leaks", items=[{"sku": order.items[0]["sku"], "quantity": 1}],
                                    required=("finance",), meta=META)
    goods = policies.returned_goods_reserved(order, None, request)
    assert goods.returned() == {order.items[0]["sku"]: 1}
    assert policies.returned_goods_released(goods, request) == []  # not rejected
    request.vote("finance", approve=False, meta={**META, "reason": "too late"})
    assert policies.returned_goods_released(goods, request) == [goods] and goods.returned() == {}

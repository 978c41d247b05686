"""Every reaction of one workflow to another, each a named function.

A handler calls the policy inside its own command, so the reaction is saved in the same
write as its cause (a delivery and its installation jobs, a completion and the engineer's
fee line): none can be missing or extra. Policies return or append the aggregates they
changed; they never save.

  orders      delivered                    -> field work: installation jobs opened
  field work  job completed                -> follow-ups: call-back scheduled
  field work  job completed                -> money: fee earned
  field work  repair of an installation error completed -> money: installer charged
  field work  installation with consumables completed   -> consumables: reminder started
  field work  replacement job completed    -> consumables: reminder renewed
  field work  replacement cancelled at door -> consumables: reminder repeats later
  consumables reminder accepted            -> field work: replacement job opened
  follow-ups  follow-up finds work done, charges agreed -> field work: job confirmed
  field work  job confirmed (or charges resolved) -> money: fee payable
  field work  job reopened                 -> money: fees reversed
  money       refund for the engineer's bad work -> money: that job's fees reversed
  orders      order's tier                 -> service levels: clock of that tier

And every rule that needs two aggregates (issue 17), checked inside the command's write so
a refusal stores nothing:

  field work  every job-scoped command by an engineer -> the engineer holds the job
  money       on-site payment for a job   -> the job records it too (one figure)
  complaints  closing a complaint         -> its claims are paid or closed
  returns     a return request            -> its lines fit the delivered order, less earlier returns
  returns     a rejection                 -> the request's units go back to the order
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from engine.application.context import Principal
from engine.application.scheduling import Deadlines
from engine.application.unit_of_work import UnitOfWork
from engine.application.waits import follow_up_deadline, reminder_deadline
from engine.domain.accounts import EngineerAccount, EngineerDirectory, account_id, cause
from engine.domain.claims import CompensationClaim
from engine.domain.complaints import Complaint
from engine.domain.errors import NotPermitted, RuleViolation
from engine.domain.followups import DUE_WITHIN, FollowUp
from engine.domain.jobs import FieldJob
from engine.domain.orders import ServiceOrder
from engine.domain.reminders import DECLINED_REPEAT_DAYS, ConsumableReminder
from engine.domain.returns import ReturnedGoods, ReturnRequest

Meta = dict[str, str]


def installation_jobs_on_delivery(order: ServiceOrder, meta: Meta) -> list[FieldJob]:
    """Delivered goods that need installing get one installation job per unit."""
    return [
        FieldJob.open(kind="installation", customer_id=order.customer_id,
                      product={"sku": item["sku"], "description": item.get("description", "")},
                      site_address=order.delivery_address, site_location=order.site_location,
                      fee=item.get("installation_fee", "0"), consumables=item.get("consumables", []),
                      consumable_interval_days=item.get("consumable_interval_days", 90),
                      order_id=str(order.id), meta=meta)
        for item in order.items if item.get("needs_installation")
        for _ in range(item["quantity"])
    ]


def follow_up_on_completion(job: FieldJob, deadlines: Deadlines, now: datetime,
                            meta: Meta) -> tuple[FollowUp, list[Aggregate]]:
    """Every completion is called back within DUE_WITHIN; the deadline marks it overdue."""
    follow_up = FollowUp(job_id=str(job.id), customer_id=job.customer_id, engineer=job.engineer,
                         fault_cause=job.fault_cause, due_at=now + DUE_WITHIN, completion=job.completions, meta=meta)
    return follow_up, [follow_up, follow_up_deadline(deadlines, follow_up, meta)]


def engineer_account(uow: UnitOfWork, engineer: str, currency: str, meta: Meta,
                     touched: list[Aggregate]) -> EngineerAccount:
    """The engineer's account, opened (and listed in the directory) on first use."""
    for aggregate in touched:
        if isinstance(aggregate, EngineerAccount) and aggregate.engineer == engineer:
            return aggregate
    account = uow.find(EngineerAccount, account_id(engineer))
    if account is None:
        account = EngineerAccount(engineer=engineer, currency=currency, meta=meta)
        directory = uow.find(EngineerDirectory, EngineerDirectory.create_id()) or EngineerDirectory()
        directory.enlist(engineer)
        touched.append(directory)
    touched.append(account)
    return account


def fee_earned_on_completion(uow: UnitOfWork, job: FieldJob, currency: str, now: datetime, meta: Meta,
                             touched: list[Aggregate]) -> None:
    """The engineer who completed the job earns its fee (pending until confirmed)."""
    assert job.engineer is not None
    engineer_account(uow, job.engineer, currency, meta, touched).earn(
        job_id=str(job.id), job_kind=job.kind, amount=job.fee, cause=cause(job, "JobCompleted"), at=now, meta=meta)


def installer_charged_for_installation_error(uow: UnitOfWork, job: FieldJob, currency: str, now: datetime,
                                             meta: Meta, touched: list[Aggregate]) -> None:
    """A completed repair whose fault was the installation is deducted from the installer."""
    if job.kind != "repair" or job.fault_cause != "installation_error" or not job.related_id:
        return
    installation = uow.load(FieldJob, UUID(job.related_id))
    if installation.engineer:
        engineer_account(uow, installation.engineer, currency, meta, touched).deduct(
            rule="installation_error_repair", amount=job.fee if job.fee != "0.00" else installation.fee,
            job_id=str(job.id), cause=cause(job, "JobCompleted"), at=now, meta=meta,
            evidence={"repair_job_id": str(job.id), "installation_job_id": str(installation.id),
                      "fault_cause": job.fault_cause, "repaired_by": job.engineer})


def reminder_on_installation(job: FieldJob, now: datetime, meta: Meta) -> ConsumableReminder | None:
    """A first completed installation of a product with consumables starts its reminders."""
    if job.kind != "installation" or not job.consumables or job.completions != 1:
        return None
    return ConsumableReminder.start(
        customer_id=job.customer_id, installation_job_id=str(job.id), product=job.product,
        consumables=job.consumables, interval_days=job.consumable_interval_days,
        site_address=job.site_address, site_location=job.site_location, now=now, meta=meta)


def reminder_renewed_on_replacement(uow: UnitOfWork, job: FieldJob, deadlines: Deadlines, now: datetime,
                                    meta: Meta) -> list[Aggregate]:
    """A completed replacement starts the next round of the consumables it replaced; the
    ones the customer kept come back as if declined."""
    if job.kind != "consumable_replacement" or not job.related_id:
        return []
    reminder = uow.load(ConsumableReminder, UUID(job.related_id))
    reminder.renew(now=now, meta=meta, replaced=list(job.replaced))
    return [reminder, reminder_deadline(deadlines, reminder, meta)]


def reminder_repeats_after_door_cancellation(uow: UnitOfWork, job: FieldJob, deadlines: Deadlines, now: datetime,
                                             meta: Meta) -> list[Aggregate]:
    """A replacement the customer cancels at the door asks again after DECLINED_REPEAT_DAYS."""
    if not job.related_id:
        return []
    reminder = uow.load(ConsumableReminder, UUID(job.related_id))
    reminder.renew(now=now, meta=meta, after_days=DECLINED_REPEAT_DAYS)
    return [reminder, reminder_deadline(deadlines, reminder, meta)]


def replacement_job_on_acceptance(reminder: ConsumableReminder, consumables: list[str], fee: Any,
                                  meta: Meta) -> FieldJob:
    """An accepted reminder opens the replacement job at the installation's site."""
    return FieldJob.open(kind="consumable_replacement", customer_id=reminder.customer_id, product=reminder.product,
                         site_address=reminder.site_address, site_location=reminder.site_location, fee=fee,
                         consumables=consumables, related_id=str(reminder.id), meta=meta)


def job_confirmed_by_follow_up(uow: UnitOfWork, follow_up: FollowUp, fixed: bool, customer_paid: Any | None,
                               currency: str, now: datetime, meta: Meta) -> tuple[dict[str, Any], list[Aggregate]]:
    """A follow-up that finds the work done and the charges agreed confirms the job, which
    makes its fee payable."""
    job = uow.find(FieldJob, UUID(follow_up.job_id))
    if job is None or job.status != "completed" or job.confirmed or customer_paid is None or not fixed:
        return {"confirmed": False}, []
    if job.completions != follow_up.completion:
        return {"confirmed": False}, []
    touched: list[Aggregate] = [job]
    confirmed = job.confirm(follow_up_id=str(follow_up.id), customer_paid=customer_paid, meta=meta)
    if confirmed:
        fee_payable_on_confirmation(uow, job, currency, now, meta, touched)
    return {"confirmed": confirmed, "charges_disputed": job.charges_disputed}, touched


def fee_payable_on_confirmation(uow: UnitOfWork, job: FieldJob, currency: str, now: datetime, meta: Meta,
                                touched: list[Aggregate]) -> None:
    """A confirmed job (by its follow-up, or charges resolved) makes its fee payable."""
    if job.engineer:
        engineer_account(uow, job.engineer, currency, meta, touched).confirm(
            job_id=str(job.id), cause=cause(job, "JobConfirmed"), at=now, meta=meta)


def fees_reversed_on_reopening(uow: UnitOfWork, job: FieldJob, now: datetime, meta: Meta,
                               touched: list[Aggregate]) -> int:
    """A reopened job takes back what it put on any account; returns the lines reversed."""
    return _reverse_fees(uow, job, "JobReopened", now, meta, touched)


def fees_reversed_on_refund(uow: UnitOfWork, job: FieldJob, now: datetime, meta: Meta,
                            touched: list[Aggregate]) -> int:
    """A refund for the engineer's bad work takes back the job's fee and what it caused."""
    return _reverse_fees(uow, job, "RefundPaid", now, meta, touched)


def _reverse_fees(uow: UnitOfWork, job: FieldJob, event_type: str, now: datetime, meta: Meta,
                  touched: list[Aggregate]) -> int:
    engineers = {job.engineer} if job.engineer else set()
    if job.kind == "repair" and job.related_id:
        installation = uow.find(FieldJob, UUID(job.related_id))
        if installation is not None and installation.engineer:
            engineers.add(installation.engineer)
    reversed_lines = 0
    for engineer in sorted(engineers):
        account = uow.find(EngineerAccount, account_id(engineer))
        if account is None:
            continue
        n = account.reverse(job_id=str(job.id), cause=cause(job, event_type), at=now, meta=meta)
        if n:
            touched.append(account)
            reversed_lines += n
    return reversed_lines


def tier_of_order(uow: UnitOfWork, order_id: UUID) -> str:
    """A service-level clock started for an order's item runs on the order's tier."""
    return uow.load(ServiceOrder, order_id).tier


# Rules across two workflows ------------------------------------------------------------------

def engineer_holds_job(principal: Principal, job: FieldJob) -> None:
    """An engineer acts only on a job dispatched to them; dispatchers act on anyone's behalf."""
    if principal.has("dispatcher") or not principal.has("engineer"):
        return
    if job.engineer != principal.name:
        raise NotPermitted(f"{principal.name} does not hold job {job.id}: an engineer acts only on the jobs "
                           "dispatched to them", rule="engineer-holds-job")


def on_site_payment_on_job(job: FieldJob, *, amount: Any, method: str, meta: dict[str, str]) -> None:
    """Money taken on site for a job is the job's payment too, so that the follow-up compares
    the customer's word with what was taken, whichever way the engineer reported it."""
    if job.payment is not None and job.payment["collected"]:
        raise RuleViolation(f"{job.payment['amount']} collected on site is already recorded on job {job.id}",
                            rule="one-on-site-payment")
    job.record_payment(collected=True, amount=amount, method=method, meta=meta)


def complaint_claims_settled(complaint: Complaint, claims: list[CompensationClaim]) -> None:
    """A complaint is fully handled only when every claim it raised is paid (or closed)."""
    open_claims = [f"{c.id} ({c.status}{', ' + format(c.due, '.2f') + ' due' if c.due else ''})"
                   for c in claims if not (c.settled or c.status == "closed")]
    if open_claims:
        raise RuleViolation(f"complaint {complaint.id} still has compensation to settle: claim "
                            f"{', '.join(open_claims)}", rule="complaint-claims-settled")


def returned_goods_reserved(order: ServiceOrder, goods: ReturnedGoods | None, request: ReturnRequest) -> ReturnedGoods:
    """Count the request's units against the order's delivered units less earlier returns."""
    ordered = order.returnable_units(request.customer_id)
    goods = goods or ReturnedGoods(order_id=str(order.id))
    goods.reserve(return_id=str(request.id), items=request.items, ordered=ordered)
    return goods


def returned_goods_released(goods: ReturnedGoods | None, request: ReturnRequest) -> list[ReturnedGoods]:
    """A rejected request asks nothing back any more: its units return to the order."""
    if request.status != "rejected" or goods is None:
        return []
    return [goods] if goods.release(return_id=str(request.id)) else []

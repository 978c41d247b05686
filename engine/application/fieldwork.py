"""Field work commands: jobs, appointments, visits, follow-ups, consumable reminders and
customers (workflows 2, 3, 7 and 10), with the deadlines that watch over them.

A mixin of ServiceOrderApp: it relies on ServiceBase's ``_command``/``_change``, the clock
and the deadline helpers, so each command stays one atomic write.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping
from uuid import UUID

from eventsourcing.domain import Aggregate

from engine.application.context import CommandContext
from engine.domain.customers import Customer, customer_uuid
from engine.domain.deadlines import Deadline
from engine.domain.errors import InvalidCommand, NotFound, RuleViolation
from engine.domain.followups import DUE_WITHIN, FollowUp
from engine.domain.jobs import FieldJob
from engine.domain.orders import ServiceOrder
from engine.store.personal import subject_of
from engine.domain.privacy import PrivacyRecord, privacy_record_id
from engine.domain.reminders import DECLINED_REPEAT_DAYS, ConsumableReminder
from engine.application.service import CommandResult, Effects
from engine.domain.values import text

if TYPE_CHECKING:
    from engine.application.service import ServiceBase

    _Base = ServiceBase
else:
    _Base = object

WINDOW = "appointment"
FOLLOW_UP = "follow_up"
REMINDER = "consumable_reminder"


def _job_not_found(job_id: UUID) -> NotFound:
    return NotFound(f"job {job_id} does not exist")


class FieldWork(_Base):
    visit_max_distance_m: float = 200.0
    deadline_actions = {
        "job.miss_appointment": "_on_window_passed",
        "followup.mark_overdue": "_on_follow_up_overdue",
        "reminder.fall_due": "_on_reminder_due",
    }

    # Jobs: opening and routing -----------------------------------------------------------

    def open_job(self, ctx: CommandContext, *, kind: str, customer_id: str, product: Mapping[str, Any],
                 site_address: str, site_location: Mapping[str, Any] | None = None, fee: Any = "0",
                 consumables: list[str] | None = None, order_id: str | None = None,
                 idempotency_key: str | None = None) -> CommandResult:
        payload = {"kind": kind, "customer": customer_id, "product": dict(product), "site": site_address,
                   "location": site_location, "fee": str(fee), "consumables": consumables, "order": order_id}
        return self._command(ctx, "open_job", payload, idempotency_key, lambda: Effects(FieldJob.open(
            kind=kind, customer_id=customer_id, product=product, site_address=site_address,
            site_location=site_location, fee=fee, consumables=consumables, order_id=order_id, meta=ctx.meta())))

    def open_repair(self, ctx: CommandContext, installation_job_id: UUID, *, fee: Any = "0",
                    engineer: str | None = None, original_unavailable: str | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        """A repair on an installed product goes to its installer unless they are unavailable."""
        payload = {"installation": str(installation_job_id), "fee": str(fee), "engineer": engineer,
                   "unavailable": original_unavailable}

        def act() -> Effects:
            installation = self._load_as(FieldJob, installation_job_id, not_found=_job_not_found)
            if installation.kind != "installation" or installation.status != "completed":
                raise RuleViolation("a repair follows a completed installation by an engineer")
            repair = FieldJob.open(kind="repair", customer_id=installation.customer_id, product=installation.product,
                                   site_address=installation.site_address, site_location=installation.site_location,
                                   fee=fee, order_id=installation.order_id, related_id=str(installation.id),
                                   meta=ctx.meta())
            installer = installation.engineer
            assert installer is not None
            if original_unavailable is None:
                chosen = engineer or installer
                if chosen != installer:
                    raise InvalidCommand(f"the original installer is {installer}: to route elsewhere, "
                                         "say why they are unavailable")
                repair.dispatch(installer, routing="original_installer", meta=ctx.meta(),
                                note=f"installed this product (job {installation.id})")
            else:
                if not engineer or engineer == installer:
                    raise InvalidCommand("name another engineer when the original installer is unavailable")
                repair.dispatch(engineer, routing="operator_choice", meta=ctx.meta(),
                                note=f"original installer {installer} unavailable: {original_unavailable}")
            return Effects(repair, {"engineer": repair.engineer})

        return self._command(ctx, "open_repair", payload, idempotency_key, act)

    def _installation_jobs_for(self, order: ServiceOrder, ctx: CommandContext) -> list[FieldJob]:
        return [
            FieldJob.open(kind="installation", customer_id=order.customer_id,
                          product={"sku": item["sku"], "description": item.get("description", "")},
                          site_address=order.delivery_address, site_location=order.site_location,
                          fee=item.get("installation_fee", "0"), consumables=item.get("consumables", []),
                          consumable_interval_days=item.get("consumable_interval_days", 90),
                          order_id=str(order.id), meta=ctx.meta())
            for item in order.items if item.get("needs_installation")
            for _ in range(item["quantity"])
        ]

    # Jobs: dispatch and appointments -----------------------------------------------------

    def dispatch_job(self, ctx: CommandContext, job_id: UUID, engineer: str, *, note: str | None = None,
                     expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "dispatch_job", job_id, expected_version, idempotency_key,
                         {"engineer": engineer, "note": note},
                         lambda job: job.dispatch(engineer, routing="redispatch" if job.declined_by else
                                                  "operator_choice", note=note, meta=ctx.meta()))

    def accept_job(self, ctx: CommandContext, job_id: UUID, engineer: str, *, expected_version: int | None = None,
                   idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "accept_job", job_id, expected_version, idempotency_key, {"engineer": engineer},
                         lambda job: job.accept(engineer, meta=ctx.meta()))

    def decline_job(self, ctx: CommandContext, job_id: UUID, engineer: str, *, expected_version: int | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "decline_job", job_id, expected_version, idempotency_key,
                         {"engineer": engineer, "reason": ctx.reason},
                         lambda job: job.decline(engineer, meta=ctx.meta()))

    def agree_appointment(self, ctx: CommandContext, job_id: UUID, start: datetime, end: datetime, *,
                          expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            job.agree_appointment(start, end, now=self.clock.now(), meta=ctx.meta())
            return Effects(job, also=[self._window_deadline(job, ctx)])

        return self._job(ctx, "agree_appointment", job_id, expected_version, idempotency_key,
                         {"start": start.isoformat(), "end": end.isoformat()}, change)

    def reschedule_appointment(self, ctx: CommandContext, job_id: UUID, start: datetime, end: datetime, *,
                               initiator: str, expected_version: int | None = None,
                               idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = self._stop_window_deadline(job, ctx, "rescheduled")
            job.reschedule(start, end, now=self.clock.now(), initiator=initiator, meta=ctx.meta())
            return Effects(job, also=[*stale, self._window_deadline(job, ctx)])

        return self._job(ctx, "reschedule_appointment", job_id, expected_version, idempotency_key,
                         {"start": start.isoformat(), "end": end.isoformat(), "initiator": initiator,
                          "reason": ctx.reason}, change)

    def _window_deadline(self, job: FieldJob, ctx: CommandContext) -> Deadline:
        assert job.window is not None
        return self._deadline(kind=WINDOW, subject_id=job.id, key=str(job.windows_agreed), due_at=job.window["end"],
                              action="job.miss_appointment", customer_id=job.customer_id, meta=ctx.meta())

    def _stop_window_deadline(self, job: FieldJob, ctx: CommandContext, why: str) -> list[Aggregate]:
        if job.window is None:
            return []
        return self._cancel_deadline(WINDOW, job.id, str(job.windows_agreed), reason=why, meta=ctx.meta())

    def _on_window_passed(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        job = self._load_as(FieldJob, UUID(deadline.subject_id))
        return [job] if job.miss_appointment(now=now, meta=meta) else []

    # Jobs: visits and outcomes -------------------------------------------------------------

    def set_site_location(self, ctx: CommandContext, job_id: UUID, location: Mapping[str, Any], *,
                          expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "set_site_location", job_id, expected_version, idempotency_key,
                         {"location": dict(location)}, lambda job: job.set_site_location(location, meta=ctx.meta()))

    def check_in(self, ctx: CommandContext, job_id: UUID, engineer: str, *, location: Mapping[str, Any],
                 accuracy_m: float, at: datetime | None = None, expected_version: int | None = None,
                 idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            when = at or self.clock.now()
            # Arriving by the window's end keeps it; arriving later leaves the breach to its deadline.
            on_time = job.window is not None and when <= job.window["end"]
            stale = self._stop_window_deadline(job, ctx, "engineer checked in") if on_time else []
            verified = job.check_in(engineer, location=location, accuracy_m=accuracy_m, at=when,
                                    max_distance_m=self.visit_max_distance_m, meta=ctx.meta())
            return Effects(job, {"verified": verified, "distance_m": job.visits[-1]["distance_m"]}, stale)

        return self._job(ctx, "check_in", job_id, expected_version, idempotency_key,
                         {"engineer": engineer, "location": dict(location), "accuracy": accuracy_m,
                          "at": at.isoformat() if at else None}, change)

    def check_out(self, ctx: CommandContext, job_id: UUID, engineer: str, *, at: datetime | None = None,
                  expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "check_out", job_id, expected_version, idempotency_key,
                         {"engineer": engineer, "at": at.isoformat() if at else None},
                         lambda job: job.check_out(engineer, at=at or self.clock.now(), meta=ctx.meta()))

    def complete_job(self, ctx: CommandContext, job_id: UUID, *, fault_cause: str | None = None, fixed: bool = True,
                     consumables_replaced: list[str] | None = None, notes: str | None = None,
                     expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = self._stop_window_deadline(job, ctx, "job completed")
            job.complete(fault_cause=fault_cause, fixed=fixed, consumables_replaced=consumables_replaced,
                         notes=notes, meta=ctx.meta())
            return Effects(job, *self._after_completion(job, ctx, stale))

        return self._job(ctx, "complete_job", job_id, expected_version, idempotency_key,
                         {"cause": fault_cause, "fixed": fixed, "replaced": consumables_replaced, "notes": notes},
                         change)

    def _after_completion(self, job: FieldJob, ctx: CommandContext,
                          also: list[Aggregate]) -> tuple[dict[str, Any], list[Aggregate]]:
        now, meta, extra = self.clock.now(), ctx.meta(), {}
        also = list(also)
        follow_up = FollowUp(job_id=str(job.id), customer_id=job.customer_id, engineer=job.engineer,
                             fault_cause=job.fault_cause, due_at=now + DUE_WITHIN, completion=job.completions,
                             meta=meta)
        also += [follow_up, self._deadline(kind=FOLLOW_UP, subject_id=follow_up.id, key="", due_at=now + DUE_WITHIN,
                                           action="followup.mark_overdue", customer_id=job.customer_id, meta=meta)]
        extra["follow_up_id"] = str(follow_up.id)
        self._earn_fee(job, ctx, also)
        if job.kind == "installation" and job.consumables and job.completions == 1:
            reminder = ConsumableReminder.start(
                customer_id=job.customer_id, installation_job_id=str(job.id), product=job.product,
                consumables=job.consumables, interval_days=job.consumable_interval_days,
                site_address=job.site_address, site_location=job.site_location, now=now, meta=meta)
            also += [reminder, self._reminder_deadline(reminder, ctx)]
            extra["reminder_id"] = str(reminder.id)
        elif job.kind == "consumable_replacement" and job.related_id:
            reminder = self._load_as(ConsumableReminder, UUID(job.related_id))
            reminder.renew(now=now, meta=meta)
            also += [reminder, self._reminder_deadline(reminder, ctx)]
        return extra, also

    def install_by_customer(self, ctx: CommandContext, job_id: UUID, *, expected_version: int | None = None,
                            idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = self._stop_window_deadline(job, ctx, "customer installs it themselves")
            job.install_by_customer(meta=ctx.meta())
            return Effects(job, {"fee_refunded": job.fee}, stale)

        return self._job(ctx, "install_by_customer", job_id, expected_version, idempotency_key,
                         {"reason": ctx.reason}, change)

    def cancel_at_door(self, ctx: CommandContext, job_id: UUID, *, expected_version: int | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = self._stop_window_deadline(job, ctx, "customer cancelled at the door")
            job.cancel_at_door(meta=ctx.meta())
            if job.related_id:
                reminder = self._load_as(ConsumableReminder, UUID(job.related_id))
                reminder.renew(now=self.clock.now(), meta=ctx.meta(), after_days=DECLINED_REPEAT_DAYS)
                stale += [reminder, self._reminder_deadline(reminder, ctx)]
            return Effects(job, also=stale)

        return self._job(ctx, "cancel_at_door", job_id, expected_version, idempotency_key, {"reason": ctx.reason},
                         change)

    def record_payment(self, ctx: CommandContext, job_id: UUID, *, collected: bool, amount: Any,
                       method: str | None = None, expected_version: int | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "record_payment", job_id, expected_version, idempotency_key,
                         {"collected": collected, "amount": str(amount), "method": method, "reason": ctx.reason},
                         lambda job: job.record_payment(collected=collected, amount=amount, method=method,
                                                        meta=ctx.meta()))

    def get_job(self, job_id: UUID) -> dict[str, Any]:
        job = self._load_as(FieldJob, job_id, not_found=_job_not_found)
        return {
            "job_id": str(job.id), "version": job.version, "kind": job.kind, "status": job.status,
            "customer_id": job.customer_id, "product": job.product, "site_address": job.site_address,
            "site_location": job.site_location, "fee": job.fee, "order_id": job.order_id,
            "related_id": job.related_id, "consumables": job.consumables, "engineer": job.engineer,
            "declined_by": job.declined_by,
            "window": None if job.window is None else {"start": job.window["start"].isoformat(),
                                                       "end": job.window["end"].isoformat()},
            "missed_windows": job.missed_windows,
            "visits": [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in visit.items()}
                       for visit in job.visits],
            "fault_cause": job.fault_cause, "payment": job.payment,
        }

    def _job(self, ctx: CommandContext, name: str, job_id: UUID, expected_version: int | None,
             idempotency_key: str | None, payload: dict[str, Any], change: Any) -> CommandResult:
        return self._change(ctx, name, FieldJob, job_id, expected_version, idempotency_key, payload, change,
                            _job_not_found)

    # Follow-ups ------------------------------------------------------------------------------

    def record_follow_up(self, ctx: CommandContext, follow_up_id: UUID, *, fixed: bool, conduct: str,
                         satisfaction: int, arrival_time: datetime | None = None, comments: str | None = None,
                         customer_paid: Any | None = None, expected_version: int | None = None,
                         idempotency_key: str | None = None) -> CommandResult:
        """Record the call-back; with what the customer says they paid, it also checks the charges."""
        def change(follow_up: FollowUp) -> Effects:
            follow_up.record(fixed=fixed, arrival_time=arrival_time, conduct=conduct, satisfaction=satisfaction,
                             comments=comments, now=self.clock.now(), meta=ctx.meta())
            extra, touched = self._check_after_follow_up(follow_up, fixed, customer_paid, ctx)
            stale = self._cancel_deadline(FOLLOW_UP, follow_up.id, "", reason="recorded", meta=ctx.meta())
            return Effects(follow_up, extra, [*stale, *touched])

        return self._change(ctx, "record_follow_up", FollowUp, follow_up_id, expected_version, idempotency_key,
                            {"fixed": fixed, "conduct": conduct, "satisfaction": satisfaction,
                             "arrival": arrival_time.isoformat() if arrival_time else None, "comments": comments,
                             "paid": None if customer_paid is None else str(customer_paid)},
                            change, lambda i: NotFound(f"follow-up {i} does not exist"))

    def get_follow_up(self, follow_up_id: UUID) -> dict[str, Any]:
        f = self._load_as(FollowUp, follow_up_id, not_found=lambda i: NotFound(f"follow-up {i} does not exist"))
        return {"follow_up_id": str(f.id), "version": f.version, "job_id": f.job_id, "completion": f.completion,
                "customer_id": f.customer_id,
                "engineer": f.engineer, "fault_cause": f.fault_cause, "due_at": f.due_at.isoformat(),
                "status": f.status}

    def _on_follow_up_overdue(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        follow_up = self._load_as(FollowUp, UUID(deadline.subject_id))
        return [follow_up] if follow_up.mark_overdue(now=now, meta=meta) else []

    # Consumable reminders ----------------------------------------------------------------------

    def _reminder_deadline(self, reminder: ConsumableReminder, ctx: CommandContext) -> Deadline:
        return self._deadline(kind=REMINDER, subject_id=reminder.id, key=str(reminder.round), due_at=reminder.due_at,
                              action="reminder.fall_due", customer_id=reminder.customer_id, meta=ctx.meta())

    def _on_reminder_due(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        reminder = self._load_as(ConsumableReminder, UUID(deadline.subject_id))
        return [reminder] if reminder.fall_due(now=now, meta=meta) else []

    def decline_reminder(self, ctx: CommandContext, reminder_id: UUID, *, repeat_after_days: int = DECLINED_REPEAT_DAYS,
                         expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        def change(reminder: ConsumableReminder) -> Effects:
            reminder.decline(now=self.clock.now(), repeat_after_days=repeat_after_days, meta=ctx.meta())
            return Effects(reminder, {"next_due_at": reminder.due_at.isoformat()},
                           [self._reminder_deadline(reminder, ctx)])

        return self._change(ctx, "decline_reminder", ConsumableReminder, reminder_id, expected_version,
                            idempotency_key, {"repeat": repeat_after_days, "reason": ctx.reason}, change,
                            lambda i: NotFound(f"reminder {i} does not exist"))

    def accept_reminder(self, ctx: CommandContext, reminder_id: UUID, *, consumables: list[str] | None = None,
                        fee: Any = "0", expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        def change(reminder: ConsumableReminder) -> Effects:
            chosen = consumables or reminder.consumables
            if set(chosen) - set(reminder.consumables):
                raise InvalidCommand(f"replaceable consumables are {', '.join(reminder.consumables)}")
            job = FieldJob.open(kind="consumable_replacement", customer_id=reminder.customer_id,
                                product=reminder.product, site_address=reminder.site_address,
                                site_location=reminder.site_location, fee=fee, consumables=chosen,
                                related_id=str(reminder.id), meta=ctx.meta())
            reminder.accept(replacement_job_id=str(job.id), meta=ctx.meta())
            return Effects(reminder, {"job_id": str(job.id)}, [job])

        return self._change(ctx, "accept_reminder", ConsumableReminder, reminder_id, expected_version,
                            idempotency_key, {"consumables": consumables, "fee": str(fee)}, change,
                            lambda i: NotFound(f"reminder {i} does not exist"))

    def get_reminder(self, reminder_id: UUID) -> dict[str, Any]:
        r = self._load_as(ConsumableReminder, reminder_id, not_found=lambda i: NotFound(f"reminder {i} does not exist"))
        return {"reminder_id": str(r.id), "version": r.version, "customer_id": r.customer_id,
                "installation_job_id": r.installation_job_id, "product": r.product, "consumables": r.consumables,
                "status": r.status, "round": r.round, "due_at": r.due_at.isoformat(),
                "replacement_job_id": r.replacement_job_id}

    # Customers -----------------------------------------------------------------------------------

    def register_customer(self, ctx: CommandContext, *, customer_id: str, name: str, phone: str, address: str,
                          idempotency_key: str | None = None) -> CommandResult:
        def act() -> Effects:
            if self._find(Customer, customer_uuid(customer_id)) is not None:
                raise RuleViolation(f"customer {customer_id} is already registered: update their contact details")
            return Effects(Customer.register(customer_id=customer_id, name=name, phone=phone, address=address,
                                             meta=ctx.meta()))

        return self._command(ctx, "register_customer", {"id": customer_id, "name": name, "phone": phone,
                                                        "address": address}, idempotency_key, act)

    def erase_personal_data(self, ctx: CommandContext, customer_id: str) -> CommandResult:
        """Destroy the customer's keys, so their name, phone, addresses and site locations read
        as erased everywhere, and record who did it and why (PrivacyRecord)."""
        if self.personal_data is None:
            raise RuleViolation("personal data is not sealed in this store, so it cannot be erased")
        if not ctx.reason:
            raise InvalidCommand("an erasure needs a reason (the customer's request, its reference)")
        customer_id = text(customer_id, "customer_id", limit=100)

        def act() -> Effects:
            # Keys first: if recording fails the command is retried, and destroying is idempotent.
            destroyed = self.personal_data.keys.erase(subject_of(customer_id, None), by=ctx.principal.name)
            record = self._find(PrivacyRecord, privacy_record_id(customer_id))
            if record is None:
                record = PrivacyRecord.erase(customer_id=customer_id, keys_destroyed=destroyed, meta=ctx.meta())
            else:
                record.erase_again(keys_destroyed=destroyed, meta=ctx.meta())
            return Effects(record, extra={"keys_destroyed": destroyed})

        return self._command(ctx, "erase_personal_data", {"customer_id": customer_id}, None, act)

    def update_customer(self, ctx: CommandContext, customer_id: str, *, name: str | None = None,
                        phone: str | None = None, address: str | None = None, expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        return self._change(ctx, "update_customer", Customer, customer_uuid(customer_id), expected_version,
                            idempotency_key, {"name": name, "phone": phone, "address": address},
                            lambda c: c.update_contact(name=name, phone=phone, address=address, meta=ctx.meta()),
                            lambda _: NotFound(f"customer {customer_id} is not registered"))

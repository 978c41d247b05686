"""Workflow 2, installation and field jobs: opening and routing, dispatch, appointments,
visits, completion, reopening and the job's charges. What a job's completion or reopening
means for follow-ups, consumables and the engineer's account is in ``policies``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping
from uuid import UUID

from eventsourcing.domain import Aggregate

from engine.application import policies
from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import Change, CommandResult, Effects
from engine.application.waits import (MISS_APPOINTMENT, reminder_deadline, stop_window_deadline,
                                      window_deadline)
from engine.domain.deadlines import Deadline
from engine.domain.errors import InvalidCommand, NotFound, RuleViolation
from engine.domain.jobs import FieldJob


def job_not_found(job_id: UUID) -> NotFound:
    return NotFound(f"job {job_id} does not exist")


class FieldWork(Handler):
    def register_deadline_actions(self) -> None:
        self.deadlines.on(MISS_APPOINTMENT, self._on_window_passed)

    # Opening and routing ---------------------------------------------------------------------

    def open_job(self, ctx: CommandContext, *, kind: str, customer_id: str, product: Mapping[str, Any],
                 site_address: str, site_location: Mapping[str, Any] | None = None, fee: Any = "0",
                 consumables: list[str] | None = None, order_id: str | None = None,
                 idempotency_key: str | None = None) -> CommandResult:
        payload = {"kind": kind, "customer": customer_id, "product": dict(product), "site": site_address,
                   "location": site_location, "fee": str(fee), "consumables": consumables, "order": order_id}
        return self.uow.command(ctx, "open_job", payload, idempotency_key, lambda: Effects(FieldJob.open(
            kind=kind, customer_id=customer_id, product=product, site_address=site_address,
            site_location=site_location, fee=fee, consumables=consumables, order_id=order_id, meta=ctx.meta())))

    def open_repair(self, ctx: CommandContext, installation_job_id: UUID, *, fee: Any = "0",
                    engineer: str | None = None, original_unavailable: str | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        """A repair on an installed product goes to its installer unless they are unavailable."""
        payload = {"installation": str(installation_job_id), "fee": str(fee), "engineer": engineer,
                   "unavailable": original_unavailable}

        def act() -> Effects:
            installation = self.uow.load(FieldJob, installation_job_id, not_found=job_not_found)
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
                repair.dispatch(installer, routing="original_installer", now=self.uow.now(), meta=ctx.meta(),
                                note=f"installed this product (job {installation.id})")
            else:
                if not engineer or engineer == installer:
                    raise InvalidCommand("name another engineer when the original installer is unavailable")
                repair.dispatch(engineer, routing="operator_choice", now=self.uow.now(), meta=ctx.meta(),
                                note=f"original installer {installer} unavailable: {original_unavailable}")
            return Effects(repair, {"engineer": repair.engineer})

        return self.uow.command(ctx, "open_repair", payload, idempotency_key, act)

    # Dispatch and appointments ----------------------------------------------------------------

    def dispatch_job(self, ctx: CommandContext, job_id: UUID, engineer: str, *, note: str | None = None,
                     expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "dispatch_job", job_id, {"engineer": engineer, "note": note},
                         lambda job: job.dispatch(engineer, routing="redispatch" if job.declined_by else
                                                  "operator_choice", note=note, now=self.uow.now(),
                                                  meta=ctx.meta()),
                         expected_version, idempotency_key)

    def accept_job(self, ctx: CommandContext, job_id: UUID, engineer: str, *, expected_version: int | None = None,
                   idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "accept_job", job_id, {"engineer": engineer},
                         lambda job: job.accept(engineer, meta=ctx.meta()), expected_version, idempotency_key)

    def decline_job(self, ctx: CommandContext, job_id: UUID, engineer: str, *, expected_version: int | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        """The engineer gives the job back, or a dispatcher does for them (ill at 8:00): before
        acceptance, or after it until the appointment's window begins. The window stays agreed,
        and its missed-window deadline keeps running for whoever holds the job when it ends."""
        return self._job(ctx, "decline_job", job_id, {"engineer": engineer, "reason": ctx.reason},
                         lambda job: job.decline(engineer, now=self.uow.now(), meta=ctx.meta()), expected_version,
                         idempotency_key)

    def agree_appointment(self, ctx: CommandContext, job_id: UUID, start: datetime, end: datetime, *,
                          expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            job.agree_appointment(start, end, now=self.uow.now(), meta=ctx.meta())
            return Effects(job, also=[window_deadline(self.deadlines, job, ctx.meta())])

        return self._job(ctx, "agree_appointment", job_id, {"start": start.isoformat(), "end": end.isoformat()},
                         change, expected_version, idempotency_key)

    def reschedule_appointment(self, ctx: CommandContext, job_id: UUID, start: datetime, end: datetime, *,
                               initiator: str, expected_version: int | None = None,
                               idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = stop_window_deadline(self.deadlines, job, "rescheduled", ctx.meta())
            job.reschedule(start, end, now=self.uow.now(), initiator=initiator, meta=ctx.meta(),
                           min_notice=self.config.reschedule_min_notice)
            return Effects(job, also=[*stale, window_deadline(self.deadlines, job, ctx.meta())])

        return self._job(ctx, "reschedule_appointment", job_id,
                         {"start": start.isoformat(), "end": end.isoformat(), "initiator": initiator,
                          "reason": ctx.reason}, change, expected_version, idempotency_key)

    def _on_window_passed(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        job = self.uow.load(FieldJob, UUID(deadline.subject_id))
        return [job] if job.miss_appointment(now=now, meta=meta) else []

    # Visits and outcomes ---------------------------------------------------------------------

    def set_site_location(self, ctx: CommandContext, job_id: UUID, location: Mapping[str, Any], *,
                          expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "set_site_location", job_id, {"location": dict(location)},
                         lambda job: job.set_site_location(location, meta=ctx.meta()), expected_version,
                         idempotency_key)

    def check_in(self, ctx: CommandContext, job_id: UUID, engineer: str, *, location: Mapping[str, Any],
                 accuracy_m: float, at: datetime | None = None, expected_version: int | None = None,
                 idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            window = job.window
            verified = job.check_in(engineer, location=location, accuracy_m=accuracy_m, received_at=self.uow.now(),
                                    device_at=at, max_device_age=self.config.device_time_max_age,
                                    max_distance_m=self.config.visit_max_distance_m, meta=ctx.meta())
            # Arriving by the window's end (on the bounded time) keeps it; arriving later leaves
            # the breach to its deadline.
            on_time = window is not None and job.visits[-1]["checked_in_at"] <= window["end"]
            stale = stop_window_deadline(self.deadlines, job, "engineer checked in", ctx.meta()) if on_time else []
            return Effects(job, {"verified": verified, "distance_m": job.visits[-1]["distance_m"]}, stale)

        return self._job(ctx, "check_in", job_id, {"engineer": engineer, "location": dict(location),
                                                   "accuracy": accuracy_m, "at": at.isoformat() if at else None},
                         change, expected_version, idempotency_key)

    def check_out(self, ctx: CommandContext, job_id: UUID, engineer: str, *, at: datetime | None = None,
                  expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "check_out", job_id, {"engineer": engineer, "at": at.isoformat() if at else None},
                         lambda job: job.check_out(engineer, received_at=self.uow.now(), device_at=at,
                                                   max_device_age=self.config.device_time_max_age, meta=ctx.meta()),
                         expected_version, idempotency_key)

    def complete_job(self, ctx: CommandContext, job_id: UUID, *, fault_cause: str | None = None, fixed: bool = True,
                     consumables_replaced: list[str] | None = None, notes: str | None = None,
                     expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = stop_window_deadline(self.deadlines, job, "job completed", ctx.meta())
            job.complete(fault_cause=fault_cause, fixed=fixed, consumables_replaced=consumables_replaced,
                         notes=notes, liability=self.config.repair_liability, meta=ctx.meta())
            return Effects(job, *self._after_completion(job, ctx.meta(), stale))

        return self._job(ctx, "complete_job", job_id,
                         {"cause": fault_cause, "fixed": fixed, "replaced": consumables_replaced, "notes": notes},
                         change, expected_version, idempotency_key)

    def _after_completion(self, job: FieldJob, meta: dict[str, str],
                          also: list[Aggregate]) -> tuple[dict[str, Any], list[Aggregate]]:
        now, currency, also = self.uow.now(), self.config.currency, list(also)
        follow_up, scheduled = policies.follow_up_on_completion(job, self.deadlines, now, meta)
        also += scheduled
        extra: dict[str, Any] = {"follow_up_id": str(follow_up.id)}
        policies.fee_earned_on_completion(self.uow, job, currency, now, meta, also)
        policies.installer_charged_for_installation_error(self.uow, job, currency, now, meta, also)
        reminder = policies.reminder_on_installation(job, now, meta)
        if reminder is not None:
            also += [reminder, reminder_deadline(self.deadlines, reminder, meta)]
            extra["reminder_id"] = str(reminder.id)
        also += policies.reminder_renewed_on_replacement(self.uow, job, self.deadlines, now, meta)
        return extra, also

    def install_by_customer(self, ctx: CommandContext, job_id: UUID, *, expected_version: int | None = None,
                            idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = stop_window_deadline(self.deadlines, job, "customer installs it themselves", ctx.meta())
            job.install_by_customer(meta=ctx.meta())
            return Effects(job, {"fee_refunded": job.fee}, stale)

        return self._job(ctx, "install_by_customer", job_id, {"reason": ctx.reason}, change, expected_version,
                         idempotency_key)

    def cancel_at_door(self, ctx: CommandContext, job_id: UUID, *, expected_version: int | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            stale = stop_window_deadline(self.deadlines, job, "customer cancelled at the door", ctx.meta())
            job.cancel_at_door(meta=ctx.meta())
            stale += policies.reminder_repeats_after_door_cancellation(self.uow, job, self.deadlines, self.uow.now(),
                                                                       ctx.meta())
            return Effects(job, also=stale)

        return self._job(ctx, "cancel_at_door", job_id, {"reason": ctx.reason}, change, expected_version,
                         idempotency_key)

    # The job's money --------------------------------------------------------------------------

    def record_payment(self, ctx: CommandContext, job_id: UUID, *, collected: bool, amount: Any,
                       method: str | None = None, expected_version: int | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        return self._job(ctx, "record_payment", job_id,
                         {"collected": collected, "amount": str(amount), "method": method, "reason": ctx.reason},
                         lambda job: job.record_payment(collected=collected, amount=amount, method=method,
                                                        meta=ctx.meta()), expected_version, idempotency_key)

    def reopen_job(self, ctx: CommandContext, job_id: UUID, *, expected_version: int | None = None,
                   idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            job.reopen(meta=ctx.meta())
            touched: list[Aggregate] = []
            reversed_lines = policies.fees_reversed_on_reopening(self.uow, job, self.uow.now(), ctx.meta(), touched)
            return Effects(job, {"reversed_lines": reversed_lines}, touched)

        return self._job(ctx, "reopen_job", job_id, {"reason": ctx.reason}, change, expected_version, idempotency_key)

    def resolve_charges(self, ctx: CommandContext, job_id: UUID, *, agreed: Any, expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        def change(job: FieldJob) -> Effects:
            job.resolve_charges(agreed=agreed, meta=ctx.meta())
            touched: list[Aggregate] = []
            policies.fee_payable_on_confirmation(self.uow, job, self.config.currency, self.uow.now(), ctx.meta(),
                                                 touched)
            return Effects(job, {"confirmed": True}, touched)

        return self._job(ctx, "resolve_charges", job_id, {"agreed": str(agreed), "reason": ctx.reason}, change,
                         expected_version, idempotency_key)

    def get_job(self, job_id: UUID) -> dict[str, Any]:
        job = self.uow.load(FieldJob, job_id, not_found=job_not_found)
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
            "charged_to": job.charged_to if job.status == "completed" else None,
        }

    def _job(self, ctx: CommandContext, name: str, job_id: UUID, payload: dict[str, Any], change: Change[FieldJob],
             expected_version: int | None, idempotency_key: str | None) -> CommandResult:
        def held(job: FieldJob) -> Effects | dict[str, Any] | None:
            policies.engineer_holds_job(ctx.principal, job)
            return change(job)

        return self.uow.change(ctx, name, FieldJob, job_id, payload, held, expected_version=expected_version,
                               idempotency_key=idempotency_key, not_found=job_not_found)

"""Completing a field job and what follows: the fault's cause and who pays for it, a
self-installation or a cancellation at the door, the payment taken on site, the follow-up's
confirmation of the charges (or an operator's resolution), and reopening work not done.

Each function is a command of ``FieldJob`` (assigned there as a method): it checks the rules on the
job's state, then records the event through the aggregate's own event method.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.jobs.rules import DEFAULT_REPAIR_LIABILITY, FAULT_CAUSES, PAYERS
from engine.domain.values import money, text

if TYPE_CHECKING:
    from engine.domain.jobs.field_job import FieldJob


def complete(job: FieldJob, *, meta: dict[str, str], fault_cause: str | None = None, fixed: bool = True,
             consumables_replaced: list[str] | None = None, notes: str | None = None,
             liability: Mapping[str, str] = DEFAULT_REPAIR_LIABILITY) -> None:
    job._refuse_if_closed("complete")
    if job.open_visit is not None:
        raise RuleViolation("check out before completing the job")
    if not any(v["verified"] for v in job.visits[job.visits_since:]):
        raise RuleViolation("no verified visit: a job is completed only after a check-in at the customer's site")
    if job.kind == "repair" and fault_cause not in FAULT_CAUSES:
        raise InvalidCommand(f"a repair records its fault cause: one of {', '.join(FAULT_CAUSES)}")
    if job.kind != "repair" and fault_cause is not None:
        raise InvalidCommand("only a repair records a fault cause")
    replaced: list[str] = []
    if job.kind == "consumable_replacement":
        replaced = list(consumables_replaced or job.consumables)
        unknown = sorted(set(replaced) - set(job.consumables))
        if unknown or not replaced:
            raise InvalidCommand(f"replace some of {', '.join(job.consumables)}; not {', '.join(unknown)}")
    charged_to = liability.get(fault_cause, "customer") if fault_cause else "customer"
    if charged_to not in PAYERS:
        raise InvalidCommand(f"the liability rule names {charged_to!r}; payers are {', '.join(PAYERS)}")
    job._completed(fault_cause=fault_cause, fixed=fixed, consumables_replaced=replaced,
                   notes=text(notes, "notes", required=False), charged_to=charged_to, meta=meta)



def install_by_customer(job: FieldJob, *, meta: dict[str, str]) -> None:
    if job.kind != "installation":
        raise RuleViolation("only an installation can be done by the customer")
    job._refuse_if_closed("hand over to the customer")
    if not meta.get("reason"):
        raise InvalidCommand("self-installation is a decision: give the reason (no engineer can reach the site...)")
    job._self_installed(fee_refunded=job.fee, meta=meta)



def cancel_at_door(job: FieldJob, *, meta: dict[str, str]) -> None:
    if job.kind != "consumable_replacement":
        raise RuleViolation("only a consumable replacement can be cancelled at the door")
    job._refuse_if_closed("cancel")
    if not job.visits:
        raise RuleViolation("the customer cancels at the door: the engineer must have checked in")
    if not meta.get("reason"):
        raise InvalidCommand("record why the customer changed their mind")
    job._cancelled_at_door(meta=meta)



def record_payment(job: FieldJob, *, collected: bool, amount: Any, meta: dict[str, str],
                   method: str | None = None) -> None:
    if job.status != "completed":
        raise RuleViolation("payment is recorded after the work is completed")
    if job.payment is not None and job.payment["collected"]:
        raise RuleViolation("payment was already collected")
    if not collected and not meta.get("reason"):
        raise InvalidCommand("record why the customer did not pay; it will be followed up")
    job._payment_recorded(collected=collected, amount=money(amount, "amount"),
                          method=text(method, "method", required=False, limit=50), meta=meta)



def reopen(job: FieldJob, *, meta: dict[str, str]) -> None:
    """Completed work turned out not done: the engineer goes back; the fee is reversed."""
    if job.status != "completed":
        raise RuleViolation(f"only completed work can be reopened; the job is {job.status.replace('_', ' ')}")
    if not meta.get("reason"):
        raise InvalidCommand("reopening a job records why the work is not done")
    job._reopened(completion=job.completions, meta=meta)



def confirm(job: FieldJob, *, follow_up_id: str, customer_paid: str, meta: dict[str, str]) -> bool:
    """The follow-up's check of the work and the charges. True if the job is now confirmed.

    The customer's account of what they paid is compared with the engineer's report; a
    difference is recorded as a dispute, to be resolved before the fee is payable.
    """
    _require_unconfirmed(job)
    reported = job.payment["amount"] if job.payment and job.payment["collected"] else "0.00"
    if money(customer_paid, "customer_paid") != reported:
        job._charges_disputed(follow_up_id=follow_up_id, customer_paid=money(customer_paid, "customer_paid"),
                              engineer_reported=reported, meta=meta)
        return False
    job._confirmed(follow_up_id=follow_up_id, charged=reported, resolution=None, meta=meta)
    return True



def resolve_charges(job: FieldJob, *, agreed: Any, meta: dict[str, str]) -> None:
    """An operator settles what was charged (after a dispute, or when nobody was asked)."""
    _require_unconfirmed(job)
    if not meta.get("reason"):
        raise InvalidCommand("resolving the charges records how they were agreed")
    job._confirmed(follow_up_id=None, charged=money(agreed, "agreed"), resolution="resolved by operator",
                   meta=meta)



def _require_unconfirmed(job: FieldJob) -> None:
    if job.status != "completed":
        raise RuleViolation(f"only completed work is confirmed; the job is {job.status.replace('_', ' ')}")
    if job.confirmed:
        raise RuleViolation("the work and its charges are already confirmed")

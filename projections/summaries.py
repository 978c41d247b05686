"""Human-readable one-line summaries of events, as a customer or operator reads them."""

from __future__ import annotations

from typing import Any, Callable

from streams.envelope import short_type

STEP_LABELS = {
    "stock_prepared": "Stock prepared",
    "left_warehouse": "Left the warehouse",
    "driver_assigned": "Driver assigned",
    "in_transit": "In transit",
    "delivered": "Delivered",
}
TIER_LABELS = {"basic": "basic warranty service", "vip": "VIP service", "svip": "SVIP service"}


def _placed(d: dict[str, Any], env: dict[str, Any]) -> str:
    items = ", ".join(f"{i['quantity']} x {i['sku']}" for i in d.get("items", []))
    return f"Order placed: {items} ({TIER_LABELS.get(str(d.get('tier')), d.get('tier'))}), to {d.get('delivery_address')}"


def _step(d: dict[str, Any], env: dict[str, Any]) -> str:
    text = STEP_LABELS.get(str(d.get("step")), str(d.get("step")))
    if d.get("step") == "driver_assigned" and d.get("driver"):
        text = f"Driver {d['driver']} assigned"
    if d.get("position"):
        text += f" at ({d['position']['lat']:.4f}, {d['position']['lng']:.4f})"
    if d.get("note"):
        text += f": {d['note']}"
    return text


def _incident(d: dict[str, Any], env: dict[str, Any]) -> str:
    return f"Incident reported ({str(d.get('kind', '')).replace('_', ' ')}): {d.get('description')}"


def _resolved(d: dict[str, Any], env: dict[str, Any]) -> str:
    how = "goods re-dispatched to a new driver" if d.get("resolution") == "redispatched" else "resolved"
    text = f"Incident {how}"
    if env.get("reason"):
        text += f": {env['reason']}"
    return text


def _cancelled(d: dict[str, Any], env: dict[str, Any]) -> str:
    return f"Order cancelled: {env.get('reason', 'no reason given')}"


def _t(value: Any) -> str:
    """An ISO time as the customer reads it: 2026-01-05 09:00 UTC."""
    return str(value)[:16].replace("T", " ") + " UTC" if value else "?"


def _words(value: Any) -> str:
    return str(value or "").replace("_", " ")


def _reason(env: dict[str, Any]) -> str:
    return f": {env['reason']}" if env.get("reason") else ""


JOB_LABELS = {"installation": "Installation", "repair": "Repair", "follow_up_visit": "Follow-up visit",
              "consumable_replacement": "Consumable replacement"}


def _job_opened(d: dict[str, Any], env: dict[str, Any]) -> str:
    return f"{JOB_LABELS.get(d['kind'], d['kind'])} job opened for {d['product']['sku']} at {d['site_address']}"


def _checked_in(d: dict[str, Any], env: dict[str, Any]) -> str:
    where = "at your site" if d["verified"] else f"{d['distance_m']:.0f} m from your site (not verified)"
    return f"Engineer {d['engineer']} arrived {where} at {_t(d['at'])}"


def _completed(d: dict[str, Any], env: dict[str, Any]) -> str:
    text = "Job completed"
    if d.get("fault_cause"):
        text += f" (cause: {_words(d['fault_cause'])})"
    if d.get("consumables_replaced"):
        text += f"; replaced {', '.join(d['consumables_replaced'])}"
    return text


def _follow_up(d: dict[str, Any], env: dict[str, Any]) -> str:
    return (f"Follow-up recorded: {'fixed' if d['fixed'] else 'not fixed'}, satisfaction {d['satisfaction']}/5"
            + (" (late)" if d.get("late") else ""))


SUMMARIES: dict[str, Callable[[dict[str, Any], dict[str, Any]], str]] = {
    "JobOpened": _job_opened,
    "JobDispatched": lambda d, e: f"Engineer {d['engineer']} assigned" + (f" ({d['note']})" if d.get("note") else ""),
    "JobAccepted": lambda d, e: f"Engineer {d['engineer']} accepted the job",
    "JobDeclined": lambda d, e: f"Engineer {d['engineer']} declined the job{_reason(e)}; it will be re-dispatched",
    "AppointmentAgreed": lambda d, e: f"Appointment agreed: {_t(d['window_start'])} to {_t(d['window_end'])[11:]}",
    "AppointmentRescheduled": lambda d, e: (
        f"Appointment moved to {_t(d['window_start'])} ({d['notice_hours']:g} h notice, asked by "
        f"{d['initiator']}){_reason(e)}"),
    "AppointmentMissed": lambda d, e: f"Missed appointment: nobody came between {_t(d['window_start'])} and "
                                      f"{_t(d['window_end'])[11:]}",
    "SiteLocated": lambda d, e: "Site location recorded",
    "EngineerCheckedIn": _checked_in,
    "EngineerCheckedOut": lambda d, e: f"Engineer {d['engineer']} left after {d['duration_minutes']:g} minutes",
    "JobCompleted": _completed,
    "SelfInstallationAgreed": lambda d, e: f"You install it yourself; installation fee {d['fee_refunded']} refunded"
                                           f"{_reason(e)}",
    "JobCancelledAtDoor": lambda d, e: f"Replacement cancelled at the door{_reason(e)}",
    "PaymentRecorded": lambda d, e: (f"Payment of {d['amount']} received" if d["collected"]
                                     else f"Payment of {d['amount']} not collected{_reason(e)}"),
    "JobConfirmed": lambda d, e: f"Work and charges confirmed ({d['charged']} paid)",
    "ChargesDisputed": lambda d, e: (f"Charges to check: you said {d['customer_paid']}, the engineer reported "
                                     f"{d['engineer_reported']}"),
    "JobReopened": lambda d, e: f"Job reopened{_reason(e)}; the engineer will come back",
    "PaymentReceived": lambda d, e: f"Payment of {d['amount']} {d['currency']} received ({_words(d['method'])})",
    "RefundPaid": lambda d, e: f"Refund of {d['amount']} {d['currency']} paid{_reason(e)}",
    "FollowUpScheduled": lambda d, e: f"Follow-up call due by {_t(d['due_at'])}",
    "FollowUpRecorded": _follow_up,
    "FollowUpOverdue": lambda d, e: "Follow-up call overdue",
    "ReminderScheduled": lambda d, e: f"Replacement of {', '.join(d['consumables'])} due around {_t(d['due_at'])[:10]}",
    "ReminderDue": lambda d, e: "Your consumables are due for replacement",
    "ReminderDeclined": lambda d, e: f"Replacement declined; we will remind you around {_t(d['next_due_at'])[:10]}",
    "ReminderAccepted": lambda d, e: "Replacement accepted; an engineer visit will be arranged",
    "ReminderRenewed": lambda d, e: f"Next replacement due around {_t(d['due_at'])[:10]}",
    "ReturnRequested": lambda d, e: (f"{d['resolution'].capitalize()} requested for "
                                     f"{', '.join(i['sku'] for i in d['items'])}: waiting for "
                                     f"{', '.join(d['required'])}"),
    "DepartmentVoted": lambda d, e: (
        f"{d['department'].capitalize()} approved" + (f"; still waiting for {', '.join(d['pending'])}"
                                                      if d["pending"] else "")
        if d["approved"] else f"{d['department'].capitalize()} rejected the request{_reason(e)}"),
    "ReturnApproved": lambda d, e: "Request approved by every department",
    "ReturnRejected": lambda d, e: f"Request rejected{_reason(e)}",
    "PickupScheduled": lambda d, e: f"Pickup scheduled for {_t(d['pickup_at'])}",
    "GoodsReceived": lambda d, e: "Returned goods received",
    "GoodsInspected": lambda d, e: "Returned goods inspected" + (
        f"; faulty: {', '.join(d['faulty_parts'])}" if d["faulty_parts"] else ""),
    "RefundIssued": lambda d, e: f"Refund of {d['amount']} issued",
    "ExchangeShipped": lambda d, e: f"Replacement shipped ({d['shipment']})",
    "FaultyPartTracked": lambda d, e: f"Faulty part {d['part']} {d['step']}",
    "ReturnClosed": lambda d, e: "Return closed",
    "ComplaintFiled": lambda d, e: f"Complaint filed ({_words(d['category'])}): {d['description']}",
    "ComplaintAcknowledged": lambda d, e: "Complaint acknowledged",
    "ComplaintInvestigated": lambda d, e: f"Investigation: {d['findings']}",
    "ComplaintResolved": lambda d, e: f"Complaint resolved: {d['resolution']}",
    "ComplaintClosed": lambda d, e: "Complaint closed",
    "ComplaintReopened": lambda d, e: f"Complaint reopened{_reason(e)}",
    "CompensationClaimStarted": lambda d, e: "Compensation claim opened",
    "ClaimOpened": lambda d, e: f"Compensation claim for {d['damage']}; a proposal is due by {_t(d['proposal_due_at'])}",
    "FactRecorded": lambda d, e: f"Fact {d['fact_id']} recorded: {d['fact']}",
    "LiabilityDetermined": lambda d, e: f"Liability: {d['party']} (facts {', '.join(d['facts'])}){_reason(e)}",
    "CompensationProposed": lambda d, e: f"Compensation of {d['amount']} proposed",
    "ProposalDisputed": lambda d, e: f"Proposal disputed{_reason(e)}; escalated to level {d['escalation_level']}",
    "CompensationRevised": lambda d, e: f"Compensation revised from {d['previous_amount']} to {d['amount']}{_reason(e)}",
    "ProposalAccepted": lambda d, e: f"Compensation of {d['amount']} accepted",
    "CompensationPaid": lambda d, e: f"Compensation of {d['amount']} paid",
    "ClaimClosed": lambda d, e: "Claim closed",
    "ClaimReopened": lambda d, e: f"Claim reopened{_reason(e)}",
    "ProposalOverdue": lambda d, e: f"No proposal within 48 hours: escalated to level {d['escalation_level']}",
    "SlaStarted": lambda d, e: f"{d['tier'].upper()} service clock started: resolution due by {_t(d['due_at'])}",
    "SlaPaused": lambda d, e: f"Service clock paused{_reason(e)}",
    "SlaResumed": lambda d, e: "Service clock resumed" + (f": due by {_t(d['due_at'])}" if d.get("due_at") else ""),
    "SlaWarning": lambda d, e: "75% of the promised resolution time used",
    "SlaBreached": lambda d, e: "Promised resolution time exceeded",
    "SlaCompleted": lambda d, e: "Resolved" + (" (late)" if d["breached"] else " within the promised time"),
    "CallReceived": lambda d, e: "Hotline call answered" if d["answered"] else "Missed hotline call; we will call back",
    "CalledBack": lambda d, e: "Called back" + ("" if d["reached"] else " (no answer)"),
    "CustomerRegistered": lambda d, e: f"Customer file opened for {d['name']}",
    "ContactDetailsUpdated": lambda d, e: "Contact details updated",
    "PersonalDataErased": lambda d, e: f"Personal data erased at the customer's request{_reason(e)}",
    "PersonalDataErasedAgain": lambda d, e: f"Personal data erased again{_reason(e)}",
    "OrderPlaced": _placed,
    "DeliveryStepRecorded": _step,
    "IncidentReported": _incident,
    "IncidentResolved": _resolved,
    "OrderCancelled": _cancelled,
}


def summarize(env: dict[str, Any]) -> str:
    kind = short_type(env)
    render = SUMMARIES.get(kind)
    return render(env["data"], env) if render else kind

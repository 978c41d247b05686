"""What each event says to a customer or an operator, as a message, not as text.

A summary is a list of parts, each a gettext message id (the English source text, marked
with ``N_`` for ``pybabel extract``) and the parameters it formats. Views store the parts;
``projections.messages`` renders them at read time in the reader's language from the
message catalogues in ``projections/locale``. The stored rows therefore never depend on a
language or on a translation: a view rebuilds to the same rows whatever the catalogues say.

Parameters that are enumerations (a delivery step, a tier, a department...) are stored as
their codes and named in ``LABELS``, so that they are translated when rendered too; times are
stored as recorded (UTC) and shown in the service's time zone when rendered.
"""

from __future__ import annotations

from typing import Any, Callable

from streams.envelope import short_type

Part = tuple[str, dict[str, Any]]


def N_(message: str) -> str:
    """Marks a message id for extraction; translation happens at read time."""
    return message


# Parameter name -> code -> label (English source text, translated when rendered).
LABELS: dict[str, dict[str, str]] = {
    "step": {"stock_prepared": N_("Stock prepared"), "left_warehouse": N_("Left the warehouse"),
             "driver_assigned": N_("Driver assigned"), "in_transit": N_("In transit"),
             "delivered": N_("Delivered")},
    "tier": {"basic": N_("basic warranty service"), "vip": N_("VIP service"), "svip": N_("SVIP service")},
    "tier_code": {"basic": N_("BASIC"), "vip": N_("VIP"), "svip": N_("SVIP")},
    "incident": {"vehicle_breakdown": N_("vehicle breakdown"), "traffic_accident": N_("traffic accident"),
                 "goods_damaged": N_("goods damaged"), "address_problem": N_("address problem"),
                 "customer_unreachable": N_("customer unreachable"), "weather": N_("weather"), "other": N_("other")},
    "job": {"installation": N_("Installation"), "repair": N_("Repair"), "follow_up_visit": N_("Follow-up visit"),
            "consumable_replacement": N_("Consumable replacement")},
    "cause": {"weather_conditions": N_("weather conditions"), "installation_error": N_("installation error"),
              "customer_misuse": N_("customer misuse"), "product_quality": N_("product quality")},
    "initiator": {"customer": N_("customer"), "engineer": N_("engineer"), "operator": N_("operator")},
    "method": {"cash": N_("cash"), "transfer": N_("transfer"), "card": N_("card"), "wechat_pay": N_("wechat pay"),
               "alipay": N_("alipay"), "other": N_("other")},
    "request": {"refund": N_("Refund"), "exchange": N_("Exchange")},
    "departments": {"sales": N_("sales"), "technical": N_("technical"), "finance": N_("finance"),
                    "logistics": N_("logistics")},
    "department": {"sales": N_("Sales"), "technical": N_("Technical"), "finance": N_("Finance"),
                   "logistics": N_("Logistics")},
    "part_step": {"collected": N_("collected"), "inspected": N_("inspected"), "repaired": N_("repaired"),
                  "scrapped": N_("scrapped")},
    "category": {"delivery": N_("delivery"), "shipping": N_("shipping"), "service": N_("service"),
                 "product": N_("product"), "product_quality": N_("product quality"),
                 "engineer_conduct": N_("engineer conduct"), "hotline": N_("hotline")},
    "language": {"en": N_("English"), "zh": N_("Chinese")},
    "party": {"manufacturer": N_("manufacturer"), "installer": N_("installer"), "customer": N_("customer"),
              "shared": N_("shared")},
}


def _t(value: Any) -> str:
    """A time as the event recorded it (ISO 8601, UTC); projections.messages shows it in the
    service's time zone, by the parameter's name (TIME_PARAMETERS)."""
    return str(value) if value else ""


def one(message: str, **params: Any) -> list[Part]:
    return [(message, params)]


def _reason(env: dict[str, Any]) -> list[Part]:
    return [(N_(": {reason}"), {"reason": env["reason"]})] if env.get("reason") else []


def _declined(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    # Someone else may hand a job back for its engineer (a dispatcher: the engineer is ill; a
    # system through the Kafka intake, as its own principal): only the engineer declines it.
    if env.get("actor") in (None, d["engineer"]):
        return one(N_("Engineer {engineer} declined the job"), engineer=d["engineer"])
    return one(N_("The job was taken back from engineer {engineer}"), engineer=d["engineer"])


def _placed(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    items = [f"{i['quantity']} x {i['sku']}" for i in d.get("items", [])]
    return one(N_("Order placed: {items} ({tier}), to {address}"), items=items, tier=d.get("tier"),
               address=d.get("delivery_address"))


def _step(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    if d.get("step") == "driver_assigned" and d.get("driver"):
        parts = one(N_("Driver {driver} assigned"), driver=d["driver"])
    else:
        parts = one(N_("{step}"), step=d.get("step"))
    if d.get("position"):
        parts += one(N_(" at ({lat:.4f}, {lng:.4f})"), lat=d["position"]["lat"], lng=d["position"]["lng"])
    if d.get("note"):
        parts += one(N_(": {note}"), note=d["note"])
    return parts


def _resolved(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    if d.get("resolution") == "redispatched":
        return one(N_("Incident: goods re-dispatched to a new driver")) + _reason(env)
    return one(N_("Incident resolved")) + _reason(env)


def _checked_in(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    if d["verified"]:
        return one(N_("Engineer {engineer} arrived at your site at {at}"), engineer=d["engineer"], at=_t(d["at"]))
    return one(N_("Engineer {engineer} arrived {distance:.0f} m from your site (not verified) at {at}"),
               engineer=d["engineer"], distance=d["distance_m"], at=_t(d["at"]))


def _completed(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    parts = one(N_("Job completed"))
    if d.get("fault_cause"):
        parts += one(N_(" (cause: {cause})"), cause=d["fault_cause"])
    if d.get("consumables_replaced"):
        parts += one(N_("; replaced {consumables}"), consumables=d["consumables_replaced"])
    return parts


def _follow_up(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    parts = one(N_("Follow-up recorded: fixed, satisfaction {satisfaction}/5") if d["fixed"]
                else N_("Follow-up recorded: not fixed, satisfaction {satisfaction}/5"), satisfaction=d["satisfaction"])
    return parts + (one(N_(" (late)")) if d.get("late") else [])


def _voted(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    if not d["approved"]:
        return one(N_("{department} rejected the request"), department=d["department"]) + _reason(env)
    parts = one(N_("{department} approved"), department=d["department"])
    return parts + (one(N_("; still waiting for {departments}"), departments=d["pending"]) if d["pending"] else [])


def _payment(d: dict[str, Any], env: dict[str, Any]) -> list[Part]:
    if d["collected"]:
        return one(N_("Payment of {amount} received"), amount=d["amount"])
    return one(N_("Payment of {amount} not collected"), amount=d["amount"]) + _reason(env)


Render = Callable[[dict[str, Any], dict[str, Any]], list[Part]]

SUMMARIES: dict[str, Render] = {
    "OrderPlaced": _placed,
    "DeliveryStepRecorded": _step,
    "IncidentReported": lambda d, e: one(N_("Incident reported ({incident}): {description}"),
                                         incident=d.get("kind"), description=d.get("description")),
    "IncidentResolved": _resolved,
    "OrderCancelled": lambda d, e: one(N_("Order cancelled: {reason}"), reason=e["reason"]) if e.get("reason")
    else one(N_("Order cancelled: no reason given")),
    "JobOpened": lambda d, e: one(N_("{job} job opened for {sku} at {address}"), job=d["kind"],
                                  sku=d["product"]["sku"], address=d["site_address"]),
    "JobDispatched": lambda d, e: one(N_("Engineer {engineer} assigned"), engineer=d["engineer"])
    + (one(N_(" ({note})"), note=d["note"]) if d.get("note") else []),
    "JobAccepted": lambda d, e: one(N_("Engineer {engineer} accepted the job"), engineer=d["engineer"]),
    "JobDeclined": lambda d, e: _declined(d, e) + _reason(e)
    + one(N_("; it will be re-dispatched")),
    "AppointmentAgreed": lambda d, e: one(N_("Appointment agreed: {start} to {end}"), start=_t(d["window_start"]),
                                          end=_t(d["window_end"])),
    "AppointmentRescheduled": lambda d, e: one(
        N_("Appointment moved to {start} ({hours:g} h notice, asked by {initiator})"), start=_t(d["window_start"]),
        hours=d["notice_hours"], initiator=d["initiator"]) + _reason(e),
    "AppointmentMissed": lambda d, e: one(N_("Missed appointment: nobody came between {start} and {end}"),
                                          start=_t(d["window_start"]), end=_t(d["window_end"])),
    "SiteLocated": lambda d, e: one(N_("Site location recorded")),
    "EngineerCheckedIn": _checked_in,
    "EngineerCheckedOut": lambda d, e: one(N_("Engineer {engineer} left after {minutes:g} minutes"),
                                           engineer=d["engineer"], minutes=d["duration_minutes"]),
    "JobCompleted": _completed,
    "SelfInstallationAgreed": lambda d, e: one(N_("You install it yourself; installation fee {fee} refunded"),
                                               fee=d["fee_refunded"]) + _reason(e),
    "JobCancelledAtDoor": lambda d, e: one(N_("Replacement cancelled at the door")) + _reason(e),
    "PaymentRecorded": _payment,
    "JobConfirmed": lambda d, e: one(N_("Work and charges confirmed ({charged} paid)"), charged=d["charged"]),
    "ChargesDisputed": lambda d, e: one(N_("Charges to check: you said {customer}, the engineer reported {engineer}"),
                                        customer=d["customer_paid"], engineer=d["engineer_reported"]),
    "JobReopened": lambda d, e: one(N_("Job reopened")) + _reason(e) + one(N_("; the engineer will come back")),
    "PaymentReceived": lambda d, e: one(N_("Payment of {amount} {currency} received ({method})"),
                                        amount=d["amount"], currency=d["currency"], method=d["method"]),
    "RefundPaid": lambda d, e: one(N_("Refund of {amount} {currency} paid"), amount=d["amount"],
                                   currency=d["currency"]) + _reason(e),
    "FollowUpScheduled": lambda d, e: one(N_("Follow-up call due by {due}"), due=_t(d["due_at"])),
    "FollowUpRecorded": _follow_up,
    "FollowUpOverdue": lambda d, e: one(N_("Follow-up call overdue")),
    "ReminderScheduled": lambda d, e: one(N_("Replacement of {consumables} due around {day}"),
                                          consumables=d["consumables"], day=_t(d["due_at"])),
    "ReminderDue": lambda d, e: one(N_("Your consumables are due for replacement")),
    "ReminderDeclined": lambda d, e: one(N_("Replacement declined; we will remind you around {day}"),
                                         day=_t(d.get("due_at") or d["next_due_at"])),
    "ReminderAccepted": lambda d, e: one(N_("Replacement accepted; an engineer visit will be arranged")),
    "ReminderRenewed": lambda d, e: one(N_("Next replacement due around {day}"), day=_t(d["due_at"])),
    "ReturnRequested": lambda d, e: one(N_("{request} requested for {skus}: waiting for {departments}"),
                                        request=d["resolution"], skus=[i["sku"] for i in d["items"]],
                                        departments=d["required"]),
    "DepartmentVoted": _voted,
    "ReturnApproved": lambda d, e: one(N_("Request approved by every department")),
    "ReturnRejected": lambda d, e: one(N_("Request rejected")) + _reason(e),
    "PickupScheduled": lambda d, e: one(N_("Pickup scheduled for {at}"), at=_t(d["pickup_at"])),
    "GoodsReceived": lambda d, e: one(N_("Returned goods received")),
    "GoodsInspected": lambda d, e: one(N_("Returned goods inspected"))
    + (one(N_("; faulty: {parts}"), parts=d["faulty_parts"]) if d["faulty_parts"] else []),
    "RefundIssued": lambda d, e: one(N_("Refund of {amount} issued"), amount=d["amount"]),
    "ExchangeShipped": lambda d, e: one(N_("Replacement shipped ({shipment})"), shipment=d["shipment"]),
    "FaultyPartTracked": lambda d, e: one(N_("Faulty part {part} {part_step}"), part=d["part"], part_step=d["step"]),
    "ReturnClosed": lambda d, e: one(N_("Return closed")),
    "ComplaintFiled": lambda d, e: one(N_("Complaint filed ({category}): {description}"), category=d["category"],
                                       description=d["description"]),
    "ComplaintAcknowledged": lambda d, e: one(N_("Complaint acknowledged")),
    "ComplaintInvestigated": lambda d, e: one(N_("Investigation: {findings}"), findings=d["findings"]),
    "ComplaintResolved": lambda d, e: one(N_("Complaint resolved: {resolution}"), resolution=d["resolution"]),
    "ComplaintClosed": lambda d, e: one(N_("Complaint closed")),
    "ComplaintReopened": lambda d, e: one(N_("Complaint reopened")) + _reason(e),
    "CompensationClaimStarted": lambda d, e: one(N_("Compensation claim opened")),
    "ClaimOpened": lambda d, e: one(N_("Compensation claim for {damage}; a proposal is due by {due}"),
                                    damage=d["damage"], due=_t(d["proposal_due_at"])),
    "FactRecorded": lambda d, e: one(N_("Fact {fact_id} recorded: {fact}"), fact_id=d["fact_id"], fact=d["fact"]),
    "LiabilityDetermined": lambda d, e: one(N_("Liability: {party} (facts {facts})"), party=d["party"],
                                            facts=d["facts"]) + _reason(e),
    "CompensationProposed": lambda d, e: one(N_("Compensation of {amount} proposed"), amount=d["amount"]),
    "ProposalDisputed": lambda d, e: one(N_("Proposal disputed")) + _reason(e)
    + one(N_("; escalated to level {level}"), level=d["escalation_level"]),
    "CompensationRevised": lambda d, e: one(N_("Compensation revised from {previous} to {amount}"),
                                            previous=d["previous_amount"], amount=d["amount"]) + _reason(e),
    "ProposalAccepted": lambda d, e: one(N_("Compensation of {amount} accepted"), amount=d["amount"]),
    "CompensationPaid": lambda d, e: one(N_("Compensation of {amount} paid"), amount=d["amount"]),
    "ClaimClosed": lambda d, e: one(N_("Claim closed")),
    "ClaimReopened": lambda d, e: one(N_("Claim reopened")) + _reason(e),
    "ProposalOverdue": lambda d, e: one(N_("No proposal within 48 hours: escalated to level {level}"),
                                        level=d["escalation_level"]),
    "SlaStarted": lambda d, e: one(N_("{tier_code} service clock started: resolution due by {due}"),
                                   tier_code=d["tier"], due=_t(d["due_at"])),
    "SlaPaused": lambda d, e: one(N_("Service clock paused")) + _reason(e),
    "SlaResumed": lambda d, e: one(N_("Service clock resumed: due by {due}"), due=_t(d["due_at"])) if d.get("due_at")
    else one(N_("Service clock resumed")),
    "SlaWarning": lambda d, e: one(N_("75% of the promised resolution time used")),
    "SlaBreached": lambda d, e: one(N_("Promised resolution time exceeded")),
    "SlaCompleted": lambda d, e: one(N_("Resolved (late)") if d["breached"] else N_("Resolved within the promised time")),
    "CallReceived": lambda d, e: one(N_("Hotline call answered") if d["answered"]
                                     else N_("Missed hotline call; we will call back")),
    "CalledBack": lambda d, e: one(N_("Called back") if d["reached"] else N_("Called back (no answer)")),
    "CustomerRegistered": lambda d, e: one(N_("Customer file opened for {name}"), name=d["name"]),
    "ContactDetailsUpdated": lambda d, e: one(N_("Contact details updated")),
    "LanguagePreferred": lambda d, e: one(N_("We will write to you in {language}"), language=d["language"]),
    "PersonalDataErased": lambda d, e: one(N_("Personal data erased at the customer's request")) + _reason(e),
    "PersonalDataErasedAgain": lambda d, e: one(N_("Personal data erased again")) + _reason(e),
}


def summarize(env: dict[str, Any]) -> list[Part]:
    """The summary of one event as message parts (an unknown event type says its name)."""
    kind = short_type(env)
    render = SUMMARIES.get(kind)
    return render(env["data"], env) if render else one(N_("{event_type}"), event_type=kind)

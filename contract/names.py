"""Plain names of the published contract: categories (Kafka topic ``<prefix>.<category>``),
the aggregate type and event types of each, which event fields hold personal data, the
events that erase it, and the delivery-step vocabulary.

Changing a name here changes the published contract (docs/asyncapi.json, docs/events.md):
consumers outside this repository read these names. tests/streams/test_contract.py checks
that the engine's classes publish exactly these.
"""

from __future__ import annotations

from typing import Any

# Category -> the aggregate type its events come from (CloudEvents ``aggregatetype``).
CATEGORIES: dict[str, str] = {
    "orders": "ServiceOrder",
    "jobs": "FieldJob",
    "followups": "FollowUp",
    "reminders": "ConsumableReminder",
    "customers": "Customer",
    "returns": "ReturnRequest",
    "complaints": "Complaint",
    "claims": "CompensationClaim",
    "slas": "ServiceLevel",
    "calls": "HotlineCall",
    "deadlines": "Deadline",
    "accounts": "EngineerAccount",
    "settlements": "SettlementRun",
    "payments": "Payment",
    "refunds": "Refund",
    "privacy": "PrivacyRecord",
}

# Category -> its event types, in the order the aggregate defines them.
EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "orders": ("OrderPlaced", "DeliveryStepRecorded", "IncidentReported", "IncidentResolved", "OrderCancelled"),
    "jobs": ("JobOpened", "JobDispatched", "JobAccepted", "JobDeclined", "AppointmentAgreed",
             "AppointmentRescheduled", "AppointmentMissed", "SiteLocated", "EngineerCheckedIn", "EngineerCheckedOut",
             "JobCompleted", "SelfInstallationAgreed", "JobCancelledAtDoor", "JobReopened", "JobConfirmed",
             "ChargesDisputed", "PaymentRecorded"),
    "followups": ("FollowUpScheduled", "FollowUpRecorded", "FollowUpOverdue"),
    "reminders": ("ReminderScheduled", "ReminderDue", "ReminderDeclined", "ReminderAccepted", "ReminderRenewed"),
    "customers": ("CustomerRegistered", "ContactDetailsUpdated", "LanguagePreferred"),
    "returns": ("ReturnRequested", "DepartmentVoted", "ReturnApproved", "ReturnRejected", "PickupScheduled",
                "GoodsReceived", "GoodsInspected", "RefundIssued", "ExchangeShipped", "FaultyPartTracked",
                "ReturnClosed"),
    "complaints": ("ComplaintFiled", "ComplaintAcknowledged", "ComplaintInvestigated", "ComplaintResolved",
                   "ComplaintClosed", "ComplaintReopened", "CompensationClaimStarted"),
    "claims": ("ClaimOpened", "FactRecorded", "LiabilityDetermined", "CompensationProposed", "ProposalDisputed",
               "CompensationRevised", "ProposalAccepted", "CompensationPaid", "ClaimClosed", "ClaimReopened",
               "ProposalOverdue"),
    "slas": ("SlaStarted", "SlaPaused", "SlaResumed", "SlaWarning", "SlaBreached", "SlaCompleted"),
    "calls": ("CallReceived", "CalledBack"),
    "deadlines": ("DeadlineScheduled", "DeadlineCancelled", "DeadlineFired"),
    "accounts": ("AccountOpened", "FeeEarned", "FeeConfirmed", "DeductionApplied", "FeeReversed", "StatementIssued",
                 "StatementPaid"),
    "settlements": ("PeriodSettled",),
    "payments": ("PaymentReceived",),
    "refunds": ("RefundPaid",),
    "privacy": ("PersonalDataErased", "PersonalDataErasedAgain"),
}

# Event type -> its fields that hold personal data. Each of these events names its customer.
PERSONAL_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "OrderPlaced": ("delivery_address", "site_location"),
    "JobOpened": ("site_address", "site_location"),
    "ReminderScheduled": ("site_address", "site_location"),
    "CustomerRegistered": ("name", "phone", "address"),
    "ContactDetailsUpdated": ("name", "phone", "address"),
    "CallReceived": ("phone",),
}

# The events after which a customer's personal data reads as erased everywhere.
ERASURE_EVENTS: tuple[str, ...] = ("PersonalDataErased", "PersonalDataErasedAgain")

# What an erased text field reads as (an erased location reads as null).
ERASED = "[erased]"


def erased_value(field: str) -> Any:
    """What an erased field reads as: a location is gone (None), text says ``ERASED``."""
    return None if field == "site_location" else ERASED


# An order's delivery steps, in order (``in_transit`` repeats with each position update).
DELIVERY_STEPS: tuple[str, ...] = ("stock_prepared", "left_warehouse", "driver_assigned", "in_transit", "delivered")

"""Which aggregates are public event streams, and under which category.

The relay publishes the events of these aggregates only; everything else in the store
(idempotency records, the engineer directory) is internal bookkeeping.
"""

from __future__ import annotations

from eventsourcing.domain import Aggregate

from engine.domain.accounts import EngineerAccount, SettlementRun
from engine.domain.calls import HotlineCall
from engine.domain.claims import CompensationClaim
from engine.domain.complaints import Complaint
from engine.domain.customers import Customer
from engine.domain.deadlines import Deadline
from engine.domain.followups import FollowUp
from engine.domain.jobs import FieldJob
from engine.domain.orders import ServiceOrder
from engine.domain.payments import Payment, Refund
from engine.domain.privacy import PrivacyRecord
from engine.domain.reminders import ConsumableReminder
from engine.domain.returns import ReturnRequest
from engine.domain.sla import ServiceLevel

PUBLIC_STREAMS: dict[str, type[Aggregate]] = {
    "orders": ServiceOrder,
    "jobs": FieldJob,
    "followups": FollowUp,
    "reminders": ConsumableReminder,
    "customers": Customer,
    "returns": ReturnRequest,
    "complaints": Complaint,
    "claims": CompensationClaim,
    "slas": ServiceLevel,
    "calls": HotlineCall,
    "deadlines": Deadline,
    "accounts": EngineerAccount,
    "settlements": SettlementRun,
    "payments": Payment,
    "refunds": Refund,
    "privacy": PrivacyRecord,
}

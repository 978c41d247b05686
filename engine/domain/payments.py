"""Money between the company and its customers (workflow 9, seed 004).

A ``Payment`` is money received from a customer, on site or afterwards, against an order
or a job. A ``Refund`` is money paid back, against an order or a job, with its reason; a
refund for work the engineer got wrong also reverses the engineer's fee for that job
(done by the application in the same write). Payments taken on site at the end of a job
are recorded on the job itself too (``PaymentRecorded``, in the same write; the payment says
``recorded_on_job``), so the job's follow-up compares the customer's word with the money
that was taken, whichever way it was reported; self-installation refunds the
installation fee (``SelfInstallationAgreed``), returns refund goods (``RefundIssued``) and
claims pay compensation (``CompensationPaid``): the customer-account view reads them all.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand
from engine.domain.values import money, text

METHODS = ("cash", "transfer", "card", "wechat_pay", "alipay", "other")


def _amount(value: Any) -> str:
    amount = money(value, "amount")
    if Decimal(amount) == 0:
        raise InvalidCommand("amount must be more than 0.00")
    return amount


def _against(order_id: str | None, job_id: str | None) -> None:
    if order_id is None and job_id is None:
        raise InvalidCommand("money is recorded against an order or a job: give order_id or job_id")


class Payment(Aggregate):
    """Category ``payments`` on the event backbone."""

    @classmethod
    def receive(cls, *, customer_id: str, amount: Any, currency: str, method: str, order_id: str | None,
                job_id: str | None, on_site: bool, collected_by: str | None, at: datetime,
                meta: dict[str, str], recorded_on_job: bool = False) -> Payment:
        if method not in METHODS:
            raise InvalidCommand(f"method must be one of {', '.join(METHODS)}")
        _against(order_id, job_id)
        return cls(customer_id=text(customer_id, "customer_id", limit=100), amount=_amount(amount), currency=currency,
                   method=method, order_id=order_id, job_id=job_id, on_site=bool(on_site),
                   collected_by=text(collected_by, "collected_by", required=False, limit=100), at=at,
                   recorded_on_job=recorded_on_job, meta=meta)

    @event("PaymentReceived")
    def __init__(self, customer_id: str, amount: str, currency: str, method: str, order_id: str | None,
                 job_id: str | None, on_site: bool, collected_by: str | None, at: datetime,
                 recorded_on_job: bool, meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.on_site = on_site
        self.recorded_on_job = recorded_on_job
        self.amount = amount
        self.order_id = order_id
        self.job_id = job_id


class Refund(Aggregate):
    """Category ``refunds`` on the event backbone."""

    @classmethod
    def pay(cls, *, customer_id: str, amount: Any, currency: str, method: str, order_id: str | None,
            job_id: str | None, engineer_at_fault: bool, at: datetime, meta: dict[str, str]) -> Refund:
        if method not in METHODS:
            raise InvalidCommand(f"method must be one of {', '.join(METHODS)}")
        _against(order_id, job_id)
        if not meta.get("reason"):
            raise InvalidCommand("a refund records its reason")
        if engineer_at_fault and job_id is None:
            raise InvalidCommand("an engineer is at fault for a job: give job_id")
        return cls(customer_id=text(customer_id, "customer_id", limit=100), amount=_amount(amount), currency=currency,
                   method=method, order_id=order_id, job_id=job_id, engineer_at_fault=bool(engineer_at_fault),
                   at=at, meta=meta)

    @event("RefundPaid")
    def __init__(self, customer_id: str, amount: str, currency: str, method: str, order_id: str | None,
                 job_id: str | None, engineer_at_fault: bool, at: datetime, meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.amount = amount
        self.order_id = order_id
        self.job_id = job_id


# Version 2 of PaymentReceived added ``recorded_on_job`` (issue 17): an on-site payment for a
# job is also the job's PaymentRecorded; nothing paid before was.
def _payment_received_v1_v2(state: dict[str, Any]) -> None:
    state["recorded_on_job"] = False


Payment.PaymentReceived.class_version = 2  # type: ignore[attr-defined]
Payment.PaymentReceived.upcast_v1_v2 = staticmethod(_payment_received_v1_v2)  # type: ignore[attr-defined]

"""Complaints (workflow 5): categorised, acknowledged, investigated, resolved, then closed;
closed only once resolved, and reopenable. The complaint team is measured on closures."""

from __future__ import annotations

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.values import text

CATEGORIES = ("delivery", "shipping", "service", "product", "product_quality", "engineer_conduct", "hotline")


class Complaint(Aggregate):
    """Category ``complaints`` on the event backbone."""

    @classmethod
    def file(cls, *, customer_id: str, category: str, description: str, meta: dict[str, str],
             order_id: str | None = None, job_id: str | None = None) -> Complaint:
        if category not in CATEGORIES:
            raise InvalidCommand(f"category must be one of {', '.join(CATEGORIES)}")
        return cls(customer_id=text(customer_id, "customer_id", limit=100), category=category,
                   description=text(description, "description"), order_id=order_id, job_id=job_id, meta=meta)

    @event("ComplaintFiled")
    def __init__(self, customer_id: str, category: str, description: str, order_id: str | None,
                 job_id: str | None, meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.category = category
        self.status = "filed"
        self.claim_ids: list[str] = []

    def acknowledge(self, *, meta: dict[str, str]) -> None:
        if self.status != "filed":
            raise RuleViolation(f"the complaint is already {self.status}")
        self._acknowledged(meta=meta)

    def investigate(self, *, findings: str, meta: dict[str, str]) -> None:
        if self.status not in ("acknowledged", "investigating", "reopened"):
            raise RuleViolation(f"a {self.status} complaint is not under investigation"
                                + (": acknowledge it first" if self.status == "filed" else ""))
        self._investigated(findings=text(findings, "findings"), meta=meta)

    def resolve(self, *, resolution: str, meta: dict[str, str]) -> None:
        if self.status not in ("investigating", "reopened"):
            raise RuleViolation(f"a {self.status} complaint cannot be resolved: investigate it first")
        self._resolved(resolution=text(resolution, "resolution"), meta=meta)

    def close(self, *, meta: dict[str, str]) -> None:
        if self.status != "resolved":
            raise RuleViolation(f"a complaint is closed only once resolved; this one is {self.status}")
        self._closed(meta=meta)

    def reopen(self, *, meta: dict[str, str]) -> None:
        if self.status not in ("resolved", "closed"):
            raise RuleViolation(f"a {self.status} complaint is still open")
        if not meta.get("reason"):
            raise InvalidCommand("reopening a complaint needs a reason")
        self._reopened(meta=meta)

    def link_claim(self, claim_id: str, *, meta: dict[str, str]) -> None:
        if self.status == "closed":
            raise RuleViolation("a closed complaint cannot start a claim: reopen it first")
        self._claim_opened(claim_id=claim_id, meta=meta)

    @event("ComplaintAcknowledged")
    def _acknowledged(self, meta: dict[str, str]) -> None:
        self.status = "acknowledged"

    @event("ComplaintInvestigated")
    def _investigated(self, findings: str, meta: dict[str, str]) -> None:
        self.status = "investigating"

    @event("ComplaintResolved")
    def _resolved(self, resolution: str, meta: dict[str, str]) -> None:
        self.status = "resolved"

    @event("ComplaintClosed")
    def _closed(self, meta: dict[str, str]) -> None:
        self.status = "closed"

    @event("ComplaintReopened")
    def _reopened(self, meta: dict[str, str]) -> None:
        self.status = "reopened"

    @event("CompensationClaimStarted")
    def _claim_opened(self, claim_id: str, meta: dict[str, str]) -> None:
        self.claim_ids.append(claim_id)

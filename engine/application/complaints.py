"""Workflow 5, complaints and compensation claims: a complaint is acknowledged,
investigated, resolved and closed; a claim opened from it gathers facts, a liability, a
proposal (due within 48 hours, watched by a deadline), disputes and revisions, and payment.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from engine.application import policies
from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import Change, CommandResult, Effects
from engine.application.waits import PROPOSAL, PROPOSAL_OVERDUE
from engine.domain.claims import CompensationClaim
from engine.domain.complaints import Complaint
from engine.domain.deadlines import Deadline
from engine.domain.errors import NotFound


def _complaint_not_found(complaint_id: UUID) -> NotFound:
    return NotFound(f"complaint {complaint_id} does not exist")


def _claim_not_found(claim_id: UUID) -> NotFound:
    return NotFound(f"claim {claim_id} does not exist")


class Complaints(Handler):
    def register_deadline_actions(self) -> None:
        self.deadlines.on(PROPOSAL_OVERDUE, self._on_proposal_overdue)

    # Complaints ------------------------------------------------------------------------------

    def file_complaint(self, ctx: CommandContext, *, customer_id: str, category: str, description: str,
                       order_id: str | None = None, job_id: str | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        payload = {"customer": customer_id, "category": category, "description": description, "order": order_id,
                   "job": job_id}
        return self.uow.command(ctx, "file_complaint", payload, idempotency_key, lambda: Effects(Complaint.file(
            customer_id=customer_id, category=category, description=description, order_id=order_id, job_id=job_id,
            meta=ctx.meta())))

    def acknowledge_complaint(self, ctx: CommandContext, complaint_id: UUID, *, expected_version: int | None = None,
                              idempotency_key: str | None = None) -> CommandResult:
        return self._complaint(ctx, "acknowledge_complaint", complaint_id, {},
                               lambda c: c.acknowledge(meta=ctx.meta()), expected_version, idempotency_key)

    def investigate_complaint(self, ctx: CommandContext, complaint_id: UUID, *, findings: str,
                              expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._complaint(ctx, "investigate_complaint", complaint_id, {"findings": findings},
                               lambda c: c.investigate(findings=findings, meta=ctx.meta()),
                               expected_version, idempotency_key)

    def resolve_complaint(self, ctx: CommandContext, complaint_id: UUID, *, resolution: str,
                          expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._complaint(ctx, "resolve_complaint", complaint_id, {"resolution": resolution},
                               lambda c: c.resolve(resolution=resolution, meta=ctx.meta()),
                               expected_version, idempotency_key)

    def close_complaint(self, ctx: CommandContext, complaint_id: UUID, *, expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        def change(complaint: Complaint) -> None:
            claims = [self.uow.load(CompensationClaim, UUID(c)) for c in complaint.claim_ids]
            policies.complaint_claims_settled(complaint, claims)
            complaint.close(meta=ctx.meta())

        return self._complaint(ctx, "close_complaint", complaint_id, {}, change, expected_version, idempotency_key)

    def reopen_complaint(self, ctx: CommandContext, complaint_id: UUID, *, expected_version: int | None = None,
                         idempotency_key: str | None = None) -> CommandResult:
        return self._complaint(ctx, "reopen_complaint", complaint_id, {"reason": ctx.reason},
                               lambda c: c.reopen(meta=ctx.meta()), expected_version, idempotency_key)

    def get_complaint(self, complaint_id: UUID) -> dict[str, Any]:
        c = self.uow.load(Complaint, complaint_id, not_found=_complaint_not_found)
        return {"complaint_id": str(c.id), "version": c.version, "customer_id": c.customer_id,
                "category": c.category, "status": c.status, "claim_ids": c.claim_ids}

    def _complaint(self, ctx: CommandContext, name: str, complaint_id: UUID, payload: dict[str, Any],
                   change: Change[Complaint], expected_version: int | None,
                   idempotency_key: str | None) -> CommandResult:
        return self.uow.change(ctx, name, Complaint, complaint_id, payload, change, expected_version=expected_version,
                               idempotency_key=idempotency_key, not_found=_complaint_not_found)

    # Claims ----------------------------------------------------------------------------------

    def open_claim(self, ctx: CommandContext, complaint_id: UUID, *, damage: str,
                   idempotency_key: str | None = None) -> CommandResult:
        """Open a compensation claim from a complaint; its first proposal is due within 48 hours."""

        def act() -> Effects:
            complaint = self.uow.load(Complaint, complaint_id, not_found=_complaint_not_found)
            claim = CompensationClaim.open(complaint_id=str(complaint.id), customer_id=complaint.customer_id,
                                           damage=damage, now=self.uow.now(), meta=ctx.meta())
            complaint.link_claim(str(claim.id), meta=ctx.meta())
            deadline = self.deadlines.schedule(kind=PROPOSAL, subject_id=claim.id, key="",
                                               due_at=claim.proposal_due_at, action=PROPOSAL_OVERDUE,
                                               customer_id=claim.customer_id, meta=ctx.meta())
            return Effects(claim, {"proposal_due_at": claim.proposal_due_at.isoformat()}, [complaint, deadline])

        return self.uow.command(ctx, "open_claim", {"complaint": str(complaint_id), "damage": damage},
                                idempotency_key, act)

    def record_claim_fact(self, ctx: CommandContext, claim_id: UUID, *, fact: str, evidence: list[str],
                          expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "record_claim_fact", claim_id, {"fact": fact, "evidence": evidence},
                           lambda c: {"fact_id": c.record_fact(fact=fact, evidence=evidence, meta=ctx.meta())},
                           expected_version, idempotency_key)

    def determine_liability(self, ctx: CommandContext, claim_id: UUID, *, party: str, facts: list[str],
                            expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "determine_liability", claim_id, {"party": party, "facts": facts, "why": ctx.reason},
                           lambda c: c.determine_liability(party=party, facts=facts, meta=ctx.meta()),
                           expected_version, idempotency_key)

    def propose_compensation(self, ctx: CommandContext, claim_id: UUID, *, amount: Any, facts: list[str],
                             expected_version: int | None = None, idempotency_key: str | None = None
                             ) -> CommandResult:
        def change(claim: CompensationClaim) -> Effects:
            claim.propose(amount=amount, facts=facts, meta=ctx.meta())
            return Effects(claim, also=self.deadlines.cancel(PROPOSAL, claim.id, "", reason="proposal made",
                                                             meta=ctx.meta()))

        return self._claim(ctx, "propose_compensation", claim_id, {"amount": str(amount), "facts": facts}, change,
                           expected_version, idempotency_key)

    def dispute_compensation(self, ctx: CommandContext, claim_id: UUID, *, expected_version: int | None = None,
                             idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "dispute_compensation", claim_id, {"why": ctx.reason},
                           lambda c: c.dispute(meta=ctx.meta()), expected_version, idempotency_key)

    def revise_compensation(self, ctx: CommandContext, claim_id: UUID, *, amount: Any, facts: list[str],
                            expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "revise_compensation", claim_id, {"amount": str(amount), "facts": facts,
                                                                  "why": ctx.reason},
                           lambda c: c.revise(amount=amount, facts=facts, meta=ctx.meta()),
                           expected_version, idempotency_key)

    def accept_compensation(self, ctx: CommandContext, claim_id: UUID, *, expected_version: int | None = None,
                            idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "accept_compensation", claim_id, {}, lambda c: c.accept(meta=ctx.meta()),
                           expected_version, idempotency_key)

    def pay_compensation(self, ctx: CommandContext, claim_id: UUID, *, amount: Any, reference: str,
                         expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "pay_compensation", claim_id, {"amount": str(amount), "reference": reference},
                           lambda c: c.pay(amount=amount, reference=reference, meta=ctx.meta()),
                           expected_version, idempotency_key)

    def close_claim(self, ctx: CommandContext, claim_id: UUID, *, expected_version: int | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "close_claim", claim_id, {}, lambda c: c.close(meta=ctx.meta()),
                           expected_version, idempotency_key)

    def reopen_claim(self, ctx: CommandContext, claim_id: UUID, *, expected_version: int | None = None,
                     idempotency_key: str | None = None) -> CommandResult:
        return self._claim(ctx, "reopen_claim", claim_id, {"why": ctx.reason}, lambda c: c.reopen(meta=ctx.meta()),
                           expected_version, idempotency_key)

    def get_claim(self, claim_id: UUID) -> dict[str, Any]:
        c = self.uow.load(CompensationClaim, claim_id, not_found=_claim_not_found)
        return {"claim_id": str(c.id), "version": c.version, "complaint_id": c.complaint_id,
                "customer_id": c.customer_id, "status": c.status, "facts": c.facts, "liability": c.liability,
                "amount": c.amount, "revision": c.revision, "escalation_level": c.escalation_level,
                "proposal_due_at": c.proposal_due_at.isoformat(), "proposal_overdue": c.proposal_overdue,
                # Across reopenings: everything paid on the claim, and what is still due.
                "paid": c.paid_total or c.paid, "last_payment": c.paid, "due": f"{c.due:.2f}"}

    def _on_proposal_overdue(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        claim = self.uow.load(CompensationClaim, UUID(deadline.subject_id))
        return [claim] if claim.mark_proposal_overdue(now=now, meta=meta) else []

    def _claim(self, ctx: CommandContext, name: str, claim_id: UUID, payload: dict[str, Any],
               change: Change[CompensationClaim], expected_version: int | None,
               idempotency_key: str | None) -> CommandResult:
        return self.uow.change(ctx, name, CompensationClaim, claim_id, payload, change,
                               expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=_claim_not_found)

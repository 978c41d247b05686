"""Compensation claims (workflow 5): the aggregate auditors replay.

A claim starts from a complaint involving liability or damage. Facts and evidence are
recorded; a proposed resolution is due within 48 hours of opening, even before the cause is
established (a deadline records the breach and escalates). Liability is determined with the
facts relied on; an amount is proposed; the customer accepts or disputes; a dispute
escalates and the amount may be revised (each revision keeps the previous amount and the
reason); the agreed amount is paid; the claim is closed, and may be reopened. Every decision
carries who, when and why (event metadata) and on which facts (fact ids).

Money across reopenings: what is due is the accepted amount less what was already paid, so
a claim paid 5,000, reopened and accepted at 6,000 pays 1,000 more, and its payments add up
to its last accepted amount. An amount is never revised below what was already paid.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.values import money, text

PROPOSAL_DUE = timedelta(hours=48)
LIABLE_PARTIES = ("manufacturer", "installer", "customer", "shared")


class CompensationClaim(Aggregate):
    """Category ``claims`` on the event backbone."""

    # Every payment on the claim, across reopenings; a class default keeps snapshots taken
    # before it readable (their ``paid`` was the only payment).
    paid_total: str | None = None

    @classmethod
    def open(cls, *, complaint_id: str, customer_id: str, damage: str, now: datetime,
             meta: dict[str, str]) -> CompensationClaim:
        return cls(complaint_id=complaint_id, customer_id=customer_id, damage=text(damage, "damage"),
                   proposal_due_at=now + PROPOSAL_DUE, meta=meta)

    @event("ClaimOpened")
    def __init__(self, complaint_id: str, customer_id: str, damage: str, proposal_due_at: datetime,
                 meta: dict[str, str]) -> None:
        self.complaint_id = complaint_id
        self.customer_id = customer_id
        self.proposal_due_at = proposal_due_at
        self.status = "open"
        self.facts: dict[str, str] = {}
        self.liability: str | None = None
        self.amount: str | None = None
        self.revision = 0
        self.escalation_level = 0
        self.proposal_overdue = False
        self.paid: str | None = None

    # Commands -------------------------------------------------------------------------------

    def record_fact(self, *, fact: str, evidence: list[str], meta: dict[str, str]) -> str:
        self._refuse_if_closed("record facts")
        fact_id = f"F{len(self.facts) + 1}"
        self._fact_recorded(fact_id=fact_id, fact=text(fact, "fact"),
                            evidence=[text(e, "evidence", limit=500) for e in evidence], meta=meta)
        return fact_id

    def determine_liability(self, *, party: str, facts: list[str], meta: dict[str, str]) -> None:
        self._refuse_if_closed("determine liability")
        if party not in LIABLE_PARTIES:
            raise InvalidCommand(f"liability lies with one of {', '.join(LIABLE_PARTIES)}")
        self._require_facts(facts, "liability")
        if not meta.get("reason"):
            raise InvalidCommand("say why the facts point to this party")
        self._liability_determined(party=party, facts=facts, meta=meta)

    def propose(self, *, amount: Any, facts: list[str], meta: dict[str, str]) -> None:
        """The first proposal: due within 48 hours, even before liability is established."""
        if self.status != "open":
            raise RuleViolation(f"a {self.status} claim already has a proposal: revise it after a dispute")
        self._require_known(facts)
        self._proposed(amount=money(amount, "amount"), facts=facts, revision=1, meta=meta)

    @property
    def already_paid(self) -> Decimal:
        return Decimal(self.paid_total or self.paid or "0")

    @property
    def due(self) -> Decimal:
        """What is still to pay on the accepted amount (zero before acceptance)."""
        if self.status != "accepted" or self.amount is None:
            return Decimal(0)
        return Decimal(self.amount) - self.already_paid

    def dispute(self, *, meta: dict[str, str]) -> None:
        if self.status != "proposed":
            raise RuleViolation(f"only a proposed amount can be disputed; the claim is {self.status}")
        if not meta.get("reason"):
            raise InvalidCommand("record what the customer disputes")
        self._disputed(escalation_level=self.escalation_level + 1, meta=meta)

    def revise(self, *, amount: Any, facts: list[str], meta: dict[str, str]) -> None:
        if self.status not in ("disputed", "reopened"):
            raise RuleViolation(f"an amount is revised after a dispute or a reopening; the claim is {self.status}")
        if not meta.get("reason"):
            raise InvalidCommand("a revision records why the amount changes")
        self._require_known(facts)
        revised = money(amount, "amount")
        if Decimal(revised) < self.already_paid:
            raise RuleViolation(f"{self.already_paid:.2f} was already paid on this claim: a revision cannot go below it",
                                rule="claim-due-after-payments")
        self._revised(previous_amount=self.amount, amount=revised, facts=facts,
                      revision=self.revision + 1, meta=meta)

    def accept(self, *, meta: dict[str, str]) -> None:
        if self.status != "proposed":
            raise RuleViolation(f"only a proposed amount can be accepted; the claim is {self.status}")
        self._accepted(amount=self.amount, revision=self.revision, meta=meta)

    def pay(self, *, amount: Any, reference: str, meta: dict[str, str]) -> None:
        if self.status != "accepted":
            raise RuleViolation(f"compensation is paid once the customer accepts; the claim is {self.status}")
        paid = money(amount, "amount")
        due = f"{self.due:.2f}"
        if paid != due:
            earlier = f" ({self.already_paid:.2f} of it already paid)" if self.already_paid else ""
            raise RuleViolation(f"the accepted amount is {self.amount}{earlier}: {due} is due, not {paid}",
                                rule="claim-due-after-payments")
        if self.due <= 0:
            raise RuleViolation("nothing is due on this claim: close it", rule="claim-due-after-payments")
        self._paid(amount=paid, reference=text(reference, "reference", limit=200), meta=meta)

    @property
    def settled(self) -> bool:
        """Paid in full: paid, or accepted at exactly what was already paid."""
        return self.status == "paid" or (self.status == "accepted" and self.already_paid > 0 and self.due == 0)

    def close(self, *, meta: dict[str, str]) -> None:
        if not self.settled:
            raise RuleViolation(f"a claim is closed once paid; this one is {self.status}")
        self._closed(meta=meta)

    def reopen(self, *, meta: dict[str, str]) -> None:
        if self.status != "closed":
            raise RuleViolation("only a closed claim can be reopened")
        if not meta.get("reason"):
            raise InvalidCommand("reopening a claim needs a reason")
        self._reopened(meta=meta)

    def mark_proposal_overdue(self, *, now: datetime, meta: dict[str, str]) -> bool:
        if self.revision > 0 or now < self.proposal_due_at or self.proposal_overdue:
            return False
        self._proposal_overdue(escalation_level=self.escalation_level + 1, meta=meta)
        return True

    def _require_known(self, facts: list[str]) -> None:
        unknown = sorted(set(facts) - set(self.facts))
        if unknown:
            raise InvalidCommand(f"unknown facts: {', '.join(unknown)}")

    def _require_facts(self, facts: list[str], decision: str) -> None:
        if not facts:
            raise InvalidCommand(f"a {decision} decision names the facts it relies on")
        self._require_known(facts)

    def _refuse_if_closed(self, action: str) -> None:
        if self.status == "closed":
            raise RuleViolation(f"cannot {action}: the claim is closed (reopen it first)")

    # Events -----------------------------------------------------------------------------------

    @event("FactRecorded")
    def _fact_recorded(self, fact_id: str, fact: str, evidence: list[str], meta: dict[str, str]) -> None:
        self.facts[fact_id] = fact

    @event("LiabilityDetermined")
    def _liability_determined(self, party: str, facts: list[str], meta: dict[str, str]) -> None:
        self.liability = party

    @event("CompensationProposed")
    def _proposed(self, amount: str, facts: list[str], revision: int, meta: dict[str, str]) -> None:
        self.status = "proposed"
        self.amount = amount
        self.revision = revision

    @event("ProposalDisputed")
    def _disputed(self, escalation_level: int, meta: dict[str, str]) -> None:
        self.status = "disputed"
        self.escalation_level = escalation_level

    @event("CompensationRevised")
    def _revised(self, previous_amount: str | None, amount: str, facts: list[str], revision: int,
                 meta: dict[str, str]) -> None:
        self.status = "proposed"
        self.amount = amount
        self.revision = revision

    @event("ProposalAccepted")
    def _accepted(self, amount: str | None, revision: int, meta: dict[str, str]) -> None:
        self.status = "accepted"

    @event("CompensationPaid")
    def _paid(self, amount: str, reference: str, meta: dict[str, str]) -> None:
        self.status = "paid"
        self.paid_total = str((self.already_paid + Decimal(amount)).quantize(Decimal("0.01")))
        self.paid = amount

    @event("ClaimClosed")
    def _closed(self, meta: dict[str, str]) -> None:
        self.status = "closed"

    @event("ClaimReopened")
    def _reopened(self, meta: dict[str, str]) -> None:
        self.status = "reopened"

    @event("ProposalOverdue")
    def _proposal_overdue(self, escalation_level: int, meta: dict[str, str]) -> None:
        self.proposal_overdue = True
        self.escalation_level = escalation_level

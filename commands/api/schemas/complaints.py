"""Bodies of complaints and claims: filing and investigating a complaint, and a damage claim's facts,
liability, proposals and payment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from commands.api.schemas.common import AmountText, FreeText, Strict


class FileComplaintIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    category: Literal["delivery", "shipping", "service", "product", "product_quality", "engineer_conduct", "hotline"]
    description: FreeText = Field(min_length=1, max_length=2000)
    order_id: str | None = Field(default=None, max_length=100)
    job_id: str | None = Field(default=None, max_length=100)


class FindingsIn(Strict):
    findings: FreeText = Field(min_length=1, max_length=2000)


class ResolutionIn(Strict):
    resolution: FreeText = Field(min_length=1, max_length=2000)


class OpenClaimIn(Strict):
    damage: FreeText = Field(min_length=1, max_length=2000, examples=["wooden floor of 30 m2 flooded"])


class FactIn(Strict):
    fact: FreeText = Field(min_length=1, max_length=2000)
    evidence: list[str] = Field(default_factory=list, max_length=50, description="photo ids, reports, statements")


class LiabilityIn(Strict):
    party: Literal["manufacturer", "installer", "customer", "shared"]
    facts: list[FreeText] = Field(min_length=1, max_length=50)
    reason: FreeText = Field(min_length=1, max_length=2000)


class ProposalIn(Strict):
    amount: AmountText
    facts: list[FreeText] = Field(default_factory=list, max_length=50)


class RevisionIn(ProposalIn):
    reason: FreeText = Field(min_length=1, max_length=2000)


class ClaimPaymentIn(Strict):
    amount: AmountText
    reference: str = Field(min_length=1, max_length=200)

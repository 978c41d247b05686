"""Hypothesis explores compensation-claim lifecycles (claim_machine.py)."""

from hypothesis import settings

from tests.engine.domain.claim_machine import ClaimLifecycle

ClaimLifecycle.TestCase.settings = settings(max_examples=150, stateful_step_count=25, deadline=None)
TestClaimLifecycle = ClaimLifecycle.TestCase

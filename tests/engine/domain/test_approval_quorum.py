"""Hypothesis explores vote orders for parallel return approval (quorum_machine.py)."""

from hypothesis import settings

from tests.engine.domain.quorum_machine import ApprovalQuorum

ApprovalQuorum.TestCase.settings = settings(max_examples=200, stateful_step_count=12, deadline=None)
TestApprovalQuorum = ApprovalQuorum.TestCase

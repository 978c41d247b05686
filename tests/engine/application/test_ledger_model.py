"""Hypothesis explores months of settlement (ledger_machine.py)."""

from hypothesis import settings

from tests.engine.application.ledger_machine import LedgerModel

LedgerModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestLedgerModel = LedgerModel.TestCase

"""Hypothesis explores command sequences over the delivery workflow (see machines.py)."""

from hypothesis import settings

from tests.engine.application.machines import DeliveryWorkflow

DeliveryWorkflow.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestDeliveryWorkflow = DeliveryWorkflow.TestCase

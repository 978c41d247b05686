"""Hypothesis explores orders, jobs, follow-ups, claims, payments and returns together
(cross_workflow_machine.py); the example count keeps it well under a minute in CI."""

from hypothesis import HealthCheck, settings

from tests.engine.application.cross_workflow_machine import CrossWorkflowModel

CrossWorkflowModel.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                                suppress_health_check=[HealthCheck.too_slow])
TestCrossWorkflowModel = CrossWorkflowModel.TestCase

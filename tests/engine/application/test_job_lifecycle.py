"""Hypothesis explores job lifecycles with time moving and deadlines firing (job_machine.py)."""

from hypothesis import settings

from tests.engine.application.job_machine import JobLifecycle

JobLifecycle.TestCase.settings = settings(max_examples=120, stateful_step_count=40, deadline=None)
TestJobLifecycle = JobLifecycle.TestCase

"""Field jobs: installation, repair, follow-up visit and consumable replacement.

Workflow 2 and 3 of the domain:
- a job is dispatched to an engineer, who accepts it or declines with a reason (a declined
  job waits to be dispatched again); an accepted job may be handed back (by its engineer, or a
  dispatcher for them) until its appointment window begins: the appointment stays agreed for
  the next engineer, who completes it only after a verified visit of their own;
- an appointment window is agreed with the customer; it may be rescheduled only before it
  starts, recording the notice given, who asked and why; unless the customer asked, it is
  moved only with the configured minimum notice (seed 003's "no answer, keep delaying"); a
  window that passes with no check-in and no reschedule is recorded as missed (by a
  deadline), never silently moved;
- the engineer checks in and out with a location; a check-in within the allowed distance
  of the customer's site verifies the visit, and no job is completed without a verified
  visit (a self-installation by the customer excepted, which refunds the installation fee);
- visit times are the server's receive time; a device time (offline work) is bounded: never
  in the future, never before dispatch, never older than the configured age, never inside a
  window already recorded as missed; on-time, missed and duration are judged on those times;
- a completed repair names the fault's cause, and its fee is charged to whoever the recorded
  liability rule names for that cause (installation error -> the installer, product
  quality -> the maker, misuse -> the customer); a consumable replacement may replace only
  some consumables, may be cancelled by the customer at the door, and records whether the
  customer paid on site.

The package: ``rules`` (the vocabulary and limits), ``field_job`` (the aggregate: state and
events), its commands by phase (``scheduling``, ``visits``, ``completion``). Every name is
importable from here, as it was when this was one module.
"""

from __future__ import annotations

from engine.domain.jobs.field_job import FieldJob
from engine.domain.jobs.rules import (CLOSED, DEFAULT_MAX_DEVICE_AGE, DEFAULT_MIN_NOTICE, DEFAULT_REPAIR_LIABILITY,
                                      DEVICE_CLOCK_SKEW, FAULT_CAUSES, INITIATORS, KINDS, MAX_WINDOW, PAYERS, ROUTINGS)

__all__ = ["CLOSED", "DEFAULT_MAX_DEVICE_AGE", "DEFAULT_MIN_NOTICE", "DEFAULT_REPAIR_LIABILITY", "DEVICE_CLOCK_SKEW",
           "FAULT_CAUSES", "INITIATORS", "KINDS", "MAX_WINDOW", "PAYERS", "ROUTINGS", "FieldJob"]

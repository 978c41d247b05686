"""Everything the engine is configured with, in one object given to ServiceOrderApp.

The composition root (commands/bootstrap.py) builds it from the typed Settings; tests
build it directly. Nothing is set on the application after it is constructed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Mapping

from engine.domain.calendar import TIER_TARGETS, BusinessCalendar
from engine.domain.clock import Clock, SystemClock
from engine.domain.jobs import DEFAULT_MAX_DEVICE_AGE, DEFAULT_MIN_NOTICE, DEFAULT_REPAIR_LIABILITY
from engine.domain.returns import DEFAULT_REQUIRED
from engine.store.personal import KeyStore
from engine.store.signing import Signer

# The in-memory store: for tests and tools that need no persistence.
IN_MEMORY: Mapping[str, str] = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

TierTargets = Mapping[str, "tuple[BusinessCalendar, timedelta] | None"]


def default_holdback() -> dict[str, Any]:
    return {"rule": "quality_holdback", "percent": "10", "min_jobs": 10}


@dataclass(frozen=True)
class EngineConfig:
    # The event store (engine.store.eventstore.event_store_env builds it).
    env: Mapping[str, str] = field(default_factory=lambda: dict(IN_MEMORY))
    clock: Clock = field(default_factory=SystemClock)
    # Saves that arrive while one is written share the next transaction; 1 writes each alone.
    group_commit_max: int = 200
    # Seals personal fields per customer when given (engine/store/personal.py).
    key_store: KeyStore | None = None
    # Signs every event's chain link and every snapshot when given (engine/store/signing.py).
    signer: Signer | None = None
    # Field work: how far from the site a check-in may be and still count as verified.
    visit_max_distance_m: float = 200.0
    # How old a device time on a check-in or check-out may be; how much notice a reschedule
    # needs unless the customer asked; who pays for a repair, by its fault cause.
    device_time_max_age: timedelta = DEFAULT_MAX_DEVICE_AGE
    reschedule_min_notice: timedelta = DEFAULT_MIN_NOTICE
    repair_liability: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_REPAIR_LIABILITY))
    # Service levels: each tier's business calendar and allowed time; the hotline's day.
    tier_targets: TierTargets = field(default_factory=lambda: dict(TIER_TARGETS))
    hotline_time_zone: str = "Asia/Shanghai"
    # Returns: the departments that judge each resolution.
    return_departments: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_REQUIRED))
    # Money: the currency, the zone periods are cut in, and the recorded holdback rule (a
    # share of each period's fees kept back until the next settlement, never from an
    # engineer with fewer jobs in the period than min_jobs).
    currency: str = "CNY"
    settlement_time_zone: str = "Asia/Shanghai"
    holdback_rule: Mapping[str, Any] = field(default_factory=default_holdback)

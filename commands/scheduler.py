"""The scheduler loop: fires due deadlines, exactly once each.

It reads due deadlines from the deadline index (a projection) and asks the application to
fire each one. Firing re-checks the deadline aggregate and saves the firing together with
its effects; a second scheduler racing for the same deadline loses at the store, and a
crash before the save leaves the deadline due, to be fired on the next pass.
"""

from __future__ import annotations

import threading
from collections import Counter
from uuid import UUID

import structlog

from engine.application.app import ServiceOrderApp
from engine.domain.clock import Clock
from projections.deadlines import utc_text
from sqlstore.sqldb import Database

log = structlog.get_logger(__name__)


class Scheduler:
    def __init__(self, app: ServiceOrderApp, views: Database, clock: Clock, *, batch_size: int = 100,
                 interval: float = 1.0) -> None:
        self.app = app
        self.views = views
        self.clock = clock
        self.batch_size = batch_size
        self.interval = interval

    def due(self) -> list[UUID]:
        with self.views.transaction() as cur:
            rows = cur.execute(
                "SELECT deadline_id FROM deadline_index WHERE status = 'scheduled' AND due_at <= %s "
                "ORDER BY due_at LIMIT %s",
                (utc_text(self.clock.now()), self.batch_size),
            ).fetchall()
        return [UUID(r[0]) for r in rows]

    def run_once(self) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        for deadline_id in self.due():
            try:
                outcome = self.app.fire_deadline(deadline_id)
            except Exception:
                log.exception("deadline_fire_failed", deadline_id=str(deadline_id))
                outcome = "failed"
            outcomes[outcome] += 1
        if outcomes:
            log.info("scheduler_pass", **outcomes)
        return outcomes

    def run(self, stop: threading.Event) -> None:
        log.info("scheduler_started")
        while not stop.is_set():
            try:
                self.run_once()
            except Exception:
                log.exception("scheduler_pass_failed")
            stop.wait(self.interval)
        log.info("scheduler_stopped")

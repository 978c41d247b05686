"""What the application reads from the store itself, not from a view: positions in the
notification log, an aggregate's whole history, its type and its customer."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from engine.application.unit_of_work import UnitOfWork
from engine.domain.errors import NotFound


class Reads:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow

    def current_position(self) -> int:
        return self.uow.store.current_position()

    def event_at(self, position: int) -> tuple[UUID, int] | None:
        """(aggregate id, version) of the event at ``position`` in the notification log, if any."""
        found = self.uow.store.recorder.select_notifications(start=position, limit=1, stop=position)
        return (UUID(str(found[0].originator_id)), found[0].originator_version) if found else None

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every event of an aggregate, oldest first, with who, when and why: what auditors replay."""
        events: list[Any] = list(self.uow.store.events.get(aggregate_id))
        if not events:
            raise NotFound(f"{aggregate_id} has no history")
        skip = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}
        return [{"version": e.originator_version, "event_type": type(e).__name__,
                 "recorded_at": e.timestamp.isoformat(), "meta": getattr(e, "meta", {}),
                 "data": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(e).items()
                          if k not in skip}}
                for e in events]

    def aggregate_type(self, aggregate_id: UUID) -> str | None:
        """The class name of an aggregate (``FieldJob``...), or None if there is none."""
        aggregate = self.uow.get_any(aggregate_id)
        return None if aggregate is None else type(aggregate).__name__

    def customer_of(self, aggregate_id: UUID) -> str | None:
        """The customer an aggregate belongs to, for checking read-your-writes requests."""
        customer: str | None = getattr(self.uow.get_any(aggregate_id), "customer_id", None)
        return customer

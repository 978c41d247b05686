"""What the application reads from the store itself, not from a view: positions in the
notification log, an aggregate's whole history, its type, its customer and what it was
created with. None of these loads (replays) an aggregate: the type, customer and origin
come from its first stored event, which never changes."""

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
        first = self._first_event(aggregate_id)
        return None if first is None else type(first).__qualname__.split(".")[0]

    def customer_of(self, aggregate_id: UUID) -> str | None:
        """The customer an aggregate belongs to (named when it was created), for scoping reads."""
        customer = self.origin(aggregate_id).get("customer_id")
        return customer if isinstance(customer, str) else None

    def origin(self, aggregate_id: UUID) -> dict[str, Any]:
        """The fields an aggregate was created with (its first event's), or {} if there is none."""
        first = self._first_event(aggregate_id)
        return {} if first is None else dict(vars(first))

    def _first_event(self, aggregate_id: UUID) -> Any | None:
        return next(iter(self.uow.store.events.get(aggregate_id, limit=1)), None)

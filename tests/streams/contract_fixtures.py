"""Fixtures of every published version of every event, as stored: they stay readable forever.

    .venv/bin/python -m tests.streams.contract_fixtures

writes a fixture for each (event type, class version) the code defines and that has none
yet; it never changes or deletes one. Commit the new files: tests/streams/test_contract.py
fails for an event type or version without a fixture, and for any fixture that the current
code cannot read (no upcaster from its version).
"""

from __future__ import annotations

import json
import typing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Union
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.catalogue import PUBLIC_STREAMS
from streams.asyncapi import data_fields, event_classes

HERE = Path(__file__).parent / "event_fixtures"
SUBJECT = UUID("00000000-0000-4000-8000-000000000042")
WHEN = datetime(2026, 11, 22, 8, 30, tzinfo=timezone.utc)


def sample(hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        return sample(next(a for a in typing.get_args(hint) if a is not type(None)))
    if hint is bool:
        return True
    if hint is int:
        return 1
    if hint is float:
        return 1.5
    if hint is datetime:
        return WHEN
    if origin in (list, tuple) or hint in (list, tuple):
        return []
    if origin is dict or hint is dict:
        return {}
    return "sample"


def path_of(category: str, event_cls: type, version: int) -> Path:
    return HERE / category / f"{event_cls.__name__}.v{version}.json"


def stored_sample(app: ServiceOrderApp, aggregate: type[Aggregate], event_cls: type) -> dict[str, Any]:
    state = {name: sample(hint) for name, hint in data_fields(event_cls).items()}
    state.update(originator_id=SUBJECT, originator_version=1, timestamp=WHEN,
                 meta={"actor": "fixture", "request_id": "r", "correlation_id": "c", "causation_id": "r"})
    if issubclass(event_cls, Aggregate.Created):
        state["originator_topic"] = get_topic(aggregate)
    event = object.__new__(event_cls)
    object.__setattr__(event, "__dict__", state)
    stored = app.mapper.to_stored_event(event)
    return {"topic": stored.topic, "class_version": getattr(event_cls, "class_version", 1),
            "stored": stored.state.decode()}


def main() -> None:
    app = ServiceOrderApp(EngineConfig())
    written = 0
    for category, aggregate in PUBLIC_STREAMS.items():
        for event_cls in event_classes(aggregate):
            path = path_of(category, event_cls, getattr(event_cls, "class_version", 1))
            if path.exists():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(stored_sample(app, aggregate, event_cls), indent=1) + "\n", encoding="utf-8")
            written += 1
    print(f"{written} new fixture(s) in {HERE}")


if __name__ == "__main__":
    main()

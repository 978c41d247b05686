"""Stored events are found again by their class's topic (``module:Class.Event``).

Issue 16 moved the aggregates from ``engine/<name>.py`` into ``engine/domain/``, so every
event stored before it names a module that no longer exists. The old topics are
registered here (eventsourcing's ``register_topic``) for every aggregate, event and
snapshot class, so old stores load, and the relay maps both spellings to one category.

When ``engine/domain/jobs.py`` later became a package, ``FieldJob`` kept its topics
(``engine.domain.jobs:FieldJob.*``) by stating them explicitly (eventsourcing's ``TOPIC``), so
that split needed nothing registered here; old topics are found by a class's topic, not its
``__module__``.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType

from eventsourcing.domain import Aggregate
from eventsourcing.utils import TopicError, get_topic, register_topic, resolve_topic

from engine.domain.catalogue import PUBLIC_STREAMS

# Old module -> new module of every module that holds stored classes.
MOVED_MODULES: dict[str, str] = {
    f"engine.{name}": f"engine.domain.{name}" for name in (
        "accounts", "calls", "claims", "complaints", "customers", "deadlines", "followups", "jobs", "orders",
        "payments", "privacy", "reminders", "returns", "sla")
}
_registered: dict[str, type] = {}


def _stored_classes(module: ModuleType) -> list[type]:
    """The aggregates whose topic names a module and every class nested in them (events, snapshots).

    The topic, not ``__module__``: an aggregate whose module became a package keeps its topics
    (``engine.domain.jobs``, with explicit topics) while its class is defined in a submodule."""
    found: list[type] = []
    pending = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, Aggregate)
               and get_topic(v).partition(":")[0] == module.__name__]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending += [v for v in vars(cls).values()
                    if isinstance(v, type) and v.__qualname__.startswith(cls.__qualname__ + ".")]
    return found


def register_moved(old: str, module: ModuleType) -> None:
    """Register every stored class of ``module`` under its topic in module ``old`` too."""
    for cls in _stored_classes(module):
        topic = f"{old}:{cls.__qualname__}"
        if topic not in _registered:
            register_topic(topic, cls)
            _registered[topic] = cls


@functools.cache
def register_moved_topics() -> dict[str, type]:
    """Register each moved domain class under its old topic; returns old topic -> class
    (with those other layers registered through ``register_moved``)."""
    for old, new in MOVED_MODULES.items():
        register_moved(old, importlib.import_module(new))
    return _registered


def _event_classes(aggregate: type[Aggregate]) -> list[type]:
    return [v for v in vars(aggregate).values() if isinstance(v, type) and issubclass(v, aggregate.Event)]


def stored_topics(category: str) -> list[str]:
    """Every topic a category's events are stored under (current and pre-move), for
    filtered notification reads."""
    events = set(_event_classes(PUBLIC_STREAMS[category]))
    old = [topic for topic, cls in dict(register_moved_topics()).items() if cls in events]
    return sorted([get_topic(cls) for cls in events] + old)


@functools.lru_cache(maxsize=1024)
def category_of(event_topic: str) -> str | None:
    """The category of a stored event's topic (``module:Aggregate.Event``), or None if internal."""
    register_moved_topics()
    try:
        aggregate = resolve_topic(event_topic.rsplit(".", 1)[0])
    except TopicError:
        return None
    return next((category for category, cls in PUBLIC_STREAMS.items() if cls is aggregate), None)


def event_type_name(event_topic: str) -> str:
    """The short, stable event name: ``engine.domain.orders:ServiceOrder.OrderPlaced`` -> ``OrderPlaced``."""
    return event_topic.rsplit(".", 1)[-1]

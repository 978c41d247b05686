"""Replay a store's events into a view one whole topic at a time, in a chosen topic order.

A projection fed by several topics sees them in no guaranteed order relative to each other
(only per aggregate, per partition). Replaying every event of one topic before the next,
forwards and backwards, is the harshest order a real consumer could see: a view that is
correct only for the order the events were written fails here, deterministically.
"""

from __future__ import annotations

import time
from typing import Any, Collection

from commands.bootstrap import Runtime
from projections.base import Projection
from streams.relay import envelope_of


def envelopes_by_category(runtime: Runtime) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    position = 0
    while notes := runtime.app.recorder.select_notifications(start=position + 1, limit=1_000):
        for n in notes:
            position = n.id
            published = envelope_of(runtime.app, n, runtime.settings.event_source)
            if published is not None:
                found.setdefault(published[0], []).append(published[1])
    return found


def in_store_order(runtime: Runtime) -> list[dict[str, Any]]:
    """Every published envelope of the store, in the order the store wrote them."""
    return sorted((env for events in envelopes_by_category(runtime).values() for env in events),
                  key=lambda env: env["position"])


def replay_in_store_order(runtime: Runtime, projection: Projection, envelopes: list[dict[str, Any]]) -> None:
    """Drop the view and apply the envelopes (from ``in_store_order``) of its categories."""
    projection.drop(runtime.views_db)
    with runtime.views_db.transaction() as cur:
        for env in envelopes:
            if env["source"].rsplit("/", 1)[-1] in projection.categories:
                projection.apply(cur, env)


def replay_topic_by_topic(runtime: Runtime, projection: Projection, categories: list[str]) -> None:
    """Drop the view and apply every event of ``categories[0]``, then of the next, and so on."""
    events = envelopes_by_category(runtime)
    projection.drop(runtime.views_db)
    projection.create(runtime.views_db)
    with runtime.views_db.transaction() as cur:
        for category in categories:
            for env in events.get(category, []):
                projection.apply(cur, env)


def replay_aggregate_by_aggregate(runtime: Runtime, projection: Projection, categories: list[str],
                                  reverse: bool = False) -> None:
    """Drop the view and apply every aggregate's events whole, one aggregate after another
    (categories in the order given, aggregates by first position, or the reverse): each
    aggregate on a partition of its own, read one partition at a time."""
    events = envelopes_by_category(runtime)
    projection.drop(runtime.views_db)
    projection.create(runtime.views_db)
    with runtime.views_db.transaction() as cur:
        for category in categories:
            by_aggregate: dict[str, list[dict[str, Any]]] = {}
            for env in events.get(category, []):
                by_aggregate.setdefault(env["subject"], []).append(env)
            for aggregate in (reversed(list(by_aggregate)) if reverse else list(by_aggregate)):
                for env in by_aggregate[aggregate]:
                    projection.apply(cur, env)


def wait_until_caught_up(runtime: Runtime, timeout: float = 60.0,
                         projections: Collection[str] | None = None) -> dict[str, Any]:
    """Wait until the relay has published the whole store and the projections (all, or
    those named) have applied everything published; the lag report at that point."""
    from commands.lag import lag_report

    deadline = time.monotonic() + timeout
    while True:
        report = lag_report(runtime)
        if report["relay"]["lag_events"] == 0 and all(
                p["lag_records"] == 0 for name, p in report["projections"].items()
                if projections is None or name in projections):
            return report
        assert time.monotonic() < deadline, f"views did not catch up: {report}"
        time.sleep(0.05)


def stop_when_caught_up(runtime: Runtime, timeout: float = 60.0) -> None:
    """Wait until everything is published and applied, then stop the background workers:
    only then is an incremental view complete enough to compare with a rebuild."""
    wait_until_caught_up(runtime, timeout)
    runtime.stop.set()
    for thread in runtime.threads:
        thread.join(timeout=30)
        assert not thread.is_alive(), f"{thread.name} did not stop"

"""Reads of one resource's view in tests, once the view holds every write the store has of it.

Single-resource reads answer from views (issue 16) and are eventually consistent. A test that
has its command's ``position`` passes it as ``wait_for_position``; a test that checks what a
refused or racing command did NOT write has no such position, so it waits until the view has
applied the aggregate's last stored version and then reads: an extra write would show."""

from __future__ import annotations

from typing import Any, Callable
from uuid import UUID

from commands.bootstrap import Runtime
from tests.waiting import GENEROUS, wait_for


def settled(runtime: Runtime, projection: str, aggregate_id: str | UUID, timeout: float = GENEROUS) -> None:
    """Block until ``projection`` has applied the last event the store holds of the aggregate."""
    version = max(e.originator_version for e in runtime.app.events.get(UUID(str(aggregate_id))))
    runtime.views.wait_for_version(projection, str(aggregate_id), version, 0, timeout)


# The view each single-resource route reads (its path's first segment).
VIEW_OF = {"orders": "order_tracking", "jobs": "engineer_agenda", "returns": "returns_board",
           "complaints": "complaints_board", "claims": "complaints_board", "follow-ups": "follow_ups",
           "reminders": "follow_ups", "slas": "sla_board"}


def read_settled(client: Any, runtime: Runtime, path: str, **kwargs: Any) -> Any:
    """GET ``/<resource>/<id>`` once its view holds everything the store has of it."""
    _, resource, aggregate_id = path.split("/")[:3]
    settled(runtime, VIEW_OF[resource], aggregate_id)
    return client.get(path, **kwargs)


def when_shown(client: Any, path: str, done: Callable[[dict[str, Any]], Any] = bool, **kwargs: Any) -> dict[str, Any]:
    """GET ``path`` until it answers 200 with a body ``done`` holds of, and return that body. A
    view that does not hold the resource yet answers 404 (``not projected yet``) meanwhile; any
    other status fails at once."""

    def check() -> dict[str, Any] | None:
        response = client.get(path, **kwargs)
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body if done(body) else None

    return wait_for(check, what=f"GET {path} did not show it")

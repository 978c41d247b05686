"""Waiting on a condition in tests: poll until it holds, with a bound generous enough for a
busy machine (a passing test returns as soon as the condition holds, so the bound costs
nothing); never a fixed sleep."""

from __future__ import annotations

import time
from typing import Any, Callable

# The default bound, in seconds: the suite must pass with both cores busy with other work.
GENEROUS = 60.0


def wait_for(check: Callable[[], Any], timeout: float = GENEROUS, what: str = "condition not reached",
             interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(interval)
    return value


def views_caught_up(client: Any, position: int, timeout: float = GENEROUS) -> dict[str, Any]:
    """Wait until the store holds ``position``, the relay has published all of it and every
    view has read every record (GET /lag): a read after a write that spans several
    aggregates (one topic partition each) must not race the views that are still behind."""

    def report() -> dict[str, Any] | None:
        lag = client.get("/lag").json()
        done = lag["store_position"] >= position and lag["relay"]["lag_events"] == 0 and all(
            p["lag_records"] == 0 for p in lag["projections"].values())
        return lag if done else None

    return wait_for(report, timeout, "the views did not catch up with the store")

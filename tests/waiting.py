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

"""What every ``serviceorder`` command shares: the runtime, stopping on a signal, a loop run in
the foreground, and a progress bar on standard error."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any, Callable

from commands.settings import Settings


def stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def runtime_of(settings: Settings):  # noqa: ANN201 - bootstrap is imported late: --help stays fast
    from commands.bootstrap import build_runtime

    return build_runtime(settings)


def run_loop(settings: Settings, loop: Callable[[Any], Any]) -> int:
    """Run one of the runtime's loops (relay, scheduler) in the foreground until a signal."""
    runtime = runtime_of(settings)
    stop = stop_on_signals()
    try:
        loop(runtime).run(stop)
    finally:
        runtime.close()
    return 0


def progress_bar(desc: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """An update(done, total) and a close for a tqdm bar (the total may grow while it runs)."""
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="ev", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = max(total, done)
        bar.n = done
        bar.refresh()

    return update, bar.close

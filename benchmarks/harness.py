"""What the HTTP benchmarks share: the service started as ``serviceorder serve``, its token,
its processes' memory, and the end-to-end lag sampler (command accepted -> customer timeline).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from typing import Any

from benchmarks.load import percentile

TOKEN = "bench-token-0123456789abcdef"


class LagSampler:
    """End-to-end lag: from a command's response to its event in the customer timeline.

    Clients report (order, version, accepted at); this thread reads the timeline's version
    marks every 5 ms and records, for each sample, when it first shows that version.
    """

    def __init__(self, url: str, schema: str) -> None:
        import psycopg2

        self.conn = psycopg2.connect(url, options=f"-c search_path={schema}")
        self.conn.autocommit = True
        self.pending: dict[str, tuple[int, float]] = {}
        self.lags: list[float] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def sample(self, order: str, version: int) -> None:
        with self.lock:
            if order not in self.pending:
                self.pending[order] = (version, time.perf_counter())

    def _run(self) -> None:
        with self.conn.cursor() as cur:
            while not self.stop.wait(0.005):
                with self.lock:
                    waiting = dict(self.pending)
                if not waiting:
                    continue
                cur.execute("SELECT aggregate_id, version FROM projection_versions "
                            "WHERE projection = 'customer_timeline' AND aggregate_id = ANY(%s)", (list(waiting),))
                now = time.perf_counter()
                with self.lock:
                    for order, version in cur.fetchall():
                        if order in self.pending and version >= self.pending[order][0]:
                            self.lags.append(now - self.pending.pop(order)[1])

    def drain(self, timeout: float) -> None:
        """Wait until every sample has been seen (or ``timeout``): the slow ones are the p99."""
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> LagSampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join()
        self.conn.close()


def start_api(url: str, schema: str, bootstrap: str, workers: int, port: int, data_dir: str,
              group_commit_max: int, background: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SERVICEORDER_DATABASE_SCHEMA": schema,
           "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SERVICEORDER_ADMIN_TOKEN": TOKEN, "SERVICEORDER_PORT": str(port),
           "SERVICEORDER_LOG_LEVEL": "WARNING", "SERVICEORDER_LOG_FORMAT": "json", "SERVICEORDER_DATA_DIR": data_dir,
           "SERVICEORDER_GROUP_COMMIT_MAX": str(group_commit_max)}
    only_api = [] if background else ["--no-relay", "--no-projections", "--no-scheduler"]
    process = subprocess.Popen([sys.executable, "-m", "commands.cli", "serve", "--workers", str(workers), *only_api],
                               env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port)
    return process


def wait_for_port(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            time.sleep(1.5)  # every API process up, not just the first
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the API did not start on port {port}")


def api_rss(parent: int) -> list[int]:
    """Resident memory (KiB) of the API processes under the serve process ``parent``."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            status = open(f"/proc/{entry}/status").read()  # noqa: SIM115
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(parent) and "VmRSS" in fields:
            out.append(int(fields["VmRSS"].split()[0]))
    return out


def lag_line(label: str, result: Any, sampler: LagSampler) -> str:
    s = result.summary()
    return (f"end-to-end, {label}: {s['ok_per_s']:,} served, command p99 {s['p99_ms']} ms; accepted -> customer "
            f"timeline p50 {percentile(sampler.lags, 50) * 1000:.0f} ms, p99 {percentile(sampler.lags, 99) * 1000:.0f} "
            f"ms ({len(sampler.lags):,} samples, {len(sampler.pending)} not seen)")

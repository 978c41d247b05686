"""The embedded default as a user runs it: `serviceorder serve` with no configuration.

Also restarts it: the bundled broker comes back empty, and the relay and projections must
rebuild the topics and carry on without losing or duplicating anything.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from streams.broker import free_port
from tests.kafka_helpers import consume_all
from tests.waiting import wait_for

ORDER = {"customer_id": "cust-embedded", "items": [{"sku": "SH-200", "quantity": 1}], "tier": "svip",
         "delivery_address": "3 Sun Road"}


class Served:
    def __init__(self, workdir: Path, *args: str, host: str = "127.0.0.1", command: str = "serve") -> None:
        self.workdir = workdir
        self.host = host
        self.port = free_port()
        self.log = workdir / f"serve-{self.port}.log"
        self.env = env = {k: v for k, v in os.environ.items()
               if not k.startswith("SERVICEORDER_") and k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "commands.cli", command, "--port", str(self.port), *args],
            cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"),  # noqa: SIM115
        )
        self.banner = self._wait_for_banner()
        self.token = re.search(r"admin token (\S+)", self.banner).group(1)
        self.kafka = re.search(r"Kafka\s+(\S+)", self.banner).group(1)
        self.http = httpx.Client(base_url=f"http://{host}:{self.port}",
                                 headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    def _wait_for_banner(self, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            if "stop with Ctrl-C" in text:
                while time.monotonic() < deadline:
                    try:
                        httpx.get(f"http://{self.host}:{self.port}/health", timeout=1)
                        return text
                    except httpx.TransportError:
                        time.sleep(0.1)
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"serve did not start:\n{self.log.read_text(errors='replace')[-3000:]}")

    def stop(self) -> None:
        self.http.close()
        self.process.send_signal(signal.SIGINT)
        self.process.wait(60)


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


def test_embedded_default_end_to_end_and_across_a_restart(workdir: Path) -> None:
    first = Served(workdir)
    try:
        assert "API docs" in first.banner and "bundled broker" in first.banner
        assert (workdir / ".serviceorder" / "events.sqlite").exists()
        placed = first.http.post("/orders", json=ORDER)
        assert placed.status_code == 201
        order = placed.json()
        timeline = first.http.get("/customers/cust-embedded/timeline",
                                  params={"wait_for_position": order["position"]}).json()
        assert [e["event_type"] for e in timeline["entries"]] == ["OrderPlaced"]
        (record,) = consume_all(first.kafka, "serviceorder.orders", expect=1)
        assert json.loads(record.value)["subject"] == order["order_id"]
        assert first.http.get("/docs").status_code == 200
    finally:
        first.stop()
    assert first.process.returncode == 0

    second = Served(workdir)  # same data dir, a new and empty broker
    try:
        assert second.token == first.token, "the generated admin token is kept in the data dir"
        step = second.http.post(f"/orders/{order['order_id']}/delivery-steps", json={"step": "stock_prepared"})
        assert step.status_code == 200
        timeline = second.http.get("/customers/cust-embedded/timeline",
                                   params={"wait_for_position": step.json()["position"]}).json()
        assert [e["event_type"] for e in timeline["entries"]] == ["OrderPlaced", "DeliveryStepRecorded"]
        records = consume_all(second.kafka, "serviceorder.orders", expect=2)
        assert sorted(json.loads(r.value)["aggregateversion"] for r in records) == [1, 2]
        health = second.http.get("/health").json()
        assert health["status"] == "ok" and health["store_position"] == step.json()["position"]
    finally:
        second.stop()


def api_processes(parent: int) -> set[int]:
    children = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = Path(f"/proc/{entry}/status").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if f"PPid:\t{parent}\n" in status and b"commands.replicas" in cmdline:
                children.add(int(entry))
    return children


def test_several_api_processes_share_the_port_and_a_dead_one_is_replaced(workdir: Path) -> None:
    served = Served(workdir, "--workers", "2")
    try:
        assert "2 API processes" in served.banner
        deadline = time.monotonic() + 60
        while len(api_processes(served.process.pid)) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        first = api_processes(served.process.pid)
        positions = []
        for n in range(10):
            placed = served.http.post("/orders", json={**ORDER, "customer_id": f"cust-{n}"})
            assert placed.status_code == 201, placed.text
            positions.append(placed.json()["position"])
        victim = sorted(first)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while True:
            now = api_processes(served.process.pid)
            if len(now) == 2 and victim not in now:
                break
            assert time.monotonic() < deadline, "the dead API process was not replaced"
            time.sleep(0.2)
        for n in range(10):
            while True:  # a connection the dead process had accepted may fail: retry it
                try:
                    placed = served.http.post("/orders", json={**ORDER, "customer_id": "cust-after"},
                                              headers={"Idempotency-Key": f"after-{n}"})
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            assert placed.status_code == 201
        # The parent's relay and projections serve every API process's writes.
        timeline = served.http.get("/customers/cust-after/timeline",
                                   params={"wait_for_position": placed.json()["position"]}).json()
        assert len(timeline["entries"]) == 10
    finally:
        children = api_processes(served.process.pid)
        served.stop()
    assert served.process.returncode == 0
    # Reaped by serve before it exits; the kernel drops their /proc entries a moment later.
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 10, "API processes outlived serve")

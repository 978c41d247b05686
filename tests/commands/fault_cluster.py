"""The processes and clients of the fault tests (tests/commands/test_faults.py): the service's
processes started, killed and restarted on demand against a private PostgreSQL and a broker of
their own, and delivery clients that keep sending commands, each retried with its own
Idempotency-Key until the API accepts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from streams.broker import BrokerProcess, free_port
from tests import pgcluster
from tests.conftest import ADMIN_TOKEN, make_settings
from tests.waiting import wait_for


class Cluster:
    """The service's processes, each started, killed and restarted on demand."""

    COMMANDS = {
        "api": ["serve", "--no-relay", "--no-projections", "--no-scheduler"],
        "relay": ["relay"],
        "standby": ["relay"],
        "projections": ["project", "order_tracking", "customer_timeline"],
        "scheduler": ["scheduler"],
        "serve": ["serve"],
    }

    def __init__(self, tmp_path: Path, pg: pgcluster.PrivateCluster) -> None:
        self.tmp_path = tmp_path
        self.pg = pg
        self.broker = BrokerProcess(log_file=tmp_path / "broker.log").start()
        self.port = free_port()
        self.topic_prefix = f"faults{uuid4().hex[:8]}"
        schema = self.topic_prefix
        self.settings = make_settings("postgres", tmp_path, self.broker, self.topic_prefix, pg.url, schema)
        self.env = {**os.environ, "DATABASE_URL": pg.url, "SERVICEORDER_DATABASE_SCHEMA": schema,
                    "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
                    "SERVICEORDER_TOPIC_PREFIX": self.topic_prefix, "SERVICEORDER_ADMIN_TOKEN": ADMIN_TOKEN,
                    "SERVICEORDER_DATA_DIR": str(tmp_path / "data"), "SERVICEORDER_PORT": str(self.port),
                    "SERVICEORDER_LOG_FORMAT": "json", "SERVICEORDER_RELAY_VERIFY_INTERVAL": "1",
                    "SERVICEORDER_PROJECTION_VERIFY_INTERVAL": "2",
                    "SERVICEORDER_PROJECTION_BATCH_SIZE": "50", "SERVICEORDER_SCHEDULER_INTERVAL": "0.5"}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        log = open(self.tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.processes[name] = subprocess.Popen([sys.executable, "-m", "commands.cli", *self.COMMANDS[name]],
                                                env=self.env, stdout=log, stderr=log)
        if name in ("api", "serve"):
            self.wait_for_api(name)

    def log(self, name: str) -> Path:
        return self.tmp_path / f"{name}.log"

    def logged(self, name: str, *events: str, since: float = 0.0) -> list[dict[str, Any]]:
        """The named process's log events of these kinds, logged at or after ``since`` (epoch s)."""
        found = []
        for line in self.log(name).read_text(errors="replace").splitlines():
            if line.startswith("{"):
                entry = json.loads(line)
                if entry.get("event") in events and timestamp(entry) >= since:
                    found.append(entry)
        return found

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def terminate(self, name: str, timeout: float = 60) -> float:
        """SIGTERM, and the seconds the process took to exit."""
        process = self.processes.pop(name)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        return time.monotonic() - started

    def stop_all(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()
        self.broker.stop()

    def stop_broker(self) -> None:
        self.broker.stop()

    def start_broker(self) -> None:
        """The broker again on its port, empty (the bundled one keeps nothing)."""
        self.broker = BrokerProcess(port=self.broker.port, log_file=self.tmp_path / "broker2.log").start()

    def wait_for_api(self, name: str = "api", timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.processes[name].poll() is None:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        log = self.log(name).read_text(errors="replace")
        raise AssertionError(f"the API did not start:\n{log[-3000:]}")


def timestamp(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")).timestamp()


class Clients:
    """Delivery clients: each places orders and records their steps, every command with its
    own Idempotency-Key, retried with that key until the API accepts it."""

    def __init__(self, port: int, count: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.stop = threading.Event()
        self.accepted: dict[str, tuple[str, int]] = {}  # key -> (order id, version)
        self.in_transit: Counter[str] = Counter()
        self.unavailable: list[httpx.Response] = []
        self.unexpected: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(count)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    give_up_at = float("inf")

    def wait_for_progress(self, commands: int) -> None:
        """Until ``commands`` more commands were accepted from now."""
        with self.lock:
            mark = len(self.accepted)
        wait_for(lambda: len(self.accepted) >= mark + commands, 60, f"{commands} more commands were not accepted")

    def finish(self) -> None:
        self.give_up_at = time.monotonic() + 60
        self.stop.set()
        for t in self.threads:
            t.join(120)
        assert not any(t.is_alive() for t in self.threads)

    def _send(self, http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        key = uuid4().hex
        while True:
            if self.stop.is_set() and time.monotonic() > self.give_up_at:
                with self.lock:
                    self.unexpected.append((0, f"{path}: never accepted (API unreachable)"))
                return None
            try:
                r = http.post(path, json=body, headers={"Idempotency-Key": key})
            except httpx.TransportError:
                time.sleep(0.1)  # the API is down or restarting: same command, same key
                continue
            if r.status_code == 503:
                with self.lock:
                    self.unavailable.append(r)
                time.sleep(0.2)
                continue
            if r.status_code >= 400:
                with self.lock:
                    self.unexpected.append((r.status_code, r.text[:300]))
                return None
            out = r.json()
            with self.lock:
                self.accepted[key] = (out["order_id"], out["version"])
            return out

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                          timeout=30) as http:
            while not self.stop.is_set():
                placed = self._send(http, "/orders", {"customer_id": f"cust-{n}", "tier": "vip",
                                                      "delivery_address": f"{n} Lake Road",
                                                      "items": [{"sku": "WP-500", "quantity": 1}]})
                if placed is None:
                    return
                order = placed["order_id"]
                for step in ("stock_prepared", "left_warehouse", "driver_assigned"):
                    if self._send(http, f"/orders/{order}/delivery-steps", {"step": step, "driver": "d"}) is None:
                        return
                for i in range(4):
                    if self.stop.is_set():
                        break
                    if self._send(http, f"/orders/{order}/delivery-steps",
                                  {"step": "in_transit", "position": {"lat": 30 + i / 100, "lng": 120}}) is None:
                        return
                    with self.lock:
                        self.in_transit[order] += 1

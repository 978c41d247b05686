"""The outbox relay against the real broker, on both event stores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from commands.bootstrap import Runtime
from engine.application.context import CommandContext
from streams.broker import BrokerProcess
from streams.kafka import KafkaConfig
from streams.relay import Relay, RelayState
from tests.kafka_helpers import consume_all, envelopes
from tests.waiting import wait_for

CTX = CommandContext.new()


def write_orders(runtime: Runtime, orders: int, steps: bool = True) -> list:
    ids = []
    for n in range(orders):
        r = runtime.app.place_order(CTX, customer_id=f"cust-{n % 5}", items=[{"sku": "WP", "quantity": 1}],
                                    tier="vip", delivery_address="addr", idempotency_key=f"k{n}")
        if steps:
            runtime.app.record_delivery_step(CTX, r.aggregate_id, "stock_prepared")
        ids.append(r.aggregate_id)
    return ids


def store_event_ids(runtime: Runtime) -> list[str]:
    """The ids the relay must publish: every public event in the store."""
    from engine.store.topics import category_of
    from streams.envelope import event_id

    return [event_id(n.originator_id, n.originator_version)
            for n in runtime.app.recorder.select_notifications(start=1, limit=100_000)
            if category_of(n.topic)]


def test_publishes_every_order_event_as_cloudevents_keyed_by_order(runtime: Runtime) -> None:
    ids = write_orders(runtime, 4)
    relay = runtime.relay()
    assert relay.catch_up() == 12  # 8 order events + 4 internal idempotency records
    relay.close()
    records = consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic("orders"), expect=8)
    envs = envelopes(records)
    assert sorted(e["id"] for e in envs) == sorted(store_event_ids(runtime))
    assert {r.key.decode() for r in records} == {str(i) for i in ids}
    assert all(r.key.decode() == e["subject"] for r, e in zip(records, envs))
    assert all(dict(r.headers)["content-type"].startswith(b"application/cloudevents+json") for r in records)
    # Per partition, events come in store order, so each order's versions ascend.
    by_partition: dict[int, list[int]] = {}
    for r, e in zip(records, envs):
        by_partition.setdefault(r.partition, []).append(e["position"])
    assert all(p == sorted(p) for p in by_partition.values())


def test_relay_killed_mid_batch_resumes_without_loss(runtime: Runtime) -> None:
    write_orders(runtime, 10)
    kafka = runtime.start_kafka()

    def crash_after(n: int) -> None:
        if n == 7:
            raise RuntimeError("simulated crash mid-batch")

    doomed = Relay(runtime.app, kafka, RelayState(runtime.state_db, "relay"), after_send=crash_after)
    with pytest.raises(RuntimeError, match="simulated crash"):
        doomed.run_once()
    doomed._producer.close(timeout=5)  # the process died: what was sent is on the broker or not
    assert RelayState(runtime.state_db, "relay").position() == 0

    survivor = Relay(runtime.app, kafka, RelayState(runtime.state_db, "relay"), batch_size=7)
    survivor.catch_up()
    survivor.close()
    envs = envelopes(consume_all(kafka.bootstrap_servers, kafka.topic("orders"), expect=20))
    expected = store_event_ids(runtime)
    assert set(e["id"] for e in envs) == set(expected)
    counts = Counter(e["id"] for e in envs)
    # A duplicate is the very same event: same id, same body.
    for event_id, n in counts.items():
        copies = [e for e in envs if e["id"] == event_id]
        assert all(c == copies[0] for c in copies)
    assert RelayState(runtime.state_db, "relay").position() == runtime.app.current_position()


def test_relay_republishes_when_the_broker_comes_back_empty(runtime: Runtime, topic_prefix: str) -> None:
    write_orders(runtime, 3)
    relay = runtime.relay()
    relay.catch_up()
    relay.close()
    with BrokerProcess() as fresh:
        kafka = KafkaConfig(bootstrap_servers=fresh.bootstrap_servers, topic_prefix=topic_prefix)
        state = RelayState(runtime.state_db, f"{topic_prefix}.relay")
        restarted = Relay(runtime.app, kafka, state, verify_interval=3600)
        assert restarted.verify() == {kafka.topic("orders")}
        restarted.catch_up()
        envs = envelopes(consume_all(fresh.bootstrap_servers, kafka.topic("orders"), expect=6))
        assert sorted(e["id"] for e in envs) == sorted(store_event_ids(runtime))
        # Healthy now: nothing more to republish.
        assert restarted.verify() == set()
        restarted.close()


def test_relay_process_killed_with_sigkill_loses_nothing(runtime: Runtime, settings: object) -> None:
    write_orders(runtime, 150, steps=True)
    env = {**os.environ, "SERVICEORDER_DATA_DIR": str(settings.data_dir),
           "SERVICEORDER_TOPIC_PREFIX": settings.topic_prefix,
           "KAFKA_BOOTSTRAP_SERVERS": runtime.kafka.bootstrap_servers if runtime.kafka else
           runtime.start_kafka().bootstrap_servers,
           "SERVICEORDER_ADMIN_TOKEN": settings.admin_token,
           "SERVICEORDER_RELAY_BATCH_SIZE": "20", "SERVICEORDER_LOG_FORMAT": "json"}
    if settings.database_url:
        env |= {"DATABASE_URL": settings.database_url, "SERVICEORDER_DATABASE_SCHEMA": settings.database_schema}
    cmd = [sys.executable, "-m", "commands.cli", "relay"]
    state = RelayState(runtime.state_db, f"{settings.topic_prefix}.relay")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while state.position() == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = state.position()
    assert 0 < killed_at < runtime.app.current_position(), "the kill should land mid-stream"
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while state.position() < runtime.app.current_position() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(20)
    expected = store_event_ids(runtime)
    envs = envelopes(consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic("orders"), expect=len(expected)))
    assert set(e["id"] for e in envs) == set(expected)


def test_kafka_client_checks_record_crcs_with_the_c_module() -> None:
    """Every record batch the relay writes and every consumer reads carries a CRC-32C;
    kafka-python's pure-Python fallback (about 12 MB/s) made it the relay's and the
    projections' bottleneck (benchmarks.pipeline: raw producer 9.9k -> 30k messages/s)."""
    from kafka.record import util
    from kafka.record._crc32c import crc as pure_python

    assert util._crc32c is not pure_python
    assert util.calc_crc32c(memoryview(b"123456789")) == 0xE3069283  # the CRC-32C check value


@pytest.mark.parametrize("backend", ["postgres"])
def test_relay_on_postgres_wakes_on_a_write_rather_than_after_its_poll_interval(runtime: Runtime) -> None:
    import threading

    relay = runtime.relay()
    relay.poll_interval = 30.0  # polling alone would take up to 30 s to see a write
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()

    def published_within(seconds: float) -> float:
        started = time.monotonic()
        last = runtime.app.recorder.max_notification_id()
        while relay.state.position() < last:
            assert time.monotonic() - started < seconds, "the relay did not wake on the write"
            time.sleep(0.01)
        return time.monotonic() - started

    def place() -> None:
        runtime.app.place_order(CTX, customer_id="cust-bell", items=[{"sku": "WP", "quantity": 1}], tier="vip",
                                delivery_address="addr")

    try:
        place()
        published_within(10)
        for _ in range(3):
            time.sleep(0.3)  # the relay is idle, waiting for its doorbell
            place()
            assert published_within(5) < 2
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def relay_env(runtime: Runtime, settings: Any, **extra: str) -> dict[str, str]:
    env = {**os.environ, "SERVICEORDER_DATA_DIR": str(settings.data_dir),
           "SERVICEORDER_TOPIC_PREFIX": settings.topic_prefix,
           "KAFKA_BOOTSTRAP_SERVERS": runtime.start_kafka().bootstrap_servers,
           "SERVICEORDER_ADMIN_TOKEN": settings.admin_token, "SERVICEORDER_LOG_FORMAT": "json", **extra}
    if settings.database_url:
        env |= {"DATABASE_URL": settings.database_url, "SERVICEORDER_DATABASE_SCHEMA": settings.database_schema}
    return env


def logged(path: Path, event: str) -> list[dict[str, Any]]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [e for e in (json.loads(line) for line in lines if line.startswith("{")) if e.get("event") == event]


def assert_each_aggregate_in_order(envs_by_partition: dict[int, list[dict[str, Any]]]) -> None:
    """What a consumer deduplicating by version sees: every aggregate's versions 1, 2, 3…
    without a gap; a copy of an earlier version (a republished batch) is the same event."""
    for envs in envs_by_partition.values():
        seen: dict[str, dict[int, str]] = {}
        for env in envs:
            versions = seen.setdefault(env["subject"], {})
            version = env["aggregateversion"]
            if version in versions:
                assert versions[version] == env["id"], "one version published as two events"
                continue
            assert version == len(versions) + 1, f"{env['subject']}: version {version} after {len(versions)}"
            versions[version] = env["id"]


def test_a_standby_relay_takes_over_within_seconds_of_a_kill_losing_and_reordering_nothing(
        runtime: Runtime, settings: Any, tmp_path: Path) -> None:
    import threading

    env = relay_env(runtime, settings, SERVICEORDER_RELAY_BATCH_SIZE="20")
    cmd = [sys.executable, "-m", "commands.cli", "relay"]
    logs = {name: tmp_path / f"relay-{name}.log" for name in ("a", "b")}
    state = RelayState(runtime.state_db, f"{settings.topic_prefix}.relay")
    relays: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    written = Counter[str]()

    def load() -> None:  # a steady stream of commands while the relays change hands
        n = 0
        while not stop.is_set():
            r = runtime.app.place_order(CTX, customer_id=f"cust-{n % 7}", items=[{"sku": "WP", "quantity": 1}],
                                        tier="vip", delivery_address="addr")
            runtime.app.record_delivery_step(CTX, r.aggregate_id, "stock_prepared")
            written["orders"] += 1
            n += 1

    writer = threading.Thread(target=load)
    try:
        relays.append(subprocess.Popen(cmd, env=env, stdout=logs["a"].open("wb"), stderr=subprocess.STDOUT))
        wait_for(lambda: logged(logs["a"], "relay_active"), 60, "the first relay did not become active")
        relays.append(subprocess.Popen(cmd, env=env, stdout=logs["b"].open("wb"), stderr=subprocess.STDOUT))
        writer.start()
        wait_for(lambda: logged(logs["b"], "relay_standby"), 60, "the second relay did not stand by")
        wait_for(lambda: written["orders"] >= 30 and state.position() > 0, 60, "no load")
        assert not logged(logs["b"], "relay_active"), "two relays active at once"
        relays[0].send_signal(signal.SIGKILL)
        relays[0].wait(10)
        killed = time.monotonic()
        wait_for(lambda: logged(logs["b"], "relay_active"), 30, "the standby did not take over")
        took_over = time.monotonic() - killed
        at_kill = runtime.app.current_position()
        wait_for(lambda: state.position() >= at_kill, 60, "the new relay did not publish what was written")
        published = time.monotonic() - killed
        print(f"\nrelay fail-over under load: standby active {took_over:.2f} s after kill -9, "
              f"caught up with the store {published:.2f} s after it")
        assert took_over < 10
        stop.set()
        writer.join(30)
        wait_for(lambda: state.position() >= runtime.app.current_position(), 60, "the relay did not catch up")
    finally:
        stop.set()
        if writer.is_alive():
            writer.join(30)
        for relay in relays:
            if relay.poll() is None:
                relay.terminate()
                relay.wait(20)
    expected = store_event_ids(runtime)
    records = consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic("orders"), expect=len(expected),
                          timeout=60)
    assert {e["id"] for e in envelopes(records)} == set(expected)
    by_partition: dict[int, list[dict[str, Any]]] = {}
    for record, env_ in zip(records, envelopes(records)):
        by_partition.setdefault(record.partition, []).append(env_)
    assert_each_aggregate_in_order(by_partition)

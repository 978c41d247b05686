"""Bursts: batch commands over HTTP and Kafka command intake, beside their baselines.

    .venv/bin/python -m benchmarks.bursts [--seconds 8] [--batch 200] [--clients 4] [--intake 20000] [--quick]

Prints, in one run on one machine (PostgreSQL, the bundled broker):
1. baseline: our application in-process, single commands, group commit on, 32 threads
   (the figure issue 21's targets are ratios of);
2. single commands over HTTP at 32 clients (API only, ``serve --workers N``) and the floor
   under any command, ``GET /me`` at 32 clients: the ratio single/floor;
3. batches over HTTP: each client sends ``--batch`` in-transit positions for its own
   orders per request, closed loop: commands/s, batch p50/p99, ratios to (1) and (2);
   RSS of each API process afterwards;
4. Kafka intake: ``--intake`` position commands written to the commands topic beforehand,
   then one ``serviceorder intake`` process runs them: commands/s from its first result to
   its last, ratio to (1), its RSS.

The workload is a carrier's: every truck's order gets a position every half minute.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from typing import Callable, Iterator

from benchmarks import postgres_schema
from benchmarks.harness import TOKEN, api_rss, start_api
from benchmarks.http import application_rate, delivery_script, whoami_script
from benchmarks.load import Request, Response, run
from streams.broker import BrokerProcess, free_port

ORDERS_PER_CLIENT = 50


def _position(order: str, k: int) -> dict[str, object]:
    return {"path": f"/orders/{order}/delivery-steps",
            "body": {"step": "in_transit", "position": {"lat": 30 + (k % 1000) / 10_000, "lng": 120.1}}}


def batch_script(size: int, done: list[int]) -> Callable[[int], Iterator[Request]]:
    """A carrier's client: places its orders (one batch), moves them to the road (one batch
    per step), then sends positions for all of them, ``size`` commands per request. Adds
    the commands that succeeded to ``done[0]``."""

    def script(n: int) -> Iterator[Request]:
        inner = requests(n)
        request = next(inner)
        while True:
            response = yield request
            if response.status == 200:
                done[0] += response.json()["succeeded"]
            request = inner.send(response)

    def requests(n: int) -> Iterator[Request]:
        orders_body = {"commands": [{"path": "/orders", "body": {
            "customer_id": f"carrier-{n}-{i}", "tier": "vip", "delivery_address": "1 Lake Road",
            "items": [{"sku": "WP-500", "quantity": 1}]}} for i in range(ORDERS_PER_CLIENT)]}
        response: Response = yield Request("POST", "/commands/batch", orders_body)
        orders = [r["result"]["order_id"] for r in response.json()["results"] if r["status"] == 201]
        for step in ("stock_prepared", "left_warehouse", "driver_assigned"):
            yield Request("POST", "/commands/batch", {"commands": [
                {"path": f"/orders/{o}/delivery-steps", "body": {"step": step, "driver": "d-1"}} for o in orders]})
        k = 0
        while True:
            commands = []
            for _ in range(size):
                commands.append(_position(orders[k % len(orders)], k))
                k += 1
            yield Request("POST", "/commands/batch", {"commands": commands})

    return script


def seed_orders(port: int, count: int) -> list[str]:
    """Orders on the road, made through the API (batches), for the intake's positions."""
    import httpx

    orders: list[str] = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {TOKEN}"},
                      timeout=120) as client:
        for start in range(0, count, 500):
            made = client.post("/commands/batch", json={"commands": [{"path": "/orders", "body": {
                "customer_id": f"fleet-{i}", "tier": "vip", "delivery_address": "1 Lake Road",
                "items": [{"sku": "WP-500", "quantity": 1}]}} for i in range(start, min(count, start + 500))]})
            mine = [r["result"]["order_id"] for r in made.json()["results"]]
            for step in ("stock_prepared", "left_warehouse", "driver_assigned"):
                client.post("/commands/batch", json={"commands": [
                    {"path": f"/orders/{o}/delivery-steps", "body": {"step": step, "driver": "d-1"}} for o in mine]})
            orders += mine
    return orders


def intake_rate(url: str, schema: str, bootstrap: str, prefix: str, orders: list[str], total: int,
                batch_size: int) -> tuple[float, int]:
    """Commands/s of one intake process over a backlog of ``total`` commands, and its RSS (KiB)."""
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    from streams.kafka import KafkaConfig

    kafka = KafkaConfig(bootstrap, prefix)
    kafka.ensure_topics(["commands", "command-results"])
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    for k in range(total):
        order = orders[k % len(orders)]
        producer.send(kafka.topic("commands"), key=order.encode(),
                      value=json.dumps({"id": f"pos-{k}", **_position(order, k)}).encode())
    producer.flush()
    producer.close()
    env = {**os.environ, "DATABASE_URL": url, "SERVICEORDER_DATABASE_SCHEMA": schema,
           "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SERVICEORDER_TOPIC_PREFIX": prefix,
           "SERVICEORDER_ADMIN_TOKEN": TOKEN, "SERVICEORDER_INTAKE_TOKEN": TOKEN,
           "SERVICEORDER_INTAKE_BATCH_SIZE": str(batch_size), "SERVICEORDER_LOG_LEVEL": "WARNING",
           "SERVICEORDER_LOG_FORMAT": "json", "SERVICEORDER_DATA_DIR": tempfile.mkdtemp(prefix="so-bench-")}
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(kafka.topic("command-results"), p) for p in range(kafka.partitions)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    process = subprocess.Popen([sys.executable, "-m", "commands.cli", "intake"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen, first, last, rss = 0, 0.0, 0.0, 0
    try:
        deadline = time.monotonic() + 600
        while seen < total and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=200).values():
                if not first:
                    first = time.perf_counter()
                seen += len(records)
                last = time.perf_counter()
            rss = max(rss, _rss(process.pid))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        consumer.close()
    if seen < total:
        raise RuntimeError(f"the intake answered {seen} of {total} commands")
    return (seen - 1) / (last - first), rss


def _rss(pid: int) -> int:
    try:
        for line in open(f"/proc/{pid}/status"):  # noqa: SIM115
            if line.startswith("VmRSS"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--batch", type=int, default=200, help="commands per HTTP batch")
    parser.add_argument("--clients", type=int, default=4, help="HTTP clients sending batches")
    parser.add_argument("--workers", type=int, default=2, help="API processes")
    parser.add_argument("--intake", type=int, default=20_000, help="commands for the Kafka intake")
    parser.add_argument("--intake-batch", type=int, default=500, help="SERVICEORDER_INTAKE_BATCH_SIZE")
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.intake = 2.0, 1_000
    from commands import logs

    logs.configure("console", "WARNING")
    with ExitStack() as schemas:
        url, schema = schemas.enter_context(postgres_schema())
        base, how = application_rate(url, schema, args.seconds, 32, 200)
        print(f"baseline: application in-process, single commands, group commit on ({how}), 32 threads: "
              f"{base:,.0f} commands/s")
        with BrokerProcess(log_file=os.path.join(tempfile.mkdtemp(), "broker.log")) as broker:
            url, schema = schemas.enter_context(postgres_schema())
            port = free_port()
            api = start_api(url, schema, broker.bootstrap_servers, args.workers, port,
                            tempfile.mkdtemp(prefix="so-bench-"), 200)
            try:
                single = run("127.0.0.1", port, TOKEN, delivery_script, 32, args.seconds)
                floor = run("127.0.0.1", port, TOKEN, whoami_script, 32, args.seconds, first=100)
                s, f = single.summary(), floor.summary()
                print(f"HTTP single commands, 32 clients: {s['ok_per_s']:,} commands/s, p99 {s['p99_ms']} ms; "
                      f"floor GET /me: {f['ok_per_s']:,} requests/s -> {single.rate / floor.rate:.2f}x the floor "
                      f"(target 0.5x), {single.rate / base:.2f}x baseline")
                done = [0]
                batches = run("127.0.0.1", port, TOKEN, batch_script(args.batch, done), args.clients, args.seconds,
                              first=1_000)
                b = batches.summary()
                rate = done[0] / batches.seconds
                print(f"HTTP batches of {args.batch}, {args.clients} clients: {rate:,.0f} commands/s "
                      f"({b['ok_per_s']:,} batches/s), batch p50 {b['p50_ms']} ms, p99 {b['p99_ms']} ms -> "
                      f"{rate / base:.2f}x baseline (target 3x, >= 5,000/s), {rate / single.rate:.2f}x single "
                      f"HTTP; RSS of each API process: "
                      + ", ".join(f"{rss / 1024:.0f} MiB" for rss in api_rss(api.pid)))
                orders = seed_orders(port, 200 if args.quick else 2_000)
            finally:
                api.send_signal(signal.SIGTERM)
                api.wait(30)
            rate, rss = intake_rate(url, schema, broker.bootstrap_servers, "serviceorder", orders, args.intake,
                                    args.intake_batch)
            print(f"Kafka intake, one process, polls of {args.intake_batch}: {rate:,.0f} commands/s over "
                  f"{args.intake:,} -> {rate / base:.2f}x baseline (target 3x, >= 5,000/s); RSS {rss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

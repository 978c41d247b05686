"""Throughput of the spine, stage by stage, on the embedded default and on PostgreSQL.

    .venv/bin/python -m benchmarks.spine [--orders 2000] [--backend sqlite|postgres|both] [--quick]

Prints commands/s through the application service, events/s through the relay to Kafka,
and events/s through each projection, plus the ratio of each stage to the write rate
(a stage slower than the writes is where a backlog would build up). First, what signing
costs per command: the same writes by an application without a signing key and by one
with it, alternated in the same run, in CPU time (wall time on a shared machine measures
the neighbours).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from uuid import uuid4

from benchmarks import postgres_schema
from commands import logs
from commands.bootstrap import build_runtime
from commands.settings import Settings
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext
from engine.store.eventstore import event_store_env
from engine.store.signing import Signer
from streams.broker import BrokerProcess
from sqlstore.sqldb import PostgresURL

CTX = CommandContext.new()


def write_orders(app: ServiceOrderApp, orders: int) -> None:
    for n in range(orders):
        oid = app.place_order(CTX, customer_id=f"c{n % 200}", items=[{"sku": "WP", "quantity": 1}],
                              tier="vip", delivery_address="addr").aggregate_id
        app.record_delivery_step(CTX, oid, "stock_prepared")


def signing_cost(backend: str, orders: int, rounds: int = 3) -> None:
    signer, cpu = Signer.generate(), {"unsigned": [], "signed": []}
    for _ in range(rounds):
        for name, key in (("unsigned", None), ("signed", signer)):
            with ExitStack() as stack:
                if backend == "postgres":
                    url, schema = stack.enter_context(postgres_schema())
                    env = event_store_env(postgres=PostgresURL.parse(url).eventsourcing_env(schema))
                else:
                    env = event_store_env(sqlite_path=tempfile.mkdtemp(prefix="so-sign-") + "/events.sqlite")
                app = ServiceOrderApp(EngineConfig(env=env, signer=key))
                stack.callback(app.close)
                started = time.process_time()
                write_orders(app, orders)
                cpu[name].append((time.process_time() - started) / (orders * 2))
    unsigned, signed = statistics.median(cpu["unsigned"]), statistics.median(cpu["signed"])
    print(f"[{backend}] CPU per command: unsigned {unsigned * 1000:.2f} ms, signed {signed * 1000:.2f} ms "
          f"({signed / unsigned:.2f}x, +{(signed - unsigned) * 1e6:.0f} us; median of {rounds} alternated runs)")


def run(backend: str, orders: int, broker: BrokerProcess) -> None:
    signing_cost(backend, max(orders // 4, 100))
    with ExitStack() as stack:
        extra: dict[str, object] = {}
        if backend == "postgres":
            url, schema = stack.enter_context(postgres_schema())
            extra = {"database_url": url, "database_schema": schema}
        settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="so-bench-")),
                            kafka_bootstrap_servers=broker.bootstrap_servers,
                            topic_prefix=f"bench{uuid4().hex[:6]}", admin_token="bench-token-0123456789",
                            relay_batch_size=1000, **extra)  # type: ignore[arg-type]
        runtime = build_runtime(settings)
        stack.callback(runtime.close)  # before the schema is dropped
        started = time.perf_counter()
        write_orders(runtime.app, orders)
        write_s = time.perf_counter() - started
        events = orders * 2
        write_rate = events / write_s

        relay = runtime.relay()
        started = time.perf_counter()
        relay.catch_up()
        relay_rate = events / (time.perf_counter() - started)
        relay.close()

        print(f"[{backend}] {orders * 2} commands in {write_s:.2f}s: {write_rate:,.0f} commands/s (1 event each)")
        print(f"[{backend}] relay: {relay_rate:,.0f} events/s to Kafka ({relay_rate / write_rate:.1f}x the write rate)")
        for projection in runtime.projections(["customer_timeline", "order_tracking"]):
            worker = runtime.worker(projection)
            started = time.perf_counter()
            applied = worker.rebuild()
            rate = applied / (time.perf_counter() - started)
            print(f"[{backend}] projection {projection.name}: {rate:,.0f} events/s "
                  f"({rate / write_rate:.1f}x the write rate)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.orders = 200
    logs.configure("console", "WARNING")
    with BrokerProcess() as broker:
        for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
            run(backend, args.orders, broker)


if __name__ == "__main__":
    main()

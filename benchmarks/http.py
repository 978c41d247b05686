"""Commands over HTTP against PostgreSQL, beside the library's own per-save ceiling.

    .venv/bin/python -m benchmarks.http [--seconds 8] [--concurrency 1,8,32,64] [--workers 2] [--quick]

Prints, in one run on one machine:
1. the baseline: a plain eventsourcing ``Application`` saving the same orders and delivery
   steps directly (one save per command, 32 threads): the library's per-save ceiling;
2. our application in-process, group commit off and on (32 threads);
3. the HTTP API (``serviceorder serve --workers N``, API processes only) at several
   concurrencies, group commit on: commands/s, p50 and p99 latency, and the ratio to (1);
   and the floor under any command: ``GET /me`` (authenticated, nothing else) at 32 clients;
4. end-to-end lag (command accepted -> visible in the customer timeline) with the relay,
   every projection and the scheduler running: first at the service's maximum (closed
   loop), then offered at 1/8, 1/4 and 1/2 of it, and at 1/2 of the API-only maximum (3).

The workload is what a delivery fleet sends: each client places an order, then records
its steps and a stream of in-transit position updates (ten commands per order).
"""

from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from contextlib import ExitStack
from typing import Any, Callable, Iterator
from uuid import UUID

from benchmarks import postgres_schema
from benchmarks.harness import TOKEN, LagSampler, api_rss, lag_line, start_api
from benchmarks.load import Request, Response, run
from streams.broker import BrokerProcess, free_port

STEPS = ("stock_prepared", "left_warehouse", "driver_assigned")


def whoami_script(n: int) -> Iterator[Request]:
    while True:
        yield Request("GET", "/me")


def delivery_script(n: int, sampler: LagSampler | None = None) -> Iterator[Request]:
    """One client's commands: place an order, its steps, six position updates; repeat."""
    if sampler is not None:
        inner = delivery_script(n)
        response = None
        request = next(inner)
        while True:
            response = yield request
            if response.status < 300 and n % 2 == 0:  # half the clients' commands are sampled
                body = response.json()
                sampler.sample(body["order_id"], body["version"])
            request = inner.send(response)
    k = 0
    while True:
        k += 1
        response: Response = yield Request("POST", "/orders", {
            "customer_id": f"bench-{n}-{k % 5}", "tier": "vip", "delivery_address": "1 Lake Road",
            "items": [{"sku": "WP-500", "quantity": 1}]})
        if response.status != 201:
            continue
        order = response.json()["order_id"]
        for step in STEPS:
            yield Request("POST", f"/orders/{order}/delivery-steps", {"step": step, "driver": "d-1"})
        for i in range(6):
            yield Request("POST", f"/orders/{order}/delivery-steps",
                          {"step": "in_transit", "position": {"lat": 30.2 + i / 1000, "lng": 120.1}})


def _threads(count: int, seconds: float, one_order: Callable[[int], int]) -> float:
    """Commands/s when ``count`` threads run ``one_order`` (returns commands done) for ``seconds``."""
    done = [0] * count
    until = time.perf_counter() + seconds

    def work(i: int) -> None:
        n = 0
        while time.perf_counter() < until:
            n += 1
            done[i] += one_order(i * 1_000_000 + n)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - started)


def library_baseline(url: str, schema: str, seconds: float, threads: int) -> float:
    """The library alone: a plain Application, the same aggregate and events, one save each."""
    from eventsourcing.application import Application

    from engine.store.eventstore import event_store_env
    from engine.domain.orders import ServiceOrder
    from sqlstore.sqldb import PostgresURL

    class Plain(Application[UUID]):
        pass

    app = Plain(env=event_store_env(postgres=PostgresURL.parse(url).eventsourcing_env(schema)))
    meta = {"actor": "bench"}

    def one_order(n: int) -> int:
        order = ServiceOrder.place(customer_id=f"c{n % 100}", items=[{"sku": "WP-500", "quantity": 1}], tier="vip",
                                   delivery_address="1 Lake Road", site_location=None, meta=meta)
        app.save(order)
        for step in STEPS:
            order = app.repository.get(order.id)
            order.record_step(step, driver="d-1", meta=meta)
            app.save(order)
        for i in range(6):
            order = app.repository.get(order.id)
            order.record_step("in_transit", position={"lat": 30.2 + i / 1000, "lng": 120.1}, meta=meta)
            app.save(order)
        return 10

    try:
        return _threads(threads, seconds, one_order)
    finally:
        app.close()


def delivery_in_process(app: Any, ctx: Any) -> Callable[[int], int]:
    """One client's order through the application itself: placed, three steps, six positions."""

    def one_order(n: int) -> int:
        order = app.place_order(ctx, customer_id=f"c{n % 100}", items=[{"sku": "WP-500", "quantity": 1}],
                                tier="vip", delivery_address="1 Lake Road").aggregate_id
        for step in STEPS:
            app.record_delivery_step(ctx, order, step, driver="d-1")
        for i in range(6):
            app.record_delivery_step(ctx, order, "in_transit", position={"lat": 30.2 + i / 1000, "lng": 120.1})
        return 10

    return one_order


def application_rate(url: str, schema: str, seconds: float, threads: int, group_commit_max: int) -> tuple[float, str]:
    """Our application in-process (hash chains, sealed personal data, idempotency, group commit)."""
    from commands.bootstrap import build_runtime
    from commands.settings import Settings
    from engine.application.context import CommandContext

    settings = Settings(database_url=url, database_schema=schema, data_dir=tempfile.mkdtemp(prefix="so-bench-"),
                        kafka_bootstrap_servers="127.0.0.1:1", admin_token=TOKEN, group_commit_max=group_commit_max)
    runtime = build_runtime(settings)
    app = runtime.app

    try:
        rate = _threads(threads, seconds, delivery_in_process(app, CommandContext.new()))
        group = app.group_commit
        batching = f"{group.saves / max(group.batches, 1):.1f} saves per transaction" if group else "one save each"
        return rate, batching
    finally:
        runtime.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--concurrency", default="1,8,32,64")
    parser.add_argument("--workers", type=int, default=2, help="API processes")
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.concurrency = 2.0, "8,32"
    from commands import logs

    logs.configure("console", "WARNING")
    with ExitStack() as schemas:
        def fresh() -> tuple[str, str]:
            return schemas.enter_context(postgres_schema())

        url, schema = fresh()
        base = library_baseline(url, schema, args.seconds, 32)
        print(f"baseline: eventsourcing Application, one save per command, 32 threads: {base:,.0f} commands/s")
        for gc in (1, 200):
            url, schema = fresh()
            rate, how = application_rate(url, schema, args.seconds, 32, gc)
            print(f"application in-process, group commit {'off' if gc == 1 else 'on'} ({how}), 32 threads: "
                  f"{rate:,.0f} commands/s ({rate / base:.2f}x baseline)")
        with BrokerProcess(log_file=os.path.join(tempfile.mkdtemp(), "broker.log")) as broker:
            url, schema = fresh()
            port = free_port()
            api = start_api(url, schema, broker.bootstrap_servers, args.workers, port,
                            tempfile.mkdtemp(prefix="so-bench-"), 200)
            best, served = 0.0, 0
            try:
                first = 0
                for c in (int(x) for x in args.concurrency.split(",")):
                    result = run("127.0.0.1", port, TOKEN, delivery_script, c, args.seconds, first=first)
                    first += c
                    best = max(best, result.rate)
                    served += result.ok
                    s = result.summary()
                    print(f"HTTP, {args.workers} API processes, {c:>3} clients: {s['ok_per_s']:>6,} commands/s "
                          f"({result.rate / base:.2f}x baseline), p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, "
                          f"statuses {s['statuses']}")
                # The floor under any command: the same stack answering an authenticated read
                # that does nothing else (uvicorn, FastAPI, middleware, the token lookup).
                floor = run("127.0.0.1", port, TOKEN, whoami_script, 32, args.seconds, first=first)
                s = floor.summary()
                print(f"floor: GET /me over HTTP, {args.workers} API processes, 32 clients: {s['ok_per_s']:,} "
                      f"requests/s, p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms")
                print(f"RSS of each API process after these runs ({served:,} commands): "
                      + ", ".join(f"{rss / 1024:.0f} MiB" for rss in api_rss(api.pid)))
            finally:
                api.send_signal(signal.SIGTERM)
                api.wait(30)

            # End-to-end lag, with the relay, every projection and the scheduler running. "The
            # maximum load" is what the whole service sustains (closed loop, 32 clients): the
            # API-only maximum above is not sustainable, since the views fall behind at it.
            url, schema = fresh()
            port = free_port()
            api = start_api(url, schema, broker.bootstrap_servers, args.workers, port,
                            tempfile.mkdtemp(prefix="so-bench-"), 200, background=True)
            try:
                with LagSampler(url, schema) as sampler:
                    result = run("127.0.0.1", port, TOKEN, lambda n: delivery_script(n, sampler), 32,
                                 args.seconds, first=50_000)
                    sampler.drain(30)
                service_max = result.rate
                print(lag_line("full service, closed loop, 32 clients", result, sampler)
                      + f" -> the service's maximum: {service_max:,.0f} commands/s")
                offers = [(f"1/{share} of the service's maximum", service_max / share) for share in (8, 4, 2)]
                offers.append(("1/2 of the API-only maximum", best / 2))
                for n, (label, rate) in enumerate(offers):
                    with LagSampler(url, schema) as sampler:
                        result = run("127.0.0.1", port, TOKEN, lambda n: delivery_script(n, sampler), 16,
                                     args.seconds * 2, first=100_000 * (n + 1), rate=rate)
                        sampler.drain(30)
                    print(lag_line(f"{label} ({rate:,.0f} commands/s offered)", result, sampler))
            finally:
                api.send_signal(signal.SIGTERM)
                api.wait(30)


if __name__ == "__main__":
    main()

"""The event store's side of a command, ours beside the library's own, in one run.

    .venv/bin/python -m benchmarks.store [--seconds 6] [--threads 32] [--quick]

Prints (PostgreSQL):
1. transcoding one stored event and one order snapshot: the library's ``JSONTranscoder``
   against ours (engine/store/transcoding.py), encode and decode, microseconds and ratio;
2. loading a 10-event order and looking up an idempotency key that does not exist: the
   library's repository (snapshot first, then events) against ours (engine/store/reading.py);
3. single commands in-process, group commit on, ``--threads`` threads (an order placed,
   three steps, six positions): the application with the library's transcoder and
   repository against the application as it is; commands/s and ratio.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Callable
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.persistence import JSONTranscoder, Transcoder

from benchmarks import postgres_schema
from benchmarks.audit import timed
from benchmarks.http import STEPS, _threads, delivery_in_process
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext
from engine.application.idempotency import IdempotencyRecord
from engine.store.eventstore import event_store_env
from engine.store.transcoding import OrjsonTranscoder
from sqlstore.sqldb import PostgresURL

CTX = CommandContext.new()


class LibraryStoreApp(ServiceOrderApp):
    """The application with the library's own transcoder and repository."""

    name = ServiceOrderApp.name  # the same tables

    def construct_transcoder(self) -> Transcoder:
        return Application.construct_transcoder(self)

    def construct_repository(self) -> Repository[UUID]:
        return Application.construct_repository(self)

    def is_never_snapshotted(self, cls: type[Any]) -> bool:
        return False  # the library asks the snapshot store for every type


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


def median_ms(fn: Callable[[], Any], n: int = 200) -> float:
    return timed(fn, n) * 1000


def transcoding(app: ServiceOrderApp) -> None:
    library: JSONTranscoder = JSONTranscoder()
    app.register_transcodings(library)
    ours = app.mapper.transcoder
    assert isinstance(ours, OrjsonTranscoder)
    order = app.place_order(CTX, customer_id="c", items=[{"sku": "A", "installation_fee": "120"}], tier="vip",
                            delivery_address="1 Lake Road").aggregate_id
    app.record_delivery_step(CTX, order, "stock_prepared")
    step = list(app.events.get(order))[-1]
    event_state = {k: v for k, v in vars(step).items() if k not in ("originator_id", "originator_version")}
    snapshot = type(app.repository.get(order)).Snapshot.take(app.repository.get(order))  # type: ignore[attr-defined]
    snapshot_state = {k: v for k, v in vars(snapshot).items() if k not in ("originator_id", "originator_version")}
    for label, state in (("a delivery step's event", event_state), ("an order's snapshot", snapshot_state)):
        data = library.encode(state)
        rows = [(what, per_call_us(lambda: lib(state if what == "encode" else data), 20_000),
                 per_call_us(lambda: our(state if what == "encode" else data), 20_000))
                for what, lib, our in (("encode", library.encode, ours.encode), ("decode", library.decode, ours.decode))]
        print(f"transcoding {label}: " + "; ".join(f"{what} {lib:.1f} -> {our:.1f} us ({lib / our:.1f}x)"
                                                  for what, lib, our in rows))


def loading(app: ServiceOrderApp, library: ServiceOrderApp) -> None:
    order = app.place_order(CTX, customer_id="c", items=[{"sku": "A"}], tier="vip", delivery_address="1 Road")
    for step in STEPS:
        app.record_delivery_step(CTX, order.aggregate_id, step, driver="d")
    for k in range(6):
        app.record_delivery_step(CTX, order.aggregate_id, "in_transit", position={"lat": 30 + k / 100, "lng": 120})
    ours = median_ms(lambda: app.repository.get(order.aggregate_id))
    theirs = median_ms(lambda: library.repository.get(order.aggregate_id))
    print(f"load a 10-event order: library {theirs:.2f} ms, ours {ours:.2f} ms ({theirs / ours:.2f}x)")
    missing = median_ms(lambda: app.uow.find(IdempotencyRecord, uuid4()))

    def library_missing() -> None:
        try:
            library.repository.get(uuid4())
        except AggregateNotFoundError:
            pass

    theirs = median_ms(library_missing)
    print(f"look up an unused idempotency key: library {theirs:.2f} ms, ours {missing:.2f} ms "
          f"({theirs / missing:.2f}x)")


def commands(app: ServiceOrderApp, seconds: float, threads: int) -> float:
    return _threads(threads, seconds, delivery_in_process(app, CTX))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 1.0
    from commands import logs

    logs.configure("console", "WARNING")
    with postgres_schema() as (url, schema):
        env = event_store_env(postgres=PostgresURL.parse(url).eventsourcing_env(schema))
        app, library = ServiceOrderApp(EngineConfig(env=env)), LibraryStoreApp(EngineConfig(env=env))
        try:
            transcoding(app)
            loading(app, library)
            rates = {}
            for name, which in (("library", library), ("ours", app), ("library again", library), ("ours again", app)):
                rates[name] = commands(which, args.seconds, args.threads)
                print(f"single commands in-process, {args.threads} threads, store side {name}: "
                      f"{rates[name]:,.0f} commands/s")
            ratio = (rates["ours"] + rates["ours again"]) / (rates["library"] + rates["library again"])
            print(f"-> ours {ratio:.2f}x the library's store side (two alternating runs each)")
        finally:
            app.close()
            library.close()


if __name__ == "__main__":
    main()

"""The pipeline downstream of the store, each stage beside a raw kafka-python baseline,
and aggregate load times with and without snapshots. PostgreSQL, the bundled broker.

    .venv/bin/python -m benchmarks.pipeline [--orders 10000] [--quick]

1. relay (store -> Kafka, CloudEvents, idempotent producer) vs a raw KafkaProducer with
   the same settings sending the same envelopes to the same broker, the relay both with
   envelopes from the stored bytes where they apply (streams/stored_envelopes.py) and with
   the careful path only (the relay before them), alternated, the best of two runs each;
   and the CPU per event of building and encoding envelopes both ways, without Kafka;
2. projection rebuild (Kafka -> PostgreSQL views, one transaction per batch with its
   offsets) vs a raw KafkaConsumer reading the same topic from offset zero;
3. the time to load an order with 10 / 1,000 / 10,000 events, snapshots every 50 events
   vs none.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import uuid4

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from benchmarks import postgres_schema
from commands import logs
from commands.bootstrap import Runtime, build_runtime
from commands.settings import Settings
from engine.application.context import CommandContext
from engine.domain.orders import ServiceOrder
from streams.broker import BrokerProcess
from streams.envelope import CONTENT_TYPE
from streams.relay import envelope_of
from streams.stored_envelopes import EnvelopeMaker

CTX = CommandContext.new()
ITEMS = [{"sku": "WP-500", "quantity": 1}]


def write_orders(runtime: Runtime, orders: int) -> int:
    """Orders placed, prepared, on the road with two positions, saved 200 aggregates per
    transaction: 6 events each, as a carrier's burst has them (one placement, five steps)."""
    meta = CTX.meta()
    for start in range(0, orders, 200):
        batch = []
        for n in range(start, min(orders, start + 200)):
            order = ServiceOrder.place(customer_id=f"c{n % 500}", items=ITEMS, tier="vip",
                                       delivery_address="1 Lake Road", site_location=None, meta=meta)
            for step in ("stock_prepared", "left_warehouse", "driver_assigned"):
                order.record_step(step, driver="d-1", meta=meta)
            for k in range(2):
                order.record_step("in_transit", position={"lat": 30 + k / 1000, "lng": 120.1}, meta=meta)
            batch.append(order)
        runtime.app.save(*batch)
    return orders * 6


def envelope_costs(runtime: Runtime, events: int, rounds: int = 5) -> tuple[float, float]:
    """Microseconds per event to build and encode every stored event's envelope: the
    careful path only, and the relay's maker (fast where it applies); no Kafka. The best
    of ``rounds`` alternating runs each, as other work on the machine only adds time."""
    notifications = list(runtime.app.recorder.select_notifications(start=1, limit=events * 2))
    best = {False: float("inf"), True: float("inf")}
    for _ in range(rounds):
        for fast in (False, True):
            maker = EnvelopeMaker(runtime.app, runtime.settings.event_source, fast=fast)
            started = time.perf_counter()
            for n in notifications:
                maker.message(n)
            best[fast] = min(best[fast], (time.perf_counter() - started) / len(notifications) * 1e6)
    return best[False], best[True]


def relay_rate(runtime: Runtime, events: int, fast: bool) -> float:
    """Events/s of a relay publishing the whole store from position zero."""
    runtime.relay_state().commit(0, [])
    relay = runtime.relay()
    relay.envelopes.fast = fast and relay.envelopes.fast
    relay.producer  # noqa: B018 - topics and the connection up front, as a running relay has them
    started = time.perf_counter()
    relay.catch_up()
    rate = events / (time.perf_counter() - started)
    relay.close()
    return rate


def raw_producer(runtime: Runtime, bootstrap: str, events: int) -> float:
    """The same messages (key, envelope, header) through a bare KafkaProducer with the relay's
    settings, to another topic."""
    source = runtime.settings.event_source
    messages = []
    for n in runtime.app.recorder.select_notifications(start=1, limit=events):
        found = envelope_of(runtime.app, n, source)
        if found is not None:
            _, envelope = found
            messages.append((envelope["subject"].encode(), json.dumps(envelope).encode()))
    producer = KafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5,
                             max_in_flight_requests_per_connection=5)
    topic = f"raw{uuid4().hex[:8]}"
    producer.send(topic, key=b"warm", value=b"{}").get(30)
    started = time.perf_counter()
    headers = [("content-type", CONTENT_TYPE.encode())]  # what the relay sends with each event
    for key, value in messages:
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    rate = len(messages) / (time.perf_counter() - started)
    producer.close()
    return rate


def raw_consumer(bootstrap: str, topic: str, expect: int) -> float:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    while not consumer.partitions_for_topic(topic):
        consumer.topics()
        time.sleep(0.1)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    got = 0
    started = time.perf_counter()
    while got < expect:
        for records in consumer.poll(timeout_ms=500, max_records=500).values():
            got += len(records)
    rate = got / (time.perf_counter() - started)
    consumer.close()
    return rate


def load_times(runtime: Runtime, sizes: tuple[int, ...]) -> list[tuple[int, float, float]]:
    """(events, ms with snapshots, ms without) to load one order."""
    app = runtime.app
    out = []
    for size in sizes:
        order = ServiceOrder.place(customer_id="c-load", items=ITEMS, tier="vip", delivery_address="1 Lake Road",
                                   site_location=None, meta=CTX.meta())
        for step in ("stock_prepared", "left_warehouse", "driver_assigned"):
            order.record_step(step, driver="d", meta=CTX.meta())
        app.save(order)
        while order.version < size:
            for _ in range(min(500, size - order.version)):
                order.record_step("in_transit", position={"lat": 30.0, "lng": 120.0}, meta=CTX.meta())
            app.save(order)
        with_snapshots = statistics.median(_timed(lambda: app.repository.get(order.id)) for _ in range(5))
        # Without snapshots: replay every event from version 1.
        without = statistics.median(_timed(lambda: _replay_all(app, order.id)) for _ in range(3))
        out.append((size, with_snapshots * 1000, without * 1000))
    return out


def _replay_all(app: Any, order_id: Any) -> Any:
    aggregate = None
    for event in app.events.get(order_id):
        aggregate = event.mutate(aggregate)
    return aggregate


def _timed(fn: Any) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.orders = 500
    logs.configure("console", "WARNING")
    with postgres_schema() as (url, schema), \
            BrokerProcess(log_file=Path(tempfile.mkdtemp()) / "broker.log") as broker:
        settings = Settings(database_url=url, database_schema=schema, data_dir=Path(tempfile.mkdtemp()),
                            kafka_bootstrap_servers=broker.bootstrap_servers, admin_token="bench-token-0123456789",
                            topic_prefix=f"bench{uuid4().hex[:6]}", relay_batch_size=1000,
                            projection_batch_size=1000)
        runtime = build_runtime(settings)
        try:
            started = time.perf_counter()
            events = write_orders(runtime, args.orders)
            print(f"wrote {events:,} events ({args.orders:,} orders) in {time.perf_counter() - started:.1f} s")
            slow_us, fast_us = envelope_costs(runtime, events)
            print(f"envelope built and encoded, per stored event: careful path {slow_us:.1f} us, from the stored "
                  f"bytes where they apply {fast_us:.1f} us ({slow_us / fast_us:.2f}x less)")
            # Alternated, the best of two runs each: neither path gets the warm broker alone.
            careful = fast = 0.0
            for _ in range(2):
                careful = max(careful, relay_rate(runtime, events, fast=False))
                fast = max(fast, relay_rate(runtime, events, fast=True))
            raw = raw_producer(runtime, broker.bootstrap_servers, events)
            print(f"relay, careful envelopes only: {careful:,.0f} events/s ({careful / raw:.2f}x raw); "
                  f"relay, envelopes from the stored bytes: {fast:,.0f} events/s ({fast / raw:.2f}x raw, "
                  f"{fast / careful:.2f}x careful); raw KafkaProducer, same envelopes: {raw:,.0f} messages/s "
                  "(target relay >= 0.8x raw)")
            raw_in = raw_consumer(broker.bootstrap_servers, f"{settings.topic_prefix}.orders", events)
            print(f"raw KafkaConsumer, orders topic from offset zero: {raw_in:,.0f} records/s")
            for projection in runtime.projections(["order_tracking", "customer_timeline"]):
                worker = runtime.worker(projection)
                started = time.perf_counter()
                applied = worker.rebuild()
                seconds = time.perf_counter() - started
                rate = applied / seconds
                print(f"projection {projection.name} rebuild: {applied:,} events in {seconds:.1f} s, "
                      f"{rate:,.0f} events/s ({rate / raw_in:.2f}x raw consumer); "
                      f"1,000,000 events at this rate: {1_000_000 / rate / 60:.1f} min")
            for size, snap, full in load_times(runtime, (10, 1_000) if args.quick else (10, 1_000, 10_000)):
                print(f"load an order of {size:>6,} events: {snap:8.1f} ms with snapshots, "
                      f"{full:8.1f} ms replaying every event")
        finally:
            runtime.close()


if __name__ == "__main__":
    main()

"""End-to-end lag (command accepted -> its event in the customer timeline) at half the
service's maximum, with and without the Kafka intake running beside the HTTP API.

    .venv/bin/python -m benchmarks.lag [--seconds 8] [--workers 2] [--quick]

Prints, in one run on one machine (PostgreSQL, the bundled broker, ``serviceorder serve``
with its relay, projections and scheduler, plus one ``serviceorder intake`` process):
1. the service's maximum: HTTP single commands, closed loop, 32 clients (the fleet's
   workload of benchmarks.http), the intake idle;
2. baseline: HTTP offered at 1/2 of that maximum, the intake idle;
3. the same total offered with the intake running: HTTP at 1/4 of the maximum and the
   same again as position commands on the commands topic, each run by the intake. For
   HTTP, "accepted" is the response; for the intake, the result message's timestamp.
   Lag p50/p99 of each, and the ratios to the baseline (target p99 < 250 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

from benchmarks import postgres_schema
from benchmarks.bursts import seed_orders
from benchmarks.harness import TOKEN, LagSampler, lag_line, start_api
from benchmarks.http import delivery_script
from benchmarks.load import percentile, run
from streams.broker import BrokerProcess, free_port

PREFIX = "serviceorder"  # the topic prefix ``serve`` and ``intake`` use by default


class IntakeLoad:
    """Position commands on the commands topic at ``rate``/s for the orders given, and the
    intake's results read back into ``sampler`` (accepted = the result's timestamp)."""

    def __init__(self, bootstrap: str, orders: list[str], rate: float, sampler: LagSampler) -> None:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition

        from streams.kafka import KafkaConfig

        self.kafka = KafkaConfig(bootstrap, PREFIX)
        self.kafka.ensure_topics(["commands", "command-results"])
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, acks=1)
        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        parts = [TopicPartition(self.kafka.topic("command-results"), p) for p in range(self.kafka.partitions)]
        self.consumer.assign(parts)
        self.consumer.seek_to_end(*parts)
        for tp in parts:
            self.consumer.position(tp)  # resolve the end now: only this run's results count
        self.orders, self.rate, self.sampler = orders, rate, sampler
        self.sent = self.answered = 0
        self.stop, self.sending = threading.Event(), threading.Event()
        self.sending.set()
        self.threads = [threading.Thread(target=self._send, daemon=True),
                        threading.Thread(target=self._read, daemon=True)]

    def _send(self) -> None:
        started, k = time.perf_counter(), 0
        while self.sending.is_set():
            due = int((time.perf_counter() - started) * self.rate)
            while k < due:
                order = self.orders[k % len(self.orders)]
                body = {"step": "in_transit", "position": {"lat": 30 + (k % 1000) / 10_000, "lng": 120.1}}
                self.producer.send(self.kafka.topic("commands"), key=order.encode(), value=json.dumps(
                    {"id": f"lag-{os.getpid()}-{started}-{k}", "path": f"/orders/{order}/delivery-steps",
                     "body": body}).encode())
                k += 1
            self.sent = k
            time.sleep(0.01)
        self.producer.flush()

    def finish(self, timeout: float) -> None:
        """Stop sending; wait for the intake to answer everything sent (or ``timeout``)."""
        self.sending.clear()
        self.threads[0].join(timeout)
        deadline = time.monotonic() + timeout
        while self.answered < self.sent and time.monotonic() < deadline:
            time.sleep(0.05)

    def _read(self) -> None:
        while not self.stop.is_set():
            for records in self.consumer.poll(timeout_ms=100).values():
                for record in records:
                    self.answered += 1
                    answer = json.loads(record.value)
                    if answer.get("status") == 200:
                        # The result's timestamp (ms since the epoch) on this process's clock.
                        accepted = time.perf_counter() - (time.time() - record.timestamp / 1000)
                        self.sampler.sample_at(record.key.decode(), answer["result"]["version"], accepted)

    def __enter__(self) -> IntakeLoad:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.sending.clear()
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        self.producer.close()
        self.consumer.close()


class TimedLagSampler(LagSampler):
    def sample_at(self, order: str, version: int, accepted: float) -> None:
        with self.lock:
            if order not in self.pending:
                self.pending[order] = (version, accepted)


def start_intake(url: str, schema: str, bootstrap: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": url, "SERVICEORDER_DATABASE_SCHEMA": schema,
           "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SERVICEORDER_TOPIC_PREFIX": PREFIX,
           "SERVICEORDER_ADMIN_TOKEN": TOKEN, "SERVICEORDER_INTAKE_TOKEN": TOKEN,
           "SERVICEORDER_LOG_LEVEL": "WARNING", "SERVICEORDER_LOG_FORMAT": "json",
           "SERVICEORDER_DATA_DIR": tempfile.mkdtemp(prefix="so-bench-")}
    return subprocess.Popen([sys.executable, "-m", "commands.cli", "intake"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stats(lags: list[float]) -> str:
    if not lags:
        return "no samples"
    return f"p50 {percentile(lags, 50) * 1000:.0f} ms, p99 {percentile(lags, 99) * 1000:.0f} ms ({len(lags):,} samples)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--workers", type=int, default=2, help="API processes")
    parser.add_argument("--orders", type=int, default=500, help="orders on the road for the intake's positions")
    parser.add_argument("--quick", action="store_true", help="a short run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.orders = 2.0, 100
    from commands import logs

    logs.configure("console", "WARNING")
    with postgres_schema() as (url, schema), \
            BrokerProcess(log_file=os.path.join(tempfile.mkdtemp(), "broker.log")) as broker:
        port = free_port()
        api = start_api(url, schema, broker.bootstrap_servers, args.workers, port,
                        tempfile.mkdtemp(prefix="so-bench-"), 200, background=True)
        intake = start_intake(url, schema, broker.bootstrap_servers)
        try:
            orders = seed_orders(port, args.orders)
            with TimedLagSampler(url, schema) as sampler:
                result = run("127.0.0.1", port, TOKEN, lambda n: delivery_script(n, sampler), 32, args.seconds,
                             first=10_000)
                sampler.drain(30)
            service_max = result.rate
            print(lag_line("full service, closed loop, 32 clients, intake idle", result, sampler)
                  + f" -> the service's maximum: {service_max:,.0f} commands/s")
            half = service_max / 2
            with TimedLagSampler(url, schema) as sampler:
                result = run("127.0.0.1", port, TOKEN, lambda n: delivery_script(n, sampler), 16,
                             args.seconds * 2, first=20_000, rate=half)
                sampler.drain(30)
            base = list(sampler.lags)
            print(lag_line(f"baseline: HTTP at 1/2 the maximum ({half:,.0f} commands/s offered), intake idle",
                            result, sampler))
            with TimedLagSampler(url, schema) as http, TimedLagSampler(url, schema) as by_kafka:
                with IntakeLoad(broker.bootstrap_servers, orders, half / 2, by_kafka) as load:
                    result = run("127.0.0.1", port, TOKEN, lambda n: delivery_script(n, http), 16,
                                 args.seconds * 2, first=30_000, rate=half / 2)
                    load.finish(60)
                http.drain(30)
                by_kafka.drain(30)
            s = result.summary()
            print(f"with the intake: HTTP at 1/4 the maximum ({half / 2:,.0f}/s offered, {s['ok_per_s']:,} served) "
                  f"+ intake at 1/4 ({half / 2:,.0f}/s offered, {load.answered:,} of {load.sent:,} answered)")
            ratio = _ratio(http.lags + by_kafka.lags, base)
            print(f"  accepted -> customer timeline, HTTP commands: {_stats(http.lags)}; intake commands: "
                  f"{_stats(by_kafka.lags)}; all: {_stats(http.lags + by_kafka.lags)} -> p99 {ratio} the "
                  f"baseline's (target p99 < 250 ms)")
        finally:
            for process in (intake, api):
                process.send_signal(signal.SIGTERM)
                process.wait(30)


def _ratio(lags: list[float], base: list[float]) -> str:
    if not lags or not base:
        return "n/a x"
    return f"{percentile(lags, 99) / percentile(base, 99):.2f}x"


if __name__ == "__main__":
    main()

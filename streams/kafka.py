"""Kafka clients configured the one way this project uses them (standard protocol only)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any, Iterable

import structlog
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.net.compat import KafkaNetClient

log = structlog.get_logger(__name__)

# kafka-python 3 runs each client's network I/O as tasks on a thread of its own and warns
# when one task step takes over 0.1 s of wall time ("... is blocking the event loop"). In
# our processes that thread shares the interpreter lock with the relay, a dozen projection
# workers and the API: at start-up, while the views catch up, the step that reads a large
# fetch response (KafkaTCPTransport._read_from_sock, not a loop) took 0.11-0.15 s, most of
# it waiting for the lock. A stall worth a warning is seconds long: warn from there.
SLOW_IO_STEP_SECONDS = 2.0


def net_client(**configs: Any) -> KafkaNetClient:
    """kafka-python's own network client (its ``kafka_client`` option), warning only on real stalls."""
    return KafkaNetClient(**{**configs, "slow_task_threshold_secs": SLOW_IO_STEP_SECONDS})


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap_servers: str
    topic_prefix: str = "serviceorder"
    partitions: int = 3
    replication_factor: int = 1
    client_id: str = "serviceorder"

    def topic(self, category: str) -> str:
        return f"{self.topic_prefix}.{category}"

    def producer(self) -> KafkaProducer:
        # Idempotence makes the broker drop the producer's own retried sends; the relay's
        # stable event ids cover what idempotence cannot (a restarted producer).
        return KafkaProducer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=f"{self.client_id}-relay",
            kafka_client=net_client,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            retries=2_147_483_647,
            max_in_flight_requests_per_connection=5,
        )

    def consumer(self, **overrides: Any) -> KafkaConsumer:
        settings: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            # Offsets live in the read-model database, never in Kafka's auto-commit.
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "isolation_level": "read_committed",
            "kafka_client": net_client,
        }
        settings.update(overrides)
        return KafkaConsumer(**settings)

    def admin(self) -> KafkaAdminClient:
        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, client_id=f"{self.client_id}-admin",
                                kafka_client=net_client)

    def ensure_topics(self, categories: Iterable[str]) -> list[str]:
        names = [self.topic(c) for c in categories]
        admin = self.admin()
        try:
            existing = set(admin.list_topics())
            missing = [n for n in names if n not in existing]
            for name in missing:
                try:
                    admin.create_topics([NewTopic(name, self.partitions, self.replication_factor)])
                    log.info("topic_created", topic=name, partitions=self.partitions)
                except TopicAlreadyExistsError:
                    pass
        finally:
            admin.close()
        return names


def partitions_of(consumer: KafkaConsumer, topic: str, timeout: float = 30.0) -> list[TopicPartition]:
    """The topic's partitions, waiting for it to appear (the relay creates it)."""
    deadline = time.monotonic() + timeout
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return [TopicPartition(topic, p) for p in sorted(parts)]
        if time.monotonic() > deadline:
            raise TimeoutError(f"topic {topic} did not appear within {timeout:.0f}s")
        consumer.topics()  # refresh metadata
        time.sleep(0.2)


def read_record_at(config: KafkaConfig, tp: TopicPartition, offset: int, timeout: float = 3.0) -> Any | None:
    """The record at ``offset`` of ``tp``, or None if the partition no longer holds it.

    Reads instead of asking for end offsets: some brokers answer ListOffsets with the base
    of the last batch, and the record itself is what we want to compare anyway.
    """
    consumer = config.consumer(client_id=f"{config.client_id}-verify")
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=250, max_records=50)
            for record in batch.get(tp, []):
                if record.offset == offset:
                    return record
                if record.offset > offset:
                    return None
        return None
    finally:
        consumer.close()


def wait_for_broker(bootstrap_servers: str, timeout: float = 30.0) -> None:
    """Wait until a broker accepts TCP connections and answers a metadata request."""
    deadline = time.monotonic() + timeout
    host, _, port = bootstrap_servers.split(",")[0].rpartition(":")
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            # A plain TCP probe first: kafka-python logs every refused connection as an error.
            socket.create_connection((host, int(port)), timeout=1).close()
            admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000,
                                     kafka_client=net_client)
            admin.list_topics()
            admin.close()
            return
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.1)
    raise TimeoutError(f"no Kafka broker answered at {bootstrap_servers} within {timeout:.0f}s: {last}")

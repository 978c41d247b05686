"""Reading topics back with a plain kafka-python consumer, as any downstream reader would."""

from __future__ import annotations

import json
import time
from typing import Any

from kafka import KafkaConsumer, TopicPartition


def consume_all(bootstrap_servers: str, topic: str, *, expect: int | None = None, timeout: float = 60.0,
                idle: float = 1.5) -> list[Any]:
    """Every record of ``topic`` from offset zero; stops at ``expect`` records or when idle."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        deadline = time.monotonic() + timeout
        while not consumer.partitions_for_topic(topic):
            if time.monotonic() > deadline:
                return []
            consumer.topics()
            time.sleep(0.1)
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        records: list[Any] = []
        last_seen = time.monotonic()
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if batch:
                last_seen = time.monotonic()
            if expect is not None and len(records) >= expect and time.monotonic() - last_seen > 0.3:
                break
            if expect is None and time.monotonic() - last_seen > idle:
                break
        return records
    finally:
        consumer.close()


def envelopes(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]

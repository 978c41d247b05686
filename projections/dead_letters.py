"""The dead-letter topic of a projection: where its parked events are announced.

At least once: events are published only after they are safely parked (the table is the
record, projections/parking.py), so a crash before publishing leaves them parked; consumers
of the dead-letter topic dedupe by the event id.
"""

from __future__ import annotations

import json
from typing import Any

import structlog
from kafka import TopicPartition

from projections import parking
from streams.kafka import KafkaConfig, close_producer

log = structlog.get_logger(__name__)

# A parked event as announced: its envelope, the view's error, and where it was read.
DeadLetter = tuple[dict[str, Any], str, TopicPartition, int]


class DeadLetterPublisher:
    """Publishes a projection's parked events to ``<prefix>.dlq.<projection>``; the producer
    is made on first use."""

    def __init__(self, kafka: KafkaConfig, projection: str) -> None:
        self.kafka = kafka
        self.projection = projection
        self._producer: Any = None

    @property
    def topic(self) -> str:
        return self.kafka.topic(f"dlq.{self.projection}")

    def publish(self, letters: list[DeadLetter]) -> None:
        try:
            if self._producer is None:
                self.kafka.ensure_topics([f"dlq.{self.projection}"])
                self._producer = self.kafka.producer()
            for env, error, tp, offset in letters:
                self._producer.send(self.topic, key=env["subject"].encode(), value=json.dumps({
                    "projection": self.projection, "error": error, "attempts": parking.MAX_ATTEMPTS,
                    "topic": tp.topic, "partition": tp.partition, "offset": offset, "event": env,
                }, ensure_ascii=False).encode())
            self._producer.flush(timeout=10)
        except Exception:  # noqa: BLE001 - the parked rows remain; the topic is a notification
            log.exception("dead_letter_publish_failed", projection=self.projection, events=len(letters))

    def close(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            close_producer(producer, 5)

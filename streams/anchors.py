"""The anchors topic: signed hashes of every stored event, published outside the database.

``AnchorPublisher.publish`` reads the last anchor on the topic (where the previous run
stopped, and its id), signs anchors for every event stored since (engine/store/anchors.py) and
publishes them, acknowledged by every replica, to ``<prefix>.audit.anchors``: one
partition (anchors follow one another) kept forever. ``run`` does it every
``anchor_interval`` seconds; ``serviceorder audit anchor`` and ``POST /audit/anchors`` on
demand. The topic is the record to keep away from the database's administrators: mirror it,
or export it (``serviceorder audit anchors --out``) to write-once storage.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import structlog
from kafka import TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from engine.store.anchors import anchor_id, build_anchors
from engine.store.signing import Signer
from streams.kafka import KafkaConfig

log = structlog.get_logger(__name__)

CATEGORY = "audit.anchors"


class AnchorPublisher:
    def __init__(self, app: Any, kafka: KafkaConfig, signer: Signer, interval: float = 3600.0,
                 at_start: bool = False) -> None:
        self.app = app
        self.at_start = at_start
        self.kafka = kafka
        self.signer = signer
        self.interval = interval
        self.topic = kafka.topic(CATEGORY)
        self._lock = threading.Lock()

    def ensure_topic(self) -> None:
        admin = self.kafka.admin()
        try:
            if self.topic not in set(admin.list_topics()):
                admin.create_topics([NewTopic(self.topic, 1, self.kafka.replication_factor,
                                              topic_configs={"retention.ms": "-1", "retention.bytes": "-1"})])
                log.info("topic_created", topic=self.topic, partitions=1)
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    def published(self, idle_ms: int = 1_000, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Every anchor on the topic, oldest first."""
        self.ensure_topic()
        tp = TopicPartition(self.topic, 0)
        consumer = self.kafka.consumer(client_id=f"{self.kafka.client_id}-anchors")
        anchors: list[dict[str, Any]] = []
        try:
            consumer.assign([tp])
            consumer.seek_to_beginning(tp)
            end = consumer.end_offsets([tp]).get(tp, 0)
            deadline = time.monotonic() + timeout
            # Read until past the end offset and then quiet: some brokers answer the end
            # offset with the base of the last batch.
            while time.monotonic() < deadline:
                batch = consumer.poll(timeout_ms=idle_ms, max_records=500).get(tp, [])
                anchors += [json.loads(r.value) for r in batch]
                if not batch and consumer.position(tp) >= end:
                    return anchors
            raise TimeoutError(f"reading {self.topic} took over {timeout:.0f}s")
        finally:
            consumer.close()

    def publish(self) -> list[dict[str, Any]]:
        """Anchor every event stored since the last anchor; the anchors published."""
        with self._lock:
            published = self.published()
            after, previous = (published[-1]["position"], anchor_id(published[-1])) if published else (0, None)
            anchors = build_anchors(self.app, after, previous, self.app.clock.now(), self.signer)
            if not anchors:
                return []
            producer = self.kafka.producer()
            try:
                sent = [producer.send(self.topic, key=b"anchor", value=json.dumps(anchor).encode())
                        for anchor in anchors]
                producer.flush()
                for future in sent:
                    future.get(timeout=30)  # raises what the broker refused
            finally:
                producer.close()
            log.info("anchors_published", topic=self.topic, anchors=len(anchors),
                     events=sum(a["events"] for a in anchors), position=anchors[-1]["position"])
            return anchors

    def run(self, stop: threading.Event) -> None:
        """Publish every ``interval`` seconds until ``stop`` (the first at once if ``at_start``,
        as the standalone process does; else after one interval, as in ``serve``)."""
        wait = 0.0 if self.at_start else self.interval
        while not stop.wait(wait):
            try:
                self.publish()
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("anchors_not_published", error=str(exc))
            wait = self.interval

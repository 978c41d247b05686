"""The outbox relay: follows the event store's notification log and publishes each public
event to its category's Kafka topic, keyed by aggregate id.

Delivery is at-least-once with stable event ids. A batch is produced and flushed (all
acknowledged) before its position is committed to the relay's checkpoint table; a crash
in between republishes the batch, and consumers drop the duplicates by event id/version.

The relay also remembers the last record it wrote to each partition. On start and every
``verify_interval`` seconds it reads those records back; a partition that no longer holds
them (a broker that restarted empty, a topic deleted and recreated) has its category
republished from the start of the store, so Kafka is never the only copy.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import structlog
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from kafka.errors import KafkaTimeoutError

from contract.names import CATEGORIES
from engine.store.topics import stored_topics
from streams import envelope
from streams.checkpoint import REPUBLISHING, Published, RelayState
from streams.kafka import KafkaConfig, close_producer, records_at
from streams.lease import Lease, lease_for
from streams.stored_envelopes import EnvelopeMaker
from streams.stored_envelopes import careful_envelope as envelope_of
from sqlstore.sqldb import Doorbell

log = structlog.get_logger(__name__)

__all__ = ["REPUBLISHING", "Published", "Relay", "RelayState", "envelope_of"]


# The longest pause between two attempts after a failure (seconds).
MAX_BACKOFF = 2.0


class Relay:
    def __init__(
        self,
        app: Application[Any],
        kafka: KafkaConfig,
        state: RelayState,
        *,
        source_prefix: str = "/serviceorder",
        batch_size: int = 500,
        poll_interval: float = 0.2,
        min_cycle: float = 0.05,
        verify_interval: float = 5.0,
        after_send: Callable[[int], None] | None = None,
        lease: Lease | None = None,
        standby_interval: float = 1.0,
        send_timeout: float = 5.0,
        fast_envelopes: bool = True,
    ) -> None:
        self.app = app
        self.kafka = kafka
        self.state = state
        self.source_prefix = source_prefix
        # Envelopes from the stored bytes where that gives the same message (streams/stored_envelopes.py).
        self.envelopes = EnvelopeMaker(app, source_prefix, fast=fast_envelopes)
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        # With a doorbell, the shortest time between two batches: under load the rings come
        # faster than batches pay for themselves, and a short pause gathers them into one.
        self.min_cycle = min_cycle
        self.verify_interval = verify_interval
        # Test seam for fault injection: called after each send with the count so far.
        self.after_send = after_send
        # Several relays may run; the one holding the lease publishes (streams.lease), the
        # others try to take it every ``standby_interval`` seconds.
        self.lease = lease
        self.standby_interval = standby_interval
        self.send_timeout = send_timeout
        self._stopping = threading.Event()
        self._producer: Any = None
        self._last_verify = 0.0
        self._held: Lease | None = None

    @property
    def producer(self) -> Any:
        if self._producer is None:
            self.kafka.ensure_topics(CATEGORIES)
            self._producer = self.kafka.producer()
            # A new producer follows a failure, often a broker that went away. If it came
            # back empty, the lost events must be republished *before* any new one: a new
            # event published first would precede its aggregate's earlier events in the
            # partition, and consumers would see a version gap (found by fault injection).
            self._last_verify = 0.0
        return self._producer

    def close(self, timeout: float = 10) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            close_producer(producer, timeout)
        if self._held is not None:
            self._held.release()
            self._held = None

    def take_lease(self) -> bool:
        """Hold the relays' lease until ``close``, for work outside ``run`` (``republish``),
        so it never races a running relay; False while another relay holds it."""
        lease = self.lease or lease_for(self.state.db, self.state.name)
        if not lease.try_acquire():
            return False
        self._held = lease
        return True

    # One batch ---------------------------------------------------------------------------

    def _send(self, notifications: list[Notification]) -> list[Published]:
        futures = []
        for sent, n in enumerate(notifications, 1):
            found = self.envelopes.message(n)
            if found is None:
                continue
            category, event_id, value = found
            future = self.producer.send(
                self.kafka.topic(category),
                key=str(n.originator_id).encode(),
                value=value,
                headers=[("content-type", envelope.CONTENT_TYPE.encode())],
            )
            futures.append((future, event_id))
            if self.after_send:
                self.after_send(sent)
        self._flush()
        published = []
        for future, event_id in futures:
            md = future.get(timeout=30)
            published.append(Published(md.topic, md.partition, md.offset, event_id))
        return published

    def _flush(self) -> None:
        """Wait at most ``send_timeout`` seconds for the broker's acknowledgements. A broker
        that came back empty answers a running (idempotent) producer with errors it retries
        for minutes; the batch fails instead, and the next producer verifies the topics first."""
        deadline = time.monotonic() + self.send_timeout
        while True:
            try:
                self.producer.flush(timeout=0.25)
                return
            except KafkaTimeoutError:
                if time.monotonic() > deadline or self._stopping.is_set():
                    raise

    def run_once(self) -> int:
        """Publish the next batch; returns how many notifications it moved past."""
        self.verify_if_due()
        position = self.state.position()
        notifications = list(self.app.recorder.select_notifications(start=position + 1, limit=self.batch_size))
        if not notifications:
            return 0
        published = self._send(notifications)
        self.state.commit(notifications[-1].id, published)
        log.info("relay_batch_published", start=notifications[0].id, end=notifications[-1].id,
                 events=len(published))
        return len(notifications)

    def catch_up(self) -> int:
        total = 0
        while moved := self.run_once():
            total += moved
        return total

    # Verification and republishing --------------------------------------------------------

    def verify_if_due(self) -> None:
        if time.monotonic() - self._last_verify >= self.verify_interval:
            self.verify()

    def behind_topics(self) -> set[str]:
        behind = set()
        admin = self.kafka.admin()
        try:
            existing = set(admin.list_topics())
        finally:
            admin.close()
        checkpoints = self.state.checkpoints()
        for tp in checkpoints:
            if tp.topic not in existing or tp.partition == REPUBLISHING:
                behind.add(tp.topic)
        to_read = {tp: offset for tp, (offset, _) in checkpoints.items() if tp.topic not in behind}
        for tp, record in records_at(self.kafka, to_read).items():
            offset, event_id = checkpoints[tp]
            if record is None or envelope.id_of(record.value) != event_id:
                log.warning("topic_behind_store", topic=tp.topic, partition=tp.partition, offset=offset,
                            expected_event_id=event_id)
                behind.add(tp.topic)
        return behind

    def verify(self) -> set[str]:
        """Republish every category whose topic lost what the relay had written to it."""
        self._last_verify = time.monotonic()
        behind = self.behind_topics()
        for category in CATEGORIES:
            if self.kafka.topic(category) in behind:
                self.republish(category)
        return behind

    def republish(self, category: str, progress: Callable[[int], None] | None = None, from_position: int = 1) -> int:
        """Publish again, in store order, every event of a category from ``from_position`` up to
        the relay's position. Envelopes are rebuilt from the store, so each event keeps its id:
        consumers that dedupe by id (and the projections' version marks) see no duplicates."""
        topic = self.kafka.topic(category)
        stop = self.state.position()
        if from_position <= 1:
            self.state.forget_topic(topic)
        start, count = max(1, from_position), 0
        filters = stored_topics(category)
        log.warning("republish_started", topic=topic, from_position=start, up_to_position=stop)
        while start <= stop:
            batch = list(self.app.recorder.select_notifications(
                start=start, limit=self.batch_size, stop=stop, topics=filters))
            if not batch:
                break
            self.state.commit(None, self._send(batch))
            count += len(batch)
            if progress:
                progress(len(batch))
            start = batch[-1].id + 1
        if from_position <= 1:
            self.state.republished(topic)
        log.warning("republish_finished", topic=topic, events=count, up_to_position=stop)
        return count

    # The loop -----------------------------------------------------------------------------

    def _doorbell(self) -> Doorbell | None:
        """On PostgreSQL the recorder NOTIFYs its channel on every write: the loop wakes on
        that rather than sleeping out its poll interval (half of it, on average, was the
        relay's share of the end-to-end lag). SQLite has no such signal: the loop polls."""
        channel = getattr(self.app.recorder, "channel_name", None)
        if channel is None or self.state.db.dialect != "postgres":
            return None
        return Doorbell(self.state.db, channel)

    def run(self, stop: threading.Event) -> None:
        """Publish while holding the lease; wait as a standby while another relay holds it."""
        self._stopping = stop
        lease = self.lease or lease_for(self.state.db, self.state.name)
        standby_since: float | None = None
        try:
            while not stop.is_set():
                if not lease.try_acquire():
                    if standby_since is None:
                        standby_since = time.monotonic()
                        log.info("relay_standby", relay=self.state.name)
                    stop.wait(self.standby_interval)
                    continue
                # Logged without a database read: the lease changes hands when the database
                # does (a restart), and this loop must not die of it.
                log.info("relay_active", relay=self.state.name,
                         waited_s=round(time.monotonic() - standby_since, 3) if standby_since else 0.0)
                standby_since = None
                self._publish(stop, lease)
                if not stop.is_set():
                    log.warning("relay_lease_lost", relay=self.state.name)
        finally:
            lease.release()
        log.info("relay_stopped", relay=self.state.name)

    def _publish(self, stop: threading.Event, lease: Lease) -> None:
        """The active relay's loop, until ``stop`` or until the lease is lost."""
        doorbell = self._doorbell()
        backoff = self.poll_interval
        try:
            while not stop.is_set() and lease.held():
                started = time.monotonic()
                try:
                    self.producer  # noqa: B018 - creates the topics up front, so consumers can start
                    moved = self.run_once()
                    backoff = self.poll_interval
                except Exception:
                    log.exception("relay_batch_failed", retry_in_s=backoff)
                    # What the producer still holds is sent again from the checkpoint.
                    self.close(timeout=0)
                    moved = 0
                    # Capped low: the service is back within seconds of its store or broker.
                    backoff = min(backoff * 2 if backoff else 1.0, MAX_BACKOFF)
                    stop.wait(backoff)
                    continue
                if moved < self.batch_size:
                    if doorbell is not None:
                        doorbell.wait(self.poll_interval, stop)
                        stop.wait(self.min_cycle - (time.monotonic() - started))
                    else:
                        stop.wait(self.poll_interval)
        finally:
            if doorbell is not None:
                doorbell.close()
            # Every batch was flushed before its checkpoint: nothing held is owed to anyone.
            self.close(timeout=0)

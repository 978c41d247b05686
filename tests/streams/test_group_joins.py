"""A group consumer keeps a join that finished between two polls (streams/group_joins.py).

Against the broker, a test starts a join with one short poll, lets it finish while nobody polls
(as a batch being run would), then polls once more: the member must own its partitions after
that poll. Against a stand-in for the library's coordinator, a join that failed, finished too
long ago for the broker to still count the member in, or belongs to a lost generation goes back
to the library.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from kafka import KafkaConsumer
from kafka.coordinator.base import Generation, MemberState
from kafka.errors import KafkaError
from kafka.future import Future

from streams.group_joins import keep_finished_joins
from streams.kafka import KafkaConfig, net_client
from tests.waiting import wait_for

# Tansu holds a JoinGroup for about half the session timeout: a short one keeps each join at ~3 s.
GROUP = {"session_timeout_ms": 6_000, "heartbeat_interval_ms": 1_000, "max_poll_interval_ms": 60_000}


def join_finished_between_polls(consumer: KafkaConsumer, topic: str) -> Any:
    """Poll briefly until a join is under way, let it finish unawaited; poll once more. The
    first JoinGroup of a new member may fail (the broker first hands out a member id): the
    member retries it at its next poll, so wait for one that succeeds."""
    consumer.subscribe([topic])
    coordinator = consumer._coordinator

    def join_succeeded_unawaited() -> Any:
        consumer.poll(timeout_ms=10)
        task = coordinator._join_task
        if task is None or task.is_done:
            return None
        wait_for(lambda: task.is_done, what="the join did not finish")
        return task if task.succeeded() else None

    task = wait_for(join_succeeded_unawaited, what="no join succeeded")
    assert not consumer.assignment()
    consumer.poll(timeout_ms=10)
    return task


def test_a_join_that_finished_between_polls_gives_its_partitions_at_the_next_poll(kafka: KafkaConfig) -> None:
    (topic,) = kafka.ensure_topics(["joins"])
    consumer = kafka.consumer(group_id=kafka.topic("joins-kept"), **GROUP)
    try:
        join_finished_between_polls(consumer, topic)
        assert {tp.partition for tp in consumer.assignment()} == {0, 1, 2}
        assert consumer._coordinator._join_task is None  # no second JoinGroup went out
    finally:
        consumer.close()


def test_kafka_python_still_discards_such_a_join(kafka: KafkaConfig) -> None:
    """The library alone sends a new JoinGroup instead: when this fails, kafka-python keeps
    finished joins itself and streams/group_joins.py can go."""
    (topic,) = kafka.ensure_topics(["joins"])
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=kafka.topic("joins-lost"),
                             enable_auto_commit=False, kafka_client=net_client, **GROUP)
    try:
        finished = join_finished_between_polls(consumer, topic)
        assert not consumer.assignment()
        assert consumer._coordinator._join_task is not finished  # a second join is under way
    finally:
        consumer.close()


def test_only_group_consumers_are_changed(kafka: KafkaConfig) -> None:
    plain = kafka.consumer()
    grouped = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, group_id=kafka.topic("g"),
                            enable_auto_commit=False, kafka_client=net_client)
    try:
        assert not keep_finished_joins(plain)
        assert "join_group_async" not in vars(plain._coordinator)
        assert keep_finished_joins(grouped) and "join_group_async" in vars(grouped._coordinator)
    finally:
        plain.close()
        grouped.close()


class LibraryCoordinator:
    """The coordinator's side the fix touches, as kafka-python has it: its own join leaves
    ``next_task`` running (a poll that timed out) and returns False."""

    group_id = "g"

    def __init__(self) -> None:
        self._join_task: Any = None
        self._generation = Generation(3, "member-1", "range")
        self._lock = threading.Lock()
        self.config = {"session_timeout_ms": 6_000}
        self.rejoining = self.rejoin_needed = True
        self.state, self.heartbeat, self.library_joins = None, False, 0
        self.assigned: list[bytes] = []
        self.next_task = Future()

    def _enable_heartbeat(self) -> None:
        self.heartbeat = True

    async def _on_join_complete_async(self, generation: int, member: str, protocol: str, assignment: bytes) -> None:
        self.assigned.append(assignment)

    async def join_group_async(self, timeout_ms: Any = None) -> bool:
        self.library_joins += 1
        if self._join_task is None or self._join_task.is_done:  # the library's own condition
            self._join_task = self.next_task = Future()
        return False


class Consumer:
    def __init__(self) -> None:
        self._coordinator = LibraryCoordinator()


def polled_once_then(finish: Any, *, after: float = 0.0, lost: bool = False) -> LibraryCoordinator:
    """One poll leaves a join running; ``finish`` ends it; ``after`` seconds pass; a poll again."""
    now = [100.0]
    consumer = Consumer()
    coordinator = consumer._coordinator
    assert keep_finished_joins(consumer, clock=lambda: now[0])  # type: ignore[arg-type]
    asyncio.run(coordinator.join_group_async())
    finish(coordinator.next_task)
    now[0] += after
    if lost:
        coordinator._generation = Generation(-1, "", None)
    asyncio.run(coordinator.join_group_async())
    return coordinator


def test_a_fresh_finished_join_is_taken_as_the_library_would_take_it() -> None:
    coordinator = polled_once_then(lambda task: task.success(b"assignment"), after=2.9)
    assert coordinator.assigned == [b"assignment"] and coordinator.library_joins == 1
    assert (coordinator.rejoin_needed, coordinator.rejoining, coordinator.heartbeat, coordinator._join_task) == (
        False, False, True, None)
    assert coordinator.state == MemberState.STABLE


def test_a_failed_a_stale_or_a_lost_join_goes_back_to_the_library() -> None:
    failed = polled_once_then(lambda task: task.failure(KafkaError("rebalance in progress")))
    # Finished more than half the session timeout ago: the broker may have evicted the member.
    stale = polled_once_then(lambda task: task.success(b"assignment"), after=3.1)
    lost = polled_once_then(lambda task: task.success(b"assignment"), lost=True)
    for coordinator in (failed, stale, lost):
        assert coordinator.assigned == [] and coordinator.library_joins == 2 and coordinator.rejoin_needed

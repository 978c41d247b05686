"""A group consumer keeps a join that finished between two polls (streams/group_joins.py).

Each test starts a join with one short poll, lets it finish while nobody polls (as a batch
being run would), then polls once more: the member must own its partitions after that poll.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer

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

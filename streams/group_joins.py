"""A group consumer keeps the outcome of a join that finished between two polls.

kafka-python 3.0 (up to its master of 2026-11) runs a group member's JoinGroup/SyncGroup
round as a task on its I/O thread. ``poll`` awaits that task for at most its own timeout and
leaves it running when the timeout passes; but when the next ``poll`` finds the task already
*finished*, ``BaseCoordinator.join_group_async`` throws its assignment away and sends a new
JoinGroup. A join takes seconds (Tansu holds one for about half the session timeout; Apache
Kafka holds a new group's first join for ``group.initial.rebalance.delay.ms``, 3 s by default,
and a rebalance until every member has rejoined), far longer than a poll's 100 ms, so it
usually finishes while the caller is busy between polls: running a batch, or just a test's
wait loop. On a busy machine that
happened twenty times in a row and the intake never got its partitions for a minute (CI of
2026-11-30). Every discarded join also makes the coordinator rebalance the whole group.

The Java client keeps a finished join future until a poll consumes it (``joinFuture`` in
``AbstractCoordinator.joinGroupIfNeeded``); this does the same for one consumer: when the
task finished successfully and the membership it joined still stands, its assignment is
taken as the library's own success branch would take it. Anything else (no task, one still
running, a failed one, a generation lost since, or one that finished more than half a session
timeout ago, whose member the broker may have evicted meanwhile) goes to the library unchanged.

Only private attributes of the coordinator make this possible, so it applies only where they
are all present and otherwise leaves the consumer as it is, with a warning; the regression
test (tests/streams/test_group_joins.py) fails if a new kafka-python stops needing it or
stops allowing it.
"""

from __future__ import annotations

import time
import types
from typing import Any, Callable

import structlog
from kafka import KafkaConsumer
from kafka.coordinator.base import MemberState

log = structlog.get_logger(__name__)
_NEEDED = ("_join_task", "_generation", "_lock", "_enable_heartbeat", "_on_join_complete_async",
           "join_group_async", "config")


def keep_finished_joins(consumer: KafkaConsumer, clock: Callable[[], float] = time.monotonic) -> bool:
    """Make ``consumer``'s group coordinator take a finished join's assignment instead of
    discarding it. True if applied (False: no group, or a kafka-python this does not fit)."""
    coordinator = getattr(consumer, "_coordinator", None)
    if coordinator is None or getattr(coordinator, "group_id", None) is None:
        return False
    if not all(hasattr(coordinator, name) for name in _NEEDED):
        log.warning("kafka_join_fix_not_applied", reason="kafka-python's coordinator changed",
                    missing=[n for n in _NEEDED if not hasattr(coordinator, n)])
        return False
    library_join = coordinator.join_group_async
    # The join the library left running, and when it finished. The broker's session timer runs
    # from its answer, and no heartbeat goes out until a poll takes the join: one that waited
    # longer than half the session may have been evicted already, and is left to the library
    # (which joins again, as it always did).
    left: dict[str, Any] = {"task": None, "finished": None}
    fresh_for = coordinator.config["session_timeout_ms"] / 2000

    def finished(_: Any, task: Any) -> None:
        if left["task"] is task:
            left["finished"] = clock()

    def kept(self: Any, task: Any) -> bool:
        return (task is not None and task is left["task"] and task.is_done and task.succeeded()
                and left["finished"] is not None and clock() - left["finished"] < fresh_for
                and not self._generation.is_lost())

    async def join_group_async(self: Any, timeout_ms: Any = None) -> Any:
        task = self._join_task
        if not kept(self, task):
            joined = await library_join(timeout_ms)
            running = self._join_task
            if running is not None and running is not left["task"]:
                left.update(task=running, finished=None)
                running.add_both(lambda outcome: finished(outcome, running))
            return joined
        # The library's success branch (coordinator/base.py, join_group_async), for a result
        # that no poll was awaiting when it came.
        self._join_task = None
        left.update(task=None, finished=None)
        with self._lock:
            self.rejoining = False
            self.rejoin_needed = False
            self.state = MemberState.STABLE
            self._enable_heartbeat()
        log.debug("kafka_join_kept", group=self.group_id, generation=self._generation.generation_id)
        await self._on_join_complete_async(self._generation.generation_id, self._generation.member_id,
                                           self._generation.protocol, task.value)
        return True

    coordinator.join_group_async = types.MethodType(join_group_async, coordinator)
    return True


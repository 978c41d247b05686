"""Group commit: concurrent commands' events written together, in one transaction.

The event store serialises writers (PostgreSQL: a table lock that keeps the notification
log gap-free for followers), so one command per transaction caps the write rate at what
one lock-insert-commit round costs. Here the first thread to arrive while no write is
under way becomes the *leader*: it takes every save queued so far (up to ``max_batch``)
and writes their events in one ``put``; the others wait for its outcome. Under no
contention a save is written at once, alone: batching adds no delay, it only forms from
the saves that queue up while a write is under way.

Nothing about correctness changes:
- per-aggregate optimistic concurrency is still the store's unique (id, version) check,
  on every event of the batch;
- two saves of one aggregate never share a batch (the later waits for the next one), so a
  command racing on its own aggregate never drags a neighbour down;
- when a batch is refused for a conflict, each save in it is written again on its own:
  only the conflicting one fails, its neighbours are committed;
- a store failure (connection lost, lock timeout) fails every save of that batch, none of
  which was written (one transaction).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Sequence

import structlog
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

log = structlog.get_logger(__name__)


class _Save:
    __slots__ = ("processing", "ids", "recordings", "error", "done")

    def __init__(self, processing: ProcessingEvent[Any]) -> None:
        self.processing = processing
        self.ids = {e.originator_id for e in processing.events}
        self.recordings: list[Recording[Any]] = []
        self.error: BaseException | None = None
        self.done = False


class GroupCommit:
    """Writes ``ProcessingEvent`` s through ``record`` (the application's ``_record``),
    several at a time when they arrive together."""

    def __init__(self, record: Callable[[ProcessingEvent[Any]], list[Recording[Any]]], max_batch: int = 200) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._record = record
        self.max_batch = max_batch
        self._queue: deque[_Save] = deque()
        self._cond = threading.Condition()
        self._writing = False
        # Counters for the benchmarks and the operations guide: how much batching happened.
        self.batches = 0
        self.saves = 0
        self.retried_alone = 0

    def write(self, processing: ProcessingEvent[Any]) -> list[Recording[Any]]:
        """Write one save's events (with others queued beside it); its recordings, or its error."""
        mine = _Save(processing)
        with self._cond:
            self._queue.append(mine)
            while True:
                while self._writing and not mine.done:
                    self._cond.wait()
                if mine.done:
                    break
                self._writing = True
                batch = self._take()
                self._cond.release()
                try:
                    self._commit(batch)
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._cond.notify_all()
        if mine.error is not None:
            raise mine.error
        return mine.recordings

    def _take(self) -> list[_Save]:
        """The queue's oldest saves, at most one per aggregate, up to max_batch."""
        batch: list[_Save] = []
        ids: set[Any] = set()
        later: list[_Save] = []
        while self._queue and len(batch) < self.max_batch:
            save = self._queue.popleft()
            if save.ids & ids:
                later.append(save)
                continue
            ids |= save.ids
            batch.append(save)
        self._queue.extendleft(reversed(later))
        return batch

    def _commit(self, batch: Sequence[_Save]) -> None:
        self.batches += 1
        self.saves += len(batch)
        if len(batch) == 1:
            self._commit_alone(batch[0])
            return
        combined: ProcessingEvent[Any] = ProcessingEvent()
        for save in batch:
            combined.events.extend(save.processing.events)
            combined.aggregates.update(save.processing.aggregates)
        try:
            recordings = self._record(combined)
        except IntegrityError:
            # Someone's version was taken (by another process, or a stale read): write each
            # alone, so that only the conflicting save fails.
            self.retried_alone += len(batch)
            log.debug("group_commit_split", saves=len(batch))
            for save in batch:
                self._commit_alone(save)
            return
        except BaseException as error:  # noqa: BLE001 - handed to every waiting caller
            for save in batch:
                save.error, save.done = error, True
            return
        start = 0
        for save in batch:
            end = start + len(save.processing.events)
            save.recordings, save.done = recordings[start:end], True
            start = end

    def _commit_alone(self, save: _Save) -> None:
        try:
            save.recordings = self._record(save.processing)
        except BaseException as error:  # noqa: BLE001 - handed to its caller
            save.error = error
        save.done = True

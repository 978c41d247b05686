"""One command, one atomic write: load (checking the caller's expected version), change,
save every aggregate the command touched together with its idempotency record.

Handlers take and return ids and plain values, never aggregates. A retried command with
the same idempotency key returns its first result and writes nothing new; two racing
retries collide on the store's uniqueness check and the loser replays the winner's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from engine.application.context import CommandContext
from engine.application.idempotency import IdempotencyRecord, fingerprint, record_id
from engine.domain.clock import Clock
from engine.domain.errors import ConcurrencyConflict, NotFound, StaleVersion
from engine.store.eventstore import EventStoreApplication

A = TypeVar("A", bound=Aggregate)
NotFoundError = Callable[[UUID], NotFound]


@dataclass(frozen=True)
class CommandResult:
    aggregate_id: UUID
    version: int
    # Position of the command's last event in the store's notification log; readers pass
    # it back as wait_for_position. Unknown (None) when the result is an idempotent replay.
    position: int | None = None
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    # The store position of the last event of every aggregate the write saved (the one it
    # answers for, and what its policies opened or changed: a follow-up, a deadline, a fee):
    # each is the wait_for_position that reads that aggregate's view after this command.
    positions: dict[str, int] = field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        return {"aggregate_id": str(self.aggregate_id), "version": self.version, "extra": self.extra}

    @classmethod
    def replay_of(cls, stored: Mapping[str, Any]) -> CommandResult:
        return cls(UUID(stored["aggregate_id"]), stored["version"], None, True, dict(stored["extra"]))


@dataclass
class Effects:
    """What one command changed: the aggregate it answers for, and others saved with it."""

    primary: Aggregate
    extra: dict[str, Any] = field(default_factory=dict)
    also: list[Aggregate] = field(default_factory=list)


# What a command does to the aggregate it loaded: its Effects, or only the extra reply fields.
Change = Callable[[A], "Effects | dict[str, Any] | None"]


class UnitOfWork:
    """Loading and saving for every handler, over the one event store."""

    def __init__(self, store: EventStoreApplication, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def now(self) -> datetime:
        return self.clock.now()

    # Loading -------------------------------------------------------------------------------

    def get_any(self, aggregate_id: UUID) -> Any | None:
        """Whatever aggregate has this id, or None."""
        try:
            return self.store.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        if self.store.is_never_snapshotted(cls):
            # Deadlines, idempotency records...: no snapshot to ask the store for.
            try:
                aggregate = self.store.get_never_snapshotted(aggregate_id)
            except AggregateNotFoundError:
                return None
        else:
            aggregate = self.get_any(aggregate_id)
        return aggregate if isinstance(aggregate, cls) else None

    def load(self, cls: type[A], aggregate_id: UUID, expected_version: int | None = None,
             not_found: NotFoundError | None = None) -> A:
        aggregate = self.find(cls, aggregate_id)
        if aggregate is None:
            raise (not_found(aggregate_id) if not_found else
                   NotFound(f"{cls.__name__} {aggregate_id} does not exist"))
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersion(aggregate_id, expected_version, aggregate.version)
        return aggregate

    # Writing -------------------------------------------------------------------------------

    def command(self, ctx: CommandContext, name: str, payload: dict[str, Any], idempotency_key: str | None,
                act: Callable[[], Effects]) -> CommandResult:
        """Run ``act`` and save what it changed in one write, once per idempotency key."""
        rid, fp = None, ""
        if idempotency_key is not None:
            rid, fp = record_id(ctx.principal.name, idempotency_key), fingerprint(name, payload)
            prior = self.find(IdempotencyRecord, rid)
            if prior is not None:
                return CommandResult.replay_of(prior.replay(fp))
        effects = act()
        aggregate = effects.primary
        result = CommandResult(aggregate.id, aggregate.version, extra=effects.extra)
        pending: list[Aggregate] = [aggregate, *effects.also]
        if idempotency_key is not None:
            pending.append(IdempotencyRecord(principal=ctx.principal.name, key=idempotency_key, fingerprint=fp,
                                             result=result.stored()))
        try:
            recordings = self.store.save(*pending)
        except IntegrityError:
            if rid is not None and (prior := self.find(IdempotencyRecord, rid)) is not None:
                return CommandResult.replay_of(prior.replay(fp))
            raise ConcurrencyConflict(
                f"{aggregate.id} was changed by another command at the same time; reload it and retry"
            ) from None
        written: dict[str, int] = {}
        for recording in recordings:
            if (writer := recording.domain_event.originator_id) != rid:
                written[str(writer)] = max(written.get(str(writer), 0), recording.notification.id)
        position = written.get(str(aggregate.id)) or self.store.current_position()
        return CommandResult(aggregate.id, aggregate.version, position, extra=effects.extra, positions=written)

    def change(self, ctx: CommandContext, name: str, cls: type[A], aggregate_id: UUID, payload: dict[str, Any],
               change: Change[A], *, expected_version: int | None,
               idempotency_key: str | None, not_found: NotFoundError | None = None) -> CommandResult:
        """Load an aggregate (checking the caller's expected version), change it, save it."""

        def act() -> Effects:
            aggregate = self.load(cls, aggregate_id, expected_version, not_found)
            outcome = change(aggregate)
            return outcome if isinstance(outcome, Effects) else Effects(aggregate, outcome or {})

        return self.command(ctx, name, {"id": str(aggregate_id), **payload}, idempotency_key, act)

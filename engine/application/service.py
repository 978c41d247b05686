"""Plumbing every command shares: atomic saves, idempotency, optimistic concurrency,
loading by type, the clock, and durable deadlines (schedule, cancel, fire exactly once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, TypeVar
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import EventStore, IntegrityError, Mapper

from engine.store.chain import ChainedEventStore, ChainMapper
from engine.domain.clock import Clock, SystemClock
from engine.application.context import SYSTEM, CommandContext
from engine.domain.deadlines import Deadline, deadline_id
from engine.domain.errors import ConcurrencyConflict, NotFound, StaleVersion
from engine.store.groupcommit import GroupCommit
from engine.application.idempotency import IdempotencyRecord, fingerprint, record_id
from engine.store.personal import KeyStore, PersonalData

log = structlog.get_logger(__name__)
A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class CommandResult:
    aggregate_id: UUID
    version: int
    # Position of the command's last event in the store's notification log; readers pass
    # it back as wait_for_position. Unknown (None) when the result is an idempotent replay.
    position: int | None = None
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

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


class ServiceBase(Application[UUID]):
    # Deadline action name -> method name; each method takes (deadline, now, ctx) and
    # returns the aggregates it changed, to be saved with the firing.
    deadline_actions: dict[str, str] = {}

    def __init__(self, env: Mapping[str, str] | None = None, clock: Clock | None = None,
                 group_commit_max: int = 200) -> None:
        super().__init__(env=env)
        self.clock: Clock = clock or SystemClock()
        # Concurrent saves share a transaction (engine/groupcommit.py); 1 writes each alone.
        self.group_commit = GroupCommit(self._record, group_commit_max) if group_commit_max > 1 else None

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        if self.group_commit is None or kwargs:
            return super().save(*objs, **kwargs)
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.collect_events(*objs)
        recordings = self.group_commit.write(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    # Every stored event is a link in its aggregate's hash chain (engine/chain.py).

    def construct_mapper(self) -> Mapper[UUID]:
        base = super().construct_mapper()
        return ChainMapper(base.transcoder, base.compressor, base.cipher)

    def construct_event_store(self) -> EventStore[UUID]:
        return ChainedEventStore(self.mapper, self.recorder)

    # Personal data is sealed per customer once a key store is given (engine/personal.py).
    personal_data: PersonalData | None = None

    def seal_personal_data(self, keys: KeyStore) -> None:
        self.personal_data = PersonalData(keys)
        self.mapper.personal = self.personal_data  # type: ignore[attr-defined]

    # Reading ---------------------------------------------------------------------------

    def current_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def event_at(self, position: int) -> tuple[UUID, int] | None:
        """(aggregate id, version) of the event at ``position`` in the notification log, if any."""
        found = self.recorder.select_notifications(start=position, limit=1, stop=position)
        return (UUID(str(found[0].originator_id)), found[0].originator_version) if found else None

    def history(self, aggregate_id: UUID) -> list[dict[str, Any]]:
        """Every event of an aggregate, oldest first, with who, when and why: what auditors replay."""
        events = list(self.events.get(aggregate_id))
        if not events:
            raise NotFound(f"{aggregate_id} has no history")
        skip = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}
        return [{"version": e.originator_version, "event_type": type(e).__name__,
                 "recorded_at": e.timestamp.isoformat(), "meta": getattr(e, "meta", {}),
                 "data": {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in vars(e).items()
                          if k not in skip}}
                for e in events]

    def _get_any(self, aggregate_id: UUID) -> Any | None:
        """Whatever aggregate has this id, or None."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def aggregate_type(self, aggregate_id: UUID) -> str | None:
        """The class name of an aggregate (``FieldJob``...), or None if there is none."""
        aggregate = self._get_any(aggregate_id)
        return None if aggregate is None else type(aggregate).__name__

    def customer_of(self, aggregate_id: UUID) -> str | None:
        """The customer an aggregate belongs to, for checking read-your-writes requests."""
        return getattr(self._get_any(aggregate_id), "customer_id", None)

    def _load_as(self, cls: type[A], aggregate_id: UUID, expected_version: int | None = None,
                 not_found: Callable[[UUID], NotFound] | None = None) -> A:
        aggregate = self._find(cls, aggregate_id)
        if aggregate is None:
            raise (not_found(aggregate_id) if not_found else
                   NotFound(f"{cls.__name__} {aggregate_id} does not exist"))
        if expected_version is not None and aggregate.version != expected_version:
            raise StaleVersion(aggregate_id, expected_version, aggregate.version)
        return aggregate

    def _find(self, cls: type[A], aggregate_id: UUID) -> A | None:
        aggregate = self._get_any(aggregate_id)
        return aggregate if isinstance(aggregate, cls) else None

    # Writing ---------------------------------------------------------------------------

    def _command(self, ctx: CommandContext, name: str, payload: dict[str, Any], idempotency_key: str | None,
                 act: Callable[[], Effects]) -> CommandResult:
        rid = fp = None
        if idempotency_key is not None:
            rid, fp = record_id(ctx.principal.name, idempotency_key), fingerprint(name, payload)
            prior = self._find(IdempotencyRecord, rid)
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
            recordings = self.save(*pending)
        except IntegrityError:
            if rid is not None and (prior := self._find(IdempotencyRecord, rid)) is not None:
                return CommandResult.replay_of(prior.replay(fp))
            raise ConcurrencyConflict(
                f"{aggregate.id} was changed by another command at the same time; reload it and retry"
            ) from None
        positions = [r.notification.id for r in recordings if r.domain_event.originator_id == aggregate.id]
        position = max(positions) if positions else self.current_position()
        return CommandResult(aggregate.id, aggregate.version, position, extra=effects.extra)

    def _change(self, ctx: CommandContext, name: str, cls: type[A], aggregate_id: UUID,
                expected_version: int | None, idempotency_key: str | None, payload: dict[str, Any],
                change: Callable[[A], Effects | dict[str, Any] | None],
                not_found: Callable[[UUID], NotFound] | None = None) -> CommandResult:
        """Load an aggregate (checking the caller's expected version), change it, save it."""

        def act() -> Effects:
            aggregate = self._load_as(cls, aggregate_id, expected_version, not_found)
            outcome = change(aggregate)
            return outcome if isinstance(outcome, Effects) else Effects(aggregate, outcome or {})

        return self._command(ctx, name, {"id": str(aggregate_id), **payload}, idempotency_key, act)

    # Deadlines ---------------------------------------------------------------------------

    def _deadline(self, *, kind: str, subject_id: UUID | str, key: str, due_at: datetime, action: str,
                  args: dict[str, Any] | None = None, customer_id: str | None = None,
                  meta: dict[str, str]) -> Deadline:
        if action not in self.deadline_actions:
            raise ValueError(f"no deadline action {action!r}")
        return Deadline(kind=kind, subject_id=str(subject_id), key=key, due_at=due_at, action=action,
                        args=args or {}, customer_id=customer_id, meta=meta)

    def _cancel_deadline(self, kind: str, subject_id: UUID | str, key: str, *, reason: str,
                         meta: dict[str, str]) -> list[Aggregate]:
        deadline = self._find(Deadline, deadline_id(kind, subject_id, key))
        if deadline is not None and deadline.cancel(reason=reason, meta=meta):
            return [deadline]
        return []

    def fire_deadline(self, deadline_uuid: UUID, ctx: CommandContext | None = None) -> str:
        """Fire one due deadline: its action and its firing are one atomic write.

        Returns ``fired``, ``not_due``, ``not_scheduled`` (cancelled or already fired) or
        ``lost_race`` (another scheduler fired it first).
        """
        ctx = ctx or CommandContext.new(SYSTEM)
        deadline = self._find(Deadline, deadline_uuid)
        if deadline is None or deadline.status != "scheduled":
            return "not_scheduled"
        now = self.clock.now()
        if not deadline.is_due(now):
            return "not_due"
        meta = ctx.meta()
        handler = getattr(self, self.deadline_actions[deadline.action])
        changed: list[Aggregate] = handler(deadline, now, meta)
        deadline.fire(now=now, meta=meta)
        try:
            self.save(deadline, *changed)
        except IntegrityError:
            return "lost_race"
        log.info("deadline_fired", deadline_id=str(deadline.id), kind=deadline.kind, subject=deadline.subject_id,
                 action=deadline.action, changed=len(changed))
        return "fired"

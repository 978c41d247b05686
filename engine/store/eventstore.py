"""The event store as the engine configures it: eventsourcing's Application with every
stored event a signed link in its aggregate's hash chain, signed snapshots trusted only
when they match the chain, personal fields sealed per customer, and concurrent saves
written together (group commit).
"""

from __future__ import annotations

from typing import Any, Mapping
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent, Repository
from eventsourcing.persistence import EventStore, Mapper, Transcoder

from engine.store import topics
from engine.store.chain import ChainedEventStore, ChainMapper
from engine.store.groupcommit import GroupCommit
from engine.store.personal import KeyStore, PersonalData
from engine.store.reading import ShortHistoryRepository, with_short_histories
from engine.store.signing import Signer
from engine.store.snapshots import EvidenceRepository, SignedSnapshotStore
from engine.store.transcoding import OrjsonTranscoder

topics.register_moved_topics()


def event_store_env(
    *, sqlite_path: str | None = None, postgres: Mapping[str, str] | None = None, pool_size: int = 10
) -> dict[str, str]:
    """The eventsourcing environment for one of the two supported stores. On PostgreSQL
    ``pool_size`` bounds the event store's connections; one is kept open, the others are
    opened under load and closed after ten idle minutes (psycopg_pool's ``max_idle``)."""
    if postgres is not None:
        return {
            # eventsourcing's PostgreSQL factory, recovering from a server restart at once.
            "PERSISTENCE_MODULE": "engine.store.pgstore:PostgresFactory",
            # The library's DB functions drop the table lock that keeps the notification
            # log gap-free for followers; the lock timeout stops writers queueing forever.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "1",
            "POSTGRES_MAX_OVERFLOW": str(pool_size - 1),
            **postgres,
        }
    if sqlite_path is None:
        raise ValueError("either sqlite_path or postgres is required")
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": sqlite_path, "SQLITE_LOCK_TIMEOUT": "10"}


class EventStoreApplication(Application[UUID]):
    """The library's Application over our store; the engine's facade builds on it."""

    def __init__(self, env: Mapping[str, str] | None = None, *, group_commit_max: int = 200,
                 key_store: KeyStore | None = None, signer: Signer | None = None) -> None:
        # Without a signer (unit tests, tools) links are written unsigned, as before signing.
        self.signer = signer
        super().__init__(env=env)
        # Concurrent saves share a transaction (engine/store/groupcommit.py); 1 writes each alone.
        self.group_commit = GroupCommit(self._record, group_commit_max) if group_commit_max > 1 else None
        self.personal_data: PersonalData | None = None
        if key_store is not None:
            self.seal_personal_data(key_store)

    def save(self, *objs: Any, **kwargs: Any) -> list[Any]:
        if self.group_commit is None or kwargs:
            return super().save(*objs, **kwargs)
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        processing.collect_events(*objs)
        recordings = self.group_commit.write(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    def construct_mapper(self) -> Mapper[UUID]:
        base = super().construct_mapper()
        return ChainMapper(base.transcoder, base.compressor, base.cipher)

    # Every stored event is a signed link in its aggregate's hash chain (engine/store/chain.py),
    # and snapshots are signed and trusted only when they match the chain (engine/store/snapshots.py).

    def construct_event_store(self) -> EventStore[UUID]:
        return ChainedEventStore(self.mapper, self.recorder, signer=self.signer)

    def construct_snapshot_store(self) -> EventStore[UUID]:
        if self.signer is None or not isinstance(self.events, ChainedEventStore):
            return super().construct_snapshot_store()
        recorder = self.factory.aggregate_recorder(purpose="snapshots")
        return SignedSnapshotStore(self.mapper, recorder, self.events, self.signer)

    def construct_repository(self) -> Repository[UUID]:
        repository = super().construct_repository()
        if self.signer is not None:
            # The library's repository as its environment configured it, loading snapshots as evidence.
            evidence = object.__new__(EvidenceRepository)
            evidence.__dict__.update(repository.__dict__)
            repository = evidence
        # No snapshot round trip for short histories (engine/store/reading.py).
        return with_short_histories(repository, self.snapshotting_intervals or {})

    def construct_transcoder(self) -> Transcoder:
        """Stored JSON encoded by orjson, in the library's format (engine/store/transcoding.py)."""
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def is_never_snapshotted(self, cls: type[Any]) -> bool:
        return bool(self.snapshotting_intervals) and not any(
            issubclass(c, cls) for c in self.snapshotting_intervals)

    def get_never_snapshotted(self, aggregate_id: UUID) -> Any:
        """An aggregate of a type that is never snapshotted, from its events alone (one round
        trip); AggregateNotFoundError if there is none."""
        repository = self.repository
        assert isinstance(repository, ShortHistoryRepository)
        return repository.get_unsnapshotted(aggregate_id)

    def seal_personal_data(self, keys: KeyStore) -> None:
        """Seal personal fields per customer from now on (engine/store/personal.py)."""
        self.personal_data = PersonalData(keys)
        self.mapper.personal = self.personal_data  # type: ignore[attr-defined]

    def current_position(self) -> int:
        """The notification log's last position (0 when empty)."""
        return self.recorder.max_notification_id() or 0

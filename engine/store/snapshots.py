"""Snapshots as evidence: signed, bound to the chain head they summarise, refused when either fails.

A snapshot saves replaying a long history, so a forged one would change what every command
and every audit read sees. Each snapshot is stored as

    b"SOS2" + recorded chain head (32: the hash of the event at its version)
            + key id (8) + Ed25519 signature (64) + payload
    signature over b"serviceorder-snapshot-v2\\n" + SHA-256(
        f"{aggregate id}\\n{version}\\n{topic}\\n" + recorded head + SHA-256(payload))

Loading (``EvidenceRepository``) uses a snapshot only when its signature holds and its
recorded head is the hash of the stored event at its version; otherwise it logs
``snapshot_refused`` and replays the events. ``check_snapshots`` compares every snapshot of
an aggregate with the state replayed from its events (what ``audit verify`` reports).
"""

from __future__ import annotations

import hashlib
import json
from itertools import chain
from typing import Any, Iterable, Sequence
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.persistence import EventStore, Mapper, Recording, StoredEvent
from eventsourcing.utils import resolve_topic

from engine.store.chain import ChainedEventStore, read_link
from engine.store.verification import Break
from engine.store.signing import KEY_ID_BYTES, Keyring, Signer

log = structlog.get_logger(__name__)

SNAPSHOT_MAGIC = b"SOS2"
_HEADER = len(SNAPSHOT_MAGIC) + 32 + KEY_ID_BYTES + 64
_DOMAIN = b"serviceorder-snapshot-v2\n"


def snapshot_message(aggregate_id: str, version: int, topic: str, head: bytes, payload: bytes) -> bytes:
    return _DOMAIN + hashlib.sha256(f"{aggregate_id}\n{version}\n{topic}\n".encode() + head
                                    + hashlib.sha256(payload).digest()).digest()


def snapshot_problem(stored: StoredEvent, keyring: Keyring | None) -> tuple[str | None, bytes | None, bytes]:
    """(what is wrong with a stored snapshot or None, its recorded head, its payload)."""
    state = stored.state
    if state[:4] != SNAPSHOT_MAGIC:
        return "it is not signed", None, state
    head, key_id, signature, payload = state[4:36], state[36:44], state[44:108], state[_HEADER:]
    if keyring is None:
        return None, head, payload
    if key_id not in keyring:
        return f"it is signed by key {key_id.hex()}, none of the engine's keys", head, payload
    message = snapshot_message(str(stored.originator_id), stored.originator_version, stored.topic, head, payload)
    if not keyring.verify(key_id, signature, message):
        return "its signature does not hold (edited or forged)", head, payload
    return None, head, payload


def _with_payload(stored: StoredEvent, payload: bytes) -> StoredEvent:
    return StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                       topic=stored.topic, state=payload)


class SignedSnapshotStore(EventStore[Any]):
    """The snapshot store: signs each snapshot with the head it summarises; gives back only
    snapshots whose signature holds (the head is checked by the repository, which reads it
    anyway)."""

    def __init__(self, mapper: Mapper[Any], recorder: Any, events: ChainedEventStore, signer: Signer) -> None:
        super().__init__(mapper, recorder)
        self.events = events
        self.signer = signer

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[Any]]:
        signed = []
        for s in map(self.mapper.to_stored_event, domain_events):
            head = self.events.link_at(s.originator_id, s.originator_version)
            message = snapshot_message(str(s.originator_id), s.originator_version, s.topic, head, s.state)
            signed.append(_with_payload(s, SNAPSHOT_MAGIC + head + self.signer.key_id + self.signer.sign(message)
                                        + s.state))
        self.recorder.insert_events(signed, **kwargs)
        return []

    def trusted(self, originator_id: Any, lte: int | None) -> tuple[Any, bytes] | None:
        """(the latest snapshot at or before ``lte`` if its signature holds, its recorded head)."""
        found = self.recorder.select_events(originator_id, desc=True, limit=1, lte=lte)
        if not found:
            return None
        problem, head, payload = snapshot_problem(found[0], self.signer.keyring)
        if problem is not None or head is None:
            # One taken before signing is expected after an upgrade (the next one is signed).
            (log.info if head is None else log.warning)(
                "snapshot_refused", aggregate_id=str(originator_id), version=found[0].originator_version,
                reason=problem)
            return None
        return self.mapper.to_domain_event(_with_payload(found[0], payload)), head

    def get(self, originator_id: Any, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
            limit: int | None = None) -> Any:
        stored = self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        return [self.mapper.to_domain_event(_with_payload(s, payload)) for s in stored
                for problem, _, payload in [snapshot_problem(s, self.signer.keyring)] if problem is None]


class EvidenceRepository(Repository[Any]):
    """The library's repository, starting from a snapshot only when it is the engine's own
    summary of the stored events: signed, and recording the hash of the event at its version."""

    def _reconstruct_aggregate(self, aggregate_id: Any, version: int | None, projector_func: Any) -> Any:
        events = self.event_store
        snapshots = self.snapshot_store
        if not isinstance(events, ChainedEventStore) or not isinstance(snapshots, SignedSnapshotStore):
            return super()._reconstruct_aggregate(aggregate_id, version, projector_func)
        found = snapshots.trusted(aggregate_id, version)
        snapshot = None
        if found is None:
            stored = events.select_linked(aggregate_id, lte=version)
        else:
            snapshot, head = found
            # One read from the snapshot's own version: its first event proves the recorded head.
            stored = events.select_linked(aggregate_id, gt=snapshot.originator_version - 1, lte=version)
            if stored and stored[0].originator_version == snapshot.originator_version \
                    and read_link(stored[0].state).own == head:
                stored = stored[1:]
            else:
                log.warning("snapshot_refused", aggregate_id=str(aggregate_id), version=snapshot.originator_version,
                            reason="its recorded chain head is not the stored event's hash")
                snapshot, stored = None, events.select_linked(aggregate_id, lte=version)
        aggregate = projector_func(None, chain([snapshot] if snapshot else [],
                                               map(events.mapper.to_domain_event, stored)))
        if aggregate is None:
            raise AggregateNotFoundError(f"Aggregate {aggregate_id!r} version {version!r} not found.")
        return aggregate


def snapshot_originators(recorder: Any) -> list[UUID]:
    """Every aggregate that has a snapshot, read from the library's snapshot table."""
    datastore, table = recorder.datastore, recorder.events_table_name
    schema = getattr(datastore, "schema", None)
    name = f'"{schema}"."{table}"' if schema else f'"{table}"'
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT DISTINCT originator_id FROM {name}")
        return sorted(UUID(str(row["originator_id"])) for row in cursor.fetchall())


def check_snapshots(app: Any, aggregate_id: UUID, stored_events: Sequence[StoredEvent],
                    keyring: Keyring | None) -> tuple[Break | None, int]:
    """Compare every snapshot of an aggregate with its stored events: signed, recording the
    head at its version, and equal to the state replayed from the events up to it.
    (The first problem, the number of snapshots checked.)"""
    if app.snapshots is None:
        return None, 0
    snaps = list(app.snapshots.recorder.select_events(aggregate_id))
    if not snaps:
        return None, 0
    key = str(aggregate_id)
    heads = {s.originator_version: s.state[36:68] for s in stored_events}
    last = max(heads, default=0)
    wanted: dict[int, Any] = {}
    for snap in snaps:
        version = snap.originator_version
        problem, head, payload = snapshot_problem(snap, keyring)
        if version > last:
            return Break(key, version, "missing", f"a snapshot at version {version}, but the events end at "
                         f"version {last}: events after it were deleted"), 0
        if head is None:  # taken before signing: never loaded, but still compared with the events
            wanted[version] = app.snapshots.mapper.to_domain_event(snap)
            continue
        if problem is not None:
            return Break(key, version, "snapshot_forged", f"the snapshot at version {version}: {problem}"), 0
        if head != heads.get(version):
            return Break(key, version, "snapshot_forged", f"the snapshot at version {version} records a chain "
                         "head that is not the stored event's hash"), 0
        wanted[version] = app.snapshots.mapper.to_domain_event(_with_payload(snap, payload))
    return _compare_with_replay(app, key, stored_events, wanted), len(wanted)


def _compare_with_replay(app: Any, key: str, stored_events: Iterable[StoredEvent], wanted: dict[int, Any]
                         ) -> Break | None:
    aggregate, last = None, max(wanted)
    for stored in stored_events:
        event = app.mapper.to_domain_event(stored)
        aggregate = event.mutate(aggregate)
        snapshot = wanted.get(stored.originator_version)
        if snapshot is None:
            continue
        replayed = type(snapshot).take(aggregate)
        # Equal dicts are the rule; only unequal ones are compared field by field as JSON
        # (a tuple replayed where the stored snapshot decoded a list is no difference).
        # Topics are compared as the classes they name: a class that moved keeps its old topic.
        differs = resolve_topic(snapshot.topic) is not resolve_topic(replayed.topic) or (
            snapshot.state != replayed.state and _fields(snapshot.state) != _fields(replayed.state))
        if differs:
            fields = sorted(k for k in set(snapshot.state) | set(replayed.state)
                            if _fields({k: snapshot.state.get(k)}) != _fields({k: replayed.state.get(k)}))
            return Break(key, stored.originator_version, "snapshot_differs",
                         f"the snapshot at version {stored.originator_version} differs from the state replayed "
                         f"from the events in {', '.join(fields) or 'its type'}")
        if stored.originator_version == last:
            break
    return None


def _fields(state: dict[str, Any]) -> str:
    return json.dumps(state, sort_keys=True, default=str)

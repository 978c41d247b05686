"""Tamper evidence: every stored event is a link in its aggregate's hash chain.

The canonical form hashed is what is *stored*, not the decoded event, so a compressed or
encrypted payload verifies without its key:

    hash = SHA-256( b"serviceorder-chain-v1\\n"
                    + previous hash (32 bytes; 32 zero bytes for version 1)
                    + f"{aggregate id}\\n{version}\\n{topic}\\n" (UTF-8)
                    + payload )

where ``payload`` is the state bytes the library's mapper produced (transcoded, then
compressed and encrypted if configured). The stored state is ``MAGIC + previous hash +
hash + payload``: the link travels with the event in the same row, written in the same
insert, so no event can be stored without its link.

Verifying walks a chain from version 1 and names the first broken link: a missing version
(deleted), a link that does not follow its predecessor (reordered or inserted), a payload
that does not match its hash (edited). Rewriting a whole chain from some point on (editing
and re-hashing every later event) is caught by comparing heads with an exported digest.
``tools/verify_bundle.py`` repeats this computation with the standard library only.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any, Iterable, Sequence

from eventsourcing.persistence import EventStore, Mapper, Notification, Recording, StoredEvent

from engine.store.personal import PersonalData

MAGIC = b"SOC1"
GENESIS = bytes(32)
HEADER = len(MAGIC) + 64
_DOMAIN = b"serviceorder-chain-v1\n"


def link_hash(previous: bytes, aggregate_id: str, version: int, topic: str, payload: bytes) -> bytes:
    return hashlib.sha256(_DOMAIN + previous + f"{aggregate_id}\n{version}\n{topic}\n".encode() + payload).digest()


def seal(previous: bytes, stored: StoredEvent) -> StoredEvent:
    """The stored event with its link: previous hash and own hash in front of the payload."""
    own = link_hash(previous, str(stored.originator_id), stored.originator_version, stored.topic, stored.state)
    return StoredEvent(originator_id=stored.originator_id, originator_version=stored.originator_version,
                       topic=stored.topic, state=MAGIC + previous + own + stored.state)


def unseal(state: bytes) -> tuple[bytes | None, bytes | None, bytes]:
    """(previous hash, own hash, payload); hashes are None for a state with no link."""
    if state[:len(MAGIC)] != MAGIC:
        return None, None, state
    return state[4:36], state[36:68], state[68:]


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain."""

    aggregate_id: str
    version: int
    kind: str  # missing | out_of_order | edited | unchained
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {"aggregate_id": self.aggregate_id, "version": self.version, "kind": self.kind, "detail": self.detail}


@dataclass(frozen=True)
class ChainReport:
    aggregate_id: str
    events: int
    head_version: int
    head_hash: str | None
    broken: Break | None

    def as_dict(self) -> dict[str, Any]:
        return {"aggregate_id": self.aggregate_id, "events": self.events, "head_version": self.head_version,
                "head_hash": self.head_hash, "intact": self.broken is None,
                "broken": None if self.broken is None else self.broken.as_dict()}


def check_link(aggregate_id: str, expected: int, previous: bytes, event: Any) -> tuple[Break | None, bytes]:
    """Check that ``event`` is the link after ``previous`` (version ``expected``): the first
    problem found, and the event's own hash."""
    version = event.originator_version
    prev, own, payload = unseal(event.state)
    if version != expected:
        if version > expected:
            return Break(aggregate_id, expected, "missing",
                         f"expected version {expected}, found {version}: events are missing (deleted)"), b""
        return Break(aggregate_id, version, "out_of_order",
                     f"expected version {expected}, found {version}: versions repeat or go backwards"), b""
    if own is None or prev is None:
        return Break(aggregate_id, version, "unchained", "the stored event carries no chain link"), b""
    if prev != previous:
        return Break(aggregate_id, version, "out_of_order",
                     f"its link names previous hash {prev.hex()[:16]}…, but version {version - 1} hashes to "
                     f"{previous.hex()[:16]}… (reordered, inserted, or an earlier event was replaced)"), b""
    if link_hash(prev, aggregate_id, version, event.topic, payload) != own:
        return Break(aggregate_id, version, "edited",
                     "its content does not match its hash (edited after it was stored)"), b""
    return None, own


def verify_chain(aggregate_id: str, stored: Iterable[Any]) -> ChainReport:
    """Check one aggregate's stored events (in version order) from version 1."""
    previous, version, count = GENESIS, 0, 0
    for event in stored:
        count += 1
        broken, own = check_link(aggregate_id, version + 1, previous, event)
        if broken is not None:
            return ChainReport(aggregate_id, count, version, previous.hex() if version else None, broken)
        previous, version = own, version + 1
    return ChainReport(aggregate_id, count, version, previous.hex() if count else None, None)


class ChainMapper(Mapper[Any]):
    """The library's mapper, reading past the chain link in front of each payload, and
    sealing personal fields per customer when given ``personal`` (engine/personal.py)."""

    personal: PersonalData | None = None

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if self.personal is not None:
            state = vars(domain_event)
            sealed = self.personal.seal_state(type(domain_event).__name__, state, state.get("originator_id"))
            if sealed is not state:
                clone = object.__new__(type(domain_event))
                object.__setattr__(clone, "__dict__", sealed)
                domain_event = clone
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent | Notification) -> Any:
        _, _, payload = unseal(stored_event.state)
        if payload is not stored_event.state:
            stored_event = StoredEvent(originator_id=stored_event.originator_id,
                                       originator_version=stored_event.originator_version,
                                       topic=stored_event.topic, state=payload)
        event = super().to_domain_event(stored_event)
        if self.personal is not None:
            object.__setattr__(event, "__dict__", self.personal.open_state(vars(event)))
        return event


class ChainedEventStore(EventStore[Any]):
    """An event store that links every event it stores to its aggregate's previous one.

    The previous hash comes from a cache of recently read or written heads, or else from
    the store itself. Two writers racing on one aggregate compute links on the same
    previous event; the store's version check lets only one of them in.
    """

    def __init__(self, mapper: Mapper[Any], recorder: Any, cache_size: int = 50_000) -> None:
        super().__init__(mapper, recorder)
        self._heads: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[Any]]:
        plain = [self.mapper.to_stored_event(e) for e in domain_events]
        sealed: list[StoredEvent] = []
        heads: dict[str, tuple[int, bytes]] = {}
        for s in plain:
            key = str(s.originator_id)
            version, previous = heads.get(key) or (s.originator_version - 1, self._previous(s))
            sealed_event = seal(previous, s)
            sealed.append(sealed_event)
            heads[key] = (s.originator_version, sealed_event.state[36:68])
        notification_ids = self.recorder.insert_events(sealed, **kwargs)
        for key, (version, own) in heads.items():
            self._remember(key, version, own)
        recordings = []
        if notification_ids:
            for d, s, n_id in zip(domain_events, sealed, notification_ids, strict=True):
                recordings.append(Recording(d, Notification(originator_id=s.originator_id,
                                                            originator_version=s.originator_version,
                                                            topic=s.topic, state=s.state, id=n_id)))
        return recordings

    def get(self, originator_id: Any, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
            limit: int | None = None) -> Any:
        stored = self.recorder.select_events(originator_id=originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        for s in stored:
            _, own, _ = unseal(s.state)
            if own is not None:
                self._remember(str(s.originator_id), s.originator_version, own)
        return map(self.mapper.to_domain_event, stored)

    def _previous(self, stored: StoredEvent) -> bytes:
        version = stored.originator_version - 1
        if version < 1:
            return GENESIS
        with self._lock:
            cached = self._heads.get((str(stored.originator_id), version))
        if cached is not None:
            return cached
        found = self.recorder.select_events(stored.originator_id, gt=version - 1, lte=version)
        if not found:
            return GENESIS  # the store will refuse the version gap anyway
        _, own, payload = unseal(found[0].state)
        # An event stored before chaining began starts a chain from its content.
        return own if own is not None else link_hash(GENESIS, str(stored.originator_id), version,
                                                     found[0].topic, payload)

    def _remember(self, aggregate_id: str, version: int, own: bytes) -> None:
        with self._lock:
            self._heads[(aggregate_id, version)] = own
            self._heads.move_to_end((aggregate_id, version))
            while len(self._heads) > self._cache_size:
                self._heads.popitem(last=False)

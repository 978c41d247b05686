"""Tamper evidence: every stored event is a signed link in its aggregate's hash chain.

What is hashed is what is *stored* (transcoded, then compressed and encrypted if configured),
so an encrypted payload verifies without its key. With the engine's signing key
(engine/signing.py) an event is stored as ``b"SOC2" + previous + hash + key id (8) +
signature (64) + payload``, where

    hash = SHA-256( b"serviceorder-chain-v2\n" + previous hash (32 zero bytes for version 1)
                    + f"{aggregate id}\n{version}\n{topic}\n" (UTF-8) + SHA-256(payload) )
    signature = Ed25519( b"serviceorder-event-v2\n" + hash )

Hashing the payload's digest lets a bundle show another customer's event as its digest and
still verify every link. Events from before signing are ``b"SOC1" + previous + hash +
payload`` (``link_hash``: the v1 hash over the payload itself), reported as unsigned. The
link is written in the same row, by the same insert, as the event.

Verifying walks a chain from version 1 and names the first wrong version: missing
(deleted), out of order (swapped), edited (content differs from its hash), forged (the
signature does not hold: inserted, appended or re-chained without the key), unknown key,
unsigned after signed. A truncated tail is caught by anchors (engine/anchors.py).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any, Iterable, Sequence

from eventsourcing.persistence import EventStore, Mapper, Notification, Recording, StoredEvent

from engine.store.personal import PersonalData
from engine.store.signing import KEY_ID_BYTES, Signer

MAGIC = b"SOC1"
SIGNED = b"SOC2"
GENESIS = bytes(32)
HEADER = len(MAGIC) + 64
SIGNED_HEADER = len(SIGNED) + 64 + KEY_ID_BYTES + 64
_DOMAIN = b"serviceorder-chain-v1\n"
_DOMAIN2 = b"serviceorder-chain-v2\n"
SIGN_DOMAIN = b"serviceorder-event-v2\n"


def link_hash(previous: bytes, aggregate_id: str, version: int, topic: str, payload: bytes) -> bytes:
    """The v1 (unsigned) link's hash, over the payload itself."""
    return hashlib.sha256(_DOMAIN + previous + f"{aggregate_id}\n{version}\n{topic}\n".encode() + payload).digest()


def signed_link_hash(previous: bytes, aggregate_id: str, version: int, topic: str, payload_digest: bytes) -> bytes:
    """The v2 (signed) link's hash, over the payload's SHA-256."""
    return hashlib.sha256(_DOMAIN2 + previous + f"{aggregate_id}\n{version}\n{topic}\n".encode()
                          + payload_digest).digest()


def seal(previous: bytes, stored: StoredEvent, signer: Signer | None = None) -> StoredEvent:
    """The stored event with its link in front of the payload: signed when given a signer."""
    aggregate_id, version, payload = str(stored.originator_id), stored.originator_version, stored.state
    if signer is None:
        own = link_hash(previous, aggregate_id, version, stored.topic, payload)
        state = MAGIC + previous + own + payload
    else:
        own = signed_link_hash(previous, aggregate_id, version, stored.topic, hashlib.sha256(payload).digest())
        state = SIGNED + previous + own + signer.key_id + signer.sign(SIGN_DOMAIN + own) + payload
    return StoredEvent(originator_id=stored.originator_id, originator_version=version, topic=stored.topic,
                       state=state)


@dataclass(slots=True)
class Link:
    """The parts of a stored state: its link (None when it has none) and the payload."""

    previous: bytes | None
    own: bytes | None
    key_id: bytes | None
    signature: bytes | None
    payload: bytes


def read_link(state: bytes) -> Link:
    magic = state[:4]
    if magic == SIGNED:
        return Link(state[4:36], state[36:68], state[68:76], state[76:140], state[SIGNED_HEADER:])
    if magic == MAGIC:
        return Link(state[4:36], state[36:68], None, None, state[HEADER:])
    return Link(None, None, None, None, state)


def unseal(state: bytes) -> tuple[bytes | None, bytes | None, bytes]:
    """(previous hash, own hash, payload); hashes are None for a state with no link."""
    link = read_link(state)
    return link.previous, link.own, link.payload


def payload_of(state: bytes) -> bytes:
    magic = state[:4]
    return state[SIGNED_HEADER:] if magic == SIGNED else state[HEADER:] if magic == MAGIC else state


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
        event = self.to_sealed_domain_event(stored_event)
        if self.personal is not None:
            object.__setattr__(event, "__dict__", self.personal.open_state(vars(event)))
        return event

    def to_sealed_domain_event(self, stored_event: StoredEvent | Notification) -> Any:
        """The event with its personal fields as stored: sealed, as the relay publishes them."""
        payload = payload_of(stored_event.state)
        if payload is not stored_event.state:
            stored_event = StoredEvent(originator_id=stored_event.originator_id,
                                       originator_version=stored_event.originator_version,
                                       topic=stored_event.topic, state=payload)
        return super().to_domain_event(stored_event)


class ChainedEventStore(EventStore[Any]):
    """An event store that links every event it stores to its aggregate's previous one, and
    signs each link when given a signer.

    The previous hash comes from a cache of recently read or written heads, or else from
    the store itself. Two writers racing on one aggregate compute links on the same
    previous event; the store's version check lets only one of them in.
    """

    def __init__(self, mapper: Mapper[Any], recorder: Any, cache_size: int = 50_000,
                 signer: Signer | None = None) -> None:
        super().__init__(mapper, recorder)
        self.signer = signer
        self._heads: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Recording[Any]]:
        plain = [self.mapper.to_stored_event(e) for e in domain_events]
        sealed: list[StoredEvent] = []
        heads: dict[str, tuple[int, bytes]] = {}
        for s in plain:
            key = str(s.originator_id)
            version, previous = heads.get(key) or (s.originator_version - 1,
                                                   self.link_at(s.originator_id, s.originator_version - 1))
            sealed_event = seal(previous, s, self.signer)
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
        return map(self.mapper.to_domain_event, self.select_linked(originator_id, gt=gt, lte=lte, desc=desc,
                                                                   limit=limit))

    def select_linked(self, originator_id: Any, *, gt: int | None = None, lte: int | None = None,
                      desc: bool = False, limit: int | None = None) -> Sequence[StoredEvent]:
        """The stored events (links included), remembering their hashes for the next write."""
        stored = self.recorder.select_events(originator_id=originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        for s in stored:
            if s.state[:4] in (SIGNED, MAGIC):
                self._remember(str(s.originator_id), s.originator_version, s.state[36:68])
        return stored

    def link_at(self, originator_id: Any, version: int) -> bytes:
        """The hash of the event at ``version`` (genesis before version 1)."""
        if version < 1:
            return GENESIS
        with self._lock:
            cached = self._heads.get((str(originator_id), version))
        if cached is not None:
            return cached
        found = self.recorder.select_events(originator_id, gt=version - 1, lte=version)
        if not found:
            return GENESIS  # the store will refuse the version gap anyway
        link = read_link(found[0].state)
        # An event stored before chaining began starts a chain from its content.
        return link.own if link.own is not None else link_hash(GENESIS, str(originator_id), version,
                                                               found[0].topic, link.payload)

    def _remember(self, aggregate_id: str, version: int, own: bytes) -> None:
        with self._lock:
            self._heads[(aggregate_id, version)] = own
            self._heads.move_to_end((aggregate_id, version))
            while len(self._heads) > self._cache_size:
                self._heads.popitem(last=False)

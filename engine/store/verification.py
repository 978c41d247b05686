"""Checking chains: the first wrong version of an aggregate's stored events.

Every link and hash is checked (engine/chain.py has the format); of the signatures, the
head's, which vouches for every link before it. When the head's signature or a link fails,
the signatures are checked one by one, so that a forgery (an inserted or re-chained event)
is named at its own version, not at the genuine event after it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable

from engine.store.chain import GENESIS, SIGN_DOMAIN, Link, link_hash, read_link, signed_link_hash
from engine.store.signing import Keyring


@dataclass(frozen=True)
class Break:
    """The first broken link of a chain."""

    aggregate_id: str
    version: int
    kind: str  # missing | out_of_order | edited | forged | unknown_key | unsigned | unchained | snapshot_*
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
    signed: int = 0  # signed events (the head's signature vouches for them all)
    unsigned: int = 0  # events written before signing existed (not a break)
    snapshots: int = 0  # snapshots checked against the replayed state

    def as_dict(self) -> dict[str, Any]:
        return {"aggregate_id": self.aggregate_id, "events": self.events, "head_version": self.head_version,
                "head_hash": self.head_hash, "intact": self.broken is None,
                "signed_events": self.signed, "unsigned_events": self.unsigned, "snapshots_checked": self.snapshots,
                "broken": None if self.broken is None else self.broken.as_dict()}


def check_link(aggregate_id: str, expected: int, previous: bytes, event: Any, keyring: Keyring | None = None,
               after_signed: bool = False) -> tuple[Break | None, Link]:
    """Check that ``event`` is the link after ``previous`` (version ``expected``), written by
    the engine (its signature holds under ``keyring``): the first problem found, and the link.
    ``after_signed``: an earlier event of the chain was signed, so this one must be too."""
    version = event.originator_version
    link = read_link(event.state)
    if version != expected:
        if version > expected:
            return Break(aggregate_id, expected, "missing",
                         f"expected version {expected}, found {version}: events are missing (deleted)"), link
        return Break(aggregate_id, version, "out_of_order",
                     f"expected version {expected}, found {version}: versions repeat or go backwards"), link
    if link.own is None or link.previous is None:
        return Break(aggregate_id, version, "unchained", "the stored event carries no chain link"), link
    if link.previous != previous:
        return Break(aggregate_id, version, "out_of_order",
                     f"its link names previous hash {link.previous.hex()[:16]}…, but version {version - 1} hashes "
                     f"to {previous.hex()[:16]}… (reordered, or an earlier event was replaced)"), link
    if link.key_id is None:
        if link_hash(link.previous, aggregate_id, version, event.topic, link.payload) != link.own:
            return Break(aggregate_id, version, "edited",
                         "its content does not match its hash (edited after it was stored)"), link
        if after_signed:
            return Break(aggregate_id, version, "unsigned",
                         "an unsigned event after signed ones: written by something other than the engine"), link
        return None, link
    digest = hashlib.sha256(link.payload).digest()
    if signed_link_hash(link.previous, aggregate_id, version, event.topic, digest) != link.own:
        return Break(aggregate_id, version, "edited",
                     "its content does not match its hash (edited after it was stored)"), link
    return check_signature(aggregate_id, version, link, keyring), link


def check_signature(aggregate_id: str, version: int, link: Link, keyring: Keyring | None) -> Break | None:
    if keyring is None or link.key_id is None or link.signature is None:
        return None
    if link.key_id not in keyring:
        return Break(aggregate_id, version, "unknown_key",
                     f"signed by key {link.key_id.hex()}, which is none of the engine's keys (forged)")
    if not keyring.verify(link.key_id, link.signature, SIGN_DOMAIN + (link.own or b"")):
        return Break(aggregate_id, version, "forged",
                     "its signature does not hold: written, inserted or re-hashed without the engine's key")
    return None


def verify_chain(aggregate_id: str, stored: Iterable[Any], keyring: Keyring | None = None) -> ChainReport:
    """Check one aggregate's stored events (in version order) from version 1.

    Links and hashes are checked for every event; of the signatures, the head's, which
    vouches for every link before it. Only when it (or a link) fails are the signatures
    checked one by one, so that a forgery is named at its own version."""
    previous, version, count, unsigned = GENESIS, 0, 0, 0
    signed: list[tuple[int, Link]] = []
    for event in stored:
        count += 1
        broken, link = check_link(aggregate_id, version + 1, previous, event, None, bool(signed))
        if broken is not None:
            forged = first_forged(aggregate_id, signed, keyring) if signed else None
            return ChainReport(aggregate_id, count, version, previous.hex() if version else None,
                               forged or broken, len(signed), unsigned)
        assert link.own is not None
        if link.key_id is None:
            unsigned += 1
        else:
            signed.append((version + 1, link))
        previous, version = link.own, version + 1
    broken = None
    if signed and check_signature(aggregate_id, signed[-1][0], signed[-1][1], keyring) is not None:
        broken = first_forged(aggregate_id, signed, keyring)
    return ChainReport(aggregate_id, count, version, previous.hex() if count else None, broken, len(signed), unsigned)


def first_forged(aggregate_id: str, signed: list[tuple[int, Link]], keyring: Keyring | None) -> Break | None:
    return next((b for v, link in signed if (b := check_signature(aggregate_id, v, link, keyring))), None)

"""Anchors: signed records of every event's hash, kept outside the database.

Signatures stop anyone without the key from forging; they cannot show that an event was
*deleted* from the end of a chain, nor stop someone who stole the key. Anchors do: each
is a signed document listing the hash of every event stored in a range of the
notification log,

    {"format": "serviceorder-anchor-v1", "after": 1200, "position": 3200, "taken_at": ...,
     "previous": <id of the anchor before it>, "events": 2000,
     "chains": [[aggregate id, first version, [hash, hash, ...]], ...],
     "key_id": ..., "public_key": ..., "signature": ...}

published to a Kafka topic (streams/anchors.py) periodically and on demand, and
exportable to a file. Anchors follow one another with no gap (``after`` is the previous
anchor's ``position``, ``previous`` its id), so together they hold every event's hash.
``check_anchors`` compares the store with every anchor and names, per aggregate, the first
version whose hash differs (rewritten) or that is gone (deleted, truncated).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable
from uuid import UUID

from engine.store.chain import read_link
from engine.store.signing import Keyring, Signer, key_id_of

ANCHOR_FORMAT = "serviceorder-anchor-v1"
_SIGNED_DOCUMENT = b"serviceorder-document-v1\n"


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_document(document: dict[str, Any], signer: Signer) -> dict[str, Any]:
    """The document with the engine's signature over its canonical JSON (digests, anchors)."""
    public = signer.keyring.public_keys([signer.key_id])[signer.key_id.hex()]
    unsigned = {**document, "key_id": signer.key_id.hex(), "public_key": public}
    signature = signer.sign(_SIGNED_DOCUMENT + hashlib.sha256(canonical(unsigned)).digest())
    return {**unsigned, "signature": signature.hex()}


def document_problem(document: dict[str, Any], keyring: Keyring | None) -> str | None:
    """What is wrong with a signed document's signature, or None if it holds."""
    fields = {k: v for k, v in document.items() if k != "signature"}
    try:
        key_id, public, signature = (bytes.fromhex(document[k]) for k in ("key_id", "public_key", "signature"))
    except (KeyError, TypeError, ValueError):
        return "it is not signed"
    if key_id_of(public) != key_id:
        return "its key id does not name its public key"
    if keyring is None:
        return "no keys to check its signature with"
    if key_id not in keyring:
        return f"it is signed by key {key_id.hex()}, none of the engine's keys"
    if not keyring.verify(key_id, signature, _SIGNED_DOCUMENT + hashlib.sha256(canonical(fields)).digest()):
        return "its signature does not hold (the document was altered)"
    return None


def anchor_id(anchor: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(anchor)).hexdigest()


def build_anchors(app: Any, after: int, previous: str | None, now: datetime, signer: Signer,
                  max_events: int = 2_000) -> list[dict[str, Any]]:
    """Signed anchors for every event stored after position ``after``, at most
    ``max_events`` each (a Kafka message stays well under the broker's 1 MB default)."""
    anchors: list[dict[str, Any]] = []
    while True:
        notes = app.recorder.select_notifications(start=after + 1, limit=max_events)
        if not notes:
            return anchors
        chains: dict[str, list[Any]] = {}
        for n in notes:
            key = str(n.originator_id)
            entry = chains.setdefault(key, [key, n.originator_version, []])
            own = read_link(n.state).own
            entry[2].append(own.hex() if own is not None else None)
        anchor = sign_document({"format": ANCHOR_FORMAT, "after": after, "position": notes[-1].id,
                                "taken_at": now.isoformat(), "previous": previous, "events": len(notes),
                                "chains": list(chains.values())}, signer)
        anchors.append(anchor)
        after, previous = notes[-1].id, anchor_id(anchor)


def check_anchors(app: Any, anchors: Iterable[dict[str, Any]], keyring: Keyring | None) -> dict[str, Any]:
    """Check the store against every anchor: each anchor signed and following the one before,
    and every event it lists still stored with the same hash. Names, per aggregate, the first
    version that was rewritten or is missing."""
    problems: list[str] = []
    first_wrong: dict[str, dict[str, Any]] = {}
    count = events = 0
    after, previous = 0, None
    for anchor in anchors:
        count += 1
        where = f"anchor {count} (positions {anchor.get('after')} to {anchor.get('position')})"
        if anchor.get("format") != ANCHOR_FORMAT:
            problems.append(f"{where}: not a {ANCHOR_FORMAT} document")
            continue
        problem = document_problem(anchor, keyring)
        if problem is not None:
            problems.append(f"{where}: {problem}")
            continue
        if anchor["after"] != after or anchor["previous"] != previous:
            problems.append(f"{where}: does not follow the anchor before it (an anchor is missing)")
        after, previous = anchor["position"], anchor_id(anchor)
        for aggregate_id, first, hashes in anchor["chains"]:
            events += len(hashes)
            _compare(app, aggregate_id, first, hashes, first_wrong)
    rewritten = sorted(first_wrong.values(), key=lambda r: (r["aggregate_id"], r["version"]))
    return {"anchors": count, "anchored_position": after, "events_checked": events,
            "intact": not problems and not rewritten and count > 0, "rewritten": rewritten,
            "problems": problems if count else ["no anchors were published"]}


def _compare(app: Any, aggregate_id: str, first: int, hashes: list[str | None],
             first_wrong: dict[str, dict[str, Any]]) -> None:
    known = first_wrong.get(aggregate_id)
    if known is not None and known["version"] <= first:
        return
    last = first + len(hashes) - 1
    stored = {s.originator_version: read_link(s.state).own
              for s in app.recorder.select_events(UUID(aggregate_id), gt=first - 1, lte=last)}
    for version, expected in enumerate(hashes, first):
        own = stored.get(version)
        if version in stored and (own.hex() if own is not None else None) == expected:
            continue
        if known is not None and known["version"] < version:
            return
        first_wrong[aggregate_id] = {
            "aggregate_id": aggregate_id, "version": version, "kind": "rewritten" if version in stored else "missing",
            "detail": f"version {version} was anchored but is gone from the store (deleted or truncated)"
            if version not in stored else f"the anchored hash of version {version} is {str(expected)[:16]}…, the "
            f"store's is {own.hex()[:16] if own else None}… (rewritten after it was anchored)"}
        return

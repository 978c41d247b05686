"""Audit bundles: a claim's evidence in one signed file that anyone can check without the service.

The body is canonical JSON; its first line names the format, the SHA-256 of the body, and
the engine's Ed25519 signature over that digest, so the subject, the list of chains and
every readable copy are bound into what was signed:

    serviceorder-audit-bundle-v2 sha256=<hex> key=<key id> signature=<hex>

The body lists in ``manifest`` every chain the bundle must hold (aggregate, relation, head
version, head hash) and carries each chain from version 1 to its head. Minimal disclosure:
only the events that concern the subject are carried in full (stored bytes and a readable
copy); every other event of a chain it needs is a hash-only entry (version, topic, previous
hash, payload digest, hash, key id, signature; no data), so each link still verifies and
nothing of other customers leaks. Readable copies are decoded from the stored payload with
personal fields withheld (they are sealed per customer: engine/personal.py), so
``tools/verify_bundle.py`` can compare every field of every copy with the signed event.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from engine.store.anchors import canonical
from engine.store.chain import read_link
from engine.domain.errors import InvalidCommand
from engine.store.personal import SEALED
from engine.store.signing import Signer

BUNDLE_FORMAT = "serviceorder-audit-bundle-v2"
BUNDLE_DOMAIN = b"serviceorder-bundle-v2\n"
WITHHELD = {"withheld": "personal data, sealed under the customer's key"}
_SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta", "class_version"}
# Whose events a claim's bundle carries in full: its own, its complaint's, and the job or
# order that complaint names; of other aggregates only the events in the claim's story.
FULLY_DISCLOSED = {"subject", "complaint", "referenced"}


def _untag(obj: dict[str, Any]) -> Any:
    """The library's JSON transcoder tags non-JSON values as {"_type_": ..., "_data_": ...}."""
    if set(obj) == {"_type_", "_data_"}:
        return str(UUID(obj["_data_"])) if obj["_type_"] == "uuid_hex" else obj["_data_"]
    return obj


def readable_copy(topic: str, payload: bytes) -> dict[str, Any] | None:
    """What the stored payload says, as tools/verify_bundle.py decodes it; None when the
    payload is compressed or encrypted (then only the chain vouches for it)."""
    try:
        state = json.loads(payload, object_hook=_untag)
    except (UnicodeDecodeError, ValueError):
        return None
    data = {k: WITHHELD if isinstance(v, dict) and v.get(SEALED) == 1 else v
            for k, v in state.items() if k not in _SKIP}
    return {"event_type": topic.rsplit(".", 1)[-1], "event_version": state.get("class_version", 1),
            "recorded_at": state.get("timestamp"), "meta": state.get("meta") or {}, "data": data}


def _entry(stored: Any, disclosed: bool) -> dict[str, Any]:
    link = read_link(stored.state)
    if disclosed or link.own is None:
        view = readable_copy(stored.topic, link.payload)
        return {"version": stored.originator_version, "topic": stored.topic,
                "stored": base64.b64encode(stored.state).decode(),
                "view": view if view is not None else {"unreadable": "the payload is compressed or encrypted"}}
    entry = {"version": stored.originator_version, "topic": stored.topic, "withheld": True,
             "previous": (link.previous or b"").hex(), "hash": link.own.hex()}
    if link.key_id is None:
        # An unsigned (pre-signing) event's hash covers its payload itself: its link is shown
        # as it is, and the verifier says it cannot recompute it.
        return entry
    return {**entry, "payload_sha256": hashlib.sha256(link.payload).hexdigest(), "key_id": link.key_id.hex(),
            "signature": (link.signature or b"").hex()}


def export_bundle(app: Any, signer: Signer | None, subject_id: UUID, relations: dict[str, str],
                  story_events: set[tuple[str, int]], now: datetime) -> bytes:
    """The signed bundle of ``subject_id`` and the chains of ``relations`` ({aggregate: relation})."""
    if signer is None:
        raise InvalidCommand("bundles are signed with the engine's key, and this engine has none")
    chains: list[dict[str, Any]] = []
    manifest: list[list[Any]] = []
    key_ids: set[bytes] = {signer.key_id}
    for aggregate_id, relation in relations.items():
        stored = list(app.recorder.select_events(UUID(aggregate_id)))
        full = relation in FULLY_DISCLOSED
        events = [_entry(s, full or (aggregate_id, s.originator_version) in story_events) for s in stored]
        key_ids |= {k for s in stored if (k := read_link(s.state).key_id) is not None}
        head = read_link(stored[-1].state).own if stored else None
        manifest.append([aggregate_id, relation, len(stored), head.hex() if head else None])
        chains.append({"aggregate_id": aggregate_id, "relation": relation, "events": events})
    subject_type = chains[0]["events"][0]["topic"].split(":")[-1].split(".")[0] if chains[0]["events"] else None
    body = canonical({"format": BUNDLE_FORMAT, "subject": str(subject_id), "subject_type": subject_type,
                      "exported_at": now.astimezone(timezone.utc).isoformat(),
                      "store_position": app.current_position(), "manifest": manifest,
                      "public_keys": signer.keyring.public_keys(key_ids), "chains": chains})
    digest = hashlib.sha256(body).digest()
    signature = signer.sign(BUNDLE_DOMAIN + digest)
    return (f"{BUNDLE_FORMAT} sha256={digest.hex()} key={signer.key_id.hex()} signature={signature.hex()}\n"
            ).encode() + body

"""The CloudEvents 1.0 envelope (JSON, structured mode) of every published event.

An envelope is derived purely from the stored event, so republishing the same event after
a crash or a broker reset produces the same bytes and, above all, the same ``id``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
_EVENT_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:event")
_NAMESPACE_BYTES = _EVENT_ID_NAMESPACE.bytes
# Library bookkeeping and our metadata travel as envelope attributes, not in data.
NOT_DATA = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "meta"})
_META_EXTENSIONS = {
    "actor": "actor",
    "request_id": "requestid",
    "correlation_id": "correlationid",
    "causation_id": "causationid",
    "reason": "reason",
}


def event_id(aggregate_id: UUID | str, version: int) -> str:
    """Stable id of the event at ``version`` of ``aggregate_id``: the same on every republish.

    ``str(uuid5(namespace, f"{aggregate_id}:{version}"))``, computed without building UUID
    objects (a fifth of the relay's cost of building an envelope)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + f"{aggregate_id}:{version}".encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def schema_uri(category: str, event_type: str, version: int) -> str:
    return f"urn:serviceorder:schema:{category}:{event_type}:v{version}"


def _plain(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def build(
    *,
    event: Any,
    event_type: str,
    category: str,
    aggregate_type: str,
    position: int,
    source_prefix: str,
) -> dict[str, Any]:
    """The envelope of a domain event (its personal fields as they are in it)."""
    return assemble(aggregate_id=event.originator_id, version=event.originator_version,
                    time=event.timestamp.isoformat(), meta=getattr(event, "meta", None),
                    data={k: _plain(v) for k, v in vars(event).items() if k not in NOT_DATA},
                    event_type=event_type, category=category, aggregate_type=aggregate_type,
                    class_version=getattr(type(event), "class_version", 1), position=position,
                    source_prefix=source_prefix)


def assemble(
    *,
    aggregate_id: Any,
    version: int,
    time: str,
    meta: dict[str, Any] | None,
    data: dict[str, Any],
    event_type: str,
    category: str,
    aggregate_type: str,
    class_version: int,
    position: int,
    source_prefix: str,
) -> dict[str, Any]:
    """The envelope from its parts, ``data`` already plain (streams/stored_envelopes.py
    builds them from the stored bytes)."""
    subject = str(aggregate_id)
    envelope: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": event_id(subject, version),
        "source": f"{source_prefix}/{category}",
        "type": f"serviceorder.{category}.{event_type}",
        "subject": subject,
        "time": time,
        "datacontenttype": "application/json",
        "aggregatetype": aggregate_type,
        "aggregateversion": version,
        "position": position,
        # The schema of ``data``, versioned with the event class (docs/events.md, Compatibility).
        "dataschema": schema_uri(category, event_type, class_version),
    }
    if meta:
        for key, attribute in _META_EXTENSIONS.items():
            value = meta.get(key)
            if value:
                envelope[attribute] = value
    envelope["data"] = data
    return envelope


def encode(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()


class MalformedEnvelope(ValueError):
    pass


REQUIRED = ("specversion", "id", "source", "type", "subject", "time", "aggregateversion", "position", "data")


def decode(raw: bytes) -> dict[str, Any]:
    """Parse and check an envelope; anything else on our topics is refused, not guessed at."""
    try:
        envelope = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEnvelope(f"not JSON: {exc}") from None
    if not isinstance(envelope, dict):
        raise MalformedEnvelope("not a JSON object")
    missing = [k for k in REQUIRED if k not in envelope]
    if missing:
        raise MalformedEnvelope(f"missing attributes: {', '.join(missing)}")
    if envelope["specversion"] != SPECVERSION:
        raise MalformedEnvelope(f"unsupported specversion {envelope['specversion']!r}")
    return envelope


def id_of(raw: bytes) -> str | None:
    """The id of an envelope, or None if ``raw`` is not one."""
    try:
        return str(decode(raw)["id"])
    except MalformedEnvelope:
        return None


def short_type(envelope: dict[str, Any]) -> str:
    """``serviceorder.orders.OrderPlaced`` -> ``OrderPlaced``."""
    return str(envelope["type"]).rsplit(".", 1)[-1]

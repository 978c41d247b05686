"""The envelope of a stored event, built the cheap way where that gives the same bytes.

The careful way (``careful_envelope``) turns the stored record into a domain event, as the
library does (its JSON decoder with a Python hook per object, upcasters, UUID and datetime
objects), then back into plain values for the envelope. Most published events need none of
that: their stored payload is plain JSON (no compressor, no cipher), written at their class's
current version (no upcaster runs), with no personal field (nothing sealed to keep as
stored). For those, ``fast_envelope`` parses the payload with orjson and converts the
library's three tagged values (``uuid_hex``, ``decimal_str``, ``datetime_iso``) straight to
the strings the careful way ends with. Anything else, or anything the fast way does not
recognise, takes the careful way. The fast way's envelope is encoded by orjson, which
writes the same bytes as the standard library for the values it lets through.
tests/streams/test_stored_envelopes.py checks, for every public event type and version and
for arbitrary values, that both ways give the same message bytes.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Notification
from eventsourcing.utils import resolve_topic

from contract.names import CATEGORIES, PERSONAL_EVENT_FIELDS
from engine.store.chain import payload_of
from engine.store.personal import SEALED
from engine.store.topics import category_of, event_type_name
from streams import envelope

# The library's default transcodings, which are all the engine registers.
_PLAIN_TAGS = frozenset({"uuid_hex", "decimal_str", "datetime_iso"})
_SEALED_MARK = f'"{SEALED}"'.encode()
_NOT_DATA = envelope.NOT_DATA | {"class_version"}
# Where orjson writes a float as the standard library does (``repr``); outside it, Python
# writes ``1e-05`` where orjson writes ``0.00001``. Also, orjson reads an integer beyond 64
# bits as a float (both found by the property test): such values go the careful way.
_FLOATS_ALIKE = (1e-4, 1e16)


class NotPlain(Exception):
    """The payload holds something only the careful way turns into an envelope."""


def stored_as_plain_json(mapper: Any) -> bool:
    """Whether this mapper stores payloads as plain JSON the fast way can read: no
    compression, no encryption (``COMPRESSOR_TOPIC``, ``CIPHER_TOPIC``), the library's
    JSON format with no transcoding beyond its default three."""
    transcoder = getattr(mapper, "transcoder", None)
    return (getattr(mapper, "compressor", None) is None and getattr(mapper, "cipher", None) is None
            and isinstance(transcoder, JSONTranscoder) and set(transcoder.names) <= _PLAIN_TAGS)


def careful_envelope(app: Any, n: Notification, source_prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The category and CloudEvents envelope of a stored event, or None if it is internal.

    Personal fields stay sealed, as stored, under their customer's key (streams/sealed.py):
    destroying the key erases them on the topics and in every copy downstream too."""
    category = category_of(n.topic)
    if category is None:
        return None
    return category, envelope.build(event=app.mapper.to_sealed_domain_event(n), event_type=event_type_name(n.topic),
                                    category=category, aggregate_type=CATEGORIES[category],
                                    position=n.id, source_prefix=source_prefix)


def _tagged(value: dict[str, Any]) -> Any:
    """A value of the library's ``{"_type_", "_data_"}`` form as the careful way's string."""
    tag, data = value["_type_"], value["_data_"]
    if tag not in _PLAIN_TAGS or type(data) is not str:
        raise NotPlain(f"transcoding {tag!r}")
    if tag == "uuid_hex":
        return str(UUID(data))
    if tag == "datetime_iso":
        return datetime.fromisoformat(data).isoformat()
    return str(Decimal(data))


def _plain(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        if len(value) == 2 and "_type_" in value and "_data_" in value:
            return _tagged(value)
        return {k: _plain(v) for k, v in value.items()}
    if kind is list:
        return [_plain(v) for v in value]
    if kind is float and value and not _FLOATS_ALIKE[0] <= abs(value) < _FLOATS_ALIKE[1]:
        raise NotPlain("a float orjson writes otherwise, or an integer beyond 64 bits")
    return value


def fast_envelope(n: Notification, source_prefix: str) -> tuple[str, dict[str, Any]] | None:
    """The envelope built from the stored bytes; NotPlain where the careful way is needed.
    The caller has checked the mapper (``stored_as_plain_json``)."""
    category = category_of(n.topic)
    if category is None:
        return None
    event_type = event_type_name(n.topic)
    if event_type in PERSONAL_EVENT_FIELDS:
        raise NotPlain("personal fields are sealed")
    payload = payload_of(n.state)
    if _SEALED_MARK in payload:
        raise NotPlain("a sealed value")
    try:
        state = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:  # NaN, integers beyond 64 bits, lone surrogates...
        raise NotPlain(str(exc)) from None
    version = getattr(resolve_topic(n.topic), "class_version", 1)
    if type(state) is not dict or state.get("class_version", 1) != version:
        raise NotPlain("an upcaster applies")
    if "timestamp" not in state:
        raise NotPlain("no timestamp")
    meta = state.get("meta")
    return category, envelope.assemble(
        aggregate_id=n.originator_id, version=n.originator_version, time=_plain(state["timestamp"]),
        meta=_plain(meta) if meta else None, data={k: _plain(v) for k, v in state.items() if k not in _NOT_DATA},
        event_type=event_type, category=category, aggregate_type=CATEGORIES[category], class_version=version,
        position=n.id, source_prefix=source_prefix)


class EnvelopeMaker:
    """The relay's messages: the fast way where it applies, else the careful way."""

    def __init__(self, app: Any, source_prefix: str, *, fast: bool = True) -> None:
        self.app = app
        self.source_prefix = source_prefix
        self.fast = fast and stored_as_plain_json(app.mapper)
        self.fast_count = self.careful_count = 0

    def message(self, n: Notification) -> tuple[str, str, bytes] | None:
        """(category, event id, envelope bytes), or None for an internal event. The fast
        way encodes with orjson, whose bytes equal the standard library's for every value
        it lets through (strings, integers within 64 bits, floats in ``_FLOATS_ALIKE``)."""
        if self.fast:
            try:
                found = fast_envelope(n, self.source_prefix)
            except NotPlain:
                pass
            else:
                self.fast_count += 1
                return None if found is None else (found[0], found[1]["id"], orjson.dumps(found[1]))
        self.careful_count += 1
        careful = careful_envelope(self.app, n, self.source_prefix)
        return None if careful is None else (careful[0], careful[1]["id"], envelope.encode(careful[1]))

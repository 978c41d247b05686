"""Text every view database can store, for events already on the topics.

The API refuses control characters and lone surrogates at the edge, but events stored
before it did, or written by other producers, may still carry them: PostgreSQL refuses a
NUL in text ("A string literal cannot contain NUL") and no UTF-8 store holds a lone
surrogate, so such an event would fail in every view that keeps the text and park its
aggregate. The worker therefore hands views a copy of each envelope whose strings have
NUL and lone surrogates replaced by U+FFFD (the replacement character). The event store
and the topics keep the text as it was written; only the views' copy is changed, the same
way on every rebuild. Other control characters are stored as they are (both databases
hold them).
"""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def storable_text(text: str) -> str:
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable(value: Any) -> Any:
    """``value`` with every string (keys too) made storable; the same object when nothing changes."""
    if type(value) is str:
        return storable_text(value) if _UNSTORABLE.search(value) else value
    if type(value) is dict:
        items = [(storable(k), storable(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(items, value.items())):
            return value
        return dict(items)
    if type(value) is list:
        changed = [storable(v) for v in value]
        return value if all(a is b for a, b in zip(changed, value)) else changed
    return value


def storable_envelope(raw: bytes, envelope: dict[str, Any]) -> dict[str, Any]:
    """The envelope decoded from ``raw``, made storable. Only an escaped NUL or surrogate
    (``\\u0000``, ``\\ud800``) can produce unstorable text, so most records skip the walk."""
    if b"\\u" not in raw:
        return envelope
    return storable(envelope)

"""Personal data sealed per customer, so it can be erased without touching the history.

Customer names, phones, addresses and site locations are encrypted field by field as
events are stored, each customer under their own key (AES-256-GCM). Erasing a customer's
personal data destroys their keys: the events stay, every hash chain still verifies (a
chain hashes the stored bytes, ciphertext included), and from then on each sealed field
reads as ``ERASED`` (``None`` for a location) in replays, rebuilds, republished topics and
audit views.

A sealed field is stored as ``{"_pii_": 1, "k": key id, "n": nonce, "c": ciphertext}`` (base64),
the field's name bound in as associated data, so a ciphertext cannot be moved to another
field. Keys live in a key store outside the event store (sqlstore/keystore.py).
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any, Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contract.names import ERASED, PERSONAL_EVENT_FIELDS, erased_value

__all__ = ["ERASED", "PERSONAL_EVENT_FIELDS", "KeyStore", "PersonalData", "erased_value", "subject_of"]

SEALED = "_pii_"
# Aggregate class -> the same fields in its snapshots' state.
PERSONAL_STATE_FIELDS: dict[str, tuple[str, ...]] = {
    "ServiceOrder": ("delivery_address", "site_location"),
    "FieldJob": ("site_address", "site_location"),
    "ConsumableReminder": ("site_address", "site_location"),
    "Customer": ("name", "phone", "address"),
    "HotlineCall": ("phone",),
}


class KeyStore(Protocol):
    def active_key(self, subject: str) -> tuple[str, bytes]:
        """(key id, key) to seal new data of ``subject`` with; made on first use."""

    def key(self, key_id: str) -> bytes | None:
        """The key, or None once it was destroyed."""

    def erase(self, subject: str, *, by: str) -> int:
        """Destroy every key of ``subject``; how many were destroyed."""


def subject_of(customer_id: str | None, aggregate_id: Any) -> str:
    """Whose data it is: the customer; an anonymous call is its own subject."""
    return f"customer:{customer_id}" if customer_id else f"aggregate:{aggregate_id}"


class PersonalData:
    """Seals and opens the personal fields of a stored event's state."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def seal_state(self, event_class: str, state: dict[str, Any], aggregate_id: Any) -> dict[str, Any]:
        fields = PERSONAL_EVENT_FIELDS.get(event_class)
        if fields:
            return self._seal(state, fields, subject_of(state.get("customer_id"), aggregate_id))
        if event_class == "Snapshot" and isinstance(state.get("state"), dict):
            aggregate = str(state.get("topic", "")).rsplit(":", 1)[-1]
            inner = state["state"]
            fields = PERSONAL_STATE_FIELDS.get(aggregate, ())
            if fields:
                return {**state, "state": self._seal(inner, fields, subject_of(inner.get("customer_id"), aggregate_id))}
        return state

    def open_state(self, state: dict[str, Any]) -> dict[str, Any]:
        """The state with its sealed fields (and its snapshot state's) opened; the same dict
        when nothing in it is sealed, which is most events."""
        sealed = _sealed_keys(state)
        inner = state.get("state")
        inner_sealed = _sealed_keys(inner) if type(inner) is dict else []
        if not sealed and not inner_sealed:
            return state
        opened = dict(state)
        for k in sealed:
            opened[k] = self._open(k, state[k])
        if inner_sealed:
            assert isinstance(inner, dict)
            opened["state"] = {**inner, **{k: self._open(k, inner[k]) for k in inner_sealed}}
        return opened

    def _seal(self, state: dict[str, Any], fields: tuple[str, ...], subject: str) -> dict[str, Any]:
        present = [f for f in fields if state.get(f) is not None and not is_sealed(state[f])]
        if not present:
            return state
        key_id, key = self.keys.active_key(subject)
        sealed = dict(state)
        for name in present:
            nonce = os.urandom(12)
            plain = json.dumps(state[name], separators=(",", ":"), ensure_ascii=False).encode()
            cipher = AESGCM(key).encrypt(nonce, plain, name.encode())
            sealed[name] = {SEALED: 1, "k": key_id, "n": base64.b64encode(nonce).decode(),
                            "c": base64.b64encode(cipher).decode()}
        return sealed

    def _open(self, name: str, value: dict[str, Any]) -> Any:
        key = self.keys.key(value["k"])
        if key is None:
            return erased_value(name)
        plain = AESGCM(key).decrypt(base64.b64decode(value["n"]), base64.b64decode(value["c"]), name.encode())
        return json.loads(plain)


def _sealed_keys(state: dict[str, Any]) -> list[str]:
    return [k for k, v in state.items() if type(v) is dict and is_sealed(v)]


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SEALED) == 1 and "k" in value

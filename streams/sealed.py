"""Opening the sealed personal fields of published events: the helper for consumers
entitled to personal data.

The relay publishes personal fields (names, phones, addresses, site locations; the list is
``engine.store.personal.PERSONAL_EVENT_FIELDS`` and the AsyncAPI document marks them
``x-sealed``) exactly as the event store holds them: sealed under their customer's key,
``{"_pii_": 1, "k": key id, "n": nonce, "c": ciphertext}`` (AES-256-GCM, the field's name
as associated data). Erasing a customer destroys the key, so every copy, on the topics, in
a republish, in a downstream consumer's own store, reads as erased from then on.

A consumer that may see personal data opens envelopes with a key store on the service's
state database (the same ``personal_keys`` table the service seals with)::

    from sqlstore.keystore import SqlKeyStore
    from streams.sealed import PersonalFields
    from sqlstore.sqldb import Database

    fields = PersonalFields(SqlKeyStore(Database(database_url, schema)))
    envelope = fields.open(envelope)   # data["delivery_address"] is text, or "[erased]"

An erased text field reads ``"[erased]"`` and an erased site location ``None``. A consumer
that is not entitled to personal data simply leaves the sealed objects alone.
"""

from __future__ import annotations

from typing import Any

from engine.store.personal import KeyStore, PersonalData, is_sealed


class PersonalFields:
    def __init__(self, keys: KeyStore) -> None:
        self._personal = PersonalData(keys)

    def open(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """The envelope with the sealed fields of its data opened (the same dict when none is)."""
        data = envelope.get("data")
        if type(data) is not dict:
            return envelope
        opened = self._personal.open_state(data)
        return envelope if opened is data else {**envelope, "data": opened}


def sealed_fields(data: dict[str, Any]) -> list[str]:
    """The names of the fields of ``data`` that are sealed."""
    return [k for k, v in data.items() if is_sealed(v)]

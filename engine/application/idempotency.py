"""Idempotency records: the first result of a command sent with an Idempotency-Key.

A record is an aggregate saved in the same atomic write as the command's own events, so a
command and the memory of having done it can never be separated. Its id is derived from
the principal and the key, so two racing retries collide on the store's uniqueness check
and exactly one of them wins. Records are internal: the relay does not publish them.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import IdempotencyKeyReused, InvalidCommand
from engine.store.topics import register_moved

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:idempotency")


def record_id(principal: str, key: str) -> UUID:
    if not key or len(key) > 200 or not key.isprintable():
        raise InvalidCommand("Idempotency-Key must be 1 to 200 printable characters")
    return uuid5(_NAMESPACE, f"{principal}\x00{key}")


def fingerprint(command: str, payload: Any) -> str:
    body = json.dumps([command, payload], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


class IdempotencyRecord(Aggregate):
    @staticmethod
    def create_id(principal: str, key: str, **_: Any) -> UUID:
        return record_id(principal, key)

    @event("CommandRecorded")
    def __init__(self, principal: str, key: str, fingerprint: str, result: dict[str, Any]) -> None:
        self.principal = principal
        self.key = key
        self.fingerprint = fingerprint
        self.result = result

    def replay(self, fingerprint: str) -> dict[str, Any]:
        if fingerprint != self.fingerprint:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {self.key!r} was first used for a different request; "
                "use a new key for a new command"
            )
        return self.result


# Records stored before issue 16 name the module engine.idempotency.
register_moved("engine.idempotency", sys.modules[__name__])

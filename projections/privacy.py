"""Erasing personal data from the views that hold it.

A view that keeps names, phones, addresses or site locations subclasses
``PersonalDataView``: on ``PersonalDataErased`` it overwrites that customer's personal
columns (``personal_columns``), and it remembers the erasure's store position, so an
older event carrying the data (still on a topic, read late or on another partition) is
scrubbed again as soon as it is applied.

Personal fields arrive sealed under the customer's key (streams/sealed.py); these views,
and only these, open them with the key store they are given. Once the key is destroyed,
the fields open as ``[erased]``, so a rebuild after an erasure never sees the data.
"""

from __future__ import annotations

from typing import Any

from contract.names import ERASED, ERASURE_EVENTS, PERSONAL_EVENT_FIELDS, erased_value
from projections.base import Projection
from projections.storable import storable
from streams.envelope import short_type
from streams.sealed import sealed_fields
from sqlstore.sqldb import Cursor


class SealedWithoutKeys(RuntimeError):
    """A view that shows personal data was built without the key store to open it."""


class PersonalDataView(Projection):
    # table -> {column: SQL expression for its erased value}; every table has customer_id.
    personal_columns: dict[str, dict[str, str]] = {}
    # table -> its column holding the store position of the event that wrote the row.
    position_columns: dict[str, str] = {}

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        env = self.opened(env)
        kind = short_type(env)
        if kind in ERASURE_EVENTS:
            customer_id, position = env["data"]["customer_id"], int(env["position"])
            cur.execute("INSERT INTO projection_erasures (projection, customer_id, position) VALUES (%s, %s, %s) "
                        "ON CONFLICT (projection, customer_id) DO UPDATE SET position = EXCLUDED.position "
                        "WHERE projection_erasures.position < EXCLUDED.position",
                        (self.name, customer_id, position))
            if self._erasures is not None:
                self._erasures[customer_id] = max(self._erasures.get(customer_id, 0), position)
            self.erase(cur, customer_id, position)
            return
        self.apply_event(cur, env)
        customer_id = env["data"].get("customer_id")
        if customer_id and kind in PERSONAL_EVENT_FIELDS:
            erased_at = self._erased_at(cur, customer_id)
            if erased_at is not None and erased_at > int(env["position"]):
                self.erase(cur, customer_id, erased_at)

    # The erasure positions of the customers of the batch being applied, read in one query
    # (prepare_batch); None outside a worker's batch, where each event reads its own.
    _erasures: dict[str, int] | None = None

    def prepare_batch(self, cur: Cursor, envelopes: list[dict[str, Any]]) -> None:
        customers = sorted({str(e["data"]["customer_id"]) for e in envelopes
                            if short_type(e) in PERSONAL_EVENT_FIELDS and e["data"].get("customer_id")})
        self._erasures = {}
        if customers:
            found = cur.execute(
                f"SELECT customer_id, position FROM projection_erasures WHERE projection = %s "
                f"AND customer_id IN ({', '.join(['%s'] * len(customers))})", (self.name, *customers)).fetchall()
            self._erasures = {c: int(p) for c, p in found}

    def _erased_at(self, cur: Cursor, customer_id: str) -> int | None:
        if self._erasures is not None:
            return self._erasures.get(customer_id)
        row = cur.execute("SELECT position FROM projection_erasures WHERE projection = %s AND customer_id = %s",
                          (self.name, customer_id)).fetchone()
        return int(row[0]) if row is not None else None

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        raise NotImplementedError

    def opened(self, env: dict[str, Any]) -> dict[str, Any]:
        """The event with its personal fields opened: text, or ``[erased]`` once the
        customer's key is gone. Without a key store, a sealed field is an error (the event
        parks) rather than a view quietly showing it as erased."""
        if self.personal is not None:
            opened = self.personal.open(env)
            # Opened text was ciphertext when the worker made the envelope storable.
            return env if opened is env else storable(opened)
        sealed = sealed_fields(env["data"])
        if sealed:
            raise SealedWithoutKeys(f"{self.name} was given no key store to open {', '.join(sealed)}")
        return env

    def erase(self, cur: Cursor, customer_id: str, before: int) -> None:
        """Erase what the customer's events before store position ``before`` put in the view;
        in tables with a ``position_columns`` entry, rows of later events (data given after
        the erasure, under a new key) stay whichever order the events arrived in."""
        for table, columns in self.personal_columns.items():
            assignments = ", ".join(f"{column} = {expression}" for column, expression in columns.items())
            params: list[Any] = [ERASED] * sum(expression.count("%s") for expression in columns.values())
            where = "customer_id = %s"
            extra: list[Any] = [customer_id]
            if table in self.position_columns:
                where = f"{where} AND {self.position_columns[table]} < %s"
                extra.append(before)
            cur.execute(f"UPDATE {table} SET {assignments} WHERE {where}", (*params, *extra))


def erased_data(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """An event's data with its personal fields erased (for views that keep whole events)."""
    fields = [f for f in PERSONAL_EVENT_FIELDS.get(event_type, ()) if f in data]
    return {**data, **{f: erased_value(f) for f in fields}}

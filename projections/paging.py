"""Cursor (keyset) paging for the views' lists, and the version each listed row was read at.

A page is the rows after the last one shown, by the list's sort key ending in the row's id:
no OFFSET, so a page costs the same at row ten million as at row ten, and a row added to an
earlier page never shifts a later one. The cursor is the last row's key, JSON in URL-safe
base64: opaque to clients, checked on the way back in (a forged cursor is a 422, not SQL).

Every board row carries ``version``: the aggregate's version as the view last applied it
(``projection_versions``), which the console sends back as ``If-Match``. A command on a
row that changed since the list was read is refused (412) instead of acting on old facts.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Sequence

from sqlstore.sqldb import Database

MAX_LIMIT = 200
MAX_POSITION = 2**63 - 1  # BIGINT: the bound past every store position


class BadCursor(ValueError):
    """A cursor this list did not issue."""


@dataclass(frozen=True)
class Keyset:
    """A list's order: SQL expressions, unique together (the last is the row's id)."""

    columns: tuple[str, ...]
    descending: bool = False

    def after(self, cursor: str | None) -> tuple[str, list[Any]]:
        """`` AND (k1, k2) > (%s, %s)`` for the rows after the cursor ('' on the first page)."""
        if not cursor:
            return "", []
        key = decode(cursor, len(self.columns))
        op = "<" if self.descending else ">"
        return (f" AND ({', '.join(self.columns)}) {op} ({', '.join(['%s'] * len(key))})", key)

    def order_by(self) -> str:
        way = " DESC" if self.descending else ""
        return " ORDER BY " + ", ".join(c + way for c in self.columns)

    def page(self, rows: Sequence[Sequence[Any]], limit: int) -> tuple[list[Sequence[Any]], str | None]:
        """The first ``limit`` rows (the query fetched ``limit + 1``) and the next page's cursor.

        Each row starts with its key columns, in order."""
        shown = list(rows[:limit])
        more = len(rows) > limit
        return shown, encode(shown[-1][:len(self.columns)]) if more and shown else None


def read_page(db: Database, keyset: Keyset, columns: str, source: str, where: str, params: Sequence[Any],
              limit: int, cursor: str | None) -> tuple[list[Sequence[Any]], str | None]:
    """One page of ``SELECT columns FROM source WHERE where`` in the keyset's order, and the
    next page's cursor (None on the last page)."""
    after, key = keyset.after(cursor)
    with db.transaction() as cur:
        rows = cur.execute(f"SELECT {', '.join(keyset.columns)}, {columns} FROM {source} WHERE {where}{after}"
                           f"{keyset.order_by()} LIMIT %s", [*params, *key, limit + 1]).fetchall()
    shown, next_cursor = keyset.page(rows, limit)
    return [r[len(keyset.columns):] for r in shown], next_cursor


def board_page(db: Database, keyset: Keyset, keys: Sequence[str], table: str, projection: str, id_column: str,
               where: str, params: Sequence[Any], limit: int, cursor: str | None
               ) -> tuple[list[dict[str, Any]], str | None]:
    """A page of a board: ``keys`` (the last is ``version``) of the view's ``table`` (aliased
    ``b`` in ``where``, the keyset and ``id_column``), each row with the version its aggregate was read at."""
    columns = ", ".join(f"b.{k}" for k in keys[:-1]) + ", COALESCE(pv.version, 0)"
    rows, next_cursor = read_page(db, keyset, columns, f"{table} b" + version_join(projection, id_column),
                                  where, params, limit, cursor)
    return [dict(zip(keys, r)) for r in rows], next_cursor


def encode(key: Sequence[Any]) -> str:
    raw = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, arity: int) -> list[Any]:
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise BadCursor("the cursor is not one this list issued") from None
    if not isinstance(key, list) or len(key) != arity or not all(
            isinstance(k, (str, int)) and not isinstance(k, bool) for k in key):
        raise BadCursor("the cursor is not one this list issued")
    return key


def version_join(projection: str, id_column: str) -> str:
    """Joins ``pv.version``: the aggregate's version this view applied last.

    ``projection`` is always a view's own constant name, never input."""
    return (f" LEFT JOIN projection_versions pv ON pv.projection = '{projection}' "
            f"AND pv.aggregate_id = {id_column}")


def read_row(db: Database, projection: str, table: str, id_column: str, row_id: str,
             keys: Sequence[str]) -> dict[str, Any] | None:
    """One row of a view's ``table`` by its id, as ``keys`` (``version``: the version the view
    last applied of it, an int), or None if the view does not hold it: a single resource's read."""
    columns = ", ".join("COALESCE(pv.version, 0)" if k == "version" else f"b.{k}" for k in keys)
    with db.read() as cur:
        row = cur.execute(f"SELECT {columns} FROM {table} b{version_join(projection, 'b.' + id_column)} "
                          f"WHERE b.{id_column} = %s", (row_id,)).fetchone()
    if row is None:
        return None
    found = dict(zip(keys, row))
    if "version" in found:
        found["version"] = int(found["version"])
    return found

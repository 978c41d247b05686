"""The cursor our SQL is written for: ``%s`` placeholders on both dialects, and on PostgreSQL
writes held back and sent together (a view's writes cost no round trip of their own)."""

from __future__ import annotations

from typing import Any, Sequence


def _returns_rows(sql: str) -> bool:
    head = sql.lstrip()[:6].upper()
    return head in ("SELECT", "WITH") or "RETURNING" in sql.upper()


class Cursor:
    """Wraps a DB-API cursor so SQL is written once with %s placeholders.

    A ``deferred`` cursor (PostgreSQL) holds back statements that return no rows and sends
    them in one round trip with the next statement that does, or when the transaction
    commits: a view's writes then cost no round trip of their own. Order is kept, so reads
    see the writes before them; an error in a held-back statement surfaces at that later
    statement or at commit, and the transaction rolls back as a whole.
    """

    def __init__(self, raw: Any, dialect: str, deferred: bool = False) -> None:
        self.raw = raw
        self.dialect = dialect
        self.deferred = deferred and dialect == "postgres"
        self._held: list[bytes] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if self.dialect == "sqlite":
            self.raw.execute(sql.replace("%s", "?"), tuple(params))
        elif self.deferred and not _returns_rows(sql):
            self._held.append(self.raw.mogrify(sql, tuple(params)))
        elif self._held:
            self._held.append(self.raw.mogrify(sql, tuple(params)))
            self.flush()
        else:
            self.raw.execute(sql, tuple(params))
        return self

    def flush(self) -> None:
        """Send the held-back statements (the last one's result is the cursor's)."""
        if self._held:
            held, self._held = self._held, []
            self.raw.execute(b";\n".join(held))

    def fetchone(self) -> tuple[Any, ...] | None:
        return self.raw.fetchone()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.raw.fetchall()

    @property
    def rowcount(self) -> int:
        self.flush()
        return self.raw.rowcount

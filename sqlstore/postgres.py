"""Reaching PostgreSQL: its URL, the errors that mean it cannot be reached now, and whether a
pooled connection is still alive."""

from __future__ import annotations

import select
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg2

# Errors that mean "the database cannot be reached now" (not "the statement is wrong"):
# callers answer 503 and retry later; nothing was committed.
UNAVAILABLE: tuple[type[Exception], ...] = (psycopg2.OperationalError, psycopg2.InterfaceError)


@dataclass(frozen=True)
class PostgresURL:
    host: str
    port: int
    dbname: str
    user: str
    password: str

    @classmethod
    def parse(cls, url: str) -> PostgresURL:
        parts = urlparse(url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"not a PostgreSQL URL: {url!r}")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            dbname=unquote(parts.path.lstrip("/")) or "postgres",
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
        )

    def eventsourcing_env(self, schema: str) -> dict[str, str]:
        return {
            "POSTGRES_HOST": self.host,
            "POSTGRES_PORT": str(self.port),
            "POSTGRES_DBNAME": self.dbname,
            "POSTGRES_USER": self.user,
            "POSTGRES_PASSWORD": self.password,
            "POSTGRES_SCHEMA": schema,
        }


def alive(conn: Any) -> bool:
    """Whether an idle connection is still usable, found without a round trip: the server
    sends nothing on an idle connection (no LISTEN) unless it is closing it (a restart, an
    administrator's terminate), so a readable or hung-up socket means it is gone."""
    if conn.closed:
        return False
    try:
        poller = select.poll()
        poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    except (OSError, ValueError, psycopg2.Error):
        return False

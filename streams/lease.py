"""Which of several relays publishes: the one holding the lease; the others wait for it.

Two relays publishing at once would not lose or reorder anything (each publishes in store
order and consumers drop replays by version), but they would duplicate every record. So
every relay first takes the lease, and a standby takes it over when the active one dies:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) held on a connection
  of its own. The server releases it when that session ends: at once when the process is
  killed (the kernel closes its socket), and within about ten seconds when its machine
  vanishes (the session's TCP keepalives, set below).
- SQLite (one machine): an exclusive ``flock`` on a file beside the database, which the
  kernel releases when the process dies. The standard library's ``fcntl`` is enough here;
  a lock-file library would add stale-file handling that ``flock`` does not need.

The holder checks that it still holds the lease before every batch (without a round trip:
a server that ended the session has said so on the socket) and with a round trip every few
seconds; a relay that lost it stops publishing and waits like any standby.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from typing import Any, Protocol

import psycopg2

from sqlstore.sqldb import Database, alive


class Lease(Protocol):
    def try_acquire(self) -> bool:
        """Take the lease if it is free (or already ours); never waits."""

    def held(self) -> bool:
        """Whether this process still holds it (False once it was lost)."""

    def release(self) -> None: ...


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (locks are per database, not per
    schema, so the schema is part of the name)."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresLease:
    # How often the holder proves the session alive with a round trip.
    PROBE_INTERVAL = 2.0

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.key = advisory_key(db.pg.dbname, db.schema, name)
        self._conn: Any = None
        self._holding = False
        self._probed = 0.0

    def try_acquire(self) -> bool:
        if self._holding and self.held():
            return True
        try:
            if self._conn is None:
                self._conn = self.db.session(
                    "-c tcp_keepalives_idle=4 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3")
            with self._conn.cursor() as cur:
                cur.execute("SELECT pg_try_advisory_lock(%s)", (self.key,))
                self._holding = bool(cur.fetchone()[0])
        except psycopg2.Error:
            self.release()
            return False
        self._probed = time.monotonic()
        return self._holding

    def held(self) -> bool:
        if not self._holding or self._conn is None:
            return False
        try:
            if not alive(self._conn):
                raise psycopg2.OperationalError("the lease's session ended")
            if time.monotonic() - self._probed >= self.PROBE_INTERVAL:
                with self._conn.cursor() as cur:
                    cur.execute("SELECT 1")
                self._probed = time.monotonic()
        except psycopg2.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Unlock, then end the session. The server also releases the lock when the session
        ends (when the server is gone, say), but only once its backend has exited, a moment
        after the close: unlocking first frees the lease at once for the next holder."""
        if self._holding and self._conn is not None and not self._conn.closed:
            try:
                with self._conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except psycopg2.Error:
                pass  # the session is gone, and the lock with it
        self._holding = False
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class FileLease:
    def __init__(self, path: os.PathLike[str] | str) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the lock
            self._fd = None


def lease_for(db: Database, name: str) -> Lease:
    if db.dialect == "postgres":
        return PostgresLease(db, name)
    return FileLease(f"{db.path}.{name}.lease")

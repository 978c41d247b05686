"""A thin DB-API layer over PostgreSQL (psycopg2) and SQLite for our own tables: the pool of
connections to one database, its transactions and reads, and JSON columns.

The relay's checkpoint and the read models are plain SQL written once for both dialects:
statements use ``%s`` placeholders and ``INSERT ... ON CONFLICT``, which both speak. The
layer's other names are importable from here too: the cursor (``sqlstore.cursor``), reaching
PostgreSQL (``sqlstore.postgres``) and the LISTEN doorbell (``sqlstore.doorbell``).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psycopg2
import psycopg2.extensions

from sqlstore.cursor import Cursor
from sqlstore.doorbell import Doorbell
from sqlstore.postgres import UNAVAILABLE, PostgresURL, alive

__all__ = ["UNAVAILABLE", "Cursor", "Database", "Doorbell", "PostgresURL", "alive", "dump_json", "load_json"]


class Database:
    """Connections to one database (and, on PostgreSQL, one schema) for one component."""

    def __init__(self, url: str, schema: str = "public", max_connections: int = 20, max_idle: int | None = None,
                 idle_timeout: float = 60.0) -> None:
        self.url = url
        self.schema = schema
        self._local = threading.local()
        # Connections are kept for reuse, as many as were busy at once (up to ``max_idle``):
        # opening one costs a PostgreSQL backend process, and closing every connection beyond
        # a few under load forked ~5 backends a second and cost a third of the API's
        # throughput (benchmarks.http). One unused for ``idle_timeout`` seconds is closed,
        # so that quiet processes do not hold max_connections.
        self._max_idle = max_connections if max_idle is None else max_idle
        self._idle_timeout = idle_timeout
        self._idle: list[tuple[float, Any]] = []  # (returned at, connection), oldest first
        self._idle_lock = threading.Lock()
        self._closed = False
        # At most this many connections at once; a thread waits for a free one (_connect).
        self._max = max_connections
        self._slots = threading.BoundedSemaphore(max_connections)
        if url.startswith(("postgres://", "postgresql://")):
            self.dialect = "postgres"
            self.pg = PostgresURL.parse(url)
        else:
            self.dialect = "sqlite"
            self.path = Path(url.removeprefix("sqlite:///").removeprefix("sqlite://"))
            self.path.parent.mkdir(parents=True, exist_ok=True)

    @property
    def json_type(self) -> str:
        return "JSONB" if self.dialect == "postgres" else "TEXT"

    def _connect(self) -> Any:
        if self.dialect == "postgres":
            # A thread waits for a free connection rather than failing (the limit protects
            # PostgreSQL's max_connections); idle ones are reused, newest first.
            if not self._slots.acquire(timeout=30):
                raise psycopg2.OperationalError(f"no free connection to {self.pg.host} within 30 s "
                                                f"({self._max} in use)")
            try:
                self._close_stale()
                while (conn := self._pop_idle()) is not None:
                    if alive(conn):
                        return conn
                    conn.close()
                return psycopg2.connect(host=self.pg.host, port=self.pg.port, dbname=self.pg.dbname,
                                        user=self.pg.user, password=self.pg.password,
                                        options=f"-c search_path={self.schema}", connect_timeout=10)
            except BaseException:
                self._slots.release()
                raise
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _pop_idle(self) -> Any:
        with self._idle_lock:
            return self._idle.pop()[1] if self._idle else None

    def _drop_idle(self) -> None:
        """Close every idle connection: one connection found the server gone (a restart, a
        network failure), and the others, opened to the same server, are as dead; each one
        handed out would cost a request its answer (a 503)."""
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.close()

    def _close_stale(self) -> None:
        """Close the connections idle for longer than the timeout (the oldest come first)."""
        cutoff = time.monotonic() - self._idle_timeout
        with self._idle_lock:
            count = 0
            while count < len(self._idle) and self._idle[count][0] < cutoff:
                count += 1
            stale = [conn for _, conn in self._idle[:count]]
            del self._idle[:count]
        for conn in stale:
            conn.close()

    def _release(self, conn: Any, broken: bool = False) -> None:
        if self.dialect == "postgres":
            try:
                # A connection that saw the server go away is dropped, not reused: after a
                # PostgreSQL restart every pooled connection is dead.
                lost = bool(conn.closed)  # psycopg2 marks a connection the server dropped
                status = conn.info.transaction_status if not lost else None
                keep = not broken and status == psycopg2.extensions.TRANSACTION_STATUS_IDLE and not self._closed
                if keep:
                    self._close_stale()
                    with self._idle_lock:
                        keep = len(self._idle) < self._max_idle
                        if keep:
                            self._idle.append((time.monotonic(), conn))
                if not keep:
                    conn.close()
                if lost:
                    self._drop_idle()
            finally:
                self._slots.release()
        else:
            conn.close()

    @contextmanager
    def transaction(self, deferred: bool = False, attach: tuple[str, Path] | None = None) -> Iterator[Cursor]:
        """One atomic unit: commits on success, rolls back on any exception.
        ``deferred``: writes are held back and sent together (see Cursor).
        ``attach``: (alias, file) of another SQLite database this transaction also reads
        (SQLite attaches only outside a transaction; the connection is not reused after)."""
        conn = self._connect()
        broken = False
        try:
            if self.dialect == "sqlite":
                if attach is not None:
                    conn.execute(f'ATTACH DATABASE ? AS "{attach[0]}"', (str(attach[1]),))
                # IMMEDIATE takes the write lock up front, so two writers never deadlock
                # upgrading read locks.
                conn.execute("BEGIN IMMEDIATE")
            cur = Cursor(conn.cursor(), self.dialect, deferred)
            try:
                yield cur
                cur.flush()
            except BaseException as error:
                if not isinstance(error, UNAVAILABLE):  # a dead connection cannot roll back
                    conn.rollback()
                raise
            else:
                conn.commit()
        except UNAVAILABLE:
            broken = True
            raise
        finally:
            self._release(conn, broken)

    @contextmanager
    def read(self) -> Iterator[Cursor]:
        """A cursor for one read, outside a transaction block: on PostgreSQL the statement is
        its own transaction, which saves the BEGIN and COMMIT round trips psycopg2 would add
        (the token lookup of every HTTP request). Several statements here do not share a
        snapshot: use ``transaction`` for those."""
        conn = self._connect()
        broken = False
        try:
            if self.dialect == "postgres":
                conn.autocommit = True
            yield Cursor(conn.cursor(), self.dialect)
        except UNAVAILABLE:
            broken = True
            raise
        finally:
            if self.dialect == "postgres" and not conn.closed and not broken:
                try:
                    conn.autocommit = False
                except UNAVAILABLE:
                    broken = True
            self._release(conn, broken)

    def session(self, options: str = "") -> Any:
        """A connection of its own, outside the pool and its limit, in autocommit (PostgreSQL):
        for what lasts as long as a session does (an advisory lock, LISTEN)."""
        conn = psycopg2.connect(host=self.pg.host, port=self.pg.port, dbname=self.pg.dbname, user=self.pg.user,
                                password=self.pg.password, connect_timeout=10,
                                options=f"-c search_path={self.schema} {options}".strip())
        conn.autocommit = True
        return conn

    def ensure_schema(self) -> None:
        if self.dialect == "postgres" and self.schema != "public":
            conn = psycopg2.connect(
                host=self.pg.host, port=self.pg.port, dbname=self.pg.dbname,
                user=self.pg.user, password=self.pg.password, connect_timeout=10,
            )
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            finally:
                conn.close()

    def close(self) -> None:
        self._closed = True
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for _, conn in idle:
            conn.close()


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def load_json(value: Any) -> Any:
    """JSONB comes back parsed from psycopg2; TEXT from SQLite needs parsing."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value

"""A thin DB-API layer over PostgreSQL (psycopg2) and SQLite for our own tables.

The relay's checkpoint and the read models are plain SQL written once for both dialects:
statements use ``%s`` placeholders and ``INSERT ... ON CONFLICT``, which both speak.
"""

from __future__ import annotations

import json
import select
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence
from urllib.parse import unquote, urlparse

import psycopg2
import psycopg2.extensions

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


class Doorbell:
    """Rings when PostgreSQL delivers a NOTIFY on ``channel`` (the event store sends one with
    every write), so a follower of the store wakes at once instead of after its poll interval.

    A missed ring costs only latency: followers still poll. The listening connection is its
    own (LISTEN lasts for a session) and is opened again after a failure; a fresh one rings
    once, since writes may have happened while nobody was listening.
    """

    def __init__(self, db: Database, channel: str) -> None:
        if db.dialect != "postgres":
            raise ValueError("a doorbell needs PostgreSQL (LISTEN/NOTIFY)")
        self.db = db
        self.channel = channel
        self._rang = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name=f"doorbell-{channel}", daemon=True)
        self._thread.start()

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait for a ring (True), ``timeout`` seconds or ``stop`` (False); a ring is consumed."""
        deadline = time.monotonic() + timeout
        while not self._rang.wait(min(0.25, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return False
        self._rang.clear()
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _listen(self) -> None:
        while not self._stop.is_set():
            conn = None
            try:
                conn = self.db.session()
                with conn.cursor() as cur:
                    cur.execute(f'LISTEN "{self.channel}"')
                self._rang.set()
                while not self._stop.is_set():
                    if select.select([conn], [], [], 0.5)[0]:
                        conn.poll()
                        if conn.notifies:
                            conn.notifies.clear()
                            self._rang.set()
            except (psycopg2.Error, OSError):
                self._stop.wait(1.0)
            finally:
                if conn is not None:
                    conn.close()


def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


def load_json(value: Any) -> Any:
    """JSONB comes back parsed from psycopg2; TEXT from SQLite needs parsing."""
    return json.loads(value) if isinstance(value, (str, bytes)) else value

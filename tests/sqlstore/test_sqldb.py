"""Our SQL layer on PostgreSQL: held-back writes and the store's doorbell."""

from __future__ import annotations

import threading
import time
from typing import Iterator

import psycopg2
import pytest

from sqlstore.sqldb import Database, Doorbell


@pytest.fixture
def db(pg_url: str, pg_schema: str) -> Iterator[Database]:
    database = Database(pg_url, pg_schema)
    with database.transaction() as cur:
        cur.execute("CREATE TABLE items (k TEXT PRIMARY KEY, n INTEGER NOT NULL)")
    yield database
    database.close()


def count_round_trips(cur: object, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    sent: list[object] = []
    raw = cur.raw  # type: ignore[attr-defined]
    real = raw.execute

    class Spy:
        def __getattr__(self, name: str) -> object:
            return getattr(raw, name)

        def execute(self, sql: object, params: object = None) -> object:
            sent.append(sql)
            return real(sql, params)

    monkeypatch.setattr(cur, "raw", Spy())
    return sent


def test_held_back_writes_travel_with_the_next_read_and_reads_see_them(db: Database,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with db.transaction(deferred=True) as cur:
        sent = count_round_trips(cur, monkeypatch)
        for n in range(5):
            cur.execute("INSERT INTO items (k, n) VALUES (%s, %s)", (f"k{n}", n))
        cur.execute("UPDATE items SET n = n * 10 WHERE k = %s", ("k4",))
        assert sent == []  # nothing has left the process yet
        total = cur.execute("SELECT SUM(n) FROM items").fetchone()
        assert total == (0 + 1 + 2 + 3 + 40,)
        assert len(sent) == 1  # six writes and the read in one round trip
        cur.execute("INSERT INTO items (k, n) VALUES (%s, %s)", ("it's", 7))  # quoting survives
    with db.transaction() as cur:
        assert cur.execute("SELECT n FROM items WHERE k = %s", ("it's",)).fetchone() == (7,)
        assert cur.execute("SELECT COUNT(*) FROM items").fetchone() == (6,)


def test_an_error_in_a_held_back_write_rolls_the_whole_transaction_back(db: Database) -> None:
    with pytest.raises(psycopg2.IntegrityError):
        with db.transaction(deferred=True) as cur:
            cur.execute("INSERT INTO items (k, n) VALUES (%s, %s)", ("a", 1))
            cur.execute("INSERT INTO items (k, n) VALUES (%s, %s)", ("a", 2))  # duplicate key, held back
            cur.execute("INSERT INTO items (k, n) VALUES (%s, %s)", ("b", 3))
    with db.transaction() as cur:
        assert cur.execute("SELECT COUNT(*) FROM items").fetchone() == (0,)


def test_rowcount_reports_the_last_held_back_statement(db: Database) -> None:
    with db.transaction(deferred=True) as cur:
        cur.execute("INSERT INTO items (k, n) VALUES (%s, %s), (%s, %s)", ("a", 1, "b", 2))
        assert cur.execute("UPDATE items SET n = 0 WHERE k IN ('a', 'b')").rowcount == 2


def test_the_doorbell_rings_on_notify_and_not_otherwise(db: Database) -> None:
    bell = Doorbell(db, f"bell_{db.schema}")
    try:
        assert bell.wait(30)  # a fresh listener rings once: writes may have been missed
        assert not bell.wait(0.3)
        threading.Timer(0.2, lambda: _notify(db, bell.channel)).start()
        started = time.monotonic()
        assert bell.wait(30)
        assert time.monotonic() - started < 2
    finally:
        bell.close()


def _notify(db: Database, channel: str) -> None:
    with db.transaction() as cur:
        cur.execute(f'NOTIFY "{channel}"')


def _backend_pids(db: Database, threads: int) -> set[int]:
    """The server processes that served ``threads`` transactions running at once."""
    barrier = threading.Barrier(threads)
    pids: set[int] = set()

    def work() -> None:
        with db.transaction() as cur:
            pids.add(cur.execute("SELECT pg_backend_pid()").fetchone()[0])
            barrier.wait(10)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return pids


def test_the_pool_keeps_as_many_connections_as_were_busy_at_once(pg_url: str, pg_schema: str) -> None:
    db = Database(pg_url, pg_schema, max_connections=12)
    try:
        first = _backend_pids(db, 10)
        assert len(first) == 10
        # Under the same concurrency again, no new PostgreSQL backend is started.
        assert _backend_pids(db, 10) == first
    finally:
        db.close()


def test_the_pool_closes_connections_idle_beyond_its_timeout(pg_url: str, pg_schema: str) -> None:
    db = Database(pg_url, pg_schema, max_connections=8, idle_timeout=0.3)
    try:
        busy = _backend_pids(db, 6)
        time.sleep(0.5)
        with db.transaction() as cur:  # the next use closes the stale ones
            (pid,) = cur.execute("SELECT pg_backend_pid()").fetchone()
        assert pid not in busy
        deadline = time.monotonic() + 60  # a closed connection's backend exits a moment later
        while True:
            with db.transaction() as cur:
                alive = {r[0] for r in cur.execute("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)",
                                                   (list(busy),)).fetchall()}
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert alive == set()
    finally:
        db.close()


def test_a_read_runs_outside_a_transaction_block_and_leaves_the_connection_as_it_was(db: Database) -> None:
    import psycopg2.extensions as ext

    with db.transaction() as cur:
        cur.execute("INSERT INTO items (k, n) VALUES (%s, %s)", ("a", 1))
    with db.read() as cur:
        assert cur.execute("SELECT n FROM items WHERE k = %s", ("a",)).fetchone() == (1,)
        # No BEGIN was sent, so no COMMIT is owed: one round trip for the lookup.
        assert cur.raw.connection.info.transaction_status == ext.TRANSACTION_STATUS_IDLE
        conn = cur.raw.connection
    assert conn.autocommit is False  # back in the pool as a transactional connection
    with db.transaction() as cur:
        cur.execute("SELECT 1")
        assert cur.raw.connection.info.transaction_status == ext.TRANSACTION_STATUS_INTRANS


def test_the_pool_never_hands_out_a_connection_the_server_has_closed(pg_url: str, pg_schema: str) -> None:
    """After a PostgreSQL restart every idle pooled connection is dead; each one handed out
    would cost a request a 503. The pool sees the server's goodbye on the socket and opens
    a fresh one instead, without a round trip."""
    db = Database(pg_url, pg_schema, max_connections=8)
    try:
        busy = _backend_pids(db, 6)
        admin = db.session()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (list(busy),))
            deadline = time.monotonic() + 60  # as after a restart: the server is done with them
            while time.monotonic() < deadline:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (list(busy),))
                if cur.fetchone() == (0,):
                    break
                time.sleep(0.05)
        admin.close()
        for _ in range(8):
            with db.transaction() as cur:
                (pid,) = cur.execute("SELECT pg_backend_pid()").fetchone()
            assert pid not in busy
    finally:
        db.close()


def test_a_connection_lost_mid_statement_takes_the_idle_ones_with_it(pg_url: str, pg_schema: str) -> None:
    db = Database(pg_url, pg_schema, max_connections=8)
    try:
        busy = _backend_pids(db, 4)
        with pytest.raises(psycopg2.OperationalError):
            with db.transaction() as cur:
                cur.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        assert db._idle == []  # noqa: SLF001 - the others were opened to the same (gone) server
        with db.transaction() as cur:
            (pid,) = cur.execute("SELECT pg_backend_pid()").fetchone()
        assert pid not in busy
    finally:
        db.close()

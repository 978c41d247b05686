"""The relay's lease: one holder at a time, released when its holder dies or its session ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from streams.lease import FileLease, PostgresLease, advisory_key
from sqlstore.sqldb import Database


def test_a_postgres_lease_has_one_holder_and_passes_on_when_its_session_ends(pg_url: str, pg_schema: str) -> None:
    db = Database(pg_url, pg_schema)
    first, second = PostgresLease(db, "relay"), PostgresLease(db, "relay")
    try:
        assert first.try_acquire()
        assert first.try_acquire()  # already ours
        assert not second.try_acquire()
        assert first.held() and not second.held()
        # The server ends the holder's session (a restart, an operator, a dead client).
        killer = db.session()
        with killer.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND classid = ((%s)::bigint >> 32)::bit(32)::int::oid "
                        "AND objid = ((%s)::bigint)::bit(32)::int::oid",
                        (first.key, first.key))
            assert cur.fetchone() == (True,)
        killer.close()
        PostgresLease.PROBE_INTERVAL = 0.0
        assert not first.held()
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        PostgresLease.PROBE_INTERVAL = 2.0
        first.release()
        second.release()
        db.close()


def test_postgres_leases_of_other_schemas_or_names_do_not_meet(pg_url: str, pg_schema: str) -> None:
    assert advisory_key("db", "a", "relay") != advisory_key("db", "b", "relay")
    db = Database(pg_url, pg_schema)
    one, other = PostgresLease(db, "relay-one"), PostgresLease(db, "relay-other")
    try:
        assert one.try_acquire() and other.try_acquire()
    finally:
        one.release()
        other.release()
        db.close()


def test_a_released_postgres_lease_is_free_at_once(pg_url: str, pg_schema: str) -> None:
    db = Database(pg_url, pg_schema)
    first, second = PostgresLease(db, "relay"), PostgresLease(db, "relay")
    try:
        assert first.try_acquire()
        first.release()
        assert not first.held()
        assert second.try_acquire()
    finally:
        second.release()
        db.close()


def test_a_file_lease_has_one_holder_and_passes_on_when_its_process_dies(tmp_path: Path) -> None:
    path = tmp_path / "relay.lease"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; sys.path.insert(0, '.'); from streams.lease import FileLease; "
        f"lease = FileLease({str(path)!r}); assert lease.try_acquire(); print('held', flush=True); time.sleep(600)")],
        stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        waiting = FileLease(path)
        assert not waiting.try_acquire() and not waiting.held()
        holder.kill()
        holder.wait(10)
        assert waiting.try_acquire() and waiting.held()
        another = FileLease(path)  # even in the same process, a second holder waits
        assert not another.try_acquire()
        waiting.release()
        assert another.try_acquire()
        another.release()
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_postgres_lease_without_a_server_is_not_held(tmp_path: Path) -> None:
    db = Database("postgresql://postgres@127.0.0.1:1/none", "public")
    lease = PostgresLease(db, "relay")
    assert not lease.try_acquire()
    assert not lease.held()

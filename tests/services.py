"""Starting the real services the tests need: PostgreSQL (if it is down) and the broker."""

from __future__ import annotations

import glob
import os
import subprocess
import time

import psycopg2
import psycopg2.errors

ADMIN_URL = os.environ.get("SERVICEORDER_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TEST_DB = os.environ.get("SERVICEORDER_TEST_PG_DB", "serviceorder_test")


def _connect(dbname: str = "postgres"):  # noqa: ANN202
    return psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=dbname, connect_timeout=3)


def ensure_postgres(timeout: float = 60.0) -> None:
    """Connect, or start the local cluster the way the machine's docs say and wait for it."""
    try:
        _connect().close()
        return
    except psycopg2.OperationalError:
        pass
    versions = [os.path.basename(p) for p in glob.glob("/etc/postgresql/*")]
    if not versions:
        raise RuntimeError("PostgreSQL is not reachable on 127.0.0.1:5432 and no local cluster is installed")
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "start"], check=False)
    deadline = time.monotonic() + timeout
    while True:
        try:
            _connect().close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def ensure_test_database() -> str:
    ensure_postgres()
    conn = _connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (TEST_DB,))
        if cur.fetchone() is None:
            try:
                cur.execute(f'CREATE DATABASE "{TEST_DB}"')
            except (psycopg2.errors.DuplicateDatabase, psycopg2.errors.UniqueViolation):
                pass  # another test process (pytest-xdist's other worker) created it first
    conn.close()
    return f"postgresql://postgres@127.0.0.1:5432/{TEST_DB}"


def _run_in_test_db(statement: str) -> None:
    conn = _connect(TEST_DB)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(statement)
    conn.close()


def create_schema(name: str) -> None:
    _run_in_test_db(f'CREATE SCHEMA "{name}"')


def drop_schema(name: str) -> None:
    _run_in_test_db(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

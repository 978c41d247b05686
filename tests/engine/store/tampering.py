"""An attacker with write access to the event store's database (but not the signing key):
raw reads and writes of stored events and snapshots, on SQLite or PostgreSQL, bypassing the
engine entirely, plus forgeries computed the way someone who read docs/audit.md would."""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any
from uuid import UUID

import psycopg2

from engine.store.chain import GENESIS, SIGN_DOMAIN, link_hash, read_link, signed_link_hash
from engine.store.signing import Signer
from engine.store.snapshots import SNAPSHOT_MAGIC, snapshot_message


class Tamperer:
    """Direct SQL on the library's tables (the attacker's view of the store)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        datastore = app.recorder.datastore
        self.schema = getattr(datastore, "schema", None)
        self.events = app.recorder.events_table_name
        self.snapshots = app.snapshots.recorder.events_table_name
        self.sqlite_path = None if self.schema else app.env.get("SQLITE_DBNAME")

    def _run(self, sql: str, *params: Any, fetch: bool = False) -> list[Any]:
        if self.schema:
            sql = sql.replace("?", "%s").replace("{events}", f'"{self.schema}"."{self.events}"') \
                .replace("{snapshots}", f'"{self.schema}"."{self.snapshots}"')
            db = psycopg2.connect(_pg_dsn(self.app))
            try:
                with db, db.cursor() as cur:
                    cur.execute(sql, params)
                    return cur.fetchall() if fetch else []
            finally:
                db.close()
        sql = sql.replace("{events}", self.events).replace("{snapshots}", self.snapshots)
        with sqlite3.connect(self.sqlite_path) as db:
            rows = db.execute(sql, [p.hex if isinstance(p, UUID) else p for p in params]).fetchall()
            return rows if fetch else []

    def _id(self, aggregate_id: UUID) -> Any:
        return str(aggregate_id) if self.schema else aggregate_id

    # Events -------------------------------------------------------------------------------

    def state(self, aggregate_id: UUID, version: int) -> bytes:
        rows = self._run("SELECT state FROM {events} WHERE originator_id = ? AND originator_version = ?",
                         self._id(aggregate_id), version, fetch=True)
        return bytes(rows[0][0])

    def topic(self, aggregate_id: UUID, version: int) -> str:
        return self._run("SELECT topic FROM {events} WHERE originator_id = ? AND originator_version = ?",
                         self._id(aggregate_id), version, fetch=True)[0][0]

    def set_state(self, aggregate_id: UUID, version: int, state: bytes) -> None:
        self._run("UPDATE {events} SET state = ? WHERE originator_id = ? AND originator_version = ?",
                  state, self._id(aggregate_id), version)

    def delete(self, aggregate_id: UUID, version: int) -> None:
        self._run("DELETE FROM {events} WHERE originator_id = ? AND originator_version = ?",
                  self._id(aggregate_id), version)

    def renumber(self, aggregate_id: UUID, version: int, to: int) -> None:
        self._run("UPDATE {events} SET originator_version = ? WHERE originator_id = ? AND originator_version = ?",
                  to, self._id(aggregate_id), version)

    def insert(self, aggregate_id: UUID, version: int, topic: str, state: bytes) -> None:
        # PostgreSQL numbers notifications itself; SQLite's rowid is the notification id.
        self._run("INSERT INTO {events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
                  self._id(aggregate_id), version, topic, state)

    def forge(self, aggregate_id: UUID, version: int, topic: str, payload: bytes, previous: bytes,
              key: Signer | None = None) -> bytes:
        """A correctly linked state for ``payload``: signed with ``key`` (the attacker's own, or
        a stolen one), or carrying the key id and signature bytes of a genuine event."""
        own = signed_link_hash(previous, str(aggregate_id), version, topic, hashlib.sha256(payload).digest())
        if key is not None:
            return b"SOC2" + previous + own + key.key_id + key.sign(SIGN_DOMAIN + own) + payload
        # The engine's key id and a genuine signature, copied from the event there or before it.
        genuine = read_link(self.state(aggregate_id, version if self.exists(aggregate_id, version) else version - 1))
        key_id, signature = genuine.key_id or bytes(8), genuine.signature or bytes(64)
        return b"SOC2" + previous + own + key_id + signature + payload

    def forge_unsigned(self, aggregate_id: UUID, version: int, topic: str, payload: bytes, previous: bytes) -> bytes:
        return b"SOC1" + previous + link_hash(previous, str(aggregate_id), version, topic, payload) + payload

    def exists(self, aggregate_id: UUID, version: int) -> bool:
        return bool(self._run("SELECT 1 FROM {events} WHERE originator_id = ? AND originator_version = ?",
                              self._id(aggregate_id), version, fetch=True))

    def rechain(self, aggregate_id: UUID, start: int, end: int, edit: Any, key: Signer | None = None) -> None:
        """Rewrite versions ``start``..``end``, editing each payload and re-hashing every link."""
        previous = read_link(self.state(aggregate_id, start - 1)).own if start > 1 else GENESIS
        assert previous is not None
        for version in range(start, end + 1):
            payload = edit(read_link(self.state(aggregate_id, version)).payload)
            state = self.forge(aggregate_id, version, self.topic(aggregate_id, version), payload, previous, key)
            self.set_state(aggregate_id, version, state)
            previous = read_link(state).own  # type: ignore[assignment]

    # Snapshots ----------------------------------------------------------------------------

    def snapshot_state(self, aggregate_id: UUID, version: int) -> bytes:
        rows = self._run("SELECT state FROM {snapshots} WHERE originator_id = ? AND originator_version = ?",
                         self._id(aggregate_id), version, fetch=True)
        return bytes(rows[0][0])

    def set_snapshot_state(self, aggregate_id: UUID, version: int, state: bytes) -> None:
        self._run("UPDATE {snapshots} SET state = ? WHERE originator_id = ? AND originator_version = ?",
                  state, self._id(aggregate_id), version)

    def resign_snapshot(self, aggregate_id: UUID, version: int, payload: bytes, key: Signer,
                        head: bytes | None = None) -> bytes:
        """A snapshot state for ``payload`` signed by ``key``, recording ``head`` (default: the stored one)."""
        head = head if head is not None else self.snapshot_state(aggregate_id, version)[4:36]
        topic = self._run("SELECT topic FROM {snapshots} WHERE originator_id = ? AND originator_version = ?",
                          self._id(aggregate_id), version, fetch=True)[0][0]
        message = snapshot_message(str(aggregate_id), version, topic, head, payload)
        return SNAPSHOT_MAGIC + head + key.key_id + key.sign(message) + payload


def _pg_dsn(app: Any) -> str:
    env = app.env
    return (f"host={env.get('POSTGRES_HOST')} port={env.get('POSTGRES_PORT') or 5432} "
            f"dbname={env.get('POSTGRES_DBNAME')} user={env.get('POSTGRES_USER')} "
            f"password={env.get('POSTGRES_PASSWORD') or ''}")

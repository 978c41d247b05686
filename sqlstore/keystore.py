"""The key store of personal data (engine/store/personal.py): one AES-256 key per customer.

Kept in the state database, beside the relay's checkpoint, not in the event store: erasing
destroys the key material (the row stays, with who erased it and when, and no key). Keys
are cached in memory for ``cache_seconds``; an erasure is effective at once in the process
that makes it and within that time in every other process (relay, projections).
"""

from __future__ import annotations

import base64
import os
import time
from datetime import datetime, timezone
from threading import Lock
from uuid import uuid4

from sqlstore.sqldb import Database

DDL = """CREATE TABLE IF NOT EXISTS personal_keys (
    key_id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    key_material TEXT,
    created_at TEXT NOT NULL,
    erased_at TEXT,
    erased_by TEXT
)"""
INDEX = "CREATE INDEX IF NOT EXISTS personal_keys_by_subject ON personal_keys (subject)"


class SqlKeyStore:
    def __init__(self, db: Database, cache_seconds: float = 30.0) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._keys: dict[str, tuple[float, bytes | None]] = {}
        self._active: dict[str, tuple[float, str, bytes]] = {}
        self._lock = Lock()
        with db.transaction() as cur:
            cur.execute(DDL)
            cur.execute(INDEX)

    def active_key(self, subject: str) -> tuple[str, bytes]:
        now = time.monotonic()
        with self._lock:
            cached = self._active.get(subject)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1], cached[2]
        with self.db.transaction() as cur:
            row = cur.execute("SELECT key_id, key_material FROM personal_keys WHERE subject = %s "
                              "AND key_material IS NOT NULL ORDER BY created_at, key_id LIMIT 1",
                              (subject,)).fetchone()
            if row is None:
                key_id, key = str(uuid4()), os.urandom(32)
                cur.execute("INSERT INTO personal_keys (key_id, subject, key_material, created_at) "
                            "VALUES (%s, %s, %s, %s)", (key_id, subject, base64.b64encode(key).decode(),
                                                         datetime.now(timezone.utc).isoformat()))
            else:
                key_id, key = row[0], base64.b64decode(row[1])
        with self._lock:
            self._active[subject] = (now, key_id, key)
            self._keys[key_id] = (now, key)
        return key_id, key

    def key(self, key_id: str) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            cached = self._keys.get(key_id)
        if cached and now - cached[0] < self.cache_seconds:
            return cached[1]
        with self.db.transaction() as cur:
            row = cur.execute("SELECT key_material FROM personal_keys WHERE key_id = %s", (key_id,)).fetchone()
        key = base64.b64decode(row[0]) if row and row[0] else None
        with self._lock:
            self._keys[key_id] = (now, key)
        return key

    def erase(self, subject: str, *, by: str) -> int:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT key_id FROM personal_keys WHERE subject = %s AND key_material IS NOT NULL",
                               (subject,)).fetchall()
            cur.execute("UPDATE personal_keys SET key_material = NULL, erased_at = %s, erased_by = %s "
                        "WHERE subject = %s AND key_material IS NOT NULL",
                        (datetime.now(timezone.utc).isoformat(), by, subject))
        now = time.monotonic()
        with self._lock:
            self._active.pop(subject, None)
            for (key_id,) in rows:
                self._keys[key_id] = (now, None)
        return len(rows)

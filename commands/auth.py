"""Bearer tokens: issued, listed, revoked and expiring, stored only as SHA-256 digests.

A token is 256 random bits (``so_`` + URL-safe base64). The database keeps its SHA-256
digest, never the token: a leaked database grants nothing. Listings show a short token id
(the digest's first 12 hex digits), never the digest. Tokens carry a principal and roles
(see engine/context.py); they may expire and can be revoked at once.

Tokens also come from configuration: SERVICEORDER_ADMIN_TOKEN and an optional JSON tokens
file ``{"tokens": [{"token": "...", "principal": "alice", "roles": ["operator"]}]}``; those
are registered (hashed) at start-up and never expire.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from engine.domain.clock import Clock, SystemClock
from engine.application.context import IMPLIED_ROLES, Principal
from sqlstore.sqldb import Database

ROLES = tuple(IMPLIED_ROLES)
MIN_LENGTH = 16
DDL = """CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    principal TEXT NOT NULL,
    roles TEXT NOT NULL,
    label TEXT,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    revoked_by TEXT
)"""
_COLUMNS = ("token_id", "principal", "roles", "label", "created_by", "created_at", "expires_at", "revoked_at",
            "revoked_by")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_roles(principal: str, roles: list[str] | tuple[str, ...]) -> list[str]:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown role(s) for {principal!r}: {', '.join(sorted(unknown))}; known: {', '.join(ROLES)}")
    if not roles:
        raise ValueError(f"a token for {principal!r} needs at least one role")
    return sorted(set(roles))


@dataclass(frozen=True)
class Issued:
    token: str
    record: dict[str, Any]


class TokenRegistry:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        with db.transaction() as cur:
            cur.execute(DDL)

    def add(self, token: str, principal: str, roles: list[str] | tuple[str, ...], *,
            expires_at: datetime | None = None, created_by: str = "configuration", label: str | None = None) -> str:
        """Register a token chosen elsewhere (configuration, tests); returns its id."""
        if len(token) < MIN_LENGTH:
            raise ValueError(f"the token for {principal!r} is shorter than {MIN_LENGTH} characters")
        chosen = _check_roles(principal, roles)
        digest = _digest(token)
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO api_tokens (token_id, token_hash, principal, roles, label, created_by, created_at, "
                "expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (token_hash) DO UPDATE SET "
                "principal = EXCLUDED.principal, roles = EXCLUDED.roles, expires_at = EXCLUDED.expires_at, "
                "revoked_at = NULL, revoked_by = NULL",
                (digest[:12], digest, principal, json.dumps(chosen), label, created_by,
                 self.clock.now().isoformat(), expires_at.isoformat() if expires_at else None))
        return digest[:12]

    def issue(self, principal: str, roles: list[str] | tuple[str, ...], *, ttl: timedelta | None, created_by: str,
              label: str | None = None) -> Issued:
        """A new random token; the only time it is ever shown."""
        if not principal or len(principal) > 100 or not principal.isprintable():
            raise ValueError("a principal is 1 to 100 printable characters")
        token = "so_" + secrets.token_urlsafe(32)
        expires = self.clock.now() + ttl if ttl else None
        token_id = self.add(token, principal, roles, expires_at=expires, created_by=created_by, label=label)
        return Issued(token, self.get(token_id) or {})

    def get(self, token_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            row = cur.execute(f"SELECT {', '.join(_COLUMNS)} FROM api_tokens WHERE token_id = %s",
                              (token_id,)).fetchone()
        return None if row is None else self._record(row)

    def list(self, principal: str | None = None) -> list[dict[str, Any]]:
        sql, params = f"SELECT {', '.join(_COLUMNS)} FROM api_tokens", []
        if principal:
            sql += " WHERE principal = %s"
            params.append(principal)
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY created_at, token_id", params).fetchall()
        return [self._record(r) for r in rows]

    def revoke(self, token_id: str, *, by: str) -> bool:
        with self.db.transaction() as cur:
            changed = cur.execute("UPDATE api_tokens SET revoked_at = %s, revoked_by = %s "
                                  "WHERE token_id = %s AND revoked_at IS NULL",
                                  (self.clock.now().isoformat(), by, token_id)).rowcount
        return changed > 0

    def authenticate(self, token: str) -> Principal | None:
        """The principal of a live token; None for unknown, revoked or expired tokens.

        The lookup is by digest (an index probe), so its time does not depend on how much of
        a guessed token is right.
        """
        if not token or len(token) > 512:
            return None
        with self.db.read() as cur:
            row = cur.execute("SELECT principal, roles, expires_at, revoked_at FROM api_tokens WHERE token_hash = %s",
                              (_digest(token),)).fetchone()
        if row is None or row[3] is not None:
            return None
        if row[2] is not None and datetime.fromisoformat(row[2]) <= self.clock.now():
            return None
        return Principal(row[0], frozenset(json.loads(row[1])))

    def load_file(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_text())
            for entry in doc["tokens"]:
                self.add(entry["token"], entry["principal"], entry.get("roles", ["viewer"]), created_by=str(path))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot read tokens file {path}: {exc}") from None

    def _record(self, row: tuple[Any, ...]) -> dict[str, Any]:
        record = dict(zip(_COLUMNS, row))
        record["roles"] = json.loads(record["roles"])
        expires = record["expires_at"]
        record["active"] = record["revoked_at"] is None and (
            expires is None or datetime.fromisoformat(expires) > self.clock.now())
        return record


def admin_token_for(data_dir: Path, configured: str | None) -> tuple[str, bool]:
    """The admin token: the configured one, else one generated once and kept in data_dir.

    Returns the token and whether it was generated here (so the caller prints it).
    """
    if configured:
        return configured, False
    path = data_dir / "admin-token"
    if path.exists():
        return path.read_text().strip(), True
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n")
    return token, True

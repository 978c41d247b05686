"""Bearer tokens mapped to principals with roles.

Roles: ``admin`` (everything), ``operator`` (issue commands), ``engineer`` (report from the
field, as themselves), ``approver:<department>`` (vote on returns for sales, technical,
finance or logistics), ``viewer`` (read).
Tokens come from SERVICEORDER_ADMIN_TOKEN and an optional JSON tokens file:
``{"tokens": [{"token": "...", "principal": "alice", "roles": ["operator"]}]}``.
Only SHA-256 digests of tokens are kept in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

from engine.context import IMPLIED_ROLES, Principal

ROLES = tuple(IMPLIED_ROLES)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenRegistry:
    def __init__(self) -> None:
        self._by_digest: dict[bytes, Principal] = {}

    def add(self, token: str, principal: str, roles: list[str] | tuple[str, ...]) -> None:
        if len(token) < 16:
            raise ValueError(f"the token for {principal!r} is shorter than 16 characters")
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown role(s) for {principal!r}: {', '.join(sorted(unknown))}")
        self._by_digest[_digest(token)] = Principal(principal, frozenset(roles))

    def load_file(self, path: Path) -> None:
        try:
            doc = json.loads(path.read_text())
            for entry in doc["tokens"]:
                self.add(entry["token"], entry["principal"], entry.get("roles", ["viewer"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot read tokens file {path}: {exc}") from None

    def authenticate(self, token: str) -> Principal | None:
        digest = _digest(token)
        for known, principal in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return principal
        return None


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

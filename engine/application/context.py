"""Who acts and why: the metadata every event carries.

A CommandContext is built by the entry point (HTTP request, CLI, consumer) and handed to
the application, which stamps ``meta`` onto each event it causes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from uuid import uuid4

from engine.domain.returns import DEPARTMENTS, approver_role


# A role grants the roles below it. Back-office roles read every view (``viewer``); an
# engineer reads only their own jobs and ledger, a customer only their own orders, returns,
# visits and timeline: neither holds ``viewer``, the HTTP layer scopes what they read.
_APPROVERS = {approver_role(d) for d in DEPARTMENTS}
IMPLIED_ROLES: dict[str, set[str]] = {
    "admin": {"operator", "dispatcher", "hotline", "complaints", "finance", "auditor", "engineer", "viewer",
              *_APPROVERS},
    # The service desk: dispatching, the hotline and complaint handling together.
    "operator": {"dispatcher", "hotline", "complaints", "viewer"},
    "dispatcher": {"viewer"},
    "hotline": {"viewer"},
    "complaints": {"viewer"},
    # Finance settles engineers, takes payments and pays refunds and compensation.
    "finance": {"viewer"},
    # Auditors read everything, the audit trail included, and command nothing.
    "auditor": {"viewer"},
    **{role: {"viewer"} for role in sorted(_APPROVERS)},
    "engineer": set(),
    "customer": set(),
    "viewer": set(),
}


@dataclass(frozen=True)
class Principal:
    """An authenticated actor and the roles it holds."""

    name: str
    roles: frozenset[str] = field(default_factory=frozenset)

    def has(self, role: str) -> bool:
        return any(role == held or role in IMPLIED_ROLES.get(held, ()) for held in self.roles)


SYSTEM = Principal("system", frozenset({"admin"}))


@dataclass(frozen=True)
class CommandContext:
    principal: Principal
    request_id: str
    correlation_id: str
    causation_id: str
    reason: str | None = None

    @classmethod
    def new(cls, principal: Principal = SYSTEM, *, reason: str | None = None) -> CommandContext:
        """A context for a command that starts a new conversation (CLI, tests, jobs)."""
        rid = str(uuid4())
        return cls(principal, rid, rid, rid, reason)

    def because(self, reason: str | None) -> CommandContext:
        return replace(self, reason=reason)

    def meta(self) -> dict[str, str]:
        """The metadata dict stored on events: plain strings, so it survives any transcoder."""
        m = {
            "actor": self.principal.name,
            "request_id": self.request_id,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }
        if self.reason:
            m["reason"] = self.reason
        return m

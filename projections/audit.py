"""The audit index: which events belong to which conversation (correlation id) and which
request caused them (causation id), so that an auditor's view of a claim can find the
related events of other aggregates. It only *finds*: what is shown is read from the store.
"""

from __future__ import annotations

from typing import Any, Iterable

from contract.names import CATEGORIES
from projections.base import Projection
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database


class AuditIndex(Projection):
    name = "audit_index"
    categories = tuple(CATEGORIES)
    tables = ("audit_links",)

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS audit_links (
                event_id TEXT PRIMARY KEY,
                aggregate_id TEXT NOT NULL,
                aggregate_type TEXT NOT NULL,
                version BIGINT NOT NULL,
                event_type TEXT NOT NULL,
                position BIGINT NOT NULL,
                request_id TEXT,
                correlation_id TEXT,
                causation_id TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS audit_links_by_correlation ON audit_links (correlation_id)",
            "CREATE INDEX IF NOT EXISTS audit_links_by_causation ON audit_links (causation_id)",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        cur.execute(
            "INSERT INTO audit_links (event_id, aggregate_id, aggregate_type, version, event_type, position, "
            "request_id, correlation_id, causation_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            (env["id"], env["subject"], env["aggregatetype"], env["aggregateversion"], short_type(env),
             env["position"], env.get("requestid"), env.get("correlationid"), env.get("causationid")))


def linked_events(db: Database, correlation_ids: Iterable[str], request_ids: Iterable[str],
                  limit: int = 5_000) -> list[tuple[str, int, str]]:
    """(aggregate id, version, how) of events in the same conversations or caused by those requests."""
    correlations, requests = sorted(set(correlation_ids)), sorted(set(request_ids))
    found: list[tuple[str, int, str]] = []
    with db.transaction() as cur:
        for column, values, how in (("correlation_id", correlations, "correlated"),
                                    ("causation_id", requests, "caused")):
            if not values:
                continue
            marks = ", ".join(["%s"] * len(values))
            rows = cur.execute(f"SELECT aggregate_id, version FROM audit_links WHERE {column} IN ({marks}) "
                               "ORDER BY position LIMIT %s", [*values, limit]).fetchall()
            found += [(a, int(v), how) for a, v in rows]
    return found

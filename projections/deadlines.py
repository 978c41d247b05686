"""The index of scheduled deadlines, by due time: what the scheduler reads to know what to fire.

It may lag the store; the scheduler re-checks each deadline against its aggregate before
firing, so a stale row costs a look-up, never a wrong firing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from projections.base import Projection
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database


class DeadlineIndex(Projection):
    name = "deadline_index"
    categories = ("deadlines",)
    tables = ("deadline_index",)

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS deadline_index (
                deadline_id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                customer_id TEXT,
                action TEXT NOT NULL,
                due_at TEXT NOT NULL,
                status TEXT NOT NULL,
                settled_at TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS deadline_index_due ON deadline_index (status, due_at)",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, deadline_id = short_type(env), env["data"], env["subject"]
        if kind == "DeadlineScheduled":
            cur.execute(
                "INSERT INTO deadline_index (deadline_id, kind, subject_id, customer_id, action, due_at, status) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'scheduled') ON CONFLICT DO NOTHING",
                (deadline_id, d["kind"], d["subject_id"], d.get("customer_id"), d["action"], _utc(d["due_at"])),
            )
        elif kind in ("DeadlineCancelled", "DeadlineFired"):
            cur.execute("UPDATE deadline_index SET status = %s, settled_at = %s WHERE deadline_id = %s",
                        ("cancelled" if kind == "DeadlineCancelled" else "fired", env["time"], deadline_id))


def utc_text(moment: datetime) -> str:
    """Due times are compared as text: one fixed UTC format, for rows and queries alike."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc(iso: str) -> str:
    return utc_text(datetime.fromisoformat(iso))


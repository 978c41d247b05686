"""Service-quality facts per job and per follow-up, from which the figures the business is
run on are computed at query time (seed 003: the first-install repair rate drives rewards
and penalties; seed 001: SLA attainment; seed 002: satisfaction per engineer).

The view stores facts, not ratios: a repair and the installation it follows live on
different partitions, so their order of arrival is unknown; a ratio computed when asked
is right whatever that order was.
"""

from __future__ import annotations

from typing import Any

from projections.base import Projection
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database


class ServiceQuality(Projection):
    name = "service_quality"
    categories = ("jobs", "followups")
    tables = ("quality_jobs", "quality_followups")

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS quality_jobs (
                job_id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                related_id TEXT,
                engineer TEXT,
                opened_at TEXT NOT NULL,
                first_completed_at TEXT,
                completions INTEGER NOT NULL,
                fault_cause TEXT,
                fixed BOOLEAN,
                visits INTEGER NOT NULL,
                verified_visits INTEGER NOT NULL,
                reopened INTEGER NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS quality_jobs_by_related ON quality_jobs (related_id)",
            """CREATE TABLE IF NOT EXISTS quality_followups (
                follow_up_id TEXT PRIMARY KEY,
                job_id TEXT NOT NULL,
                engineer TEXT,
                satisfaction INTEGER,
                fixed BOOLEAN,
                recorded_at TEXT
            )""",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, subject, at = short_type(env), env["data"], env["subject"], env["time"]
        if kind == "JobOpened":
            cur.execute(
                "INSERT INTO quality_jobs (job_id, kind, customer_id, related_id, engineer, opened_at, completions, "
                "visits, verified_visits, reopened) VALUES (%s, %s, %s, %s, NULL, %s, 0, 0, 0, 0) "
                "ON CONFLICT DO NOTHING", (subject, d["kind"], d["customer_id"], d.get("related_id"), at))
        elif kind == "JobDispatched":
            cur.execute("UPDATE quality_jobs SET engineer = %s WHERE job_id = %s", (d["engineer"], subject))
        elif kind == "EngineerCheckedIn":
            cur.execute("UPDATE quality_jobs SET visits = visits + 1, verified_visits = verified_visits + %s "
                        "WHERE job_id = %s", (1 if d["verified"] else 0, subject))
        elif kind == "JobCompleted":
            cur.execute("UPDATE quality_jobs SET completions = completions + 1, fault_cause = %s, fixed = %s, "
                        "first_completed_at = COALESCE(first_completed_at, %s) WHERE job_id = %s",
                        (d["fault_cause"], bool(d["fixed"]), at, subject))
        elif kind == "JobReopened":
            cur.execute("UPDATE quality_jobs SET reopened = reopened + 1 WHERE job_id = %s", (subject,))
        elif kind == "FollowUpScheduled":
            cur.execute("INSERT INTO quality_followups (follow_up_id, job_id, engineer) VALUES (%s, %s, %s) "
                        "ON CONFLICT DO NOTHING", (subject, d["job_id"], d["engineer"]))
        elif kind == "FollowUpRecorded":
            cur.execute("UPDATE quality_followups SET satisfaction = %s, fixed = %s, recorded_at = %s "
                        "WHERE follow_up_id = %s", (d["satisfaction"], bool(d["fixed"]), at, subject))

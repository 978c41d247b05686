"""Field views: each engineer's agenda (their jobs by day) and the visit-verification log, and
the dispatch board's reads of the agenda (the queue of jobs waiting, a day's agendas)."""

from __future__ import annotations

from typing import Any

from projections.paging import Keyset, board_page
from projections.privacy import PersonalDataView
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database

OPEN_STATUSES = ("dispatched", "accepted")


class EngineerAgenda(PersonalDataView):
    name = "engineer_agenda"
    categories = ("jobs", "privacy")
    tables = ("agenda_jobs",)
    personal_columns = {"agenda_jobs": {"site_address": "%s"}}
    position_columns = {"agenda_jobs": "opened_position"}

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS agenda_jobs (
                job_id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                site_address TEXT NOT NULL,
                product_sku TEXT NOT NULL,
                status TEXT NOT NULL,
                engineer TEXT,
                day TEXT,
                window_start TEXT,
                window_end TEXT,
                missed_windows INTEGER NOT NULL,
                updated_at TEXT NOT NULL,
                opened_position BIGINT NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS agenda_jobs_by_engineer_day ON agenda_jobs (engineer, day)",
        ]

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, job_id, at = short_type(env), env["data"], env["subject"], env["time"]
        if kind == "JobOpened":
            cur.execute(
                "INSERT INTO agenda_jobs (job_id, kind, customer_id, site_address, product_sku, status, engineer, "
                "day, window_start, window_end, missed_windows, updated_at, opened_position) "
                "VALUES (%s, %s, %s, %s, %s, 'open', NULL, NULL, NULL, NULL, 0, %s, %s) ON CONFLICT DO NOTHING",
                (job_id, d["kind"], d["customer_id"], d["site_address"], d["product"]["sku"], at, env["position"]),
            )
            return
        updates: dict[str, Any] = {}
        if kind == "JobDispatched":
            updates = {"status": "dispatched", "engineer": d["engineer"]}
        elif kind == "JobAccepted":
            updates = {"status": "accepted"}
        elif kind == "JobDeclined":
            updates = {"status": "declined", "engineer": None, "day": None, "window_start": None, "window_end": None}
        elif kind in ("AppointmentAgreed", "AppointmentRescheduled"):
            updates = {"day": d["window_start"][:10], "window_start": d["window_start"], "window_end": d["window_end"]}
        elif kind == "AppointmentMissed":
            cur.execute("UPDATE agenda_jobs SET missed_windows = missed_windows + 1 WHERE job_id = %s", (job_id,))
            updates = {"day": None, "window_start": None, "window_end": None}
        elif kind == "JobCompleted":
            updates = {"status": "completed"}
        elif kind == "SelfInstallationAgreed":
            updates = {"status": "self_installed"}
        elif kind == "JobCancelledAtDoor":
            updates = {"status": "cancelled_at_door"}
        if updates:
            columns = ", ".join(f"{c} = %s" for c in updates)
            cur.execute(f"UPDATE agenda_jobs SET {columns}, updated_at = %s WHERE job_id = %s",
                        (*updates.values(), at, job_id))


class VisitLog(PersonalDataView):
    """Where, when and how long each engineer was on site, and whether it counts as a visit."""

    name = "visit_log"
    categories = ("jobs", "privacy")
    tables = ("visits", "visit_sites")
    personal_columns = {"visit_sites": {"site_address": "%s"}}
    position_columns = {"visit_sites": "opened_position"}

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS visits (
                job_id TEXT NOT NULL,
                visit_no INTEGER NOT NULL,
                engineer TEXT NOT NULL,
                checked_in_at TEXT NOT NULL,
                latitude DOUBLE PRECISION NOT NULL,
                longitude DOUBLE PRECISION NOT NULL,
                accuracy_m DOUBLE PRECISION NOT NULL,
                distance_m DOUBLE PRECISION NOT NULL,
                verified BOOLEAN NOT NULL,
                checked_out_at TEXT,
                duration_minutes DOUBLE PRECISION,
                PRIMARY KEY (job_id, visit_no)
            )""",
            "CREATE INDEX IF NOT EXISTS visits_by_engineer ON visits (engineer, checked_in_at)",
            """CREATE TABLE IF NOT EXISTS visit_sites (
                job_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                site_address TEXT NOT NULL,
                opened_position BIGINT NOT NULL
            )""",
        ]

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, job_id = short_type(env), env["data"], env["subject"]
        if kind == "JobOpened":
            cur.execute("INSERT INTO visit_sites (job_id, customer_id, site_address, opened_position) "
                        "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (job_id, d["customer_id"], d["site_address"], env["position"]))
        elif kind == "EngineerCheckedIn":
            row = cur.execute("SELECT COUNT(*) FROM visits WHERE job_id = %s", (job_id,)).fetchone()
            assert row is not None  # COUNT always gives a row
            cur.execute(
                "INSERT INTO visits (job_id, visit_no, engineer, checked_in_at, latitude, longitude, accuracy_m, "
                "distance_m, verified, checked_out_at, duration_minutes) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, NULL, NULL)",
                (job_id, int(row[0]) + 1, d["engineer"], d["at"], d["location"]["lat"], d["location"]["lng"],
                 d["accuracy_m"], d["distance_m"], bool(d["verified"])),
            )
        elif kind == "EngineerCheckedOut":
            cur.execute(
                "UPDATE visits SET checked_out_at = %s, duration_minutes = %s WHERE job_id = %s "
                "AND checked_out_at IS NULL",
                (d["at"], d["duration_minutes"], job_id),
            )


JOB_KEYS = ("job_id", "kind", "customer_id", "site_address", "product_sku", "status", "engineer", "day",
            "window_start", "window_end", "missed_windows", "updated_at", "version")
# The dispatcher's queue: jobs no engineer holds (never dispatched, or declined).
WAITING = ("open", "declined")


class FieldReads:
    """The dispatch board's lists, read from the agenda view: jobs by state (those waiting the
    longest first), and every engineer's jobs on one day."""

    db: Database
    QUEUE = Keyset(("b.updated_at", "b.job_id"))
    DAY = Keyset(("b.engineer", "b.window_start", "b.job_id"))

    def job_queue(self, *, statuses: tuple[str, ...] = WAITING, engineer: str | None = None, kind: str | None = None,
                  limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        where, params = f"b.status IN ({', '.join(['%s'] * len(statuses))})", list(statuses)
        for column, value in (("b.engineer", engineer), ("b.kind", kind)):
            if value:
                where += f" AND {column} = %s"
                params.append(value)
        return self._jobs(self.QUEUE, where, params, limit, cursor)

    def day_agenda(self, day: str, *, engineer: str | None = None, limit: int = 100,
                   cursor: str | None = None) -> dict[str, Any]:
        where, params = "b.day = %s AND b.engineer IS NOT NULL", [day]
        if engineer:
            where += " AND b.engineer = %s"
            params.append(engineer)
        return self._jobs(self.DAY, where, params, limit, cursor)

    def _jobs(self, keyset: Keyset, where: str, params: list[Any], limit: int, cursor: str | None) -> dict[str, Any]:
        jobs, next_cursor = board_page(self.db, keyset, JOB_KEYS, "agenda_jobs", EngineerAgenda.name, "b.job_id",
                                       where, params, limit, cursor)
        return {"jobs": jobs, "next_cursor": next_cursor}

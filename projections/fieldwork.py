"""Field views: each engineer's agenda (their jobs by day) and the visit-verification log, and
the dispatch board's reads of the agenda (the queue of jobs waiting, a day's agendas)."""

from __future__ import annotations

from typing import Any

from projections.paging import Keyset, board_page, read_row
from projections.privacy import PersonalDataView
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json

OPEN_STATUSES = ("dispatched", "accepted")


class EngineerAgenda(PersonalDataView):
    name = "engineer_agenda"
    categories = ("jobs", "privacy")
    tables = ("agenda_jobs",)
    # 2: the whole job as GET /jobs/{id} shows it (product, site, fee, visits, payment...), so
    # that read loads no aggregate (issue 16); a reopened job is accepted again
    layout = 2
    personal_columns = {"agenda_jobs": {"site_address": "%s", "site_location": "NULL"}}
    position_columns = {"agenda_jobs": "opened_position"}

    def ddl(self, db: Database) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS agenda_jobs (
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
                opened_position BIGINT NOT NULL,
                product {db.json_type} NOT NULL,
                site_location {db.json_type},
                fee TEXT NOT NULL,
                order_id TEXT,
                related_id TEXT,
                consumables {db.json_type} NOT NULL,
                declined_by {db.json_type} NOT NULL,
                job_window {db.json_type},
                visits {db.json_type} NOT NULL,
                fault_cause TEXT,
                payment {db.json_type},
                charged_to TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS agenda_jobs_by_engineer_day ON agenda_jobs (engineer, day)",
        ]

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, job_id, at = short_type(env), env["data"], env["subject"], env["time"]
        if kind == "JobOpened":
            cur.execute(
                "INSERT INTO agenda_jobs (job_id, kind, customer_id, site_address, product_sku, status, engineer, "
                "day, window_start, window_end, missed_windows, updated_at, opened_position, product, site_location, "
                "fee, order_id, related_id, consumables, declined_by, job_window, visits, fault_cause, payment, "
                "charged_to) VALUES (%s, %s, %s, %s, %s, 'open', NULL, NULL, NULL, NULL, 0, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, NULL, %s, NULL, NULL, NULL) ON CONFLICT DO NOTHING",
                (job_id, d["kind"], d["customer_id"], d["site_address"], d["product"]["sku"], at, env["position"],
                 dump_json(d["product"]), _json_or_null(d.get("site_location")), d["fee"], d.get("order_id"),
                 d.get("related_id"), dump_json(d.get("consumables") or []), dump_json([]), dump_json([])),
            )
            return
        updates: dict[str, Any] = {}
        if kind == "JobDispatched":
            updates = {"status": "dispatched", "engineer": d["engineer"]}
        elif kind == "JobAccepted":
            updates = {"status": "accepted"}
        elif kind == "JobDeclined":
            # An accepted job handed back keeps its appointment (issue 20): it waits with it.
            updates = {"status": "declined", "engineer": None,
                       "declined_by": self._appended(cur, job_id, "declined_by", d["engineer"])}
        elif kind in ("AppointmentAgreed", "AppointmentRescheduled"):
            updates = {"day": d["window_start"][:10], "window_start": d["window_start"], "window_end": d["window_end"],
                       "job_window": dump_json({"start": d["window_start"], "end": d["window_end"]})}
        elif kind == "AppointmentMissed":
            cur.execute("UPDATE agenda_jobs SET missed_windows = missed_windows + 1 WHERE job_id = %s", (job_id,))
            updates = {"day": None, "window_start": None, "window_end": None, "job_window": None}
        elif kind == "JobCompleted":
            # The agenda keeps the day's window of done work; the job's own window is over.
            updates = {"status": "completed", "job_window": None, "fault_cause": d.get("fault_cause"),
                       "charged_to": d.get("charged_to")}
        elif kind == "SelfInstallationAgreed":
            updates = {"status": "self_installed", "job_window": None}
        elif kind == "JobCancelledAtDoor":
            updates = {"status": "cancelled_at_door", "job_window": None}
        elif kind == "JobReopened":
            updates = {"status": "accepted", "fault_cause": None}
        elif kind == "SiteLocated":
            updates = {"site_location": _json_or_null(d.get("site_location"))}
        elif kind == "PaymentRecorded":
            updates = {"payment": dump_json({"collected": d["collected"], "amount": d["amount"],
                                             "method": d.get("method")})}
        elif kind == "EngineerCheckedIn":
            updates = {"visits": self._appended(cur, job_id, "visits", {
                "engineer": d["engineer"], "checked_in_at": d["at"], "checked_out_at": None, "verified": d["verified"],
                "distance_m": d["distance_m"], "check_in_received_at": d.get("received_at") or d["at"]})}
        elif kind == "EngineerCheckedOut":
            updates = {"visits": self._checked_out(cur, job_id, d)}
        if updates:
            columns = ", ".join(f"{c} = %s" for c in updates)
            cur.execute(f"UPDATE agenda_jobs SET {columns}, updated_at = %s WHERE job_id = %s",
                        (*updates.values(), at, job_id))

    @staticmethod
    def _appended(cur: Cursor, job_id: str, column: str, entry: Any) -> str | None:
        row = cur.execute(f"SELECT {column} FROM agenda_jobs WHERE job_id = %s", (job_id,)).fetchone()
        return None if row is None else dump_json([*load_json(row[0]), entry])

    @staticmethod
    def _checked_out(cur: Cursor, job_id: str, d: dict[str, Any]) -> str | None:
        row = cur.execute("SELECT visits FROM agenda_jobs WHERE job_id = %s", (job_id,)).fetchone()
        if row is None:
            return None
        visits = load_json(row[0])
        visit = next((v for v in visits if v["checked_out_at"] is None), None)  # the open visit
        if visit is not None:
            visit.update(checked_out_at=d["at"], check_out_received_at=d.get("received_at") or d["at"])
        return dump_json(visits)


def _json_or_null(value: Any) -> str | None:
    return None if value is None else dump_json(value)


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
    """The field views' reads: an engineer's agenda, a job's visits, one job whole, and the
    dispatch board's lists (jobs by state, those waiting the longest first, and every
    engineer's jobs on one day)."""

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

    def agenda(self, engineer: str, day: str | None = None) -> list[dict[str, Any]]:
        keys = ("job_id", "kind", "customer_id", "site_address", "product_sku", "status", "day", "window_start",
                "window_end", "missed_windows")
        sql = f"SELECT {', '.join(keys)} FROM agenda_jobs WHERE engineer = %s"
        params: list[Any] = [engineer]
        if day:
            sql += " AND day = %s"
            params.append(day)
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY window_start, job_id", params).fetchall()
        return [dict(zip(keys, r)) for r in rows]

    def visits(self, job_id: str) -> list[dict[str, Any]]:
        keys = ("visit_no", "engineer", "checked_in_at", "latitude", "longitude", "accuracy_m", "distance_m",
                "verified", "checked_out_at", "duration_minutes")
        with self.db.transaction() as cur:
            rows = cur.execute(f"SELECT {', '.join(keys)} FROM visits WHERE job_id = %s ORDER BY visit_no",
                               (job_id,)).fetchall()
        return [{**dict(zip(keys, r)), "verified": bool(r[7])} for r in rows]

    def job(self, job_id: str) -> dict[str, Any] | None:
        """The job as GET /jobs/{id} shows it, or None if the view does not hold it."""
        keys = ("job_id", "version", "kind", "status", "customer_id", "product", "site_address", "site_location",
                "fee", "order_id", "related_id", "consumables", "engineer", "declined_by", "job_window",
                "missed_windows", "visits", "fault_cause", "payment", "charged_to")
        job = read_row(self.db, EngineerAgenda.name, "agenda_jobs", "job_id", job_id, keys)
        if job is None:
            return None
        for key in ("product", "site_location", "consumables", "declined_by", "job_window", "visits", "payment"):
            job[key] = None if job[key] is None else load_json(job[key])
        window = job.pop("job_window")
        return {**job, "window": window,
                "missed_windows": int(job["missed_windows"]),
                "charged_to": job["charged_to"] if job["status"] == "completed" else None}

    def _jobs(self, keyset: Keyset, where: str, params: list[Any], limit: int, cursor: str | None) -> dict[str, Any]:
        jobs, next_cursor = board_page(self.db, keyset, JOB_KEYS, "agenda_jobs", EngineerAgenda.name, "b.job_id",
                                       where, params, limit, cursor)
        return {"jobs": jobs, "next_cursor": next_cursor}

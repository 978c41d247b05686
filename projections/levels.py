"""The SLA board (open items, time left in business time, warnings, breaches) and the
hotline's daily answer rate with its pending call-backs; and the reads of them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.domain.calendar import BusinessCalendar
from projections.paging import MAX_LIMIT, Keyset, board_page, read_row
from projections.privacy import PersonalDataView
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json


class SlaBoard(PersonalDataView):
    name = "sla_board"
    categories = ("slas", "calls", "privacy")
    tables = ("sla_board", "hotline_days", "call_backs")
    layout = 2  # 2: warn_at kept, for GET /slas/{id} (issue 16)
    personal_columns = {"call_backs": {"phone": "%s"}}
    position_columns = {"call_backs": "call_position"}

    def ddl(self, db: Database) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS sla_board (
                sla_id TEXT PRIMARY KEY,
                subject_id TEXT NOT NULL,
                subject_kind TEXT NOT NULL,
                customer_id TEXT NOT NULL,
                tier TEXT NOT NULL,
                status TEXT NOT NULL,
                calendar {db.json_type} NOT NULL,
                allowed_seconds BIGINT NOT NULL,
                used_seconds BIGINT NOT NULL,
                run_started_at TEXT,
                due_at TEXT,
                warned BOOLEAN NOT NULL,
                breached BOOLEAN NOT NULL,
                warn_at TEXT
            )""",
            """CREATE TABLE IF NOT EXISTS hotline_days (
                day TEXT PRIMARY KEY,
                answered INTEGER NOT NULL,
                missed INTEGER NOT NULL
            )""",
            """CREATE TABLE IF NOT EXISTS call_backs (
                call_id TEXT PRIMARY KEY,
                phone TEXT NOT NULL,
                customer_id TEXT,
                missed_at TEXT NOT NULL,
                due_at TEXT NOT NULL,
                done_at TEXT,
                call_position BIGINT NOT NULL
            )""",
        ]

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, subject = short_type(env), env["data"], env["subject"]
        if kind == "SlaStarted":
            cur.execute(
                "INSERT INTO sla_board (sla_id, subject_id, subject_kind, customer_id, tier, status, calendar, "
                "allowed_seconds, used_seconds, run_started_at, due_at, warned, breached, warn_at) "
                "VALUES (%s, %s, %s, %s, %s, 'running', %s, %s, 0, %s, %s, FALSE, FALSE, %s) ON CONFLICT DO NOTHING",
                (subject, d["subject_id"], d["subject_kind"], d["customer_id"], d["tier"], dump_json(d["calendar"]),
                 d["allowed_seconds"], d["started_at"], d["due_at"], d["warn_at"]))
        elif kind in ("SlaPaused", "SlaCompleted"):
            cur.execute("UPDATE sla_board SET status = %s, used_seconds = %s, run_started_at = NULL, due_at = NULL, "
                        "warn_at = NULL WHERE sla_id = %s",
                        ("paused" if kind == "SlaPaused" else "completed", d["used_seconds"], subject))
            if kind == "SlaCompleted" and d["breached"]:
                cur.execute("UPDATE sla_board SET breached = TRUE WHERE sla_id = %s", (subject,))
        elif kind == "SlaResumed":
            cur.execute("UPDATE sla_board SET status = 'running', run_started_at = %s, due_at = %s, warn_at = %s "
                        "WHERE sla_id = %s", (d["at"], d["due_at"], d["warn_at"], subject))
        elif kind in ("SlaWarning", "SlaBreached"):
            column = "warned" if kind == "SlaWarning" else "breached"
            cur.execute(f"UPDATE sla_board SET {column} = TRUE WHERE sla_id = %s", (subject,))
        elif kind == "CallReceived":
            column = "answered" if d["answered"] else "missed"
            cur.execute("INSERT INTO hotline_days (day, answered, missed) VALUES (%s, 0, 0) ON CONFLICT DO NOTHING",
                        (d["day"],))
            cur.execute(f"UPDATE hotline_days SET {column} = {column} + 1 WHERE day = %s", (d["day"],))
            if not d["answered"]:
                cur.execute("INSERT INTO call_backs (call_id, phone, customer_id, missed_at, due_at, done_at, "
                            "call_position) VALUES (%s, %s, %s, %s, %s, NULL, %s) ON CONFLICT DO NOTHING",
                            (subject, d["phone"], d.get("customer_id"), d["at"], d["call_back_due_at"],
                             env["position"]))
        elif kind == "CalledBack" and d["reached"]:
            cur.execute("UPDATE call_backs SET done_at = %s WHERE call_id = %s", (d["at"], subject))


SLA_KEYS = ("sla_id", "subject_id", "subject_kind", "customer_id", "tier", "status", "calendar", "allowed_seconds",
            "used_seconds", "run_started_at", "due_at", "warned", "breached", "version")
CALL_BACK_KEYS = ("call_id", "phone", "customer_id", "missed_at", "due_at", "version")
# Which open items each SLA filter shows.
SLA_STATES = {"open": "1 = 1", "running": "b.status = 'running'", "paused": "b.status = 'paused'",
              "warned": "b.warned AND NOT b.breached", "breached": "b.breached"}


def _at(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A board row with the business time used and left at ``now`` (the clock runs between events)."""
    used = int(item["used_seconds"])
    calendar = item.pop("calendar")
    if item["run_started_at"]:
        spec = BusinessCalendar.from_spec(load_json(calendar))
        used += int(spec.elapsed(datetime.fromisoformat(item["run_started_at"]), now).total_seconds())
    return {**item, "used_seconds": used, "time_left_seconds": int(item["allowed_seconds"]) - used,
            "warned": bool(item["warned"]), "breached": bool(item["breached"])}


class LevelReads:
    """The SLA board (soonest deadline first, time left in business time at ``now``) and the
    hotline's answer rate and call-backs due (soonest first)."""

    db: Database
    # A paused clock has no deadline: it sorts after every running one.
    SLAS = Keyset(("COALESCE(b.due_at, '~')", "b.sla_id"))
    CALL_BACKS = Keyset(("b.due_at", "b.call_id"))

    def sla_board(self, now: datetime, state: str = "open", *, limit: int = 50,
                  cursor: str | None = None) -> dict[str, Any]:
        """Open items with time left in business time, warnings and breaches."""
        rows, next_cursor = board_page(self.db, self.SLAS, SLA_KEYS, "sla_board", SlaBoard.name, "b.sla_id",
                                       f"b.status <> 'completed' AND {SLA_STATES[state]}", [], limit, cursor)
        return {"items": [_at(item, now) for item in rows], "next_cursor": next_cursor}

    def sla(self, sla_id: str, now: datetime) -> dict[str, Any] | None:
        """One SLA as GET /slas/{id} shows it (time used and left at ``now``), or None if the
        view does not hold it."""
        keys = ("sla_id", "version", "subject_id", "customer_id", "tier", "status", "calendar", "allowed_seconds",
                "used_seconds", "run_started_at", "warn_at", "due_at", "warned", "breached")
        found = read_row(self.db, SlaBoard.name, "sla_board", "sla_id", sla_id, keys)
        if found is None:
            return None
        item = _at(found, now)
        item.pop("run_started_at")
        return item

    def hotline(self) -> dict[str, Any]:
        with self.db.transaction() as cur:
            days = cur.execute("SELECT day, answered, missed FROM hotline_days ORDER BY day").fetchall()
        return {
            "target_answer_rate": 0.85,
            "days": [{"day": d, "answered": a, "missed": m, "answer_rate": round(a / (a + m), 4) if a + m else None}
                     for d, a, m in days],
            "pending_call_backs": self.call_backs(limit=MAX_LIMIT)["call_backs"],
        }

    def call_backs(self, *, limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """Missed calls not yet called back, the soonest due first."""
        rows, next_cursor = board_page(self.db, self.CALL_BACKS, CALL_BACK_KEYS, "call_backs", SlaBoard.name,
                                       "b.call_id", "b.done_at IS NULL", [], limit, cursor)
        return {"call_backs": rows, "next_cursor": next_cursor}

"""Follow-up calls and consumable reminders as the hotline reads them, one row each (the view
and its reads): GET /follow-ups/{id} and /reminders/{id} answer from here (issue 16)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from projections.base import Projection
from projections.paging import read_row
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json

FOLLOW_UP_STATUS = {"FollowUpRecorded": "recorded", "FollowUpOverdue": "overdue"}


class FollowUpBoard(Projection):
    name = "follow_ups"
    categories = ("followups", "reminders")
    tables = ("follow_ups", "reminders")

    def ddl(self, db: Database) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS follow_ups (
                follow_up_id TEXT PRIMARY KEY,
                job_id TEXT NOT NULL,
                completion INTEGER NOT NULL,
                customer_id TEXT NOT NULL,
                engineer TEXT,
                fault_cause TEXT,
                due_at TEXT NOT NULL,
                status TEXT NOT NULL
            )""",
            f"""CREATE TABLE IF NOT EXISTS reminders (
                reminder_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                installation_job_id TEXT NOT NULL,
                product {db.json_type} NOT NULL,
                consumables {db.json_type} NOT NULL,
                status TEXT NOT NULL,
                round INTEGER NOT NULL,
                due_at TEXT NOT NULL,
                due {db.json_type} NOT NULL,
                replacement_job_id TEXT
            )""",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, subject = short_type(env), env["data"], env["subject"]
        if kind == "FollowUpScheduled":
            cur.execute(
                "INSERT INTO follow_ups (follow_up_id, job_id, completion, customer_id, engineer, fault_cause, due_at, "
                "status) VALUES (%s, %s, %s, %s, %s, %s, %s, 'due') ON CONFLICT DO NOTHING",
                (subject, d["job_id"], d.get("completion") or 1, d["customer_id"], d.get("engineer"),
                 d.get("fault_cause"), d["due_at"]))
        elif kind in FOLLOW_UP_STATUS:
            cur.execute("UPDATE follow_ups SET status = %s WHERE follow_up_id = %s", (FOLLOW_UP_STATUS[kind], subject))
        elif kind == "ReminderScheduled":
            cur.execute(
                "INSERT INTO reminders (reminder_id, customer_id, installation_job_id, product, consumables, status, "
                "round, due_at, due, replacement_job_id) VALUES (%s, %s, %s, %s, %s, 'scheduled', 1, %s, %s, NULL) "
                "ON CONFLICT DO NOTHING",
                (subject, d["customer_id"], d["installation_job_id"], dump_json(d["product"]),
                 dump_json(d["consumables"]), d["due_at"], dump_json(dict.fromkeys(d["consumables"], d["due_at"]))))
        elif kind == "ReminderDue":
            cur.execute("UPDATE reminders SET status = 'due' WHERE reminder_id = %s", (subject,))
        elif kind == "ReminderAccepted":
            cur.execute("UPDATE reminders SET status = 'accepted', replacement_job_id = %s WHERE reminder_id = %s",
                        (d["replacement_job_id"], subject))
        elif kind in ("ReminderDeclined", "ReminderRenewed"):
            self._next_round(cur, kind, d, subject)

    @staticmethod
    def _next_round(cur: Cursor, kind: str, d: dict[str, Any], reminder_id: str) -> None:
        row = cur.execute("SELECT consumables, due FROM reminders WHERE reminder_id = %s", (reminder_id,)).fetchone()
        if row is None:
            return
        consumables, due = load_json(row[0]), load_json(row[1])
        if kind == "ReminderRenewed":
            # v2 says each consumable's date; a v1 renewal put every one at due_at.
            due = dict(d.get("consumables") or dict.fromkeys(consumables, d["due_at"]))
            due_at = d["due_at"]
        elif d.get("consumables"):
            due, due_at = dict(d["consumables"]), d["due_at"]
        else:
            # A v1 decline said only the postponed date: what was due moves to it, a consumable
            # due later keeps its date (docs/events.md).
            postponed = datetime.fromisoformat(d["next_due_at"])
            due = {c: max(datetime.fromisoformat(due[c]), postponed).isoformat() for c in consumables}
            due_at = min(due.values(), key=datetime.fromisoformat)
        cur.execute("UPDATE reminders SET status = 'scheduled', due = %s, due_at = %s, round = round + 1, "
                    "replacement_job_id = CASE WHEN %s THEN NULL ELSE replacement_job_id END WHERE reminder_id = %s",
                    (dump_json(due), due_at, kind == "ReminderRenewed", reminder_id))


FOLLOW_UP_KEYS = ("follow_up_id", "version", "job_id", "completion", "customer_id", "engineer", "fault_cause",
                  "due_at", "status")
REMINDER_KEYS = ("reminder_id", "version", "customer_id", "installation_job_id", "product", "consumables", "status",
                 "round", "due_at", "due", "replacement_job_id")


class FollowUpReads:
    """One follow-up call or one reminder, with the version to send as ``If-Match``."""

    db: Database

    def follow_up(self, follow_up_id: str) -> dict[str, Any] | None:
        return read_row(self.db, FollowUpBoard.name, "follow_ups", "follow_up_id", follow_up_id, FOLLOW_UP_KEYS)

    def reminder(self, reminder_id: str) -> dict[str, Any] | None:
        found = read_row(self.db, FollowUpBoard.name, "reminders", "reminder_id", reminder_id, REMINDER_KEYS)
        if found is None:
            return None
        due = load_json(found["due"])
        due_at = datetime.fromisoformat(found["due_at"])
        return {**found, "product": load_json(found["product"]), "consumables": load_json(found["consumables"]),
                "due": due,
                # The consumables due when the reminder falls due: those at its earliest date.
                "due_consumables": [c for c in load_json(found["consumables"])
                                    if datetime.fromisoformat(due.get(c, found["due_at"])) <= due_at]}


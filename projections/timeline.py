"""The customer timeline: every event about a customer, in store order, with its summary
stored as message parts (projections.summaries), rendered in the reader's language on read."""

from __future__ import annotations

from typing import Any

from contract.names import ERASURE_EVENTS, PERSONAL_EVENT_FIELDS
from projections.privacy import PersonalDataView, erased_data
from projections.summaries import summarize
from streams.envelope import short_type
from streams.sealed import PersonalFields
from sqlstore.sqldb import Cursor, Database, dump_json, load_json


class CustomerTimeline(PersonalDataView):
    name = "customer_timeline"
    # Deadlines show through what they cause (a missed appointment, an overdue follow-up).
    categories = ("orders", "jobs", "followups", "reminders", "customers", "returns", "complaints", "claims",
                  "slas", "calls", "payments", "refunds", "privacy")
    tables = ("timeline_entries", "timeline_subjects")
    layout = 2  # 2: summaries stored as messages (``message``), no longer as English text
    # subject -> customer, as recorded by the subject's first event; it never changes, so it
    # is remembered in-process (a read per event was most of this view's round trips).
    SUBJECTS_REMEMBERED = 200_000

    def __init__(self, personal: PersonalFields | None = None) -> None:
        super().__init__(personal)
        self._customers: dict[str, str] = {}

    def drop(self, db: Database) -> None:
        self._customers.clear()
        super().drop(db)

    def ddl(self, db: Database) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS timeline_entries (
                event_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                position BIGINT NOT NULL,
                occurred_at TEXT NOT NULL,
                subject_id TEXT NOT NULL,
                category TEXT NOT NULL,
                event_type TEXT NOT NULL,
                version BIGINT NOT NULL,
                actor TEXT,
                message {db.json_type} NOT NULL,
                data {db.json_type} NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS timeline_entries_by_customer ON timeline_entries (customer_id, position)",
            # Which customer each aggregate belongs to; only its first event names them.
            """CREATE TABLE IF NOT EXISTS timeline_subjects (
                subject_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL
            )""",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        super().apply(cur, env)
        if short_type(env) in ERASURE_EVENTS:
            self.apply_event(cur, env)  # the erasure itself is on the customer's timeline

    def erase(self, cur: Cursor, customer_id: str, before: int) -> None:
        """Entries keep whole events: erase the personal fields in their data and summaries
        (of the events before the erasure; later ones carry data given since)."""
        types = sorted(PERSONAL_EVENT_FIELDS)
        rows = cur.execute(
            f"SELECT event_id, event_type, data FROM timeline_entries WHERE customer_id = %s AND position < %s "
            f"AND event_type IN ({', '.join(['%s'] * len(types))})", (customer_id, before, *types)).fetchall()
        for event_id, event_type, data in rows:
            scrubbed = erased_data(event_type, load_json(data))
            message = summarize({"type": f"serviceorder.x.{event_type}", "data": scrubbed})
            cur.execute("UPDATE timeline_entries SET data = %s, message = %s WHERE event_id = %s",
                        (dump_json(scrubbed), dump_json(message), event_id))

    def apply_event(self, cur: Cursor, env: dict[str, Any]) -> None:
        subject = env["subject"]
        customer = env["data"].get("customer_id") if env["aggregateversion"] == 1 else None
        if customer:
            cur.execute(
                "INSERT INTO timeline_subjects (subject_id, customer_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (subject, customer),
            )
        else:
            customer = self._customers.get(subject)
            if customer is None:
                row = cur.execute("SELECT customer_id FROM timeline_subjects WHERE subject_id = %s",
                                  (subject,)).fetchone()
                if row is None:
                    return
                customer = row[0]
        if len(self._customers) >= self.SUBJECTS_REMEMBERED:
            self._customers.clear()
        self._customers[subject] = customer
        cur.execute(
            "INSERT INTO timeline_entries (event_id, customer_id, position, occurred_at, subject_id, category, "
            "event_type, version, actor, message, data) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (event_id) DO NOTHING",
            (
                env["id"], customer, env["position"], env["time"], subject, env["source"].rsplit("/", 1)[-1],
                short_type(env), env["aggregateversion"], env.get("actor"), dump_json(summarize(env)),
                dump_json(env["data"]),
            ),
        )

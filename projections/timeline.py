"""The customer timeline: every event about a customer, in store order, with its summary
stored as message parts (projections.summaries), rendered in the reader's language on read;
and its reads, paged by store position in either direction."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from contract.names import ERASURE_EVENTS, PERSONAL_EVENT_FIELDS
from projections.messages import DEFAULT as DEFAULT_LANGUAGE, render
from projections.paging import MAX_POSITION
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


ENTRY_KEYS = ("event_id", "position", "occurred_at", "subject_id", "category", "event_type", "version", "actor",
              "message", "data")


class TimelineReads:
    """A customer's timeline in either direction, paged by store position; and what the customer
    has (orders, jobs, returns...) by latest activity, for the tracking page."""

    db: Database
    zone: tzinfo  # of the times in summaries

    def timeline(self, customer_id: str, *, limit: int = 100, after: int = 0, before: int | None = None,
                 newest_first: bool = False, language: str = DEFAULT_LANGUAGE) -> list[dict[str, Any]]:
        """Entries after ``after`` (oldest first), or with ``newest_first`` those before ``before``."""
        if newest_first:
            bound, params, order = "position < %s", [customer_id, MAX_POSITION if before is None else before], "DESC"
        else:
            bound, params, order = "position > %s", [customer_id, after], ""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT {', '.join(ENTRY_KEYS)} FROM timeline_entries WHERE customer_id = %s AND {bound} "
                f"ORDER BY position {order} LIMIT %s", [*params, limit]).fetchall()
        entries = []
        for r in rows:
            entry = dict(zip(ENTRY_KEYS, r))
            entry["summary"] = render(load_json(entry.pop("message")), language, self.zone)
            entries.append({**entry, "data": load_json(r[9])})
        return entries

    def subjects(self, customer_id: str, categories: tuple[str, ...], *, limit: int = 50,
                 before: int | None = None) -> list[dict[str, Any]]:
        """The customer's orders, jobs... (``categories``), the most recently active first."""
        marks = ", ".join(["%s"] * len(categories))
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"SELECT subject_id, category, MAX(position) FROM timeline_entries WHERE customer_id = %s "
                f"AND category IN ({marks}) GROUP BY subject_id, category HAVING MAX(position) < %s "
                f"ORDER BY MAX(position) DESC LIMIT %s",
                [customer_id, *categories, MAX_POSITION if before is None else before, limit]).fetchall()
        return [{"subject_id": s, "category": c, "last_position": int(p)} for s, c, p in rows]

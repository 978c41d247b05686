"""Open returns by pending department: each department's queue of requests to judge (the view
and its reads)."""

from __future__ import annotations

from typing import Any

from projections.base import Projection
from projections.paging import Keyset, board_page
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json

STATUS_AFTER = {"ReturnApproved": "approved", "ReturnRejected": "rejected", "PickupScheduled": "pickup_scheduled",
                "GoodsReceived": "received", "GoodsInspected": "inspected", "RefundIssued": "refunded",
                "ExchangeShipped": "exchange_shipped", "ReturnClosed": "closed"}


class ReturnsBoard(Projection):
    name = "returns_board"
    categories = ("returns",)
    tables = ("returns_board", "returns_pending")

    def ddl(self, db: Database) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS returns_board (
                return_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                resolution TEXT NOT NULL,
                status TEXT NOT NULL,
                items {db.json_type} NOT NULL,
                requested_at TEXT NOT NULL,
                updated_at TEXT NOT NULL
            )""",
            # One row per department still to vote: a department's queue is one indexed look-up.
            """CREATE TABLE IF NOT EXISTS returns_pending (
                return_id TEXT NOT NULL,
                department TEXT NOT NULL,
                PRIMARY KEY (return_id, department)
            )""",
            "CREATE INDEX IF NOT EXISTS returns_pending_by_department ON returns_pending (department)",
        ]

    def apply(self, cur: Cursor, env: dict[str, Any]) -> None:
        kind, d, return_id, at = short_type(env), env["data"], env["subject"], env["time"]
        if kind == "ReturnRequested":
            cur.execute(
                "INSERT INTO returns_board (return_id, customer_id, resolution, status, items, requested_at, "
                "updated_at) VALUES (%s, %s, %s, 'requested', %s, %s, %s) ON CONFLICT DO NOTHING",
                (return_id, d["customer_id"], d["resolution"], dump_json(d["items"]), at, at))
            for department in d["required"]:
                cur.execute("INSERT INTO returns_pending (return_id, department) VALUES (%s, %s) "
                            "ON CONFLICT DO NOTHING", (return_id, department))
        elif kind == "DepartmentVoted":
            cur.execute("DELETE FROM returns_pending WHERE return_id = %s AND department = %s",
                        (return_id, d["department"]))
        elif kind in STATUS_AFTER:
            if kind == "ReturnRejected":
                cur.execute("DELETE FROM returns_pending WHERE return_id = %s", (return_id,))
            cur.execute("UPDATE returns_board SET status = %s, updated_at = %s WHERE return_id = %s",
                        (STATUS_AFTER[kind], at, return_id))


RETURN_KEYS = ("return_id", "customer_id", "resolution", "status", "items", "requested_at", "version")


class ReturnsReads:
    """Each department's queue: returns not closed, oldest request first, with the departments
    still to vote."""

    db: Database
    ORDER = Keyset(("b.requested_at", "b.return_id"))

    def open_returns(self, department: str | None = None, *, limit: int = 50,
                     cursor: str | None = None) -> dict[str, Any]:
        """Returns not yet closed; with a department, only those still waiting for its vote."""
        where, params = "b.status <> 'closed'", []
        if department:
            where += " AND EXISTS (SELECT 1 FROM returns_pending p WHERE p.return_id = b.return_id " \
                     "AND p.department = %s)"
            params.append(department)
        rows, next_cursor = board_page(self.db, self.ORDER, RETURN_KEYS, "returns_board", ReturnsBoard.name,
                                       "b.return_id", where, params, limit, cursor)
        waiting: dict[str, list[str]] = {r["return_id"]: [] for r in rows}
        if waiting:
            with self.db.transaction() as cur:
                for rid, dep in cur.execute(
                        f"SELECT return_id, department FROM returns_pending WHERE return_id IN "
                        f"({', '.join(['%s'] * len(waiting))})", list(waiting)).fetchall():
                    waiting[rid].append(dep)
        return {"returns": [{**r, "items": load_json(r["items"]), "pending": sorted(waiting[r["return_id"]])}
                            for r in rows], "next_cursor": next_cursor}

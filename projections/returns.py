"""Open returns by pending department: each department's queue of requests to judge."""

from __future__ import annotations

from typing import Any

from projections.base import Projection
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json

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

"""Open returns by pending department: each department's queue of requests to judge (the view
and its reads)."""

from __future__ import annotations

from typing import Any

from projections.base import Projection
from projections.paging import Keyset, board_page, read_row
from streams.envelope import short_type
from sqlstore.sqldb import Cursor, Database, dump_json, load_json

STATUS_AFTER = {"ReturnApproved": "approved", "ReturnRejected": "rejected", "PickupScheduled": "pickup_scheduled",
                "GoodsReceived": "received", "GoodsInspected": "inspected", "RefundIssued": "refunded",
                "ExchangeShipped": "exchange_shipped", "ReturnClosed": "closed"}


class ReturnsBoard(Projection):
    name = "returns_board"
    categories = ("returns",)
    tables = ("returns_board", "returns_pending")
    layout = 2  # the whole request as GET /returns/{id} shows it: order, votes, parts, rejection (issue 16)

    def ddl(self, db: Database) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS returns_board (
                return_id TEXT PRIMARY KEY,
                customer_id TEXT NOT NULL,
                resolution TEXT NOT NULL,
                status TEXT NOT NULL,
                items {db.json_type} NOT NULL,
                requested_at TEXT NOT NULL,
                updated_at TEXT NOT NULL,
                order_id TEXT,
                required {db.json_type} NOT NULL,
                votes {db.json_type} NOT NULL,
                faulty_parts {db.json_type} NOT NULL,
                rejection {db.json_type}
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
                "updated_at, order_id, required, votes, faulty_parts, rejection) "
                "VALUES (%s, %s, %s, 'requested', %s, %s, %s, %s, %s, %s, %s, NULL) ON CONFLICT DO NOTHING",
                (return_id, d["customer_id"], d["resolution"], dump_json(d["items"]), at, at, d.get("order_id"),
                 dump_json(d["required"]), dump_json({}), dump_json({})))
            for department in d["required"]:
                cur.execute("INSERT INTO returns_pending (return_id, department) VALUES (%s, %s) "
                            "ON CONFLICT DO NOTHING", (return_id, department))
        elif kind == "DepartmentVoted":
            cur.execute("DELETE FROM returns_pending WHERE return_id = %s AND department = %s",
                        (return_id, d["department"]))
            self._merge(cur, return_id, "votes", {d["department"]: d["approved"]})
        elif kind == "FaultyPartTracked":
            self._merge(cur, return_id, "faulty_parts", {d["part"]: d["step"]})
        if kind in STATUS_AFTER:
            if kind == "ReturnRejected":
                cur.execute("DELETE FROM returns_pending WHERE return_id = %s", (return_id,))
                # The reason the customer reads is the rejecting vote's, in the envelope.
                cur.execute("UPDATE returns_board SET rejection = %s WHERE return_id = %s",
                            (dump_json({"department": d["department"], "reason": env.get("reason")}), return_id))
            elif kind == "GoodsInspected":
                cur.execute("UPDATE returns_board SET faulty_parts = %s WHERE return_id = %s",
                            (dump_json(dict.fromkeys(d["faulty_parts"])), return_id))
            cur.execute("UPDATE returns_board SET status = %s, updated_at = %s WHERE return_id = %s",
                        (STATUS_AFTER[kind], at, return_id))

    @staticmethod
    def _merge(cur: Cursor, return_id: str, column: str, entries: dict[str, Any]) -> None:
        row = cur.execute(f"SELECT {column} FROM returns_board WHERE return_id = %s", (return_id,)).fetchone()
        if row is not None:
            cur.execute(f"UPDATE returns_board SET {column} = %s WHERE return_id = %s",
                        (dump_json({**load_json(row[0]), **entries}), return_id))


RETURN_KEYS = ("return_id", "customer_id", "resolution", "status", "items", "requested_at", "version")


class ReturnsReads:
    """Each department's queue: returns not closed, oldest request first, with the departments
    still to vote; and one request as the customer follows it."""

    db: Database
    ORDER = Keyset(("b.requested_at", "b.return_id"))

    def return_request(self, return_id: str) -> dict[str, Any] | None:
        """The request as GET /returns/{id} shows it, or None if the view does not hold it."""
        keys = ("return_id", "version", "customer_id", "order_id", "resolution", "items", "required", "votes",
                "status", "faulty_parts", "rejection")
        found = read_row(self.db, ReturnsBoard.name, "returns_board", "return_id", return_id, keys)
        if found is None:
            return None
        with self.db.read() as cur:
            pending = [p for (p,) in cur.execute("SELECT department FROM returns_pending WHERE return_id = %s",
                                                 (return_id,)).fetchall()]
        for key in ("items", "required", "votes", "faulty_parts", "rejection"):
            found[key] = None if found[key] is None else load_json(found[key])
        # The departments still to vote, in the order the request required them.
        return {**found, "pending": [d for d in found["required"] if d in pending]}

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

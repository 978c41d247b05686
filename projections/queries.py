"""Reading the views, including waiting until a view has caught up with a write."""

from __future__ import annotations

from typing import Any

from projections.worker import wait_until
from streams.sqldb import Database, load_json


class ViewNotCaughtUp(Exception):
    def __init__(self, view: str, position: int, timeout: float) -> None:
        super().__init__(
            f"the {view} view has not reached store position {position} within {timeout:g}s; retry shortly"
        )


class Views:
    """Queries over the read models (their tables are created before the API starts)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def timeline(self, customer_id: str, *, limit: int = 100, after: int = 0) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT event_id, position, occurred_at, subject_id, category, event_type, version, actor, "
                "summary, data FROM timeline_entries WHERE customer_id = %s AND position > %s "
                "ORDER BY position LIMIT %s",
                (customer_id, after, limit),
            ).fetchall()
        keys = ("event_id", "position", "occurred_at", "subject_id", "category", "event_type", "version",
                "actor", "summary", "data")
        return [{**dict(zip(keys, r)), "data": load_json(r[9])} for r in rows]

    def timeline_position(self, customer_id: str) -> int:
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT MAX(position) FROM timeline_entries WHERE customer_id = %s", (customer_id,)
            ).fetchone()
        return int(row[0] or 0)

    def tracking(self, order_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            row = cur.execute(
                "SELECT order_id, customer_id, tier, status, current_step, driver, latitude, longitude, "
                "position_updates, open_incidents, version, last_position, placed_at, updated_at "
                "FROM tracking_orders WHERE order_id = %s",
                (order_id,),
            ).fetchone()
            if row is None:
                return None
            history = cur.execute(
                "SELECT version, event_type, step, occurred_at, actor, summary FROM tracking_history "
                "WHERE order_id = %s ORDER BY version",
                (order_id,),
            ).fetchall()
        (oid, customer, tier, status, step, driver, lat, lng, updates, incidents, version, pos, placed,
         updated) = row
        return {
            "order_id": oid,
            "customer_id": customer,
            "tier": tier,
            "status": status,
            "current_step": step,
            "driver": driver,
            "position": None if lat is None else {"lat": lat, "lng": lng},
            "position_updates": updates,
            "open_incidents": load_json(incidents),
            "version": version,
            "last_position": pos,
            "placed_at": placed,
            "updated_at": updated,
            "history": [
                dict(zip(("version", "event_type", "step", "occurred_at", "actor", "summary"), h)) for h in history
            ],
        }

    def wait_for(self, view: str, reached: Any, position: int | None, timeout: float) -> None:
        """Block until ``reached()`` reports at least ``position``; raise if it never does."""
        if position is None or position <= 0:
            return
        if not wait_until(lambda: reached() >= position, timeout):
            raise ViewNotCaughtUp(view, position, timeout)

    def tracking_position(self, order_id: str) -> int:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT last_position FROM tracking_orders WHERE order_id = %s", (order_id,)).fetchone()
        return int(row[0]) if row else 0

    def progress(self) -> dict[str, int]:
        """Records consumed per projection (sum of next offsets), for /health."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT projection, SUM(next_offset) FROM projection_offsets GROUP BY projection"
            ).fetchall()
        return {name: int(total) for name, total in rows}


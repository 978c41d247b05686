"""Reading the views, including waiting until a view has caught up with a write."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from typing import Any

from engine.domain.calendar import BusinessCalendar
from projections.finance import FinanceViews
from projections.messages import DEFAULT as DEFAULT_LANGUAGE, render
from projections.phones import DEFAULT_REGION, split_query
from projections.worker import wait_until
from sqlstore.sqldb import Database, load_json


class ViewNotCaughtUp(Exception):
    def __init__(self, view: str, position: int, timeout: float) -> None:
        super().__init__(
            f"the {view} view has not reached store position {position} within {timeout:g}s; retry shortly"
        )


class Views(FinanceViews):
    """Queries over the read models (their tables are created before the API starts)."""

    def __init__(self, db: Database, zone: tzinfo = timezone.utc, phone_region: str = DEFAULT_REGION) -> None:
        self.db = db
        self.zone = zone  # of the times in summaries
        self.phone_region = phone_region

    def timeline(self, customer_id: str, *, limit: int = 100, after: int = 0,
                 language: str = DEFAULT_LANGUAGE) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT event_id, position, occurred_at, subject_id, category, event_type, version, actor, "
                "message, data FROM timeline_entries WHERE customer_id = %s AND position > %s "
                "ORDER BY position LIMIT %s",
                (customer_id, after, limit),
            ).fetchall()
        keys = ("event_id", "position", "occurred_at", "subject_id", "category", "event_type", "version",
                "actor", "summary", "data")
        return [{**dict(zip(keys, r)), "summary": render(load_json(r[8]), language, self.zone),
                 "data": load_json(r[9])} for r in rows]

    def tracking(self, order_id: str, language: str = DEFAULT_LANGUAGE) -> dict[str, Any] | None:
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
                "SELECT version, event_type, step, occurred_at, actor, message FROM tracking_history "
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
                {**dict(zip(("version", "event_type", "step", "occurred_at", "actor"), h)),
                 "summary": render(load_json(h[5]), language, self.zone)} for h in history
            ],
        }

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

    def customer_file(self, customer_id: str) -> dict[str, Any] | None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT customer_id, name, phone, address, language FROM customer_files "
                              "WHERE customer_id = %s", (customer_id,)).fetchone()
            if row is None:
                return None
            units = cur.execute(
                "SELECT order_id, sku, description, purchased_at, consumables FROM customer_products "
                "WHERE customer_id = %s ORDER BY purchased_at, product_key", (customer_id,)).fetchall()
            jobs = cur.execute(
                "SELECT job_id, order_id, sku, description, consumables, installed_by, installed_at "
                "FROM customer_installations WHERE customer_id = %s ORDER BY opened_position",
                (customer_id,)).fetchall()
        products = [{"order_id": u[0], "sku": u[1], "description": u[2], "purchased_at": u[3],
                     "installation_job_id": None, "installed_by": None, "installed_at": None,
                     "consumables": load_json(u[4])} for u in units]
        for job_id, order_id, sku, description, consumables, installed_by, installed_at in jobs:
            # Each installation job takes the first unit of its SKU on its order not yet taken,
            # in the order the jobs were opened; a job without such a unit is listed alone.
            unit = next((p for p in products if p["sku"] == sku and p["installation_job_id"] is None
                         and p["purchased_at"] is not None and order_id in (None, p["order_id"])), None)
            if unit is None:
                unit = {"order_id": order_id, "sku": sku, "description": description, "purchased_at": None,
                        "consumables": load_json(consumables)}
                products.append(unit)
            unit.update(installation_job_id=job_id, installed_by=installed_by, installed_at=installed_at)
        return {**dict(zip(("customer_id", "name", "phone", "address", "language"), row)), "products": products}

    def customer_language(self, customer_id: str | None) -> str | None:
        """The language recorded for the customer (LanguagePreferred), if any."""
        if customer_id is None:
            return None
        with self.db.read() as cur:
            row = cur.execute("SELECT language FROM customer_files WHERE customer_id = %s", (customer_id,)).fetchone()
        return row[0] if row else None

    def search_customers(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        """Customers whose id, name, phone or address contains every word of ``query``; a phone
        is found however it is written (projections/phones.py)."""
        words = split_query(query, self.phone_region)[:8]
        sql = "SELECT customer_id, name, phone, address FROM customer_files"
        if words:
            sql += " WHERE " + " AND ".join("search_text LIKE %s ESCAPE '\\'" for _ in words)
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY customer_id LIMIT %s",
                               [*(f"%{_escape_like(w)}%" for w in words), limit]).fetchall()
        return [dict(zip(("customer_id", "name", "phone", "address"), r)) for r in rows]

    def open_returns(self, department: str | None = None) -> list[dict[str, Any]]:
        """Returns not yet closed; with a department, only those still waiting for its vote."""
        keys = ("return_id", "customer_id", "resolution", "status", "items", "requested_at")
        sql = f"SELECT {', '.join('b.' + k for k in keys)} FROM returns_board b WHERE b.status <> 'closed'"
        params: list[Any] = []
        if department:
            sql += " AND EXISTS (SELECT 1 FROM returns_pending p WHERE p.return_id = b.return_id " \
                   "AND p.department = %s)"
            params.append(department)
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY b.requested_at, b.return_id", params).fetchall()
            pending = cur.execute("SELECT return_id, department FROM returns_pending").fetchall()
        waiting: dict[str, list[str]] = {}
        for rid, dep in pending:
            waiting.setdefault(rid, []).append(dep)
        return [{**dict(zip(keys, r)), "items": load_json(r[4]), "pending": sorted(waiting.get(r[0], []))}
                for r in rows]

    def complaints(self, category: str | None = None, status: str | None = None) -> dict[str, Any]:
        """Counts by category and state, and the matching complaints."""
        with self.db.transaction() as cur:
            counts = cur.execute("SELECT category, status, COUNT(*) FROM complaints_board GROUP BY category, status "
                                 "ORDER BY category, status").fetchall()
            sql, params = "SELECT complaint_id, customer_id, category, status, filed_at, closed_at FROM " \
                          "complaints_board WHERE 1 = 1", []
            for column, value in (("category", category), ("status", status)):
                if value:
                    sql += f" AND {column} = %s"
                    params.append(value)
            rows = cur.execute(sql + " ORDER BY filed_at LIMIT 500", params).fetchall()
        keys = ("complaint_id", "customer_id", "category", "status", "filed_at", "closed_at")
        return {"counts": [{"category": c, "status": s, "count": int(n)} for c, s, n in counts],
                "complaints": [dict(zip(keys, r)) for r in rows]}

    def claims(self, open_only: bool = True) -> list[dict[str, Any]]:
        keys = ("claim_id", "complaint_id", "customer_id", "status", "proposal_due_at", "first_proposal_at",
                "proposal_overdue", "escalation_level", "liability", "amount", "paid_total", "opened_at")
        sql = f"SELECT {', '.join(keys)} FROM claims_board"
        if open_only:
            sql += " WHERE status <> 'closed'"
        with self.db.transaction() as cur:
            rows = cur.execute(sql + " ORDER BY proposal_due_at", ()).fetchall()
        return [{**dict(zip(keys, r)), "proposal_overdue": bool(r[6])} for r in rows]

    def compensation_by_month(self) -> list[dict[str, Any]]:
        with self.db.transaction() as cur:
            rows = cur.execute("SELECT month, paid, payments FROM compensation_monthly ORDER BY month").fetchall()
        return [{"month": m, "paid": p, "payments": int(n)} for m, p, n in rows]

    def sla_board(self, now: datetime) -> list[dict[str, Any]]:
        """Open items with time left in business time, warnings and breaches."""
        keys = ("sla_id", "subject_id", "subject_kind", "customer_id", "tier", "status", "calendar",
                "allowed_seconds", "used_seconds", "run_started_at", "due_at", "warned", "breached")
        with self.db.transaction() as cur:
            rows = cur.execute(f"SELECT {', '.join(keys)} FROM sla_board WHERE status <> 'completed' "
                               "ORDER BY due_at", ()).fetchall()
        board = []
        for r in rows:
            item = dict(zip(keys, r))
            used = int(item["used_seconds"])
            if item["run_started_at"]:
                calendar = BusinessCalendar.from_spec(load_json(item.pop("calendar")))
                used += int(calendar.elapsed(datetime.fromisoformat(item["run_started_at"]), now).total_seconds())
            else:
                item.pop("calendar")
            board.append({**item, "used_seconds": used, "time_left_seconds": int(item["allowed_seconds"]) - used,
                          "warned": bool(item["warned"]), "breached": bool(item["breached"])})
        return board

    def hotline(self) -> dict[str, Any]:
        with self.db.transaction() as cur:
            days = cur.execute("SELECT day, answered, missed FROM hotline_days ORDER BY day").fetchall()
            pending = cur.execute("SELECT call_id, phone, customer_id, missed_at, due_at FROM call_backs "
                                  "WHERE done_at IS NULL ORDER BY due_at").fetchall()
        return {
            "target_answer_rate": 0.85,
            "days": [{"day": d, "answered": a, "missed": m, "answer_rate": round(a / (a + m), 4) if a + m else None}
                     for d, a, m in days],
            "pending_call_backs": [dict(zip(("call_id", "phone", "customer_id", "missed_at", "due_at"), p))
                                   for p in pending],
        }

    def applied_version(self, projection: str, aggregate_id: str) -> int:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT version FROM projection_versions WHERE projection = %s AND aggregate_id = %s",
                              (projection, aggregate_id)).fetchone()
        return int(row[0]) if row else 0

    def wait_for_version(self, projection: str, aggregate_id: str, version: int, position: int,
                         timeout: float) -> None:
        """Block until the projection has applied ``version`` of the aggregate; raise if it never does."""
        if not wait_until(lambda: self.applied_version(projection, aggregate_id) >= version, timeout):
            raise ViewNotCaughtUp(projection.replace("_", " "), position, timeout)

    def progress(self) -> dict[str, int]:
        """Records consumed per projection (sum of next offsets), for /health."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT projection, SUM(next_offset) FROM projection_offsets GROUP BY projection"
            ).fetchall()
        return {name: int(total) for name, total in rows}


def _escape_like(word: str) -> str:
    """A search word matches itself only: LIKE's wildcards in it are escaped."""
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

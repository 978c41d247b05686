"""Reading the views, including waiting until a view has caught up with a write."""

from __future__ import annotations

from datetime import timezone, tzinfo
from typing import Any

from projections.complaints import ComplaintReads
from projections.fieldwork import FieldReads
from projections.followups import FollowUpReads
from projections.finance import FinanceViews
from projections.ledger import LedgerReads
from projections.levels import LevelReads
from projections.phones import DEFAULT_REGION, split_query
from projections.returns import ReturnsReads
from projections.timeline import TimelineReads
from projections.tracking import TrackingReads
from projections.worker import wait_until
from sqlstore.sqldb import Database, load_json


class ViewNotCaughtUp(Exception):
    def __init__(self, view: str, position: int, timeout: float) -> None:
        super().__init__(
            f"the {view} view has not reached store position {position} within {timeout:g}s; retry shortly"
        )


class Views(TimelineReads, TrackingReads, FieldReads, ReturnsReads, ComplaintReads, LevelReads, LedgerReads,
            FinanceViews, FollowUpReads):
    """Queries over the read models (their tables are created before the API starts); each
    view's own reads live beside it (``*Reads``), this class holds the rest."""

    def __init__(self, db: Database, zone: tzinfo = timezone.utc, phone_region: str = DEFAULT_REGION) -> None:
        self.db = db
        self.zone = zone  # of the times in summaries
        self.phone_region = phone_region

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

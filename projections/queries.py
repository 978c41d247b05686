"""Reading the views, including waiting until a view has caught up with a write."""

from __future__ import annotations

from datetime import timezone, tzinfo

from projections.complaints import ComplaintReads
from projections.customer_file import CustomerFileReads
from projections.fieldwork import FieldReads
from projections.finance import FinanceViews
from projections.followups import FollowUpReads
from projections.ledger import LedgerReads
from projections.levels import LevelReads
from projections.phones import DEFAULT_REGION
from projections.returns import ReturnsReads
from projections.timeline import TimelineReads
from projections.tracking import TrackingReads
from projections.worker import wait_until
from sqlstore.sqldb import Database


class ViewNotCaughtUp(Exception):
    def __init__(self, view: str, position: int, timeout: float) -> None:
        super().__init__(
            f"the {view} view has not reached store position {position} within {timeout:g}s; retry shortly"
        )


class Views(TimelineReads, TrackingReads, FieldReads, ReturnsReads, ComplaintReads, LevelReads, LedgerReads,
            FinanceViews, FollowUpReads, CustomerFileReads):
    """Queries over the read models (their tables are created before the API starts). Each
    view owns its tables and its queries, which live beside it (``*Reads``); this class holds
    only the bookkeeping every view shares (versions applied, progress)."""

    def __init__(self, db: Database, zone: tzinfo = timezone.utc, phone_region: str = DEFAULT_REGION) -> None:
        self.db = db
        self.zone = zone  # of the times in summaries
        self.phone_region = phone_region

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


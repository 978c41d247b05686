"""What a projection is, and the bookkeeping tables every projection shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from streams.sealed import PersonalFields
from sqlstore.sqldb import Cursor, Database

BOOKKEEPING_DDL = (
    """CREATE TABLE IF NOT EXISTS projection_offsets (
        projection TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition_no INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        last_event_id TEXT NOT NULL,
        PRIMARY KEY (projection, topic, partition_no)
    )""",
    # The highest version applied per aggregate: a re-delivered event is recognised even
    # when it comes back at a different offset (a republished topic).
    """CREATE TABLE IF NOT EXISTS projection_versions (
        projection TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        PRIMARY KEY (projection, aggregate_id)
    )""",
    # Records on our topics that are not our envelopes: kept for inspection, then skipped,
    # so one foreign message cannot stall a view.
    """CREATE TABLE IF NOT EXISTS projection_rejects (
        projection TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition_no INTEGER NOT NULL,
        record_offset BIGINT NOT NULL,
        error TEXT NOT NULL,
        raw TEXT NOT NULL,
        PRIMARY KEY (projection, topic, partition_no, record_offset)
    )""",
    # Poison events: an event that failed to apply after bounded retries is parked here (and
    # sent to the projection's dead-letter topic); the later events of the same aggregate
    # wait behind it, so that aggregate's order is kept, while every other aggregate moves on.
    # `serviceorder dlq retry|skip` releases them.
    """CREATE TABLE IF NOT EXISTS projection_parked (
        projection TEXT NOT NULL,
        aggregate_id TEXT NOT NULL,
        version BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition_no INTEGER NOT NULL,
        record_offset BIGINT NOT NULL,
        status TEXT NOT NULL,
        error TEXT NOT NULL,
        attempts INTEGER NOT NULL,
        raw TEXT NOT NULL,
        parked_at TEXT NOT NULL,
        PRIMARY KEY (projection, aggregate_id, version)
    )""",
    # Customers whose personal data was erased, and at which store position (projections/privacy.py).
    """CREATE TABLE IF NOT EXISTS projection_erasures (
        projection TEXT NOT NULL,
        customer_id TEXT NOT NULL,
        position BIGINT NOT NULL,
        PRIMARY KEY (projection, customer_id)
    )""",
    # The layout each view's tables were created with (Projection.layout).
    """CREATE TABLE IF NOT EXISTS projection_layouts (
        projection TEXT PRIMARY KEY,
        layout INTEGER NOT NULL
    )""",
)
# A projection's rows in the bookkeeping tables go with its view (drop, rebuild).
BOOKKEEPING_TABLES = ("projection_offsets", "projection_versions", "projection_parked", "projection_erasures")


class Projection(ABC):
    """A read model: its tables, how one event changes them, and how to drop them."""

    name: str
    categories: tuple[str, ...]
    tables: tuple[str, ...]
    # Raised when the view's tables change shape: a view found with another layout (an older
    # release's) is dropped when it is next created, and its worker rebuilds it from offset zero.
    layout: int = 1

    def __init__(self, personal: PersonalFields | None = None) -> None:
        # Opens the sealed personal fields of events, for the views entitled to them
        # (projections/privacy.py); the others never look inside a sealed field.
        self.personal = personal

    @abstractmethod
    def ddl(self, db: Database) -> list[str]:
        """CREATE statements for the view's own tables (idempotent)."""

    @abstractmethod
    def apply(self, cur: Cursor, envelope: dict[str, Any]) -> None:
        """Change the view for one event, inside the caller's transaction."""

    def prepare_batch(self, cur: Cursor, envelopes: list[dict[str, Any]]) -> None:
        """Called by the worker before it applies ``envelopes`` (in the same transaction), for
        views that read what a whole batch needs in one query instead of one per event."""

    def create(self, db: Database) -> None:
        with db.transaction() as cur:
            for stmt in BOOKKEEPING_DDL:
                cur.execute(stmt)
            row = cur.execute("SELECT layout FROM projection_layouts WHERE projection = %s",
                              (self.name,)).fetchone()
            if row is None or int(row[0]) != self.layout:
                # No record: tables of a release before layouts were recorded, i.e. layout 1.
                if (1 if row is None else int(row[0])) != self.layout:
                    self._drop_rows(cur)
                # An upsert: processes starting together (serve --workers) may both get here.
                cur.execute("INSERT INTO projection_layouts (projection, layout) VALUES (%s, %s) "
                            "ON CONFLICT (projection) DO UPDATE SET layout = EXCLUDED.layout",
                            (self.name, self.layout))
            for stmt in self.ddl(db):
                cur.execute(stmt)

    def drop(self, db: Database) -> None:
        """Remove the view's rows and bookkeeping so it can be rebuilt from offset zero."""
        self.create(db)
        with db.transaction() as cur:
            self._drop_rows(cur)
        self.create(db)

    def _drop_rows(self, cur: Cursor) -> None:
        for table in self.tables:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        for table in BOOKKEEPING_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE projection = %s", (self.name,))

"""Rebuilding a view without ever leaving it half built.

``serviceorder rebuild`` replays a view's topics from offset zero into a shadow copy of the
views database (SQLite: a file beside it; PostgreSQL: a schema beside the views' schema),
then swaps the shadow's rows in, with the view's bookkeeping, in one transaction. Until the
swap the live view is untouched and readable; a rebuild that fails (broker gone, a bug in
the view's code, Ctrl-C) leaves it exactly as it was, and the shadow is thrown away.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import structlog

from projections.base import BOOKKEEPING_TABLES, Projection
from projections.worker import ProjectionWorker
from sqlstore.sqldb import Database

log = structlog.get_logger(__name__)

SHADOW = "shadow"


def shadow_of(live: Database, projection: Projection) -> Database:
    """An empty database of the live one's kind to build ``projection`` in."""
    discard(live, projection)
    if live.dialect == "postgres":
        shadow = Database(live.url, _shadow_schema(live, projection), max_connections=5, max_idle=2)
        shadow.ensure_schema()
        return shadow
    return Database(str(_shadow_file(live, projection)), max_connections=5)


def discard(live: Database, projection: Projection) -> None:
    """Remove a shadow (after a swap, a failure, or one left by an interrupted rebuild)."""
    if live.dialect == "postgres":
        with live.transaction() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{_shadow_schema(live, projection)}" CASCADE')
        return
    path = _shadow_file(live, projection)
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)


def swap_in(live: Database, shadow: Database, projection: Projection) -> None:
    """Replace the live view's tables and bookkeeping rows by the shadow's, atomically."""
    if live.dialect == "postgres":
        prefix, attach = f'"{shadow.schema}".', None
    else:
        prefix, attach = f'"{SHADOW}".', (SHADOW, shadow.path)
    with live.transaction(attach=attach) as cur:
        for table in projection.tables:
            # Dropped and created again: a view whose layout changed gets its new layout.
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        for stmt in projection.ddl(live):
            cur.execute(stmt)
        for table in projection.tables:
            cur.execute(f"INSERT INTO {table} SELECT * FROM {prefix}{table}")
        for table in BOOKKEEPING_TABLES:
            cur.execute(f"DELETE FROM {table} WHERE projection = %s", (projection.name,))
            cur.execute(f"INSERT INTO {table} SELECT * FROM {prefix}{table} WHERE projection = %s",
                        (projection.name,))


def rebuild(live: Database, projection: Projection, worker: Callable[[Database], ProjectionWorker],
            progress: Callable[[int, int], None] | None = None) -> int:
    """Replay ``projection`` from offset zero into a shadow, then swap it in; returns the records read."""
    shadow = shadow_of(live, projection)
    builder = None
    try:
        builder = worker(shadow)
        count = builder.rebuild(progress=progress)
        swap_in(live, shadow, projection)
        log.info("view_swapped_in", projection=projection.name, records=count)
        return count
    finally:
        if builder is not None:
            builder.close()  # a rebuild cut short leaves its consumer open otherwise
        shadow.close()
        discard(live, projection)


def _shadow_schema(live: Database, projection: Projection) -> str:
    return f"{live.schema}_rebuild_{projection.name}"[:63]


def _shadow_file(live: Database, projection: Projection) -> Path:
    return live.path.with_name(f"{live.path.stem}-rebuild-{projection.name}.sqlite")

"""Feeding a view events by hand, with no broker: envelopes as the relay publishes them (the
fields views read), applied in one transaction to a fresh SQLite database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections.base import Projection
from sqlstore.sqldb import Database


def envelope(category: str, subject: str, kind: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    """The ``version``-th event of ``subject``, at store position ``version``."""
    return {"type": f"serviceorder.{category}.{kind}", "source": f"/serviceorder/{category}", "subject": subject,
            "time": f"2026-11-30T08:{version:02d}:00+00:00", "aggregateversion": version, "position": version,
            "actor": "op", "data": data}


def fed(tmp_path: Path, view: Projection, events: list[dict[str, Any]]) -> Database:
    db = Database(str(tmp_path / "views.sqlite"))
    view.create(db)
    with db.transaction() as cur:
        for env in events:
            view.apply(cur, env)
    return db

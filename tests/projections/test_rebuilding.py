"""Rebuilding into a shadow and swapping it in: the live view is whole before, during and after,
and on the embedded default the rebuild fills the bundled broker from the store first."""

from __future__ import annotations

from pathlib import Path

import pytest

from commands import cli
from commands.bootstrap import Runtime, build_runtime
from commands.settings import Settings
from projections import rebuilding
from projections.timeline import CustomerTimeline
from projections.tracking import OrderTracking
from sqlstore.sqldb import Database
from tests.conftest import ADMIN_TOKEN
from tests.projections.test_worker import deliver_some, drain, publish, rows, view_dump


def drained(runtime: Runtime, projection: CustomerTimeline | OrderTracking, events: int) -> None:
    worker = runtime.worker(projection)
    try:
        drain(worker, events)
    finally:
        worker.close()


def shadow_exists(db: Database, projection: CustomerTimeline) -> bool:
    if db.dialect == "sqlite":
        return rebuilding._shadow_file(db, projection).exists()
    with db.transaction() as cur:
        return cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s",
                           (rebuilding._shadow_schema(db, projection),)).fetchone() is not None


def test_a_rebuild_swaps_in_the_same_rows_and_removes_its_shadow(runtime: Runtime) -> None:
    deliver_some(runtime, 3)
    publish(runtime)
    for projection in (CustomerTimeline(runtime.personal_fields()), OrderTracking(runtime.personal_fields())):
        drained(runtime, projection, 9)
    incremental = view_dump(runtime.views_db)
    offsets = rows(runtime.views_db, "projection_offsets")
    seen: list[tuple[int, int]] = []
    for projection in (CustomerTimeline(runtime.personal_fields()), OrderTracking(runtime.personal_fields())):
        count = rebuilding.rebuild(runtime.views_db, projection, lambda db, p=projection: runtime.worker(p, db),
                                   progress=lambda d, t: seen.append((d, t)))
        assert count == 9
        assert not shadow_exists(runtime.views_db, projection)
    assert view_dump(runtime.views_db) == incremental
    assert rows(runtime.views_db, "projection_offsets") == offsets
    assert seen[-1] == (9, 9)


def test_a_failed_rebuild_leaves_the_live_view_as_it_was(runtime: Runtime) -> None:
    deliver_some(runtime, 3)
    publish(runtime)
    drained(runtime, CustomerTimeline(runtime.personal_fields()), 9)
    before = rows(runtime.views_db, "timeline_entries")
    assert len(before) == 9

    def interrupted(done: int, total: int) -> None:
        if done:  # the shadow holds part of the view: stop here, as a Ctrl-C or a lost broker would
            raise KeyboardInterrupt

    projection = CustomerTimeline(runtime.personal_fields())
    with pytest.raises(KeyboardInterrupt):
        rebuilding.rebuild(runtime.views_db, projection, lambda db: runtime.worker(projection, db),
                           progress=interrupted)
    assert rows(runtime.views_db, "timeline_entries") == before
    assert not shadow_exists(runtime.views_db, projection)


def test_rebuild_on_the_embedded_default_with_serve_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """SQLite and the bundled broker, which lost everything when serve stopped: the rebuild
    fills a new broker from the store, and the view comes back whole."""
    settings = Settings(data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, log_format="console")
    written = build_runtime(settings)
    try:
        deliver_some(written, 2, customer="cust-embedded")
    finally:
        written.close()
    monkeypatch.setenv("SERVICEORDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SERVICEORDER_LOG_FORMAT", "console")
    assert cli.main(["rebuild", "customer_timeline", "order_tracking"]) == 0
    err = capsys.readouterr().err
    assert "customer_timeline: rebuilt from offset zero, 6 records" in err
    assert "order_tracking: rebuilt from offset zero, 6 records" in err
    assert "rebuild customer_timeline" in err  # the progress bar
    views = Database(str(settings.data_dir / "views.sqlite"))
    try:
        entries = rows(views, "timeline_entries")
        assert len(entries) == 6 and {e[1] for e in entries} == {"cust-embedded"}
        assert len(rows(views, "tracking_orders")) == 2
    finally:
        views.close()


def test_a_view_of_an_older_layout_is_dropped_to_be_rebuilt_from_offset_zero(runtime: Runtime) -> None:
    """The timeline's layout 1 stored English text in ``summary``: found at start-up, it is
    dropped with its offsets, so its worker reads the topics again into layout 2."""
    db = runtime.views_db
    with db.transaction() as cur:
        cur.execute("DROP TABLE timeline_entries")
        cur.execute("CREATE TABLE timeline_entries (event_id TEXT PRIMARY KEY, summary TEXT NOT NULL)")
        cur.execute("INSERT INTO timeline_entries VALUES ('e1', 'Order placed')")
        cur.execute("UPDATE projection_layouts SET layout = 1 WHERE projection = 'customer_timeline'")
        cur.execute("INSERT INTO projection_offsets VALUES ('customer_timeline', 't', 0, 5, 'e1')")
    CustomerTimeline(runtime.personal_fields()).create(db)
    assert rows(db, "timeline_entries") == []
    assert [r for r in rows(db, "projection_offsets") if r[0] == "customer_timeline"] == []
    with db.transaction() as cur:
        assert cur.execute("SELECT layout FROM projection_layouts WHERE projection = 'customer_timeline'"
                           ).fetchone()[0] == 2
        cur.execute("SELECT message FROM timeline_entries")  # the new layout's column
    deliver_some(runtime, 1)
    publish(runtime)
    drained(runtime, CustomerTimeline(runtime.personal_fields()), 3)
    assert len(rows(db, "timeline_entries")) == 3

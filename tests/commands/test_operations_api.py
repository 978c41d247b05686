"""Operating the streams over HTTP and the CLI: lag per reader in JSON and Prometheus format,
the AsyncAPI document, parked poison events retried by an operator, partial republish."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands import cli
from commands.bootstrap import Runtime
from commands.settings import Settings
from engine.application.context import CommandContext
from projections import parking
from projections.registry import PROJECTIONS
from streams.asyncapi import document
from tests.commands.test_cli import _env
from tests.commands.test_field_story import ORDER, eventually, ok
from tests.projections.test_worker import deliver_some, publish

CTX = CommandContext.new()


def test_lag_metrics_and_the_contract(client: TestClient, runtime: Runtime) -> None:
    order = ok(client.post("/orders", json=ORDER), 201)
    ok(client.post(f"/orders/{order['order_id']}/delivery-steps", json={"step": "stock_prepared"}))

    def caught_up() -> dict[str, Any] | None:
        report = ok(client.get("/lag"))
        done = report["relay"]["lag_events"] == 0 and all(p["lag_records"] == 0
                                                          for p in report["projections"].values())
        return report if done and report["store_position"] >= 2 else None

    report = eventually(caught_up)
    assert set(report["projections"]) == set(PROJECTIONS)
    text = client.get("/metrics")
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE serviceorder_projection_lag_records gauge" in text.text
    assert 'serviceorder_projection_lag_records{projection="order_tracking"} 0' in text.text
    assert f"serviceorder_store_position {report['store_position']}" in text.text
    assert client.get("/metrics", headers={"Authorization": "Bearer nope-nope-nope-nope"}).status_code == 401
    assert ok(client.get("/asyncapi.json")) == document()
    assert ok(client.get("/dead-letters")) == {"parked": []}
    assert client.post("/dead-letters/nonsense/x/retry").status_code == 404
    skip = client.post("/dead-letters/order_tracking/x/skip", json={"reason": "r"})
    assert skip.status_code == 409 and "no parked event" in skip.json()["detail"]


def test_parked_events_show_in_lag_and_are_retried_from_the_cli(runtime: Runtime, settings: Settings,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    (victim,) = deliver_some(runtime, 1)
    publish(runtime)
    from tests.projections.test_parking import Poisoned

    projection = Poisoned(str(victim), runtime.personal_fields())
    worker = runtime.worker(projection)
    for _ in range(8):
        worker.poll_once()
    worker.close()
    from commands.lag import lag_report

    report = lag_report(runtime)
    assert report["projections"]["order_tracking"] == {"lag_records": 0, "parked_events": 3, "rejected_records": 0}
    _env(monkeypatch, settings)
    assert cli.main(["dlq", "list", "order_tracking"]) == 0
    assert str(victim) in capsys.readouterr().out
    assert cli.main(["dlq", "retry", "order_tracking", str(victim)]) == 0  # the real view has no such bug
    assert parking.parked(runtime.views_db) == []
    assert runtime.views.tracking(str(victim))["version"] == 3


def test_republish_from_a_position(runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    deliver_some(runtime, 2)
    publish(runtime)
    _env(monkeypatch, settings)
    assert cli.main(["streams", "republish", "orders", "--from", "4"]) == 0
    assert "orders: 3 events published again" in capsys.readouterr().err

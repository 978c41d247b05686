"""The demo: a fresh store filled through the application's commands, its views showing a
living business, and the demo clock that fires deadlines (refused outside demo mode)."""

from __future__ import annotations

from datetime import timedelta
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient

from commands import cli
from commands.api.app import create_app
from commands.bootstrap import Runtime, build_runtime
from commands.demo.run import TOKENS_FILE, StoreNotFresh, fill, prepare
from commands.democlock import parse_duration
from commands.settings import Settings
from engine.application.context import CommandContext
from streams.broker import BrokerProcess
from tests.commands.conftest import AUTH
from tests.commands.test_field_story import eventually, ok
from tests.commands.test_serve import Served
from tests.conftest import make_settings
from tests.waiting import views_caught_up

on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def demo_settings(tmp_path: Path, broker: BrokerProcess, topic_prefix: str) -> Settings:
    return make_settings("sqlite", tmp_path, broker, topic_prefix)


@pytest.fixture
def demo(demo_settings: Settings) -> Iterator[tuple[Runtime, dict[str, Any]]]:
    assert prepare(demo_settings) is True
    runtime = build_runtime(demo_settings)
    try:
        assert runtime.demo_clock is not None and runtime.app.uow.clock is runtime.demo_clock
        yield runtime, fill(runtime)
    finally:
        runtime.close()


@pytest.fixture
def demo_client(demo: tuple[Runtime, dict[str, Any]]) -> Iterator[TestClient]:
    runtime, _ = demo
    runtime.start_background()
    with TestClient(create_app(runtime), headers=AUTH) as client:
        yield client


def as_token(made: dict[str, Any], who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {made['tokens'][who]['token']}"}


def test_the_demo_fills_a_fresh_store_and_the_views_show_a_living_business(
        demo: tuple[Runtime, dict[str, Any]], demo_client: TestClient) -> None:
    runtime, made = demo
    position = made["store_position"]
    assert position > 300
    health = eventually(lambda: (h := ok(demo_client.get("/health")))["projections"].get("customer_timeline") and h)
    assert health["store_position"] >= position

    # Customers with Chinese names, found by name, with installations in their files.
    found = eventually(lambda: ok(demo_client.get("/customers", params={"q": "王建国"}))["customers"])
    assert [c["customer_id"] for c in found] == ["C10001"]
    file = eventually(lambda: (f := demo_client.get("/customers/C10001/file")).status_code == 200
                      and f.json()["products"] and f.json()["products"][0]["installed_by"] and f.json())
    assert file["address"].startswith("上海市") and file["products"][0]["installed_by"] == "li.wei"
    # Every view has caught up with the story before it is read below.
    eventually(lambda: all(ok(demo_client.get("/health"))["projections"].get(p) for p in (
        "order_tracking", "sla_board", "complaints_board", "engineer_ledger")) and len(ok(demo_client.get(
            "/claims"))["claims"]) == 2 and ok(demo_client.get("/slas"))["items"])
    views_caught_up(demo_client, position)

    # Orders at every delivery step, one held up by an open incident, one cancelled.
    seen = set()
    for customer in ("C10012", "C10013", "C10014", "C10015", "C10016", "C10017", "C10018"):
        entries = ok(demo_client.get(f"/customers/{customer}/timeline", params={"limit": 1000}))["entries"]
        for order_id in {e["subject_id"] for e in entries if e["category"] == "orders"}:
            tracking = ok(demo_client.get(f"/orders/{order_id}/tracking"))
            seen.add(tracking["current_step"] or tracking["status"])
            seen.add(tracking["status"])
    assert {"placed", "stock_prepared", "left_warehouse", "driver_assigned", "in_transit", "delivered",
            "incident_open", "cancelled"} <= seen
    # The deliveries board has an open incident to resolve or re-dispatch: goods on the road
    # with a driver (re-dispatching needs one to have been assigned).
    (held_up,) = ok(demo_client.get("/orders", params={"status": "incident_open"}))["orders"]
    assert held_up["driver"] and held_up["current_step"] == "in_transit"
    assert "爆胎" in held_up["open_incidents"][0]["description"]
    # A sick engineer's booked job waits in the dispatch queue with its appointment kept.
    assert any(j["status"] == "declined" and j["window_start"] and j["engineer"] is None
               for j in ok(demo_client.get("/jobs"))["jobs"])

    # A claim in dispute and one whose 48-hour proposal clock runs; an SVIP SLA about to breach.
    claims = ok(demo_client.get("/claims"))["claims"]
    assert sorted(c["status"] for c in claims) == ["disputed", "open"]
    sla = ok(demo_client.get("/slas"))["items"]
    assert [(s["tier"], s["breached"]) for s in sla] == [("svip", False)]
    assert 0 < sla[0]["time_left_seconds"] < 2 * 3600

    # Last month's work is ready to settle: finance runs it, every engineer gets a statement.
    period = runtime.demo_clock.now().astimezone(ZoneInfo("Asia/Shanghai")).replace(day=1) - timedelta(days=1)
    run = ok(demo_client.post("/settlements", json={"period": f"{period:%Y-%m}"}, headers=as_token(made, "finance")),
             201)
    totals = {s["engineer"]: s for s in run["statements"]}
    assert set(totals) == {"li.wei", "wang.qiang", "zhao.lei", "chen.gang"}
    assert totals["chen.gang"]["holdback"] == "0.00"  # a low-volume engineer: nothing withheld

    # The customer's tracking link reads their own timeline, in Chinese when asked.
    customer = next(who for who in made["tokens"] if who.startswith("customer C10017"))
    timeline = ok(demo_client.get("/customers/C10017/timeline", headers={**as_token(made, customer),
                                                                          "Accept-Language": "zh-CN"}))
    assert timeline["entries"][0]["summary"] == "已为 林东 建立客户档案"
    assert (runtime.settings.data_dir / TOKENS_FILE).stat().st_mode & 0o777 == 0o600


def test_moving_the_demo_clock_fires_deadlines(demo: tuple[Runtime, dict[str, Any]],
                                               demo_client: TestClient) -> None:
    runtime, made = demo
    eventually(lambda: ok(demo_client.get("/slas"))["items"])
    before = ok(demo_client.get("/demo/clock"))
    refused = demo_client.post("/demo/clock", json={"advance": "2h"}, headers=as_token(made, "finance"))
    assert refused.status_code == 403
    moved = ok(demo_client.post("/demo/clock", json={"advance": "2h"}, headers=as_token(made, "operator")))
    assert moved["offset_seconds"] - before["offset_seconds"] == pytest.approx(7200, abs=5)
    # The SVIP SLA (4 h, 2 h 40 min used) warns and breaches, fired by this request's pass or
    # by the scheduler (whichever reads the deadline index first; each deadline fires once).
    assert set(moved["deadlines"]) <= {"fired", "not_due", "not_scheduled", "lost_race"}
    sla = eventually(lambda: (s := ok(demo_client.get("/slas"))["items"]) and s[0]["breached"] and s)
    assert sla[0]["warned"] and sla[0]["time_left_seconds"] < 0
    summaries = eventually(lambda: "Promised resolution time exceeded" in (
        t := [e["summary"] for e in ok(demo_client.get("/customers/C10018/timeline",
                                                       headers={"Accept-Language": "en"}))["entries"]]) and t)
    assert "75% of the promised resolution time used" in summaries

    # A day and a half later the claim's 48-hour proposal clock has run out, tomorrow's
    # appointment was missed and the follow-up call is overdue: the scheduler fires them.
    ok(demo_client.post("/demo/clock", json={"advance": "1d12h"}, headers=as_token(made, "operator")))
    overdue = eventually(lambda: (c := [c for c in ok(demo_client.get("/claims"))["claims"]
                                        if c["status"] == "open"]) and c[0]["proposal_overdue"] and c)
    assert overdue[0]["escalation_level"] == 1
    missed = eventually(lambda: (a := ok(demo_client.get("/engineers/li.wei/agenda"))) and any(
        j["missed_windows"] for j in a["jobs"]) and a)
    assert missed
    assert demo_client.post("/demo/clock", json={"advance": "soon"}).status_code == 422
    assert demo_client.post("/demo/clock", json={"advance": "-1h"}).status_code == 422


@on_sqlite
def test_the_demo_refuses_a_store_that_holds_real_data(runtime: Runtime, settings: Settings,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    runtime.app.place_order(CommandContext.new(), customer_id="c", items=[{"sku": "A", "quantity": 1}],
                            tier="basic", delivery_address="a")
    with pytest.raises(StoreNotFresh, match="1 events and is not a demo store"):
        prepare(settings)
    again = build_runtime(settings)
    try:
        assert again.demo_clock is None
    finally:
        again.close()
    monkeypatch.setenv("SERVICEORDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers or "")
    assert cli.main(["demo", "--fill-only"]) == 2
    assert "not a demo store" in capsys.readouterr().err


@on_sqlite
def test_the_clock_is_refused_outside_demo_mode(client: TestClient, settings: Settings,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for response in (client.get("/demo/clock"), client.post("/demo/clock", json={"advance": "2h"})):
        assert response.status_code == 409
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "only in demo mode" in response.json()["detail"]
    monkeypatch.setenv("SERVICEORDER_DATA_DIR", str(settings.data_dir))
    assert cli.main(["clock", "advance", "2h"]) == 2
    assert "only in demo mode" in capsys.readouterr().err


def test_the_clock_command_moves_a_demo_store_forward(demo: tuple[Runtime, dict[str, Any]],
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    runtime, _ = demo
    before = runtime.demo_clock.offset
    monkeypatch.setenv("SERVICEORDER_DATA_DIR", str(runtime.settings.data_dir))
    assert cli.main(["clock", "advance", "3h"]) == 0
    assert "real time +" in capsys.readouterr().out
    runtime.demo_clock._read_at = 0.0  # the running process re-reads the offset (within a second)
    assert runtime.demo_clock.offset - before == timedelta(hours=3)
    assert cli.main(["clock", "advance", "0m"]) == 2  # never back, never standing still


def test_serviceorder_demo_on_a_chosen_host_serves_the_company_and_follows_the_clock_command(
        tmp_path: Path) -> None:
    """The README's first command, as a user runs it: a fresh directory, the embedded default."""
    served = Served(tmp_path, "--host", "127.0.0.2", host="127.0.0.2", command="demo")
    try:
        assert f"API         http://127.0.0.2:{served.port}" in served.banner
        assert "/track#t=so_" in served.banner and "dispatcher  " in served.banner
        with pytest.raises(httpx.TransportError):  # listening where it was told, nowhere else
            httpx.get(f"http://127.0.0.1:{served.port}/health", timeout=2)
        before = served.http.get("/demo/clock").json()["offset_seconds"]
        moved = subprocess.run([sys.executable, "-m", "commands.cli", "clock", "advance", "1d"], cwd=tmp_path,
                               env=served.env, capture_output=True, text=True, timeout=60)
        assert moved.returncode == 0, moved.stderr
        eventually(lambda: served.http.get("/demo/clock").json()["offset_seconds"] - before >= 86_000)
        # A day later the follow-up call of this morning's installation is overdue.
        eventually(lambda: "Follow-up call overdue" in [e["summary"] for e in served.http.get(
            "/customers/C10017/timeline", headers={"Accept-Language": "en"}).json()["entries"]], timeout=60)
    finally:
        served.stop()


def test_durations() -> None:
    assert parse_duration("1d12h") == timedelta(days=1, hours=12)
    assert parse_duration("90m") == parse_duration("PT1H30M") == timedelta(minutes=90)
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("tomorrow")

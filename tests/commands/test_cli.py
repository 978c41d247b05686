"""The operations commands: rebuild from offset zero, republish from the store."""

from __future__ import annotations

import pytest

from commands import cli
from commands.bootstrap import Runtime
from commands.settings import Settings
from engine.application.context import CommandContext
from projections.registry import build as build_projections
from tests.projections.test_worker import drain, view_dump

CTX = CommandContext.new()


def _env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("SERVICEORDER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SERVICEORDER_TOPIC_PREFIX", settings.topic_prefix)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers or "")
    monkeypatch.setenv("SERVICEORDER_ADMIN_TOKEN", settings.admin_token or "")
    monkeypatch.setenv("SERVICEORDER_LOG_FORMAT", "console")
    if settings.database_url:
        monkeypatch.setenv("DATABASE_URL", settings.database_url)
        monkeypatch.setenv("SERVICEORDER_DATABASE_SCHEMA", settings.database_schema)


def test_rebuild_command_reproduces_the_incremental_views(runtime: Runtime, settings: Settings,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    for n in range(4):
        oid = runtime.app.place_order(CTX, customer_id=f"c{n % 2}", items=[{"sku": "A", "quantity": 1}],
                                      tier="basic", delivery_address="a").aggregate_id
        runtime.app.record_delivery_step(CTX, oid, "stock_prepared")
    relay = runtime.relay()
    relay.catch_up()
    relay.close()
    for projection in runtime.projections(["customer_timeline", "order_tracking"]):
        worker = runtime.worker(projection)
        drain(worker, 8)
        worker.close()
    incremental = view_dump(runtime.views_db)
    _env(monkeypatch, settings)
    assert cli.main(["rebuild"]) == 0
    err = capsys.readouterr().err
    assert "customer_timeline: rebuilt from offset zero, 8 records" in err
    assert "order_tracking: rebuilt from offset zero, 8 records" in err
    assert view_dump(runtime.views_db) == incremental


def test_republish_command_and_unknown_names(runtime: Runtime, settings: Settings,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    runtime.app.place_order(CTX, customer_id="c", items=[{"sku": "A", "quantity": 1}], tier="vip",
                            delivery_address="a")
    _env(monkeypatch, settings)
    assert cli.main(["republish", "orders"]) == 0
    assert "orders: 1 events published again" in capsys.readouterr().err
    assert cli.main(["republish", "nonsense"]) == 2
    with pytest.raises(KeyError, match="unknown projection"):
        cli.main(["rebuild", "nonsense"])


def test_bad_configuration_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SERVICEORDER_TOPIC_PARTITIONS", "zero")
    assert cli.main(["relay"]) == 2
    assert "topic_partitions" in capsys.readouterr().err


def test_settings_read_the_production_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example:6543/orders")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092,k2:9092")
    settings = Settings()
    assert settings.database_url == "postgresql://u:p@db.example:6543/orders"
    assert settings.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert not settings.embedded_store and not settings.embedded_broker


def test_serve_without_projections_starts_none() -> None:
    # `serve --no-projections` passes an empty list: it once meant "every projection", and
    # the API process ran fourteen idle Kafka consumers.
    assert build_projections([]) == []
    assert len(build_projections(None)) > 1


def test_help_lists_every_command_and_hides_none(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    assert "SUPPRESS" not in text and "api-worker" not in text
    for command in ("serve", "demo", "clock", "rebuild", "tokens"):
        assert f"\n    {command} " in text
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    assert "--host HOST" in capsys.readouterr().out


def test_serve_refuses_a_host_or_port_it_cannot_use(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--port", "70000"]) == 2
    assert "port" in capsys.readouterr().err


def test_serve_prints_the_same_banner_with_one_api_process_or_several(tmp_path) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from commands.cli.serving import banner

    clock = SimpleNamespace(now=lambda: __import__("datetime").datetime(2026, 11, 30, 9, 0))
    runtime = SimpleNamespace(broker=object(), admin_token="tok-1", admin_token_generated=True, demo_clock=clock,
                              settings=SimpleNamespace(data_dir=tmp_path))
    settings = Settings(data_dir=tmp_path)
    one = banner(settings, runtime, "127.0.0.1:9092", "http://127.0.0.1:8000", None)
    several = banner(settings, runtime, "127.0.0.1:9092", "http://127.0.0.1:8000", None, workers=3)
    assert several.replace(": 3 API processes", "") == one
    for line in ("API docs    http://127.0.0.1:8000/docs", "admin token tok-1", "demo        clock at 2026-11-30 09:00",
                 "move time   serviceorder clock advance 2h", "stop with Ctrl-C"):
        assert line in several

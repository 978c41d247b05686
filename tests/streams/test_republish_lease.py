"""``serviceorder republish`` takes the relays' lease: it never races a running relay."""

from __future__ import annotations

import threading

import pytest

from commands import cli
from commands.bootstrap import Runtime
from commands.settings import Settings
from engine.application.context import CommandContext
from tests.commands.test_cli import _env
from tests.waiting import wait_for

CTX = CommandContext.new()


def test_republish_refuses_while_a_relay_runs_and_works_once_it_stopped(
        runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    runtime.app.place_order(CTX, customer_id="c", items=[{"sku": "A", "quantity": 1}], tier="vip",
                            delivery_address="a")
    _env(monkeypatch, settings)
    running, stop = runtime.relay(), threading.Event()
    thread = threading.Thread(target=running.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: running.state.position() >= 1, what="the running relay published")
        assert cli.main(["republish", "orders"]) == 2
        err = capsys.readouterr().err
        assert "holds the relay lease" in err and "published again" not in err
        # Nor can another relay's republish take it while the running one holds it.
        other = runtime.relay()
        assert other.take_lease() is False
        other.close()
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
    assert cli.main(["republish", "orders"]) == 0
    assert "orders: 1 events published again" in capsys.readouterr().err
    # The republish let go of the lease when it finished: a relay takes it again at once.
    after = runtime.relay()
    assert after.take_lease() is True
    after.close()

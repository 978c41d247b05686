"""Log configuration: levels filter before any processor runs."""

from __future__ import annotations

from typing import Any, Iterator

import pytest
import structlog

from commands import logs


@pytest.fixture
def warning_level() -> Iterator[None]:
    logs.configure("json", "WARNING")
    yield
    logs.configure("console", "INFO")


def test_events_below_the_level_skip_the_processors(warning_level: None, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    stamped: list[str] = []
    real = structlog.processors.TimeStamper.__call__

    def counting(self: Any, logger: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
        stamped.append(event["event"])
        return real(self, logger, name, event)

    monkeypatch.setattr(structlog.processors.TimeStamper, "__call__", counting)
    log = structlog.get_logger("tests.logs")
    log.debug("event_applied", projection="p")
    log.info("request_served", status=200)
    log.warning("store_unavailable", retry_in_s=2)
    assert stamped == ["store_unavailable"]
    assert '"event": "store_unavailable"' in capsys.readouterr().err

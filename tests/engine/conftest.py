"""Fixtures of the engine tests: the application service on each real event store."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from sqlstore.sqldb import PostgresURL


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServiceOrderApp]:
    if request.param == "postgres":
        url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
        env = event_store_env(postgres=PostgresURL.parse(url).eventsourcing_env(schema))
    else:
        env = event_store_env(sqlite_path=str(tmp_path / "events.sqlite"))
    application = ServiceOrderApp(EngineConfig(env=env))
    yield application
    application.close()

"""Shared fixtures: real PostgreSQL, a real Kafka-protocol broker, one runtime per backend.

Each test gets its own PostgreSQL schema and its own topic prefix, so tests share the
services without seeing each other's data.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator
from uuid import uuid4

import pytest
from hypothesis import settings

from commands.bootstrap import Runtime, build_runtime
from commands.settings import Settings
from engine.domain.clock import ManualClock
from streams.broker import BrokerProcess
from streams.kafka import KafkaConfig
from tests import services

ADMIN_TOKEN = "test-admin-token-0123456789"

# No per-example deadline: on a machine busy with other work one example of a fast property
# took 552 ms against hypothesis' default 200 ms and failed as "flaky" (issue 19).
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")

# The tests configure everything explicitly; nothing from the developer's shell leaks in.
for var in list(os.environ):
    if var.startswith("SERVICEORDER_") or var in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS"):
        if not var.startswith("SERVICEORDER_TEST_"):
            del os.environ[var]

# Commits on the shared test cluster do not wait for its disk (a session setting, passed by
# libpq to every connection of this process and of the processes it starts): nothing here
# survives a crash of that cluster anyway, and each test's schema is built from some 300
# statements in 60 transactions, which waited for a busy disk's flush one after another.
# Tests that crash PostgreSQL on purpose run a private cluster (tests/pgcluster.py).
os.environ.setdefault("PGOPTIONS", "-c synchronous_commit=off")


@pytest.fixture(scope="session")
def pg_url() -> str:
    return services.ensure_test_database()


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    name = f"t_{uuid4().hex[:12]}"
    services.create_schema(name)
    yield name
    services.drop_schema(name)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    log_file = tmp_path_factory.mktemp("broker") / "broker.log"
    with BrokerProcess(log_file=log_file) as process:
        yield process


@pytest.fixture
def topic_prefix() -> str:
    return f"test{uuid4().hex[:10]}"


@pytest.fixture
def kafka(broker: BrokerProcess, topic_prefix: str) -> KafkaConfig:
    return KafkaConfig(bootstrap_servers=broker.bootstrap_servers, topic_prefix=topic_prefix, partitions=3)


def make_settings(backend: str, tmp_path: Path, broker: BrokerProcess | None, topic_prefix: str,
                  pg_url: str | None = None, schema: str | None = None, **extra: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": tmp_path / "data",
        "topic_prefix": topic_prefix,
        "admin_token": ADMIN_TOKEN,
        "relay_poll_interval": 0.05,
        "scheduler_interval": 0.05,
        # A runtime's close waits for each projection worker's current poll to end.
        "projection_poll_timeout_ms": 100,
        # Reads waiting for a write may wait this long (the suite runs on busy machines).
        "read_wait_max_seconds": 60.0,
        "log_format": "console",
        **extra,
    }
    if broker is not None:
        values["kafka_bootstrap_servers"] = broker.bootstrap_servers
    if backend == "postgres":
        values["database_url"] = pg_url
        values["database_schema"] = schema
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def settings(backend: str, tmp_path: Path, broker: BrokerProcess, topic_prefix: str,
             request: pytest.FixtureRequest) -> Settings:
    if backend == "postgres":
        pg = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema")
        return make_settings(backend, tmp_path, broker, topic_prefix, pg, schema)
    return make_settings(backend, tmp_path, broker, topic_prefix)


@pytest.fixture
def clock() -> ManualClock:
    """Time in tests moves only when a test moves it."""
    return ManualClock(datetime.now(timezone.utc).replace(microsecond=0))


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock) -> Iterator[Runtime]:
    rt = build_runtime(settings, clock=clock)
    yield rt
    rt.close()


@pytest.fixture(scope="session", autouse=True)
def _logs() -> None:
    """Route structlog through stdlib logging, so pytest captures it like any log."""
    from commands import logs

    logs.configure("console", "INFO")

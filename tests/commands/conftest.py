from __future__ import annotations

from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from commands.api.app import create_app
from commands.bootstrap import Runtime
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The API with its relay and projections running, as `serviceorder serve` runs them."""
    runtime.start_background()
    with TestClient(create_app(runtime), headers=AUTH) as c:
        yield c

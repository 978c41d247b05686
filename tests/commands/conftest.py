from __future__ import annotations

from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from commands.api.app import create_app
from commands.bootstrap import Runtime
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class PatientClient(TestClient):
    """Reads that wait for a write (``wait_for_position``) wait as long as the API allows
    (``wait_timeout`` 60 s, capped by the test settings' 60 s), not the API's default 5 s:
    on a busy machine a view may take longer than that to catch up."""

    def request(self, method: str, url: Any, *, params: Any = None, **kwargs: Any) -> Any:  # type: ignore[override]
        if isinstance(params, dict) and "wait_for_position" in params and "wait_timeout" not in params:
            params = {**params, "wait_timeout": 60}
        return super().request(method, url, params=params, **kwargs)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    """The API with its relay and projections running, as `serviceorder serve` runs them."""
    runtime.start_background()
    with PatientClient(create_app(runtime), headers=AUTH) as c:
        yield c

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from commands.api.app import create_app
from commands.bootstrap import Runtime
from tests.conftest import ADMIN_TOKEN

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module: starting it took seconds on a busy machine.
    Tests share nothing in it: each opens its own contexts (``browser`` closes them)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is needed: apt-get install chromium (scripts/test does it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()

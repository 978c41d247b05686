"""The 413 for an oversized body, as ordinary clients read it: Python's http.client and
urllib send the whole body before they read an answer, against a real uvicorn process (both
of its HTTP implementations), not the in-process test client."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

from streams.broker import free_port
from tests.conftest import ADMIN_TOKEN

SERVER = """
import sys
from pathlib import Path

import uvicorn

from commands.api.app import create_app
from commands.bootstrap import build_runtime
from commands.settings import Settings

runtime = build_runtime(Settings(data_dir=Path(sys.argv[1]), admin_token=sys.argv[2], log_format="json"))
uvicorn.run(create_app(runtime), host="127.0.0.1", port=int(sys.argv[3]), http=sys.argv[4], log_config=None,
            access_log=False)
"""
SIZES = (1_100_000, 5_000_000, 10_000_000)
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture(params=["httptools", "h11"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path), ADMIN_TOKEN, str(port), request.param],
                               stdout=subprocess.DEVNULL, stderr=open(tmp_path / "server.log", "wb"))  # noqa: SIM115
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                connection.request("GET", "/health")
                connection.getresponse().read()
                connection.close()
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(30)


def _check_problem(status: int, headers: dict[str, str], body: bytes) -> None:
    assert status == 413
    assert headers["content-type"].startswith("application/problem+json")
    problem = json.loads(body)
    assert problem["type"] == "urn:serviceorder:problem:request-too-large"
    assert problem["request_id"] and problem["request_id"] == headers["x-request-id"]


def test_http_client_reads_the_413_at_every_size(server: int) -> None:
    for size in SIZES:
        connection = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
        body = b'{"customer_id": "' + b"x" * size + b'"}'
        connection.request("POST", "/orders", body=body, headers={**AUTH, "Content-Type": "application/json"})
        response = connection.getresponse()
        _check_problem(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        connection.close()

        # Chunked, without a declared length: cut off while it is read, answered the same way.
        connection = http.client.HTTPConnection("127.0.0.1", server, timeout=60)
        chunks = (body[i:i + 65_536] for i in range(0, len(body), 65_536))
        connection.request("POST", "/orders", body=chunks, encode_chunked=True,
                           headers={**AUTH, "Content-Type": "application/json"})
        response = connection.getresponse()
        _check_problem(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        connection.close()


def test_urllib_reads_the_413_at_every_size(server: int) -> None:
    for size in SIZES:
        request = urllib.request.Request(f"http://127.0.0.1:{server}/orders", data=b"x" * size, method="POST",
                                         headers={**AUTH, "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=60)  # noqa: S310 - a local test server
        error = refused.value
        _check_problem(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())
        # The service still answers on a new connection.
        with urllib.request.urlopen(f"http://127.0.0.1:{server}/health", timeout=30) as health:  # noqa: S310
            assert health.status == 200

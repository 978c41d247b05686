"""Tokens administered over HTTP and the CLI (hashed, listed, revoked, expiring) and the
request size limit."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from commands import cli
from commands.bootstrap import Runtime
from commands.settings import Settings
from engine.domain.clock import ManualClock
from tests.commands.test_cli import _env

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def test_an_admin_issues_lists_and_revokes_tokens(client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    issued = client.post("/tokens", json={"principal": "li", "roles": ["engineer"], "expires_in_days": 7,
                                          "label": "li's phone"})
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    token, token_id = issued.json()["token"], issued.json()["token_id"]
    li = {"Authorization": f"Bearer {token}"}
    assert client.get("/engineers/li/agenda", headers=li).status_code != 401

    # Only the digest is stored; listings never show the token or the digest.
    with runtime.state_db.transaction() as cur:
        stored = cur.execute("SELECT token_hash FROM api_tokens WHERE token_id = %s", (token_id,)).fetchone()[0]
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    listed = client.get("/tokens", params={"principal": "li"}).json()["tokens"]
    assert [t["token_id"] for t in listed] == [token_id] and listed[0]["active"] is True
    assert token not in str(listed) and stored not in str(listed)

    # Not an admin: no token business at all.
    assert client.post("/tokens", json={"principal": "x", "roles": ["admin"]}, headers=li).status_code == 403
    assert client.post("/tokens", json={"principal": "x", "roles": ["wizard"]}).status_code == 422

    # Expiry: a week later the token is refused.
    clock.advance(timedelta(days=7, seconds=1))
    assert client.get("/engineers/li/agenda", headers=li).status_code == 401
    assert client.get("/tokens", params={"principal": "li"}).json()["tokens"][0]["active"] is False

    # Revocation is immediate and recorded; revoking twice is a conflict, an unknown id 404.
    other = client.post("/tokens", json={"principal": "wang", "roles": ["engineer"]}).json()
    wang = {"Authorization": f"Bearer {other['token']}"}
    assert client.get("/engineers/wang/agenda", headers=wang).status_code != 401
    revoked = client.delete(f"/tokens/{other['token_id']}")
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "admin"
    assert client.get("/engineers/wang/agenda", headers=wang).status_code == 401
    assert client.delete(f"/tokens/{other['token_id']}").status_code == 409
    assert client.delete("/tokens/0123456789ab").status_code == 404


def test_tokens_from_the_cli(runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch,
                             capsys: pytest.CaptureFixture[str]) -> None:
    runtime.close()
    _env(monkeypatch, settings)
    assert cli.main(["tokens", "issue", "ada", "--role", "auditor", "--days", "30", "--actor", "root"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("so_") and len(token) > 40
    assert cli.main(["tokens", "list", "--principal", "ada"]) == 0
    listing = capsys.readouterr().out
    assert '"auditor"' in listing and token not in listing
    token_id = hashlib.sha256(token.encode()).hexdigest()[:12]
    assert cli.main(["tokens", "revoke", token_id]) == 0
    assert cli.main(["tokens", "revoke", token_id]) == 1
    assert cli.main(["tokens", "issue", "ada", "--role", "wizard"]) == 2


def test_oversized_bodies_are_refused_before_they_are_read(client: TestClient, runtime: Runtime) -> None:
    limit = runtime.settings.max_request_bytes
    big = {"customer_id": "c", "tier": "basic", "delivery_address": "x" * limit, "items": [{"sku": "A"}]}
    response = client.post("/orders", json=big)
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert str(limit) in response.json()["detail"]

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield b'{"customer_id": "c", "delivery_address": "'
        for _ in range(limit // 1000 + 2):
            yield b"x" * 1000
        yield b'"}'

    streamed = client.post("/orders", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    assert streamed.headers["content-type"].startswith("application/problem+json")
    # Nothing was written by either.
    assert runtime.app.current_position() == 0
    assert client.post("/orders", content=b"{", headers={"content-type": "application/json"}).status_code == 422


def test_a_principal_name_must_be_printable(client: TestClient) -> None:
    refused = client.post("/tokens", json={"principal": "li\u200b", "roles": ["engineer"]})
    assert refused.status_code == 422 and "printable" in refused.json()["detail"]


def test_a_content_length_that_is_not_a_number_is_a_400(runtime: Runtime) -> None:
    """httpx always sends a correct length, so this speaks ASGI to the app directly."""
    import asyncio

    from commands.api.app import create_app

    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/orders", "raw_path": b"/orders", "query_string": b"", "root_path": "",
             "headers": [(b"content-length", b"12abc"), (b"content-type", b"application/json")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    asyncio.run(create_app(runtime)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert (b"content-type", b"application/problem+json") in start["headers"]
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b"Content-Length is not a number" in body
    assert runtime.app.current_position() == 0

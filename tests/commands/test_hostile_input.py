"""Hostile input at the edge, swept over every operation of the API: control characters in
paths, queries, headers and bodies answer 422, duplicate JSON keys 400, never a 500, and
nothing is written."""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from commands.api.app import create_app
from commands.api.schemas import free_text_fields
from commands.bootstrap import Runtime
from tests.commands.conftest import AUTH

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)
ORDER = {"customer_id": "cust-h", "items": [{"sku": "WP-500"}], "tier": "vip", "delivery_address": "1 Quay"}


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    """The API alone (no relay, no views being fed): the edge is all this exercises."""
    with TestClient(create_app(runtime), headers=AUTH, raise_server_exceptions=False) as c:
        yield c


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    document = client.app.openapi()  # type: ignore[attr-defined]
    return [(method.upper(), path, op) for path, item in document["paths"].items()
            for method, op in item.items() if method in ("get", "post", "put", "patch", "delete")]


def _body_fields(client: TestClient, op: dict[str, Any]) -> list[str]:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is None:
        return []
    ref = content["schema"].get("$ref", "")
    schema = client.app.openapi()["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})  # type: ignore[attr-defined]
    return sorted(schema.get("properties", {})) or ["anything"]


def _url(path: str, value: str) -> str:
    """``path`` with ``value`` for each of its parameters."""
    return "/".join(value if part.startswith("{") else part for part in path.split("/"))


def _refused(response: Any, status: int, slug: str) -> None:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == f"urn:serviceorder:problem:{slug}" and problem["request_id"], problem


def test_control_characters_and_duplicate_keys_are_refused_on_every_operation(api: TestClient,
                                                                                runtime: Runtime) -> None:
    operations = _operations(api)
    assert len(operations) > 100
    with_body = [(m, p, op) for m, p, op in operations if op.get("requestBody")]
    assert len(with_body) > 50
    for method, path, op in operations:
        url = _url(path, "x%00y")
        if "{" in path:
            _refused(api.request(method, url), 422, "control-character")
        _refused(api.request(method, _url(path, "ok") + "?q=%01&wait_for_position=1"), 422, "control-character")
        _refused(api.request(method, _url(path, "ok"), headers={"X-Note": "a\x0bb"}), 422, "control-character")
    for method, path, op in with_body:
        url = _url(path, "ok")
        fields = _body_fields(api, op)
        for bad in ("late\u0000", "bell\u0007", "\ud800 lone surrogate", "line\nbreak"):
            chosen = [f for f in fields if f not in free_text_fields()] if bad == "line\nbreak" else fields
            if not chosen:
                continue
            body = json.dumps({f: bad for f in chosen})
            _refused(api.request(method, url, content=body, headers={"content-type": "application/json"}), 422,
                     "control-character")
        nested = json.dumps({"items": [{"sku": "A", "description": "x\u0000"}], "evidence": {"k\u0000": "v"}})
        _refused(api.request(method, url, content=nested, headers={"content-type": "application/json"}), 422,
                 "control-character")
        twice = '{"%s": "a", "nested": {"k": 1, "k": 2}, "%s": "b"}' % (fields[0], fields[0])
        _refused(api.request(method, url, content=twice, headers={"content-type": "application/json"}), 400,
                 "duplicate-key")
    assert runtime.app.current_position() == 0


def test_the_cases_of_the_report(api: TestClient, runtime: Runtime) -> None:
    # A NUL in a complaint's description, a delivery note, a customer's name, an id.
    order = api.post("/orders", json=ORDER)
    assert order.status_code == 201
    order_id, written = order.json()["order_id"], runtime.app.current_position()
    complaint = {"customer_id": "cust-h", "category": "delivery", "description": "late\u0000", "order_id": order_id}
    _refused(api.post("/complaints", json=complaint), 422, "control-character")
    _refused(api.post(f"/orders/{order_id}/delivery-steps", json={"step": "stock_prepared", "note": "a\u0000"}), 422,
             "control-character")
    _refused(api.post("/customers", json={"customer_id": "c1", "name": "Ann\u0000", "phone": "123",
                                          "address": "x"}), 422, "control-character")
    for path in ("/orders", "/jobs", "/customers"):
        _refused(api.post(path, json={"customer_id": "c\u0000"}), 422, "control-character")
    _refused(api.get("/customers", params={"q": "a\u0000"}), 422, "control-character")
    _refused(api.get("/customers/c%00/file"), 422, "control-character")
    # The last of two customer_ids does not win: the request is refused.
    twice = ('{"customer_id": "victim", "items": [{"sku": "A"}], "tier": "vip", "delivery_address": "x", '
             '"customer_id": "attacker"}')
    refused = api.post("/orders", content=twice, headers={"content-type": "application/json"})
    _refused(refused, 400, "duplicate-key")
    assert "customer_id" in refused.json()["detail"]
    assert runtime.app.current_position() == written

    # Tabs and line breaks are fine in free text, and nowhere else.
    note = api.post(f"/orders/{order_id}/delivery-steps",
                    json={"step": "stock_prepared", "note": "two\tcols\r\nnext line"})
    assert note.status_code == 200, note.text
    _refused(api.post("/orders", json={**ORDER, "customer_id": "tab\there"}), 422, "control-character")
    # Text that is only unusual (not control characters) is stored as sent.
    assert api.post("/orders", json={**ORDER, "delivery_address": "Straße 1, 杭州 \u200d"}).status_code == 201

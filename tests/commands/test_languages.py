"""Summaries in the reader's language: Accept-Language first, else the language recorded for
the customer (LanguagePreferred), else English."""

from __future__ import annotations

from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from tests.commands.test_field_story import ok

CUSTOMER = {"customer_id": "cust-lang", "name": "周丽", "phone": "13661987045", "address": "苏州市星湖街 328 号"}
ORDER = {"customer_id": "cust-lang", "tier": "svip", "delivery_address": "苏州市星湖街 328 号",
         "items": [{"sku": "RO-600", "quantity": 1}]}


def summaries(client: TestClient, path: str, key: str, **headers: str) -> tuple[list[str], str]:
    response = client.get(path, headers=headers)
    return [e["summary"] for e in ok(response)[key]], response.headers["content-language"]


def test_the_recorded_language_speaks_when_the_reader_names_none_of_ours(client: TestClient) -> None:
    ok(client.post("/customers", json=CUSTOMER), 201)
    order = ok(client.post("/orders", json=ORDER), 201)
    ok(client.get(f"/orders/{order['order_id']}/tracking", params={"wait_for_position": order["position"],
                                                                     "wait_timeout": 30}))
    timeline = "/customers/cust-lang/timeline"
    assert summaries(client, timeline, "entries", **{"Accept-Language": "fr"})[1] == "en"

    preferred = ok(client.put("/customers/cust-lang/language", json={"language": "zh"}))
    written = {"wait_for_position": preferred["position"], "wait_timeout": 30}
    assert ok(client.get("/customers/cust-lang/file", params=written))["language"] == "zh"
    assert len(ok(client.get(timeline, params=written))["entries"]) == 3

    texts, language = summaries(client, timeline, "entries", **{"Accept-Language": "fr"})
    assert language == "zh" and texts[-1] == "今后我们将用中文与您沟通"
    assert texts[1] == "已下单：1 x RO-600（SVIP 服务），送至 苏州市星湖街 328 号"
    # The reader's own language comes first.
    texts, language = summaries(client, timeline, "entries", **{"Accept-Language": "en-GB"})
    assert language == "en" and texts[-1] == "We will write to you in Chinese"
    history, language = summaries(client, f"/orders/{order['order_id']}/tracking", "history")
    assert language == "zh" and history == ["已下单：1 x RO-600（SVIP 服务），送至 苏州市星湖街 328 号"]
    file = ok(client.get("/customers/cust-lang/file"))
    assert file["history"][-1]["summary"] == "已为 周丽 建立客户档案"  # newest first: the oldest is last

    assert client.put("/customers/cust-lang/language", json={"language": "fr"}).status_code == 422
    assert client.put("/customers/nobody/language", json={"language": "en"}).status_code == 404


def test_a_customer_records_only_their_own_language(client: TestClient, runtime: Runtime) -> None:
    ok(client.post("/customers", json=CUSTOMER), 201)
    runtime.tokens.add("cust-lang-token-0123456789", "cust-lang", ["customer"])
    runtime.tokens.add("cust-else-token-0123456789", "cust-else", ["customer"])
    own = {"Authorization": "Bearer cust-lang-token-0123456789"}
    other = {"Authorization": "Bearer cust-else-token-0123456789"}
    before = runtime.app.current_position()
    # Another customer's id is not found for them (no hint it exists); nothing is stored.
    refused = client.put("/customers/cust-lang/language", json={"language": "zh"}, headers=other)
    assert refused.status_code == 404 and refused.headers["content-type"].startswith("application/problem+json")
    assert runtime.app.current_position() == before
    recorded = ok(client.put("/customers/cust-lang/language", json={"language": "zh"}, headers=own))
    written = {"wait_for_position": recorded["position"], "wait_timeout": 30}
    assert ok(client.get("/customers/cust-lang/file", params=written))["language"] == "zh"

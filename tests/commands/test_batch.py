"""Batch commands over HTTP: many commands in one request, each its own transaction."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.api.batch import MAX_COMMANDS
from commands.bootstrap import Runtime
from tests.commands.test_api import ORDER, PROBLEM, place
from tests.commands.view_reads import settled

STEPS = [{"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Wang"}]


def batch(client: TestClient, commands: list[dict[str, Any]], **headers: str) -> dict[str, Any]:
    response = client.post("/commands/batch", json={"commands": commands}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def steps_for(order_id: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"path": f"/orders/{order_id}/delivery-steps", "body": body} for body in bodies]


def test_a_carriers_positions_for_many_orders_are_one_request(client: TestClient, runtime: Runtime) -> None:
    orders = [place(client)["order_id"] for _ in range(5)]
    for order_id in orders:
        assert batch(client, steps_for(order_id, STEPS))["failed"] == 0
    positions = [{"path": f"/orders/{order_id}/delivery-steps",
                  "body": {"step": "in_transit", "position": {"lat": 30 + n / 100, "lng": 120 + k / 100}}}
                 for k in range(3) for n, order_id in enumerate(orders)]
    answer = batch(client, positions)
    assert (answer["succeeded"], answer["failed"]) == (15, 0)
    assert [r["index"] for r in answer["results"]] == list(range(15))
    # Each order's three positions ran in the order sent: versions 5, 6, 7.
    for n, order_id in enumerate(orders):
        mine = [r for r in answer["results"] if r["result"]["order_id"] == order_id]
        assert [r["result"]["version"] for r in mine] == [5, 6, 7]
        assert all(r["status"] == 200 and r["path"] == f"/orders/{order_id}/delivery-steps" for r in mine)
    last = answer["results"][-1]["result"]["position"]
    tracking = client.get(f"/orders/{orders[4]}/tracking", params={"wait_for_position": last}).json()
    assert (tracking.get("position"), tracking.get("position_updates")) == ({"lat": 30.04, "lng": 120.02}, 3), tracking
    settled(runtime, "order_tracking", orders[0])
    assert client.get(f"/orders/{orders[0]}").json()["position_updates"] == 3


def test_one_refused_command_never_undoes_another(client: TestClient, runtime: Runtime) -> None:
    order_id = place(client)["order_id"]
    answer = batch(client, [
        {"path": "/orders", "body": ORDER},
        {"path": f"/orders/{order_id}/delivery-steps", "body": {"step": "delivered"}},  # rule: not yet
        {"path": f"/orders/{order_id}/delivery-steps", "body": {"step": "stock_prepared"}},
        {"path": f"/orders/{order_id}/delivery-steps", "body": {"step": "teleported"}},  # invalid input
        {"path": "/orders/not-a-uuid/delivery-steps", "body": {"step": "stock_prepared"}},
        {"path": "/nowhere", "body": {}},
        {"path": "/tokens", "body": {"principal": "x", "roles": ["admin"]}},  # not a command route
    ])
    assert [r["status"] for r in answer["results"]] == [201, 409, 200, 422, 422, 404, 404]
    assert (answer["succeeded"], answer["failed"]) == (2, 5)
    placed = answer["results"][0]
    assert placed["location"] == f"/orders/{placed['result']['order_id']}"
    refused = answer["results"][1]["problem"]
    assert refused["type"] == "urn:serviceorder:problem:rule-violation" and "stock_prepared" in refused["detail"]
    assert answer["results"][3]["problem"]["type"] == "urn:serviceorder:problem:malformed-request"
    settled(runtime, "order_tracking", order_id)
    assert client.get(f"/orders/{order_id}").json()["current_step"] == "stock_prepared"
    assert client.get(f"/orders/{placed['result']['order_id']}",
                      params={"wait_for_position": placed["result"]["position"]}).status_code == 200


def test_expected_versions_and_idempotency_keys_work_per_command(client: TestClient, runtime: Runtime) -> None:
    order_id = place(client)["order_id"]
    commands = [{"path": f"/orders/{order_id}/delivery-steps", "body": {"step": "stock_prepared"},
                 "expected_version": 1, "idempotency_key": "truck-7-0001"},
                {"path": f"/orders/{order_id}/delivery-steps", "body": {"step": "left_warehouse"},
                 "expected_version": 1}]
    first = batch(client, commands)
    assert [r["status"] for r in first["results"]] == [200, 412]
    assert first["results"][1]["problem"]["type"] == "urn:serviceorder:problem:stale-version"
    again = batch(client, commands[:1])["results"][0]
    assert again["status"] == 200 and again["result"]["replayed"] is True and again["result"]["version"] == 2
    other = batch(client, [{**commands[0], "body": {"step": "left_warehouse"}, "expected_version": None}])
    assert other["results"][0]["problem"]["type"] == "urn:serviceorder:problem:idempotency-key-reused"
    settled(runtime, "order_tracking", order_id)
    assert client.get(f"/orders/{order_id}").json()["version"] == 2


def test_roles_are_checked_per_command_as_the_single_routes_check_them(client: TestClient, runtime: Runtime) -> None:
    runtime.tokens.add("batch-engineer-token-0123456789", "li", ["engineer"])
    engineer = {"Authorization": "Bearer batch-engineer-token-0123456789"}
    order_id = place(client)["order_id"]
    answer = batch(client, steps_for(order_id, STEPS[:1]) + [{"path": "/orders", "body": ORDER}], **engineer)
    assert [r["status"] for r in answer["results"]] == [403, 403]
    assert answer["results"][0]["problem"]["type"] == "urn:serviceorder:problem:forbidden"
    settled(runtime, "order_tracking", order_id)
    assert client.get(f"/orders/{order_id}").json()["version"] == 1
    anonymous = client.post("/commands/batch", json={"commands": steps_for(order_id, STEPS[:1])},
                            headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.headers["content-type"].startswith(PROBLEM)


def test_limits_refuse_the_whole_batch_before_any_command_runs(client: TestClient, runtime: Runtime) -> None:
    order_id = place(client)["order_id"]
    too_many = client.post("/commands/batch", json={"commands": steps_for(order_id, STEPS[:1]) * (MAX_COMMANDS + 1)})
    assert too_many.status_code == 422 and too_many.headers["content-type"].startswith(PROBLEM)
    huge = client.post("/commands/batch", json={"commands": [
        {"path": f"/orders/{order_id}/delivery-steps", "body": {"step": "stock_prepared", "note": "x" * 2000}}] * 600})
    assert huge.status_code == 413
    empty = client.post("/commands/batch", json={"commands": []})
    assert empty.status_code == 422
    unknown_field = client.post("/commands/batch", json={"commands": [{"path": "/orders", "body": ORDER, "as": "x"}]})
    assert unknown_field.status_code == 422
    settled(runtime, "order_tracking", order_id)
    assert client.get(f"/orders/{order_id}").json()["version"] == 1


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_batch_shares_group_commit_transactions(client: TestClient, runtime: Runtime) -> None:
    orders = [{"path": "/orders", "body": {**ORDER, "customer_id": f"cust-{n}"}} for n in range(200)]
    before = runtime.app.group_commit.batches
    answer = batch(client, orders)
    assert answer["succeeded"] == 200
    assert runtime.app.group_commit.batches - before < 200

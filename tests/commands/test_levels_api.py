"""SLA board and hotline over HTTP, with the scheduler firing warnings and breaches."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from engine.domain.clock import ManualClock
from tests.waiting import wait_for as eventually


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()




def board_item(client: TestClient, sla_id: str) -> dict[str, Any] | None:
    return next((i for i in ok(client.get("/slas"))["items"] if i["sla_id"] == sla_id), None)


def test_sla_board_shows_time_left_warnings_and_breaches(client: TestClient, clock: ManualClock) -> None:
    order = ok(client.post("/orders", json={"customer_id": "cust-sla", "items": [{"sku": "SH-200"}], "tier": "svip",
                                            "delivery_address": "3 Sun Rd"}), 201)["order_id"]
    sla = ok(client.post("/slas", json={"subject_id": "repair-77", "subject_kind": "job", "customer_id": "cust-sla",
                                        "order_id": order}), 201)["id"]
    item = eventually(lambda: board_item(client, sla))
    assert item["tier"] == "svip" and item["time_left_seconds"] == 4 * 3600
    clock.advance(timedelta(hours=3, minutes=1))
    eventually(lambda: (board_item(client, sla) or {}).get("warned"))
    ok(client.post(f"/slas/{sla}/pause", json={"reason": "waiting for the customer to be home"}))
    clock.advance(timedelta(days=2))
    eventually(lambda: (board_item(client, sla) or {}).get("status") == "paused")
    assert board_item(client, sla)["time_left_seconds"] == 59 * 60
    ok(client.post(f"/slas/{sla}/resume"))
    clock.advance(timedelta(hours=1))
    eventually(lambda: (board_item(client, sla) or {}).get("breached"))
    done = ok(client.post(f"/slas/{sla}/complete"))
    assert done["breached"] is True
    timeline = ok(client.get("/customers/cust-sla/timeline", params={"wait_for_position": done["position"]}))
    summaries = [e["summary"] for e in timeline["entries"]]
    assert "75% of the promised resolution time used" in summaries
    assert "Promised resolution time exceeded" in summaries and summaries[-1] == "Resolved (late)"
    assert client.post("/slas", json={"subject_id": "x", "subject_kind": "job", "customer_id": "c",
                                      "tier": "basic"}).status_code == 422


def test_hotline_answer_rate_and_call_backs(client: TestClient) -> None:
    for n in range(6):
        ok(client.post("/calls", json={"phone": f"+86 571 {n}", "answered": True, "agent": "amy"}), 201)
    missed = ok(client.post("/calls", json={"phone": "+86 571 99", "answered": False}), 201)
    assert "call_back_due_at" in missed
    hotline = eventually(lambda: (h := ok(client.get("/hotline")))["days"] and h["days"][0]["missed"] == 1 and h)
    assert hotline["days"][0]["answer_rate"] == round(6 / 7, 4) and hotline["target_answer_rate"] == 0.85
    assert [c["call_id"] for c in hotline["pending_call_backs"]] == [missed["id"]]
    ok(client.post(f"/calls/{missed['id']}/call-back", json={"reached": True}))
    eventually(lambda: not ok(client.get("/hotline"))["pending_call_backs"])

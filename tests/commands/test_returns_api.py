"""Returns over HTTP: parallel votes by department approvers, logistics, the customer's view."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock

REQUEST = {"customer_id": "cust-ret", "resolution": "refund", "reason": "water tastes of plastic",
           "items": [{"sku": "WP-500", "quantity": 1}]}


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def delivered_order(client: TestClient) -> str:
    """A return is made against the customer's delivered order."""
    site = {"lat": 30.2741, "lng": 120.1551}
    order_id = ok(client.post("/orders", json={"customer_id": "cust-ret", "tier": "basic", "delivery_address": "1 Rd",
                                               "items": [{"sku": "WP-500", "quantity": 1}]}), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"},
                 {"step": "in_transit", "position": site}, {"step": "delivered"}):
        ok(client.post(f"/orders/{order_id}/delivery-steps", json=body))
    return order_id


def approvers(runtime: Runtime) -> dict[str, dict[str, str]]:
    headers = {}
    for department in ("sales", "technical", "finance", "logistics"):
        token = f"{department}-approver-token-0123"
        runtime.tokens.add(token, f"{department}-lead", [f"approver:{department}"])
        headers[department] = {"Authorization": f"Bearer {token}"}
    return headers


def test_parallel_approval_then_refund_and_reverse_logistics(client: TestClient, runtime: Runtime,
                                                             clock: ManualClock) -> None:
    who = approvers(runtime)
    return_id = ok(client.post("/returns", json={**REQUEST, "order_id": delivered_order(client)}), 201)["id"]
    wrong = client.post(f"/returns/{return_id}/votes/finance", json={"approve": True}, headers=who["sales"])
    assert wrong.status_code == 403 and "approver:finance" in wrong.json()["detail"]

    for department in ("finance", "sales", "logistics"):
        vote = ok(client.post(f"/returns/{return_id}/votes/{department}", json={"approve": True},
                              headers=who[department]))
    assert vote["pending"] == ["technical"]
    board = ok(client.get("/returns", params={"pending": "technical", "wait_for_position": vote["position"]}))
    assert [r["return_id"] for r in board["returns"]] == [return_id]
    assert ok(client.get("/returns", params={"pending": "finance"}))["returns"] == []

    last = ok(client.post(f"/returns/{return_id}/votes/technical", json={"approve": True}, headers=who["technical"]))
    assert (last["status"], last["pending"]) == ("approved", [])
    again = client.post(f"/returns/{return_id}/votes/technical", json={"approve": False, "reason": "x"},
                        headers=who["technical"])
    assert again.status_code == 409

    ok(client.post(f"/returns/{return_id}/pickup", json={"pickup_at": (clock.now() + timedelta(days=1)).isoformat()}))
    ok(client.post(f"/returns/{return_id}/received"))
    ok(client.post(f"/returns/{return_id}/inspection", json={"faulty_parts": ["pump"], "notes": "pump seized"}))
    ok(client.post(f"/returns/{return_id}/refund", json={"amount": "899.00"}))
    early = client.post(f"/returns/{return_id}/close")
    assert early.status_code == 409 and "pump" in early.json()["detail"]
    for step in ("collected", "inspected", "repaired"):
        ok(client.post(f"/returns/{return_id}/parts/pump", json={"step": step}))
    closed = ok(client.post(f"/returns/{return_id}/close"))

    timeline = ok(client.get("/customers/cust-ret/timeline", params={"wait_for_position": closed["position"]}))
    summaries = [e["summary"] for e in timeline["entries"]]
    assert summaries[summaries.index("Delivered") + 1] == (
        "Refund requested for WP-500: waiting for sales, technical, finance, logistics")
    assert "Finance approved; still waiting for sales, technical, logistics" in summaries
    assert "Request approved by every department" in summaries
    assert summaries[-3:] == ["Faulty part pump inspected", "Faulty part pump repaired", "Return closed"]

    # The same entries for a reader who asks for Chinese: rendered from the zh_CN catalogue.
    chinese = client.get("/customers/cust-ret/timeline", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert chinese.headers["content-language"] == "zh" and "Accept-Language" in chinese.headers["vary"]
    zh = [e["summary"] for e in ok(chinese)["entries"]]
    # The return follows its order's delivery in the timeline.
    assert zh[summaries.index("Delivered") + 1] == "已申请退货退款：WP-500；等待销售部、技术部、财务部、物流部审批"
    assert "财务部已同意；仍在等待销售部、技术部、物流部" in zh
    assert zh[-3:] == ["故障部件 pump 已检测", "故障部件 pump 已修复", "退换货已结束"]
    assert [e["event_id"] for e in ok(chinese)["entries"]] == [e["event_id"] for e in timeline["entries"]]


def test_one_rejection_rejects_with_the_reason_the_customer_sees(client: TestClient, runtime: Runtime) -> None:
    who = approvers(runtime)
    return_id = ok(client.post("/returns", json={**REQUEST, "resolution": "exchange",
                                                 "order_id": delivered_order(client)}), 201)["id"]
    missing = client.post(f"/returns/{return_id}/votes/sales", json={"approve": False}, headers=who["sales"])
    assert missing.status_code == 422
    rejected = ok(client.post(f"/returns/{return_id}/votes/sales",
                              json={"approve": False, "reason": "bought 40 days ago, outside the return period"},
                              headers=who["sales"]))
    assert rejected["status"] == "rejected"
    late = client.post(f"/returns/{return_id}/votes/technical", json={"approve": True}, headers=who["technical"])
    assert late.status_code == 409 and "comes too late" in late.json()["detail"]
    timeline = ok(client.get("/customers/cust-ret/timeline", params={"wait_for_position": rejected["position"]}))
    assert timeline["entries"][-1]["summary"] == "Request rejected: bought 40 days ago, outside the return period"

"""Data for the console and history tests: a customer with a very long history, jobs waiting
for dispatch, returns waiting for votes, a claim on its 48-hour clock. ``http`` is a FastAPI
TestClient or an httpx.Client on a running server, with an admin token."""

from __future__ import annotations

from typing import Any

from tests.commands.test_field_story import ok

ORDER = {"tier": "vip", "delivery_address": "杭州市西湖区文三路 88 号",
         "items": [{"sku": "WP-500", "description": "净水器"}]}


def long_history(http: Any, customer: str, updates: int) -> dict[str, Any]:
    """An order on the road with ``updates`` position updates, then a newer order: more
    entries than any one page holds, the newest order last."""
    order_id = ok(http.post("/orders", json={**ORDER, "customer_id": customer}), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "赵师傅"}):
        ok(http.post(f"/orders/{order_id}/delivery-steps", json=body))
    for n in range(updates):
        ok(http.post(f"/orders/{order_id}/delivery-steps",
                     json={"step": "in_transit", "position": {"lat": 30.0 + n / 10_000, "lng": 120.1}}))
    newer = ok(http.post("/orders", json={**ORDER, "customer_id": customer}), 201)
    return {"order_id": order_id, "newer_order_id": newer["order_id"], "position": newer["position"],
            "events": 4 + updates + 1}


def open_jobs(http: Any, count: int) -> list[dict[str, Any]]:
    return [ok(http.post("/jobs", json={"kind": "installation", "customer_id": f"cust-job-{n}",
                                        "product": {"sku": "WP-500"}, "site_address": f"{n} Lake Road"}), 201)
            for n in range(count)]


def delivered_order(http: Any, customer: str) -> str:
    """An order brought to the customer's door: what a return is requested against."""
    order_id = ok(http.post("/orders", json={**ORDER, "customer_id": customer}), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "赵师傅"},
                 {"step": "in_transit", "position": {"lat": 30.27, "lng": 120.15}}, {"step": "delivered"}):
        ok(http.post(f"/orders/{order_id}/delivery-steps", json=body))
    return str(order_id)


def request_returns(http: Any, count: int) -> list[dict[str, Any]]:
    return [ok(http.post("/returns", json={"customer_id": f"cust-ret-{n}", "resolution": "refund",
                                           "order_id": delivered_order(http, f"cust-ret-{n}"),
                                           "reason": "leaks at the tap", "items": [{"sku": "WP-500"}]}), 201)
            for n in range(count)]


def open_claim(http: Any, customer: str) -> dict[str, Any]:
    complaint = ok(http.post("/complaints", json={"customer_id": customer, "category": "product_quality",
                                                  "description": "the purifier flooded the kitchen floor"}), 201)
    claim = ok(http.post(f"/complaints/{complaint['id']}/claims", json={"damage": "wooden floor, 30 m2"}), 201)
    return {"complaint": complaint, "claim": claim}

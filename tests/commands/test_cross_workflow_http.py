"""Issue 17's cases that span two workflows, replayed over HTTP on the embedded default:
money across a claim's reopenings (1), engineers on another's job (2), the two on-site
payment paths (4), a complaint with unpaid compensation (5), returns against the order (6)
and who pays for a repair (8). Each refusal is a 4xx problem+json naming its rule, and a
refused command stores nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from tests.commands.test_field_story import NEAR, SITE, eventually, ok
from tests.commands.test_rules_over_http import refused
from tests.commands.view_reads import read_settled

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
FINANCE = {"Authorization": "Bearer fin-token-0123456789ab"}


def engineer(runtime: Runtime, name: str) -> dict[str, str]:
    runtime.tokens.add(f"{name}-token-0123456789ab", name, ["engineer"])
    return {"Authorization": f"Bearer {name}-token-0123456789ab"}


def delivered(client: TestClient, customer: str, *, quantity: int = 1, fee: str = "150") -> dict[str, Any]:
    order = {"customer_id": customer, "tier": "vip", "delivery_address": "12 Lake Road", "site_location": SITE,
             "items": [{"sku": "WP-500", "quantity": quantity, "needs_installation": True, "installation_fee": fee}]}
    order_id = ok(client.post("/orders", json=order), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"},
                 {"step": "in_transit", "position": SITE}):
        ok(client.post(f"/orders/{order_id}/delivery-steps", json=body))
    jobs = ok(client.post(f"/orders/{order_id}/delivery-steps", json={"step": "delivered"}))["job_ids"]
    return {"order_id": order_id, "job_ids": jobs}


def work_done(client: TestClient, clock: ManualClock, job_id: str, who: dict[str, str], name: str,
              **outcome: Any) -> dict[str, Any]:
    ok(client.post(f"/jobs/{job_id}/check-ins", json={"engineer": name, **NEAR, "accuracy_m": 5}, headers=who))
    clock.advance(timedelta(minutes=45))
    ok(client.post(f"/jobs/{job_id}/check-outs", json={"engineer": name}, headers=who))
    return ok(client.post(f"/jobs/{job_id}/complete", json=outcome, headers=who))


def taken(client: TestClient, job_id: str, who: dict[str, str], name: str) -> None:
    ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": name}))
    ok(client.post(f"/jobs/{job_id}/accept", json={"engineer": name}, headers=who))


def account(client: TestClient, customer: str, position: int) -> dict[str, Any]:
    return ok(client.get(f"/customers/{customer}/account", params={"wait_for_position": position}))


def accepted_claim(client: TestClient, runtime: Runtime, customer: str, amount: str) -> tuple[str, str]:
    """A complaint and its claim, the proposed amount accepted; finance may pay it."""
    runtime.tokens.add("fin-token-0123456789ab", "fin", ["finance"])
    complaint = ok(client.post("/complaints", json={"customer_id": customer, "category": "product_quality",
                                                    "description": "floor flooded"}), 201)["id"]
    claim = ok(client.post(f"/complaints/{complaint}/claims", json={"damage": "wooden floor"}), 201)["id"]
    ok(client.post(f"/claims/{claim}/proposal", json={"amount": amount}))
    ok(client.post(f"/claims/{claim}/accept"))
    return complaint, claim


def test_a_reopened_claim_pays_the_difference_and_every_figure_agrees(client: TestClient, runtime: Runtime) -> None:
    """Case 1."""
    _, claim = accepted_claim(client, runtime, "cust-claim", "5000")
    ok(client.post(f"/claims/{claim}/payment", json={"amount": "5000", "reference": "T-1"}, headers=FINANCE))
    ok(client.post(f"/claims/{claim}/close"))
    ok(client.post(f"/claims/{claim}/reopen", json={"reason": "second quote for the skirting"}))
    ok(client.post(f"/claims/{claim}/revision", json={"amount": "6000", "reason": "skirting boards too"}))
    ok(client.post(f"/claims/{claim}/accept"))
    before = ok(read_settled(client, runtime, f"/claims/{claim}"))["version"]
    problem = refused(client.post(f"/claims/{claim}/payment", json={"amount": "6000", "reference": "T-2"},
                                  headers=FINANCE), 409, "claim-due-after-payments")
    assert "1000.00 is due" in problem["detail"]
    assert ok(read_settled(client, runtime, f"/claims/{claim}"))["version"] == before
    paid = ok(client.post(f"/claims/{claim}/payment", json={"amount": "1000", "reference": "T-2"}, headers=FINANCE))
    shown = ok(read_settled(client, runtime, f"/claims/{claim}"))
    assert (shown["paid"], shown["last_payment"], shown["due"]) == ("6000.00", "1000.00", "0.00")
    assert account(client, "cust-claim", paid["position"])["totals"]["compensation"] == "6000.00"
    board = eventually(lambda: [c for c in ok(client.get("/claims", params={"open_only": False}))["claims"]
                                if c["claim_id"] == claim and c["paid_total"] == "6000.00"])
    assert board[0]["amount"] == "6000.00"
    months = ok(client.get("/compensation/monthly"))["months"]
    assert sum(Decimal(m["paid"]) for m in months) == Decimal("6000") and sum(m["payments"] for m in months) == 2


def test_an_engineer_cannot_act_on_anothers_job(client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    """Case 2: cancel at the door, a payment on the job, an on-site payment naming it."""
    li, wang = engineer(runtime, "li"), engineer(runtime, "wang")
    job_id = delivered(client, "cust-two")["job_ids"][0]
    taken(client, job_id, li, "li")
    work_done(client, clock, job_id, li, "li")
    version = ok(read_settled(client, runtime, f"/jobs/{job_id}"))["version"]
    for path, body in ((f"/jobs/{job_id}/cancel-at-door", {"reason": "customer changed their mind"}),
                       (f"/jobs/{job_id}/payments", {"collected": True, "amount": "999", "method": "cash"}),
                       ("/payments", {"customer_id": "cust-two", "amount": "999", "method": "cash", "job_id": job_id,
                                      "on_site": True})):
        refused(client.post(path, json=body, headers=wang), 403, "engineer-holds-job")
    assert ok(read_settled(client, runtime, f"/jobs/{job_id}"))["version"] == version
    assert ok(read_settled(client, runtime, f"/jobs/{job_id}"))["payment"] is None


def test_an_on_site_payment_through_payments_is_the_jobs_payment(client: TestClient, runtime: Runtime,
                                                                  clock: ManualClock) -> None:
    """Case 4: 30.00 taken through POST /payments; the follow-up hears 30.00; no dispute."""
    li = engineer(runtime, "li")
    job_id = delivered(client, "cust-four", fee="0")["job_ids"][0]
    taken(client, job_id, li, "li")
    done = work_done(client, clock, job_id, li, "li")
    ok(client.post("/payments", json={"customer_id": "cust-four", "amount": "30", "method": "cash", "job_id": job_id,
                                      "on_site": True}, headers=li), 201)
    assert ok(read_settled(client, runtime, f"/jobs/{job_id}"))["payment"] == {"collected": True, "amount": "30.00",
                                                                              "method": "cash"}
    again = client.post("/payments", json={"customer_id": "cust-four", "amount": "30", "method": "cash",
                                           "job_id": job_id, "on_site": True}, headers=li)
    refused(again, 409, "one-on-site-payment")
    follow_up = ok(client.post(f"/follow-ups/{done['follow_up_id']}/record", json={
        "fixed": True, "conduct": "good", "satisfaction": 5, "customer_paid": "30.00"}))
    assert follow_up["confirmed"] is True and follow_up["charges_disputed"] is None
    money = account(client, "cust-four", follow_up["position"])
    assert money["totals"]["received"] == "30.00"


def test_a_complaint_is_not_closed_while_its_compensation_is_unpaid(client: TestClient, runtime: Runtime) -> None:
    """Case 5."""
    complaint, claim = accepted_claim(client, runtime, "cust-five", "300")
    ok(client.post(f"/complaints/{complaint}/acknowledge"))
    ok(client.post(f"/complaints/{complaint}/investigation", json={"findings": "engineer's ladder"}))
    ok(client.post(f"/complaints/{complaint}/resolve", json={"resolution": "door replaced at our cost"}))
    version = ok(read_settled(client, runtime, f"/complaints/{complaint}"))["version"]
    problem = refused(client.post(f"/complaints/{complaint}/close"), 409, "complaint-claims-settled")
    assert "300.00 due" in problem["detail"]
    assert ok(read_settled(client, runtime, f"/complaints/{complaint}"))["version"] == version
    ok(client.post(f"/claims/{claim}/payment", json={"amount": "300", "reference": "T-5"}, headers=FINANCE))
    assert ok(client.post(f"/complaints/{complaint}/close"))


def test_returns_are_checked_against_the_order(client: TestClient, runtime: Runtime) -> None:
    """Case 6: an order that does not exist, a SKU it never had, more units than it held."""
    order_id = delivered(client, "cust-six")["order_id"]
    request = {"customer_id": "cust-six", "resolution": "refund", "reason": "leaks"}
    missing = client.post("/returns", json={**request, "order_id": "00000000-0000-0000-0000-000000000000",
                                            "items": [{"sku": "NOPE", "quantity": 1}]})
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    refused(client.post("/returns", json={**request, "order_id": order_id, "items": [{"sku": "NOPE", "quantity": 1}]}),
            409, "return-matches-order")
    refused(client.post("/returns", json={**request, "order_id": order_id, "items": [{"sku": "WP-500", "quantity": 5}]}),
            409, "return-matches-order")
    refused(client.post("/returns", json={**request, "customer_id": "someone-else", "order_id": order_id,
                                          "items": [{"sku": "WP-500", "quantity": 1}]}), 409, "return-matches-order")
    first = ok(client.post("/returns", json={**request, "order_id": order_id,
                                             "items": [{"sku": "WP-500", "quantity": 1}]}), 201)
    refused(client.post("/returns", json={**request, "order_id": order_id, "items": [{"sku": "WP-500", "quantity": 1}]}),
            409, "return-matches-order")
    board = ok(client.get("/returns", params={"pending": "finance", "wait_for_position": first["position"]}))
    assert [r["return_id"] for r in board["returns"]] == [first["id"]]


def test_a_repair_is_charged_to_whoever_is_liable(client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    """Case 8: installation error -> the installer; product quality -> the maker; misuse -> the customer."""
    li = engineer(runtime, "li")
    job_id = delivered(client, "cust-eight", fee="0")["job_ids"][0]
    taken(client, job_id, li, "li")
    work_done(client, clock, job_id, li, "li")
    charged = {}
    for cause in ("installation_error", "product_quality", "customer_misuse"):
        repair = ok(client.post(f"/jobs/{job_id}/repairs", json={"fee": "80"}), 201)["id"]
        ok(client.post(f"/jobs/{repair}/accept", json={"engineer": "li"}, headers=li))
        done = work_done(client, clock, repair, li, "li", fault_cause=cause)
        charged[cause] = ok(read_settled(client, runtime, f"/jobs/{repair}"))["charged_to"]
    assert charged == {"installation_error": "installer", "product_quality": "manufacturer",
                       "customer_misuse": "customer"}
    assert account(client, "cust-eight", done["position"])["totals"]["charge"] == "80.00"

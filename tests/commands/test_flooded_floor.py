"""The flooded-floor story of seed 002 over HTTP: complaint -> claim -> proposal within 48 h
-> dispute -> revised amount -> accepted -> paid -> closed, replayable by an auditor."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from tests.commands.view_reads import read_settled


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def test_the_flooded_floor(client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    complaint = ok(client.post("/complaints", json={
        "customer_id": "cust-floor", "category": "product_quality",
        "description": "water purifier leaked overnight; wooden floor flooded"}), 201)["id"]
    ok(client.post(f"/complaints/{complaint}/acknowledge"))
    claim = ok(client.post(f"/complaints/{complaint}/claims", json={"damage": "30 m2 of wooden floor"}), 201)
    claim_id = claim["id"]
    assert claim["proposal_due_at"] == (clock.now() + timedelta(hours=48)).isoformat()

    fact = ok(client.post(f"/claims/{claim_id}/facts", json={
        "fact": "inlet hose split along a seam", "evidence": ["photo-118", "engineer report R-77"]}))["fact_id"]
    clock.advance(timedelta(hours=30))
    ok(client.post(f"/claims/{claim_id}/proposal", json={"amount": "3000", "facts": [fact]}))
    ok(client.post(f"/claims/{claim_id}/liability", json={
        "party": "manufacturer", "facts": [fact], "reason": "hose defect, installation checked correct"}))
    ok(client.post(f"/claims/{claim_id}/dispute", json={"reason": "flooring quote is 8000"}))
    ok(client.post(f"/claims/{claim_id}/revision", json={"amount": "7200", "facts": [fact],
                                                         "reason": "two supplier quotes, minus depreciation"}))
    ok(client.post(f"/claims/{claim_id}/accept"))
    wrong = client.post(f"/claims/{claim_id}/payment", json={"amount": "7000", "reference": "TX-1"})
    assert wrong.status_code == 409 and "7200.00" in wrong.json()["detail"]
    ok(client.post(f"/claims/{claim_id}/payment", json={"amount": "7200", "reference": "TX-9001"}))
    closed = ok(client.post(f"/claims/{claim_id}/close"))
    early = client.post(f"/complaints/{complaint}/close")
    assert early.status_code == 409 and "closed only once resolved" in early.json()["detail"]
    ok(client.post(f"/complaints/{complaint}/investigation", json={"findings": "hose batch 2026-03 defective"}))
    ok(client.post(f"/complaints/{complaint}/resolve", json={"resolution": "floor compensated, hose recalled"}))
    ok(client.post(f"/complaints/{complaint}/close"))

    # The auditor replays the claim from the event store: who, when, why, on which facts.
    history = ok(client.get(f"/claims/{claim_id}/history"))["events"]
    assert [h["event_type"] for h in history] == [
        "ClaimOpened", "FactRecorded", "CompensationProposed", "LiabilityDetermined", "ProposalDisputed",
        "CompensationRevised", "ProposalAccepted", "CompensationPaid", "ClaimClosed"]
    revision = history[5]
    assert revision["data"]["previous_amount"] == "3000.00" and revision["data"]["amount"] == "7200.00"
    assert revision["meta"]["reason"] == "two supplier quotes, minus depreciation"
    assert revision["meta"]["actor"] == "admin" and revision["data"]["facts"] == [fact]

    timeline = ok(client.get("/customers/cust-floor/timeline", params={"wait_for_position": closed["position"]}))
    summaries = [e["summary"] for e in timeline["entries"]]
    assert "Compensation revised from 3000.00 to 7200.00: two supplier quotes, minus depreciation" in summaries
    assert "Compensation of 7200.00 paid" in summaries
    deadline = time.monotonic() + 60
    while True:
        board = ok(client.get("/complaints", params={"category": "product_quality"}))
        months = ok(client.get("/compensation/monthly"))["months"]
        if board["complaints"] and board["complaints"][0]["status"] == "closed" and months:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert months[0]["paid"] == "7200.00" and months[0]["payments"] == 1
    assert ok(client.get("/claims", params={"open_only": False}))["claims"][0]["first_proposal_at"] is not None


def test_a_claim_without_a_proposal_in_48_hours_escalates(runtime: Runtime, client: TestClient,
                                                          clock: ManualClock) -> None:
    complaint = ok(client.post("/complaints", json={"customer_id": "cust-late", "category": "service",
                                                    "description": "engineer damaged a cabinet"}), 201)["id"]
    claim_id = ok(client.post(f"/complaints/{complaint}/claims", json={"damage": "kitchen cabinet door"}), 201)["id"]
    clock.advance(timedelta(hours=48, minutes=1))
    deadline = time.monotonic() + 60
    while not ok(read_settled(client, runtime, f"/claims/{claim_id}"))["proposal_overdue"]:
        assert time.monotonic() < deadline, "the 48-hour deadline did not fire"
        time.sleep(0.05)
    assert ok(read_settled(client, runtime, f"/claims/{claim_id}"))["escalation_level"] == 1

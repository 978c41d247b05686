"""The boards' read endpoints over HTTP: cursor paging, filters, the version each row was read
at (If-Match), and histories longer than any page, paged back newest first to the first event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from engine.domain.periods import period_bounds
from tests.commands.boards_data import long_history, open_claim, open_jobs, request_returns
from tests.commands.test_field_story import eventually, ok
from tests.commands.test_settlement_month import installation, next_period
from tests.commands.view_reads import read_settled
from tests.waiting import views_caught_up

pytestmark = pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)


def every_page(client: TestClient, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    rows, cursor = [], None
    while True:
        page = ok(client.get(path, params={**params, **({"cursor": cursor} if cursor else {})}))
        rows += page[key]
        cursor = page["next_cursor"]
        if cursor is None:
            return rows


def test_a_history_longer_than_any_page_pages_back_newest_first(client: TestClient) -> None:
    made = long_history(client, "cust-long", 1_050)
    # Two orders' events sit on different partitions: one's position does not cover the other's.
    views_caught_up(client, made["position"])
    # Newest first: the newer order is on top, and paging back reaches the very first event.
    first = ok(client.get("/customers/cust-long/timeline", params={
        "order": "newest_first", "limit": 100, "wait_for_position": made["position"], "wait_timeout": 30}))
    assert first["entries"][0]["subject_id"] == made["newer_order_id"] and first["next_after"] is None
    entries, page = list(first["entries"]), first
    while page["next_before"] is not None:
        page = ok(client.get("/customers/cust-long/timeline",
                             params={"order": "newest_first", "limit": 1000, "before": page["next_before"]}))
        entries += page["entries"]
    positions = [e["position"] for e in entries]
    assert len(entries) == made["events"] > 1_000 and positions == sorted(set(positions), reverse=True)
    assert entries[-1]["event_type"] == "OrderPlaced" and entries[-1]["subject_id"] == made["order_id"]

    # The customer file's history: newest first, paged by history_before.
    history, before = [], None
    while True:
        file = ok(client.get("/customers/cust-long/file", params={
            "history_limit": 400, **({"history_before": before} if before else {})}))
        history += file["history"]
        before = file["history_next_before"]
        if before is None:
            break
    assert [e["position"] for e in history] == positions

    # The order's tracking history: newest first by version, paged back to version 1.
    versions, before = [], None
    while True:
        tracking = ok(client.get(f"/orders/{made['order_id']}/tracking", params={
            "history_limit": 300, **({"history_before": before} if before else {})}))
        versions += [h["version"] for h in tracking["history"]]
        before = tracking["history_next_before"]
        if before is None:
            break
    assert versions == list(range(made["events"] - 1, 0, -1)) and tracking["position_updates"] == 1_050

    # What the customer has, the most recently active first: the newer order before the busy one.
    subjects = ok(client.get("/customers/cust-long/subjects"))["subjects"]
    assert [s["subject_id"] for s in subjects] == [made["newer_order_id"], made["order_id"]]
    newest = ok(client.get("/customers/cust-long/subjects", params={"limit": 1}))
    earlier = ok(client.get("/customers/cust-long/subjects", params={"limit": 1, "before": newest["next_before"]}))
    assert [s["subject_id"] for s in newest["subjects"] + earlier["subjects"]] == [s["subject_id"] for s in subjects]
    assert earlier["next_before"] is not None and not ok(client.get(
        "/customers/cust-long/subjects", params={"before": earlier["next_before"]}))["subjects"]
    # Oldest first still pages forward as before.
    oldest = ok(client.get("/customers/cust-long/timeline", params={"limit": 2}))
    assert oldest["entries"][0]["event_type"] == "OrderPlaced" and oldest["next_before"] is None
    assert client.get("/customers/cust-long/timeline", params={"order": "newest_first", "after": 5}).status_code == 422


def test_the_dispatch_queue_pages_and_its_versions_guard_every_action(client: TestClient) -> None:
    jobs = open_jobs(client, 7)
    waiting = ok(client.get("/jobs", params={"limit": 3, "wait_for_position": jobs[-1]["position"],
                                             "wait_timeout": 30}))
    assert len(waiting["jobs"]) == 3 and waiting["next_cursor"]
    rows = every_page(client, "/jobs", "jobs", limit=3)
    assert sorted(r["job_id"] for r in rows) == sorted(j["id"] for j in jobs)
    assert all(r["status"] == "open" and r["version"] == 1 for r in rows)

    # Dispatched from the list with the version it showed; a second click on the stale row is a 412.
    target = rows[0]
    done = ok(client.post(f"/jobs/{target['job_id']}/dispatch", json={"engineer": "wang"},
                          headers={"If-Match": f'"{target["version"]}"'}))
    stale = client.post(f"/jobs/{target['job_id']}/dispatch", json={"engineer": "li"},
                        headers={"If-Match": f'"{target["version"]}"'})
    assert stale.status_code == 412 and stale.headers["content-type"].startswith("application/problem+json")
    after = ok(client.get("/jobs", params={"wait_for_position": done["position"], "wait_timeout": 30, "limit": 200}))
    assert target["job_id"] not in [r["job_id"] for r in after["jobs"]] and len(after["jobs"]) == 6
    dispatched = ok(client.get("/jobs", params={"status": "dispatched", "engineer": "wang"}))["jobs"]
    assert [(r["job_id"], r["version"]) for r in dispatched] == [(target["job_id"], 2)]

    # Declined on the engineer's behalf: back in the queue, marked declined.
    declined = ok(client.post(f"/jobs/{target['job_id']}/decline", json={"engineer": "wang", "reason": "ill today"},
                              headers={"If-Match": '"2"'}))
    queue = ok(client.get("/jobs", params={"wait_for_position": declined["position"], "wait_timeout": 30,
                                           "limit": 200}))["jobs"]
    assert {r["job_id"]: r["status"] for r in queue}[target["job_id"]] == "declined"

    for bad in ({"cursor": "not-a-cursor"}, {"cursor": "W10"}, {"status": "lost"}, {"limit": 0}, {"limit": 201}):
        response = client.get("/jobs", params=bad)
        assert response.status_code == 422, bad
    assert "cursor" in client.get("/jobs", params={"cursor": "eyJ4IjoxfQ"}).json()["detail"]


def test_a_day_of_agendas_lists_every_engineer_by_appointment(client: TestClient, runtime: Runtime) -> None:
    jobs = open_jobs(client, 3)
    engineers = ["zhao", "li", "li"]
    day = (runtime.app.clock.now() + timedelta(days=2)).date().isoformat()
    last = None
    for n, (job, engineer) in enumerate(zip(jobs, engineers)):
        ok(client.post(f"/jobs/{job['id']}/dispatch", json={"engineer": engineer}))
        ok(client.post(f"/jobs/{job['id']}/accept", json={"engineer": engineer}))
        last = ok(client.post(f"/jobs/{job['id']}/appointment", json={
            "start": f"{day}T{9 + 2 * (2 - n):02d}:00:00+00:00", "end": f"{day}T{10 + 2 * (2 - n):02d}:00:00+00:00"}))
    agenda = ok(client.get("/engineers/agendas", params={"day": day, "wait_for_position": last["position"],
                                                         "wait_timeout": 30}))
    assert [(j["engineer"], j["job_id"]) for j in agenda["jobs"]] == [
        ("li", jobs[2]["id"]), ("li", jobs[1]["id"]), ("zhao", jobs[0]["id"])]
    assert ok(client.get("/engineers/agendas", params={"day": "2001-01-01"}))["jobs"] == []


def test_returns_claims_slas_and_call_backs_list_with_versions(runtime: Runtime, client: TestClient) -> None:
    returns = request_returns(client, 3)
    sales = every_page(client, "/returns", "returns", pending="sales", limit=2,
                       wait_for_position=returns[-1]["position"], wait_timeout=30)
    assert [r["return_id"] for r in sales] == [r["id"] for r in returns]
    assert all(r["version"] == 1 and "sales" in r["pending"] for r in sales)
    voted = ok(client.post(f"/returns/{returns[0]['id']}/votes/sales", json={"approve": True},
                           headers={"If-Match": '"1"'}))
    left = ok(client.get("/returns", params={"pending": "sales", "wait_for_position": voted["position"],
                                             "wait_timeout": 30}))
    assert [r["return_id"] for r in left["returns"]] == [r["id"] for r in returns[1:]]

    opened = open_claim(client, "cust-floor")
    claims = ok(client.get("/claims", params={"wait_for_position": opened["claim"]["position"], "wait_timeout": 30}))
    (claim,) = claims["claims"]
    assert claim["claim_id"] == opened["claim"]["id"] and claim["version"] == 1 and claims["now"]
    assert ok(client.get("/claims", params={"overdue": True}))["claims"] == []
    # Opening the claim changed the complaint too: the row shows the version an If-Match needs.
    current = ok(read_settled(client, runtime, f"/complaints/{opened['complaint']['id']}"))["version"]
    assert current > 1 and eventually(lambda: [c["version"] for c in ok(client.get(
        "/complaints", params={"open_only": True}))["complaints"]] == [current])

    call = ok(client.post("/calls", json={"phone": "+86 571 8888 0000", "answered": False}), 201)
    due = ok(client.get("/hotline/call-backs", params={"wait_for_position": call["position"], "wait_timeout": 30}))
    assert [(c["call_id"], c["version"]) for c in due["call_backs"]] == [(call["id"], 1)]
    sla = ok(client.post("/slas", json={"subject_id": "job-1", "subject_kind": "job", "customer_id": "cust-floor",
                                         "tier": "svip"}), 201)
    board = ok(client.get("/slas", params={"wait_for_position": sla["position"], "wait_timeout": 30}))
    assert [(i["sla_id"], i["version"]) for i in board["items"]] == [(sla["id"], 1)] and board["now"]
    assert ok(client.get("/slas", params={"state": "breached"}))["items"] == []


def test_finance_lists_a_periods_statements_and_pays_with_if_match(client: TestClient, runtime: Runtime,
                                                                  clock: ManualClock) -> None:
    period = next_period(clock)
    start, end = period_bounds(period, "Asia/Shanghai")
    clock.set(start + timedelta(days=2, hours=1))
    for name in ("li", "wang", "zhao"):
        runtime.tokens.add(f"{name}-token-0123456789ab", name, ["engineer"])
        installation(client, clock, name, f"cust-{name}")
    clock.advance(end - clock.now() + timedelta(hours=1))
    run = ok(client.post("/settlements", json={"period": period}), 201)
    views_caught_up(client, run["position"])  # the statements are other aggregates than the run
    statements = every_page(client, f"/settlements/{period}/statements", "statements", limit=2,
                            wait_for_position=run["position"], wait_timeout=30)
    assert [(s["engineer"], s["status"], s["total"]) for s in statements] == [
        (name, "issued", "150.00") for name in ("li", "wang", "zhao")]
    li = statements[0]
    paid = ok(client.post(f"/engineers/li/statements/{period}/pay", json={"reference": "bank #1"},
                          headers={"If-Match": f'"{li["version"]}"'}))
    again = client.post(f"/engineers/li/statements/{period}/pay", json={"reference": "bank #2"},
                        headers={"If-Match": f'"{li["version"]}"'})
    assert again.status_code == 412
    issued = ok(client.get(f"/settlements/{period}/statements", params={
        "status": "issued", "wait_for_position": paid["position"], "wait_timeout": 30}))["statements"]
    assert [s["engineer"] for s in issued] == ["wang", "zhao"]
    balances = every_page(client, "/engineers/balances", "accounts", limit=2)
    assert {a["engineer"]: a["totals"]["owed"] for a in balances} == {"li": "0.00", "wang": "150.00",
                                                                     "zhao": "150.00"}

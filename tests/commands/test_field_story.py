"""End to end over HTTP, with the relay, projections and scheduler running and time moved
by the test: the field-work story of issue "Field work", and a missed appointment."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from tests.commands.view_reads import settled, when_shown
from tests.waiting import wait_for as eventually  # re-exported: other test modules import it from here

SITE = {"lat": 30.2741, "lng": 120.1551}
NEAR = {"lat": 30.2743, "lng": 120.1553}
ORDER = {
    "customer_id": "cust-field",
    "items": [{"sku": "WP-500", "description": "Water purifier", "quantity": 1, "needs_installation": True,
               "installation_fee": "150", "consumables": ["PP cotton", "carbon", "RO membrane"],
               "consumable_interval_days": 90}],
    "tier": "vip",
    "delivery_address": "12 Lake Road",
    "site_location": SITE,
}


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json()


def iso(moment: Any) -> str:
    return moment.isoformat()




def delivered_installation_job(client: TestClient) -> str:
    order_id = ok(client.post("/orders", json=ORDER), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"},
                 {"step": "in_transit", "position": SITE}):
        ok(client.post(f"/orders/{order_id}/delivery-steps", json=body))
    delivered = ok(client.post(f"/orders/{order_id}/delivery-steps", json={"step": "delivered"}))
    (job_id,) = delivered["job_ids"]
    return job_id


def visit(client: TestClient, clock: ManualClock, job_id: str, engineer: str, **outcome: Any) -> dict[str, Any]:
    checked_in = ok(client.post(f"/jobs/{job_id}/check-ins", json={"engineer": engineer, **NEAR, "accuracy_m": 8}))
    assert checked_in["verified"] is True and checked_in["distance_m"] < 50
    clock.advance(timedelta(minutes=50))
    ok(client.post(f"/jobs/{job_id}/check-outs", json={"engineer": engineer}))
    return ok(client.post(f"/jobs/{job_id}/complete", json=outcome))


def test_the_field_work_story(client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    runtime.tokens.add("li-token-0123456789ab", "li", ["engineer"])
    as_li = {"Authorization": "Bearer li-token-0123456789ab"}
    runtime.tokens.add("wang-token-0123456789ab", "wang", ["engineer"])
    as_wang = {"Authorization": "Bearer wang-token-0123456789ab"}
    ok(client.post("/customers", json={"customer_id": "cust-field", "name": "Chen Mei", "phone": "+86 571 5550 1234",
                                       "address": "12 Lake Road"}), 201)

    # Order delivered -> installation job opened.
    job_id = delivered_installation_job(client)

    # Dispatched -> declined -> re-dispatched and accepted (the engineer reports as themselves).
    ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": "wang"}))
    ok(client.post(f"/jobs/{job_id}/decline", json={"engineer": "wang", "reason": "cannot install that model"},
                   headers=as_wang))
    ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": "li"}))
    assert client.post(f"/jobs/{job_id}/accept", json={"engineer": "wang"}, headers=as_li).status_code == 403
    ok(client.post(f"/jobs/{job_id}/accept", json={"engineer": "li"}, headers=as_li))

    # Appointment agreed, then rescheduled before it starts, with notice recorded.
    start = clock.now() + timedelta(days=1)
    ok(client.post(f"/jobs/{job_id}/appointment", json={"start": iso(start), "end": iso(start + timedelta(hours=3))}))
    moved = ok(client.post(f"/jobs/{job_id}/appointment/reschedule", json={
        "start": iso(start + timedelta(days=1)), "end": iso(start + timedelta(days=1, hours=3)),
        "initiator": "customer", "reason": "customer away on Tuesday"}))

    agenda = ok(client.get("/engineers/li/agenda", params={"day": (start + timedelta(days=1)).date().isoformat(),
                                                         "wait_for_position": moved["position"]}))
    assert [j["job_id"] for j in agenda["jobs"]] == [job_id]

    # Verified visit -> installed; a consumable reminder starts.
    clock.set(start + timedelta(days=1, minutes=20))
    installed = visit(client, clock, job_id, "li")
    reminder_id = installed["reminder_id"]
    installed_at = clock.now()
    visits = ok(client.get(f"/jobs/{job_id}/visits", params={"wait_for_position": installed["position"]}))
    (only,) = visits["visits"]
    assert only["verified"] is True and only["duration_minutes"] == 50.0 and only["engineer"] == "li"

    # Two months later a repair: routed to the installer.
    clock.advance(timedelta(days=60))
    repair = ok(client.post(f"/jobs/{job_id}/repairs", json={"fee": "0"}), 201)
    assert repair["engineer"] == "li"
    repair_id = repair["id"]
    ok(client.post(f"/jobs/{repair_id}/accept", json={"engineer": "li"}, headers=as_li))
    done = visit(client, clock, repair_id, "li", fault_cause="installation_error")

    # Follow-up within 24 hours.
    follow_up_id = done["follow_up_id"]
    # A policy opened it with the completion: the reply gives its own position to read it by.
    assert set(done["positions"]) >= {repair_id, follow_up_id}
    assert done["positions"][repair_id] == done["position"]
    assert ok(client.get(f"/follow-ups/{follow_up_id}", params={
        "wait_for_position": done["positions"][follow_up_id], "wait_timeout": 30}))["status"] == "due"
    clock.advance(timedelta(hours=5))
    recorded = ok(client.post(f"/follow-ups/{follow_up_id}/record", json={
        "fixed": True, "conduct": "excellent", "satisfaction": 5, "comments": "came on time",
        "arrival_time": iso(clock.now() - timedelta(hours=5, minutes=50))}))
    assert ok(client.get(f"/follow-ups/{follow_up_id}",
                         params={"wait_for_position": recorded["position"]}))["status"] == "recorded"

    # ~90 days after the installation the scheduler makes the filter reminder due.
    clock.set(installed_at + timedelta(days=90, minutes=1))
    settled(runtime, "follow_ups", reminder_id)
    when_shown(client, f"/reminders/{reminder_id}", lambda r: r["status"] == "due")

    # The customer sees all of it; the operator finds the file by phone.
    position = runtime.app.current_position()  # the reminder falling due: saved after its deadline's firing
    timeline = ok(client.get("/customers/cust-field/timeline",
                             params={"limit": 1000, "wait_for_position": position}))["entries"]
    summaries = [e["summary"] for e in timeline]
    assert "Engineer wang declined the job: cannot install that model; it will be re-dispatched" in summaries
    assert any(s.startswith("Appointment moved to") and "24 h notice, asked by customer" in s for s in summaries)
    assert "Job completed (cause: installation error)" in summaries
    assert "Follow-up recorded: fixed, satisfaction 5/5" in summaries
    assert "Your consumables are due for replacement" in summaries
    assert recorded["position"] < position
    found = ok(client.get("/customers", params={"q": "5550 1234"}))["customers"]
    assert [c["customer_id"] for c in found] == ["cust-field"]
    file = ok(client.get("/customers/cust-field/file", params={"wait_for_position": done["position"]}))
    (product,) = file["products"]
    assert (product["sku"], product["installed_by"], product["installation_job_id"]) == ("WP-500", "li", job_id)
    assert product["consumables"] == ["PP cotton", "carbon", "RO membrane"]
    assert file["name"] == "Chen Mei" and len(file["history"]) == len(timeline)


def test_a_window_nobody_turns_up_for_is_recorded_as_missed(client: TestClient, runtime: Runtime,
                                                            clock: ManualClock) -> None:
    job_id = delivered_installation_job(client)
    ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": "li"}))
    ok(client.post(f"/jobs/{job_id}/accept", json={"engineer": "li"}))
    start = clock.now() + timedelta(hours=4)
    ok(client.post(f"/jobs/{job_id}/appointment", json={"start": iso(start), "end": iso(start + timedelta(hours=2))}))
    clock.set(start + timedelta(minutes=5))
    late = client.post(f"/jobs/{job_id}/appointment/reschedule", json={
        "start": iso(start + timedelta(days=1)), "end": iso(start + timedelta(days=1, hours=2)),
        "initiator": "engineer", "reason": "traffic"})
    assert late.status_code == 409 and "can no longer be rescheduled" in late.json()["detail"]
    clock.set(start + timedelta(hours=2, minutes=1))
    settled(runtime, "engineer_agenda", job_id)
    eventually(lambda: ok(client.get(f"/jobs/{job_id}"))["missed_windows"] == 1)
    missed = runtime.app.current_position()  # the job's breach: saved after its deadline's firing
    timeline = ok(client.get("/customers/cust-field/timeline", params={"wait_for_position": missed}))["entries"]
    assert timeline[-1]["summary"].startswith("Missed appointment: nobody came between")
    agenda = ok(client.get("/engineers/li/agenda", params={"wait_for_position": missed}))
    assert agenda["jobs"][0]["missed_windows"] == 1 and agenda["jobs"][0]["window_start"] is None

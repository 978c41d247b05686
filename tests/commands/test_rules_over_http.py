"""Issue 17's cases replayed over HTTP on the embedded default: each rule refuses with a
4xx problem+json naming it, and a refused command stores nothing (the aggregate's version
does not move). Cases that span two workflows are in test_cross_workflow_http.py."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Runtime, build_runtime
from engine.domain.clock import ManualClock
from tests.commands.test_field_story import NEAR, ORDER, SITE, delivered_installation_job, eventually, iso, ok
from tests.commands.view_reads import read_settled
from tests.conftest import make_settings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def refused(response: Any, status: int, rule: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["rule"] == rule, problem
    return problem


def version(client: TestClient, runtime: Runtime, path: str) -> int:
    return ok(read_settled(client, runtime, path))["version"]


def accepted_job(client: TestClient, engineer: str = "li") -> str:
    job_id = delivered_installation_job(client)
    ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": engineer}))
    ok(client.post(f"/jobs/{job_id}/accept", json={"engineer": engineer}))
    return job_id


def test_visit_times_are_the_servers_and_a_missed_window_stays_missed(client: TestClient, runtime: Runtime,
                                                                      clock: ManualClock) -> None:
    """Case 3: a back-dated check-in inside a missed window, a check-out dated 2031."""
    job_id = accepted_job(client)
    start = clock.now() + timedelta(hours=5)
    ok(client.post(f"/jobs/{job_id}/appointment", json={"start": iso(start), "end": iso(start + timedelta(hours=2))}))
    clock.set(start + timedelta(hours=2, minutes=1))
    eventually(lambda: ok(read_settled(client, runtime, f"/jobs/{job_id}"))["missed_windows"] == 1)
    clock.advance(timedelta(minutes=30))
    before = version(client, runtime, f"/jobs/{job_id}")
    inside = {"engineer": "li", **NEAR, "accuracy_m": 5, "at": iso(start + timedelta(minutes=20))}
    problem = refused(client.post(f"/jobs/{job_id}/check-ins", json=inside), 409, "visit-time-bounded")
    assert "recorded as missed" in problem["detail"]
    future = {**inside, "at": iso(clock.now() + timedelta(days=30))}
    refused(client.post(f"/jobs/{job_id}/check-ins", json=future), 409, "visit-time-bounded")
    assert version(client, runtime, f"/jobs/{job_id}") == before

    checked_in = ok(client.post(f"/jobs/{job_id}/check-ins", json={"engineer": "li", **NEAR, "accuracy_m": 5}))
    assert checked_in["verified"] is True
    clock.advance(timedelta(minutes=40))
    refused(client.post(f"/jobs/{job_id}/check-outs", json={"engineer": "li", "at": "2031-01-01T09:00:00+08:00"}),
            409, "visit-time-bounded")
    # Offline work: the device's time, 10 minutes before the upload, is taken as it is bounded.
    out = ok(client.post(f"/jobs/{job_id}/check-outs",
                         json={"engineer": "li", "at": iso(clock.now() - timedelta(minutes=10))}))
    (visit,) = ok(client.get(f"/jobs/{job_id}/visits", params={"wait_for_position": out["position"]}))["visits"]
    assert visit["duration_minutes"] == 30.0
    job = ok(client.get(f"/jobs/{job_id}", params={"wait_for_position": out["position"]}))
    assert job["missed_windows"] == 1 and job["visits"][0]["check_out_received_at"] == iso(clock.now())


def test_an_appointment_is_not_delayed_again_and_again_at_short_notice(client: TestClient, runtime: Runtime,
                                                                        clock: ManualClock) -> None:
    """Case 7: rescheduling with minutes of notice, unless the customer asks."""
    job_id = accepted_job(client)
    start = clock.now() + timedelta(hours=2)
    ok(client.post(f"/jobs/{job_id}/appointment", json={"start": iso(start), "end": iso(start + timedelta(hours=2))}))
    before = version(client, runtime, f"/jobs/{job_id}")
    move = {"start": iso(start + timedelta(days=1)), "end": iso(start + timedelta(days=1, hours=2)),
            "initiator": "engineer", "reason": "running late"}
    problem = refused(client.post(f"/jobs/{job_id}/appointment/reschedule", json=move), 409, "reschedule-notice")
    assert "at least 4 h before it starts" in problem["detail"]
    assert version(client, runtime, f"/jobs/{job_id}") == before
    moved_by_customer = ok(client.post(f"/jobs/{job_id}/appointment/reschedule",
                                       json={**move, "initiator": "customer", "reason": "customer asked for tomorrow"}))
    assert ok(client.get(f"/jobs/{job_id}", params={"wait_for_position": moved_by_customer["position"]})
              )["window"]["start"] == iso(start + timedelta(days=1))
    history = ok(client.get(f"/audit/aggregates/{job_id}"))
    moved = [e for e in history["events"] if e["event_type"] == "AppointmentRescheduled"]
    assert [e["data"]["initiator"] for e in moved] == ["customer"]


def test_replacing_some_filters_renews_only_their_reminder(client: TestClient, runtime: Runtime,
                                                          clock: ManualClock) -> None:
    """Case 9."""
    job_id = accepted_job(client)
    ok(client.post(f"/jobs/{job_id}/check-ins", json={"engineer": "li", **NEAR, "accuracy_m": 5}))
    ok(client.post(f"/jobs/{job_id}/check-outs", json={"engineer": "li"}))
    reminder_id = ok(client.post(f"/jobs/{job_id}/complete", json={}))["reminder_id"]
    clock.advance(timedelta(days=90, minutes=1))
    eventually(lambda: ok(read_settled(client, runtime, f"/reminders/{reminder_id}"))["status"] == "due")
    replacement = ok(client.post(f"/reminders/{reminder_id}/accept", json={"consumables": ["PP cotton", "carbon"]}),
                     201)
    ok(client.post(f"/jobs/{replacement['job_id']}/dispatch", json={"engineer": "li"}))
    ok(client.post(f"/jobs/{replacement['job_id']}/accept", json={"engineer": "li"}))
    ok(client.post(f"/jobs/{replacement['job_id']}/check-ins", json={"engineer": "li", **NEAR, "accuracy_m": 5}))
    ok(client.post(f"/jobs/{replacement['job_id']}/check-outs", json={"engineer": "li"}))
    ok(client.post(f"/jobs/{replacement['job_id']}/complete", json={"consumables_replaced": ["PP cotton"]}))
    # Renewed in the replacement job's completion, whose position is the job's.
    reminder = ok(read_settled(client, runtime, f"/reminders/{reminder_id}"))
    now = clock.now()
    assert reminder["due"] == {"PP cotton": iso(now + timedelta(days=90)), "carbon": iso(now + timedelta(days=30)),
                               "RO membrane": iso(now + timedelta(days=30))}
    assert reminder["due_at"] == iso(now + timedelta(days=30))


def test_a_phone_is_found_with_or_without_its_country_code(client: TestClient) -> None:
    """Case 10."""
    registered = ok(client.post("/customers", json={"customer_id": "cust-phone", "name": "Wu Lan",
                                                    "phone": "138 0004 0827", "address": "8 Hill St"}), 201)
    eventually(lambda: client.get("/customers/cust-phone/file",
                                  params={"wait_for_position": registered["position"]}).status_code == 200)
    for written in ("+8613800040827", "0086 138 0004 0827", "(+86) 138-0004-0827", "13800040827", "wu +86 1380004"):
        found = ok(client.get("/customers", params={"q": written}))["customers"]
        assert [c["customer_id"] for c in found] == ["cust-phone"], written
    assert ok(client.get("/customers", params={"q": "+1 138 0004 0827"}))["customers"] == []


def test_make_up_working_days_reach_the_tier_calendars(backend: str, tmp_path: Any, topic_prefix: str,
                                                       clock: ManualClock) -> None:
    """Case 11: configured as a setting, recorded in every 5x8 SLA's calendar."""
    settings = make_settings(backend, tmp_path, None, topic_prefix, holidays=["2026-10-01"],
                             make_up_working_days=["2026-10-10"])
    runtime = build_runtime(settings, clock=clock)
    try:
        vip, _ = runtime.app.config.tier_targets["vip"]  # type: ignore[misc]
        assert vip.works_on(date(2026, 10, 10)) and not vip.works_on(date(2026, 10, 1))
        assert runtime.app.config.tier_targets["svip"][0].working_dates == frozenset()  # type: ignore[index]
    finally:
        runtime.close()
    with pytest.raises(ValueError, match="both a holiday and a make-up working day"):
        make_settings("sqlite", tmp_path, None, topic_prefix, holidays=["2026-10-10"],
                      make_up_working_days=["2026-10-10"])


def test_a_return_shows_the_reason_it_was_rejected(client: TestClient, runtime: Runtime) -> None:
    """Case 12."""
    runtime.tokens.add("finance-approver-token-0123", "fin-lead", ["approver:finance"])
    order_id = ok(client.post("/orders", json={**ORDER, "site_location": SITE}), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"},
                 {"step": "in_transit", "position": SITE}, {"step": "delivered"}):
        ok(client.post(f"/orders/{order_id}/delivery-steps", json=body))
    return_id = ok(client.post("/returns", json={"customer_id": ORDER["customer_id"], "order_id": order_id,
                                                 "resolution": "refund", "reason": "tastes of plastic",
                                                 "items": [{"sku": "WP-500", "quantity": 1}]}), 201)["id"]
    voted = ok(client.post(f"/returns/{return_id}/votes/finance", json={"approve": False,
                                                                        "reason": "bought 40 days ago"},
                           headers={"Authorization": "Bearer finance-approver-token-0123"}))
    shown = ok(client.get(f"/returns/{return_id}", params={"wait_for_position": voted["position"]}))
    assert shown["status"] == "rejected"
    assert shown["rejection"] == {"department": "finance", "reason": "bought 40 days ago"}

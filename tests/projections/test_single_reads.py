"""Single-resource reads answer from views (issue 16): fed a store's events without a broker,
each view shows an order, job, follow-up, reminder, return, complaint, claim and SLA exactly
as the aggregate replayed from the store does, and rebuilds from nothing to the same rows in
store, topic or aggregate order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from commands.api.app import create_app
from commands.bootstrap import Runtime
from commands.scheduler import Scheduler
from engine.domain.clock import ManualClock
from projections.base import Projection
from tests.commands.boards_data import open_claim
from tests.commands.conftest import AUTH
from tests.commands.test_field_story import SITE, ok
from tests.commands.test_settlement_month import do_the_work, installation
from tests.projections.test_worker import rows
from tests.projections.topic_order import (in_store_order, replay_aggregate_by_aggregate, replay_in_store_order,
                                          replay_topic_by_topic)

SINGLE_READ_VIEWS = ("order_tracking", "engineer_agenda", "follow_ups", "returns_board", "complaints_board",
                     "sla_board", "deadline_index")


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    """The API without its relay and workers: the test feeds the views itself."""
    runtime.tokens.add("li-token-0123456789ab", "li", ["engineer"])
    with TestClient(create_app(runtime), headers=AUTH) as c:
        yield c


def project(runtime: Runtime) -> list[Projection]:
    """Every single-read view dropped and fed the whole store in store order."""
    views = runtime.projections(list(SINGLE_READ_VIEWS))
    envelopes = in_store_order(runtime)
    for view in views:
        replay_in_store_order(runtime, view, envelopes)
        with runtime.views_db.transaction() as cur:
            # What the worker writes beside the rows: the version each aggregate reached.
            for env in envelopes:
                if env["source"].rsplit("/", 1)[-1] in view.categories:
                    cur.execute("INSERT INTO projection_versions (projection, aggregate_id, version) "
                                "VALUES (%s, %s, %s) ON CONFLICT (projection, aggregate_id) "
                                "DO UPDATE SET version = EXCLUDED.version",
                                (view.name, env["subject"], env["aggregateversion"]))
    return views


def delivered(api: TestClient, order: dict[str, Any]) -> tuple[str, list[str]]:
    order_id = ok(api.post("/orders", json=order), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"},
                 {"step": "in_transit", "position": SITE}):
        ok(api.post(f"/orders/{order_id}/delivery-steps", json=body))
    return order_id, ok(api.post(f"/orders/{order_id}/delivery-steps", json={"step": "delivered"}))["job_ids"]


def story(api: TestClient, runtime: Runtime, clock: ManualClock) -> dict[str, list[str]]:
    """Every workflow a single read shows, taken through the states its view must follow."""
    ids: dict[str, list[str]] = {k: [] for k in ("orders", "jobs", "follow-ups", "reminders", "returns",
                                                  "complaints", "claims", "slas")}
    # Orders: one held up by an incident after a re-dispatch, one installed, one cancelled.
    order = {"customer_id": "cust-one", "tier": "vip", "delivery_address": "3 River Lane", "site_location": SITE,
             "items": [{"sku": "WP-500", "needs_installation": True, "installation_fee": "80",
                        "consumables": ["PP cotton", "carbon"], "consumable_interval_days": 90},
                       {"sku": "FL-10", "quantity": 2}]}
    held = ok(api.post("/orders", json=order), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"}):
        ok(api.post(f"/orders/{held}/delivery-steps", json=body))
    for kind in ("vehicle_breakdown", "weather"):
        ok(api.post(f"/orders/{held}/incidents", json={"kind": kind, "description": "stuck on the ring road"}), 201)
    (breakdown, _) = [i["incident_id"] for i in runtime.app.get_order(UUID(held))["incidents"]]
    ok(api.post(f"/orders/{held}/incidents/{breakdown}/resolve",
                json={"resolution": "redispatched", "reason": "the van cannot be repaired today"}))
    installed = installation(api, clock, "li", "cust-two")
    cancelled = ok(api.post("/orders", json=order), 201)["order_id"]
    ok(api.post(f"/orders/{cancelled}/cancel", json={"reason": "customer moved house"}))
    ids["orders"] += [held, installed["order_id"], cancelled]

    # Jobs: an installation with consumables (visits, reminder), a repair declined, re-dispatched,
    # booked, done and paid on site.
    with_filters, (job_id, *_) = delivered(api, {**order, "customer_id": "cust-three"})
    done = do_the_work(api, clock, job_id, "li")
    repair = ok(api.post(f"/jobs/{installed['job_id']}/repairs", json={"fee": "40"}), 201)["id"]
    ok(api.post(f"/jobs/{repair}/decline", json={"engineer": "li", "reason": "ill today"}))
    ok(api.post(f"/jobs/{repair}/dispatch", json={"engineer": "li"}))
    ok(api.post(f"/jobs/{repair}/accept", json={"engineer": "li"}))
    start = clock.now() + timedelta(days=1)
    ok(api.post(f"/jobs/{repair}/appointment", json={"start": start.isoformat(),
                                                      "end": (start + timedelta(hours=2)).isoformat()}))
    clock.set(start + timedelta(minutes=10))
    fixed = do_the_work(api, clock, repair, "li", first=False, fault_cause="installation_error")
    ok(api.post(f"/jobs/{repair}/payments", json={"collected": True, "amount": "40", "method": "cash"}))
    ids["jobs"] += [installed["job_id"], job_id, repair]
    ids["follow-ups"] += [installed["follow_up"]["id"], done["follow_up_id"], fixed["follow_up_id"]]

    # The reminder falls due (its deadline fired as the scheduler fires it) and is declined.
    clock.advance(timedelta(days=91))
    project(runtime)
    Scheduler(runtime.app, runtime.views_db, clock).run_once()
    ok(api.post(f"/reminders/{done['reminder_id']}/decline", json={"repeat_after_days": 10, "reason": "away"}))
    ids["reminders"].append(done["reminder_id"])

    # Returns: one rejected with a reason, one approved, collected, inspected, a part tracked.
    request = {"customer_id": "cust-two", "order_id": installed["order_id"], "resolution": "refund",
               "reason": "leaks", "items": [{"sku": "WP-500", "quantity": 1}]}
    rejected = ok(api.post("/returns", json=request), 201)["id"]
    ok(api.post(f"/returns/{rejected}/votes/finance", json={"approve": False, "reason": "bought 40 days ago"}))
    approved = ok(api.post("/returns", json={**request, "customer_id": "cust-three", "order_id": with_filters,
                                             "items": [{"sku": "FL-10", "quantity": 1}]}), 201)["id"]
    for department in runtime.app.get_return(UUID(approved))["required"]:
        ok(api.post(f"/returns/{approved}/votes/{department}", json={"approve": True}))
    ok(api.post(f"/returns/{approved}/pickup", json={"pickup_at": (clock.now() + timedelta(days=1)).isoformat()}))
    ok(api.post(f"/returns/{approved}/received"))
    ok(api.post(f"/returns/{approved}/inspection", json={"faulty_parts": ["pump", "valve"]}))
    ok(api.post(f"/returns/{approved}/parts/pump", json={"step": "collected"}))
    ids["returns"] += [rejected, approved]

    # A claim paid, closed and reopened; another accepted with nothing paid yet.
    for n, amount in enumerate(("500", "300")):
        opened = open_claim(api, f"cust-claim-{n}")
        claim = opened["claim"]["id"]
        fact = ok(api.post(f"/claims/{claim}/facts", json={"fact": "the hose burst", "evidence": ["photo-1"]}))
        facts = [fact["fact_id"]]
        ok(api.post(f"/claims/{claim}/liability", json={"party": "manufacturer", "facts": facts,
                                                        "reason": "a faulty hose"}))
        ok(api.post(f"/claims/{claim}/proposal", json={"amount": amount, "facts": facts}))
        ok(api.post(f"/claims/{claim}/accept"))
        if n == 0:
            ok(api.post(f"/claims/{claim}/payment", json={"amount": amount, "reference": "T-1"}))
            ok(api.post(f"/claims/{claim}/close"))
            ok(api.post(f"/claims/{claim}/reopen", json={"reason": "the skirting too"}))
        ids["complaints"].append(opened["complaint"]["id"])
        ids["claims"].append(claim)

    # SLAs: one paused and resumed, one running.
    for n in range(2):
        sla = ok(api.post("/slas", json={"subject_id": ids["jobs"][n], "subject_kind": "job",
                                         "customer_id": "cust-two", "tier": "svip"}), 201)["id"]
        ids["slas"].append(sla)
    clock.advance(timedelta(hours=1))
    ok(api.post(f"/slas/{ids['slas'][0]}/pause", json={"reason": "waiting for the customer"}))
    clock.advance(timedelta(minutes=30))
    ok(api.post(f"/slas/{ids['slas'][0]}/resume"))
    clock.advance(timedelta(minutes=10))
    return ids


READS = {"orders": ("order", "get_order"), "jobs": ("job", "get_job"), "follow-ups": ("follow_up", "get_follow_up"),
         "reminders": ("reminder", "get_reminder"), "returns": ("return_request", "get_return"),
         "complaints": ("complaint", "get_complaint"), "claims": ("claim", "get_claim")}


def test_each_single_read_view_shows_what_the_aggregate_holds_and_rebuilds_the_same(
        api: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    ids = story(api, runtime, clock)
    views = project(runtime)
    for kind, (read, load) in READS.items():
        for found in ids[kind]:
            assert getattr(runtime.views, read)(found) == getattr(runtime.app, load)(UUID(found)), (kind, found)
    for sla in ids["slas"]:
        assert runtime.views.sla(sla, clock.now()) == runtime.app.get_sla(UUID(sla))
    shown = runtime.views.order(ids["orders"][0])
    assert shown is not None and (shown["status"], shown["current_step"], shown["driver"], shown["next_steps"]) == (
        "incident_open", "left_warehouse", None, ["driver_assigned"])
    assert runtime.views.reminder(ids["reminders"][0])["round"] == 2  # type: ignore[index]

    for view in views:
        if view.name == "deadline_index":
            continue
        expected = {t: rows(runtime.views_db, t) for t in view.tables}
        replay_topic_by_topic(runtime, view, list(reversed(view.categories)))
        assert {t: rows(runtime.views_db, t) for t in view.tables} == expected, view.name
        for reverse in (False, True):
            replay_aggregate_by_aggregate(runtime, view, list(view.categories), reverse)
            assert {t: rows(runtime.views_db, t) for t in view.tables} == expected, (view.name, reverse)

"""A month of field work settled end to end over HTTP, with the relay and projections running:
several engineers (one low-volume), follow-up confirmations, a disputed charge, a deduction
by rule, a reopened job, the settlement run, statements, payment, customer accounts and the
quality figures; then the money views rebuilt from offset zero equal the incremental ones.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from commands.settings import Settings
from engine.domain.clock import ManualClock
from engine.domain.periods import period_bounds
from tests.commands.test_field_story import NEAR, SITE, eventually, ok
from tests.projections.test_worker import rows
from tests.projections.topic_order import replay_topic_by_topic, stop_when_caught_up

FIN = {"Authorization": "Bearer fin-token-0123456789ab"}
OPERATOR = {"Authorization": "Bearer ops-token-0123456789ab"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The month's holdback applies from three jobs, so a short story shows it."""
    return settings.model_copy(update={"holdback_min_jobs": 3})


def as_engineer(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {name}-token-0123456789ab"}


def installation(client: TestClient, clock: ManualClock, engineer: str, customer: str, *, paid: str | None = None,
                 customer_says: str | None = None, fee: str = "150") -> dict[str, Any]:
    """Order placed and delivered, installed by ``engineer``; the follow-up asks what was paid."""
    order = {"customer_id": customer, "tier": "vip", "delivery_address": "12 Lake Road", "site_location": SITE,
             "items": [{"sku": "WP-500", "needs_installation": True, "installation_fee": fee}]}
    order_id = ok(client.post("/orders", json=order), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"},
                 {"step": "in_transit", "position": SITE}):
        ok(client.post(f"/orders/{order_id}/delivery-steps", json=body))
    (job_id,) = ok(client.post(f"/orders/{order_id}/delivery-steps", json={"step": "delivered"}))["job_ids"]
    done = do_the_work(client, clock, job_id, engineer)
    if paid:
        ok(client.post(f"/jobs/{job_id}/payments", json={"collected": True, "amount": paid, "method": "cash"}))
    said = customer_says if customer_says is not None else (paid or "0")
    follow_up = ok(client.post(f"/follow-ups/{done['follow_up_id']}/record",
                               json={"fixed": True, "conduct": "good", "satisfaction": 5, "customer_paid": said}))
    return {"order_id": order_id, "job_id": job_id, "follow_up": follow_up}


def do_the_work(client: TestClient, clock: ManualClock, job_id: str, engineer: str, first: bool = True,
                **outcome: Any) -> dict[str, Any]:
    me = as_engineer(engineer)
    if first:
        ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": engineer}))
        ok(client.post(f"/jobs/{job_id}/accept", json={"engineer": engineer}, headers=me))
    ok(client.post(f"/jobs/{job_id}/check-ins", json={"engineer": engineer, **NEAR, "accuracy_m": 6}, headers=me))
    clock.advance(timedelta(minutes=45))
    ok(client.post(f"/jobs/{job_id}/check-outs", json={"engineer": engineer}, headers=me))
    return ok(client.post(f"/jobs/{job_id}/complete", json=outcome, headers=me))


def settled(client: TestClient, engineer: str, version_lines: int) -> dict[str, Any]:
    return eventually(lambda: (r := client.get(f"/engineers/{engineer}/ledger", headers=FIN)).status_code == 200
                      and len(r.json()["lines"]) >= version_lines and r.json())


def next_period(clock: ManualClock) -> str:
    """The calendar month after the clock's, in Shanghai, as YYYY-MM."""
    here = clock.now().astimezone(ZoneInfo("Asia/Shanghai"))
    year, month = (here.year + 1, 1) if here.month == 12 else (here.year, here.month + 1)
    return f"{year:04d}-{month:02d}"


def test_a_month_of_work_settled(client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    # The month's work must fit in one month whatever today's date is: start early in the
    # next month (clocks only move forward, and tokens are issued against this clock).
    month_start, month_end = period_bounds(next_period(clock), "Asia/Shanghai")
    clock.set(month_start + timedelta(days=2, hours=1))
    period = clock.now().astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    runtime.tokens.add("fin-token-0123456789ab", "fiona", ["finance"])
    runtime.tokens.add("ops-token-0123456789ab", "olga", ["operator"])
    for name in ("li", "wang", "zhao"):
        runtime.tokens.add(f"{name}-token-0123456789ab", name, ["engineer"])

    # Li installs three purifiers; Wang only one (a low-volume engineer); Zhao one, paid on site.
    li_jobs = [installation(client, clock, "li", f"cust-{n}") for n in range(3)]
    installation(client, clock, "wang", "cust-3")
    disputed = installation(client, clock, "zhao", "cust-4", paid="30", customer_says="50")
    assert disputed["follow_up"]["confirmed"] is False
    assert disputed["follow_up"]["charges_disputed"] == {"customer_paid": "50.00", "engineer_reported": "30.00"}

    # The customer with a disputed charge shows it beside what they owe.
    # Both facts must show; a lost event would leave "received" short and fail here.
    account = eventually(lambda: (a := ok(client.get("/customers/cust-4/account")))["open_issues"]
                         and a["totals"]["received"] == "30.00" and a)
    assert account["totals"]["charge"] == "150.00" and account["totals"]["received"] == "30.00"
    assert account["outstanding"] == "120.00"
    assert [i["issue"] for i in account["open_issues"]] == ["charges_disputed"]
    ok(client.post(f"/jobs/{disputed['job_id']}/charges", json={"agreed": "30", "reason": "receipt photo checked"},
                   headers=OPERATOR))
    ok(client.post("/payments", json={"customer_id": "cust-4", "amount": "120", "method": "wechat_pay",
                                      "order_id": disputed["order_id"]}, headers=FIN), 201)
    eventually(lambda: (a := ok(client.get("/customers/cust-4/account")))["outstanding"] == "0.00"
               and not a["open_issues"])
    def timeline() -> list[str]:
        return [e["summary"] for e in ok(client.get("/customers/cust-4/timeline"))["entries"]]

    summaries = eventually(lambda: "Payment of 120.00 CNY received (wechat pay)" in (t := timeline()) and t)
    assert "Charges to check: you said 50.00, the engineer reported 30.00" in summaries

    # A repair on Li's first installation, done by Zhao, caused by the installation: a deduction by rule.
    repair = ok(client.post(f"/jobs/{li_jobs[0]['job_id']}/repairs",
                            json={"fee": "60", "engineer": "zhao", "original_unavailable": "li is on leave"}), 201)
    ok(client.post(f"/jobs/{repair['id']}/accept", json={"engineer": "zhao"}, headers=as_engineer("zhao")))
    done = do_the_work(client, clock, repair["id"], "zhao", first=False, fault_cause="installation_error")
    ok(client.post(f"/follow-ups/{done['follow_up_id']}/record",
                   json={"fixed": False, "conduct": "acceptable", "satisfaction": 2, "customer_paid": "0"}))
    # Not fixed: reopened, Zhao's fee (and the deduction it caused) reversed, redone, confirmed.
    reopened = ok(client.post(f"/jobs/{repair['id']}/reopen", json={"reason": "still leaking"}, headers=OPERATOR))
    assert reopened["reversed_lines"] == 2
    redone = do_the_work(client, clock, repair["id"], "zhao", first=False, fault_cause="installation_error")
    ok(client.post(f"/follow-ups/{redone['follow_up_id']}/record",
                   json={"fixed": True, "conduct": "good", "satisfaction": 4, "customer_paid": "0"}))

    # Engineers read their own ledger only; an operator reads none; finance reads all.
    assert client.get("/engineers/li/ledger", headers=as_engineer("wang")).status_code == 403
    assert client.get("/engineers/li/ledger", headers=OPERATOR).status_code == 403
    li = settled(client, "li", 6)
    kinds = [(x["kind"], x["status"]) for x in li["lines"]]
    assert kinds == [("fee", "payable")] * 3 + [("deduction", "void"), ("reversal", "void"), ("deduction", "payable")]
    assert li["lines"][5]["evidence"]["repair_job_id"] == repair["id"]
    assert li["lines"][5]["cause"]["event_type"] == "JobCompleted"

    # Settlement can run only once the month is over, and only by finance.
    assert client.post("/settlements", json={"period": period}, headers=FIN).status_code == 409
    clock.advance(month_end - clock.now() + timedelta(hours=1))
    assert client.post("/settlements", json={"period": period}, headers=OPERATOR).status_code == 403
    run = ok(client.post("/settlements", json={"period": period}, headers=FIN), 201)
    by = {s["engineer"]: s for s in run["statements"]}
    assert by["li"] == {**by["li"], "total": "345.00", "holdback": "45.00"}  # 450 - 60 - 10% of 450
    assert by["wang"] == {**by["wang"], "total": "150.00", "holdback": "0.00"}  # one job: nothing withheld
    assert by["zhao"] == {**by["zhao"], "total": "210.00", "holdback": "0.00"}  # 150 + the redone repair's 60
    assert client.post("/settlements", json={"period": period}, headers=FIN).status_code == 409

    statement = eventually(lambda: (r := client.get(f"/engineers/li/statements/{period}",
                                                    headers=as_engineer("li"))).status_code == 200 and r.json())
    assert statement["total"] == "345.00" and statement["holdback_rule"]["applied"] is True
    assert Decimal(statement["total"]) == sum(Decimal(x["amount"]) for x in statement["lines"])
    assert all(x["cause"]["aggregate_type"] == "FieldJob" for x in statement["lines"] if x["kind"] != "holdback")
    wang = eventually(lambda: (r := client.get("/engineers/wang/statements", headers=as_engineer("wang"))
                               ).status_code == 200 and r.json()["statements"] and r.json())
    assert wang["statements"][0]["holdback_rule"] == {"rule": "quality_holdback", "percent": "10", "min_jobs": 3,
                                                      "applied": False, "jobs_in_period": 1}

    # Paid statements cannot change.
    paid = ok(client.post(f"/engineers/li/statements/{period}/pay", json={"reference": "transfer #88"}, headers=FIN))
    again = client.post(f"/engineers/li/statements/{period}/pay", json={"reference": "again"}, headers=FIN)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
    li = ok(client.get("/engineers/li/ledger", headers=FIN, params={"wait_for_position": paid["position"]}))
    assert li["totals"]["paid"] == "345.00" and li["totals"]["held"] == "45.00"
    assert Decimal(li["totals"]["balance"]) == sum(Decimal(x["amount"]) for x in li["lines"])

    # The quality figures: one of Li's three installations needed a repair for installation error.
    figures = ok(client.get("/figures/quality"))
    installers = {i["engineer"]: i for i in figures["first_install_repair_rate"]["installers"]}
    assert installers["li"]["rate"] == round(1 / 3, 4) and installers["wang"]["rate"] == 0.0
    assert figures["first_time_fix_rate"] == {"repairs": 1, "fixed_first_time": 0, "rate": 0.0}
    assert figures["repeat_visit_rate"]["repeat_visits"] == 1
    csat = {e["engineer"]: e for e in figures["satisfaction_by_engineer"]}
    assert csat["zhao"]["follow_ups"] == 3 and csat["li"]["csat"] == 1.0

    # The money views rebuilt from offset zero equal the incremental ones.
    stop_when_caught_up(runtime)
    tables = ("ledger_accounts", "ledger_lines", "ledger_statements", "settlement_runs", "money_subjects",
              "money_movements", "customer_issues", "quality_jobs", "quality_followups")
    incremental = {t: rows(runtime.views_db, t) for t in tables}
    for projection in runtime.projections(["engineer_ledger", "customer_accounts", "service_quality"]):
        worker = runtime.worker(projection)
        worker.rebuild()
        worker.close()
    assert {t: rows(runtime.views_db, t) for t in tables} == incremental

    # Their topics may arrive in any order relative to each other: one whole topic before
    # the next, forwards and backwards, gives the same views.
    for projection in runtime.projections(["engineer_ledger", "customer_accounts", "service_quality"]):
        for order in (list(projection.categories), list(reversed(projection.categories))):
            replay_topic_by_topic(runtime, projection, order)
            assert {t: rows(runtime.views_db, t) for t in projection.tables} == \
                {t: incremental[t] for t in projection.tables}, (projection.name, order)


def test_who_may_move_money(client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    runtime.tokens.add("li-token-0123456789ab", "li", ["engineer"])
    runtime.tokens.add("ops-token-0123456789ab", "olga", ["operator"])
    done = installation(client, clock, "li", "cust-m")
    li = as_engineer("li")
    payment = {"customer_id": "cust-m", "amount": "20", "method": "cash", "job_id": done["job_id"]}
    assert client.post("/payments", json=payment, headers=li).status_code == 403  # not on site
    assert client.post("/payments", json={**payment, "on_site": True, "collected_by": "wang"},
                       headers=li).status_code == 403
    taken = ok(client.post("/payments", json={**payment, "on_site": True}, headers=li), 201)
    assert taken["version"] == 1
    refund = {"customer_id": "cust-m", "amount": "20", "method": "cash", "job_id": done["job_id"], "reason": "goodwill"}
    assert client.post("/refunds", json=refund, headers=OPERATOR).status_code == 403
    assert client.post("/refunds", json={**refund, "amount": "-1"}).status_code == 422
    assert client.post("/refunds", json={**refund, "customer_id": "someone-else"}).status_code == 409
    assert client.post("/engineers/li/deductions", json={"rule": "missed_appointment", "amount": "5",
                                                         "evidence": {"w": "1"}, "reason": "r"},
                       headers=OPERATOR).status_code == 403
    assert client.post("/engineers/li/deductions", json={"rule": "bad mood", "amount": "5", "evidence": {"w": "1"},
                                                         "reason": "r"}).status_code == 422
    assert client.post("/settlements", json={"period": "2026-13"}).status_code == 422
    assert client.get("/figures/quality", params={"since": "yesterday"}).status_code == 422
    assert client.get("/figures/quality", params={"since": "2026-01-01T00:00:00"}).status_code == 422
    assert client.get("/engineers/nobody/ledger").status_code == 404
    assert client.get("/settlements/2026-01").status_code == 404
    account = eventually(lambda: (a := ok(client.get("/customers/cust-m/account")))["totals"]["received"] == "20.00"
                         and a)
    assert account["outstanding"] == "130.00" and account["by_order"] == [
        {"order_id": done["order_id"], "outstanding": "130.00"}]
    assert ok(client.get(f"/orders/{done['order_id']}/account"))["outstanding"] == "130.00"

"""A morning's work in the console, in a real headless Chromium, from lists only: a
dispatcher, an approver (in Chinese), the complaint desk, the hotline, finance, and a
customer paging back through a history of more than 1,000 entries. Nobody pastes an id. Screenshots of each
board are saved under ``test-results/screenshots``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Iterator

import httpx
import pytest

from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from engine.domain.periods import period_bounds
from tests.commands.boards_data import long_history, open_claim, open_jobs, request_returns
from tests.commands.test_field_story import ok
from tests.commands.test_pages import SHOTS, browser, server  # noqa: F401 - fixtures
from tests.commands.test_settlement_month import installation, next_period
from tests.conftest import ADMIN_TOKEN
from tests.commands.view_reads import read_settled

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
TOKENS = {"dispatcher": "desk-li-token-0123456789", "approver:sales": "sales-wu-token-0123456789",
          "complaints": "care-he-token-0123456789", "finance": "fin-zhou-token-0123456789",
          "hotline": "line-ma-token-0123456789"}


@pytest.fixture
def http(server: str, runtime: Runtime) -> Iterator[httpx.Client]:  # noqa: F811
    for role, token in TOKENS.items():
        runtime.tokens.add(token, f"{role.replace(':', '-')}-staff", [role])
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as client:
        yield client


def sign_in(browser: Any, server: str, role: str, locale: str = "en-GB") -> Any:  # noqa: F811
    desk = browser.new_context(viewport={"width": 1360, "height": 900}, locale=locale, timezone_id="UTC",
                               bypass_csp=True)
    desk.set_default_timeout(60_000)  # a busy machine: views may take seconds to follow a write
    page = desk.new_page()
    page.goto(f"{server}/console")
    page.fill("#token", TOKENS[role])
    page.click("#login-form button")
    page.wait_for_selector("#app:not(.hidden)")
    return page


def tabs(page: Any) -> list[str]:
    return page.eval_on_selector_all("nav.tabs button", "bs => bs.map(b => b.dataset.tab)")


def row(page: Any, board: str, item_id: str) -> str:
    return f"#board-{board} tr[data-id='{item_id}']"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert (SHOTS / f"{name}.png").stat().st_size > 5_000


def test_a_dispatchers_morning(runtime: Runtime, server: str, browser: Any, http: httpx.Client,  # noqa: F811
                               clock: ManualClock) -> None:
    jobs = [j["id"] for j in open_jobs(http, 3)]
    ok(http.get("/jobs", params={"wait_for_position": 1, "wait_timeout": 30}))  # the views are up
    page = sign_in(browser, server, "dispatcher")
    assert tabs(page) == ["dispatch", "deliveries", "sla", "customers"]
    page.wait_for_selector(row(page, "jobs", jobs[2]))

    # Dispatch the first job from its row: it leaves the queue of jobs waiting.
    page.fill(f"{row(page, 'jobs', jobs[0])} input[name=engineer]", "wang")
    page.click(f"{row(page, 'jobs', jobs[0])} button[data-action=dispatch]")
    page.wait_for_selector(row(page, "jobs", jobs[0]), state="detached")

    # Someone else dispatches the second meanwhile: the stale row's click is refused in words.
    ok(http.post(f"/jobs/{jobs[1]}/dispatch", json={"engineer": "zhao"}))
    page.fill(f"{row(page, 'jobs', jobs[1])} input[name=engineer]", "li")
    page.click(f"{row(page, 'jobs', jobs[1])} button[data-action=dispatch]")
    page.wait_for_selector("#board-jobs .conflict")
    assert "changed since the list was read" in page.inner_text("#board-jobs .conflict")
    shot(page, "console-dispatch-conflict")
    page.click("#board-jobs .conflict button.reload")
    page.wait_for_selector(row(page, "jobs", jobs[1]), state="detached")

    # Wang is ill: declined on his behalf, the job is back in the queue, dispatched to Zhao.
    page.select_option("#board-jobs select[name=status]", "dispatched")
    page.click("#board-jobs form.filters button[type=submit]")
    page.fill(f"{row(page, 'jobs', jobs[0])} input[name=reason]", "wang is ill today")
    page.click(f"{row(page, 'jobs', jobs[0])} button[data-action=decline]")
    page.wait_for_selector(row(page, "jobs", jobs[0]), state="detached")
    page.select_option("#board-jobs select[name=status]", "waiting")
    page.click("#board-jobs form.filters button[type=submit]")
    page.wait_for_selector(f"{row(page, 'jobs', jobs[0])} .badge.warn")
    page.fill(f"{row(page, 'jobs', jobs[0])} input[name=engineer]", "zhao")
    page.click(f"{row(page, 'jobs', jobs[0])} button[data-action=dispatch]")
    page.wait_for_selector(row(page, "jobs", jobs[0]), state="detached")
    assert ok(read_settled(http, runtime, f"/jobs/{jobs[0]}"))["engineer"] == "zhao"

    # Zhao's day: both his jobs, by appointment time.
    day = (clock.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    for n, job in enumerate(jobs[:2]):
        ok(http.post(f"/jobs/{job}/accept", json={"engineer": "zhao"}))
        slot = day + timedelta(hours=3 * n)
        ok(http.post(f"/jobs/{job}/appointment", json={"start": slot.isoformat(),
                                                       "end": (slot + timedelta(hours=2)).isoformat()}))
    page.fill("#board-agendas input[name=day]", day.date().isoformat())
    page.fill("#board-agendas input[name=engineer]", "zhao")
    for _ in range(100):  # the agenda view follows the appointments within moments
        page.click("#board-agendas form.filters button[type=submit]")
        if page.locator("#board-agendas tr.board-row").count() == 2:
            break
        page.wait_for_timeout(100)
    assert page.eval_on_selector_all("#board-agendas tr.board-row", "rs => rs.map(r => r.dataset.id)") == jobs[:2]
    shot(page, "console-dispatch")

    # The customer cannot make the morning: moved to the afternoon before the window starts.
    moved = f"{row(page, 'agendas', jobs[0])}"
    later = day + timedelta(hours=6)
    page.fill(f"{moved} input[name=start]", later.strftime("%Y-%m-%dT%H:%M"))
    page.fill(f"{moved} input[name=end]", (later + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.fill(f"{moved} input[name=reason]", "customer at work until 15:00")
    page.click(f"{moved} button[data-action=reschedule]")
    page.wait_for_selector("#board-agendas .board-message p", timeout=60_000)
    assert page.get_attribute("#board-agendas .board-message p", "class") == "result", page.inner_text(
        "#board-agendas .board-message")
    assert page.eval_on_selector_all("#board-agendas tr.board-row", "rs => rs.map(r => r.dataset.id)") == [
        jobs[1], jobs[0]]  # now after the other job
    moved = ok(read_settled(http, runtime, f"/jobs/{jobs[0]}"))
    assert moved["window"]["start"].startswith(later.strftime("%Y-%m-%dT%H:%M"))


def test_an_approver_votes_in_chinese(runtime: Runtime, server: str, browser: Any,  # noqa: F811
                                      http: httpx.Client) -> None:
    requested = request_returns(http, 2)
    returns = [r["id"] for r in requested]
    ok(http.get("/returns", params={"wait_for_position": requested[-1]["position"], "wait_timeout": 30}))
    page = sign_in(browser, server, "approver:sales", locale="zh-CN")
    assert tabs(page) == ["returns", "customers"]
    assert page.inner_text("button[data-tab='returns']") == "退货审批"
    page.wait_for_selector(row(page, "returns", returns[1]))

    page.click(f"{row(page, 'returns', returns[0])} button[data-action=approve]")
    page.wait_for_selector(row(page, "returns", returns[0]), state="detached")
    # A rejection needs the reason the customer will read.
    page.click(f"{row(page, 'returns', returns[1])} button[data-action=reject]")
    page.wait_for_selector("#board-returns .board-message .error")
    assert "请先填写原因" in page.inner_text("#board-returns .board-message")
    page.fill(f"{row(page, 'returns', returns[1])} input[name=reason]", "已超过退货期限")
    page.click(f"{row(page, 'returns', returns[1])} button[data-action=reject]")
    page.wait_for_selector(row(page, "returns", returns[1]), state="detached")
    shot(page, "console-returns-zh")
    assert "sales" not in ok(read_settled(http, runtime, f"/returns/{returns[0]}"))["pending"]
    assert ok(read_settled(http, runtime, f"/returns/{returns[1]}"))["status"] == "rejected"


def test_the_complaint_desk_proposes_before_the_clock_runs_out(runtime: Runtime, server: str, browser: Any,  # noqa: F811
                                                                http: httpx.Client) -> None:
    opened = open_claim(http, "cust-floor")
    claim, complaint = opened["claim"]["id"], opened["complaint"]["id"]
    ok(http.get("/claims", params={"wait_for_position": opened["claim"]["position"], "wait_timeout": 30}))
    page = sign_in(browser, server, "complaints")
    assert tabs(page) == ["complaints", "sla", "customers"]
    page.wait_for_selector(f"{row(page, 'claims', claim)} .countdown.ok")
    assert "left" in page.inner_text(f"{row(page, 'claims', claim)} .countdown")  # 48 hours to go
    shot(page, "console-claims-clock")
    page.fill(f"{row(page, 'claims', claim)} input[name=amount]", "3000")
    page.click(f"{row(page, 'claims', claim)} button[data-action=propose]")
    page.wait_for_selector(f"{row(page, 'claims', claim)} button[data-action=customer_accepts]")
    page.click(f"{row(page, 'complaints', complaint)} button[data-action=acknowledge]")
    page.fill(f"{row(page, 'complaints', complaint)} input[name=findings]", "the inlet hose burst at the joint")
    shot(page, "console-complaints")
    page.click(f"{row(page, 'complaints', complaint)} button[data-action=investigate]")
    page.fill(f"{row(page, 'complaints', complaint)} input[name=resolution]", "floor repaired, 3000 paid")
    page.click(f"{row(page, 'complaints', complaint)} button[data-action=resolve]")
    page.wait_for_selector(f"{row(page, 'complaints', complaint)} button[data-action=close]")
    page.click(f"{row(page, 'complaints', complaint)} button[data-action=close]")
    # Its claim is proposed, not yet paid: closing is refused (409) and said so, the row stays.
    page.wait_for_selector("#board-complaints .board-message .error")
    shot(page, "console-complaint-close-refused")
    assert page.locator(row(page, "complaints", complaint)).count() == 1
    assert ok(read_settled(http, runtime, f"/complaints/{complaint}"))["status"] == "resolved"
    assert ok(read_settled(http, runtime, f"/claims/{claim}"))["status"] == "proposed"


def test_a_hotline_agent_calls_back_and_watches_the_slas(runtime: Runtime, server: str, browser: Any,  # noqa: F811
                                                          http: httpx.Client) -> None:
    calls = [ok(http.post("/calls", json={"phone": f"+86 571 8888 000{n}", "answered": False}), 201)["id"]
             for n in range(2)]
    sla = ok(http.post("/slas", json={"subject_id": "job-42", "subject_kind": "job", "customer_id": "cust-vip",
                                       "tier": "svip"}), 201)
    ok(http.get("/slas", params={"wait_for_position": sla["position"], "wait_timeout": 30}))
    page = sign_in(browser, server, "hotline")
    assert tabs(page) == ["sla", "hotline", "customers"]
    # SVIP: four hours to solve it, counting down.
    page.wait_for_selector(f"{row(page, 'sla', sla['id'])} .countdown.warn")
    page.fill(f"{row(page, 'sla', sla['id'])} input[name=reason]", "waiting for the customer's photos")
    page.click(f"{row(page, 'sla', sla['id'])} button[data-action=pause]")
    page.wait_for_selector(f"{row(page, 'sla', sla['id'])} button[data-action=resume]")
    shot(page, "console-sla-paused")

    page.click("button[data-tab='hotline']")
    page.wait_for_selector(row(page, "callbacks", calls[1]))
    assert "left" in page.inner_text(f"{row(page, 'callbacks', calls[0])} .countdown")
    page.click(f"{row(page, 'callbacks', calls[0])} button[data-action=not_reached]")  # still due: stays listed
    page.wait_for_selector("#board-callbacks .board-message .result")
    page.click(f"{row(page, 'callbacks', calls[0])} button[data-action=reached]")
    page.wait_for_selector(row(page, "callbacks", calls[0]), state="detached")
    shot(page, "console-call-backs")
    assert [c["call_id"] for c in ok(http.get("/hotline/call-backs"))["call_backs"]] == [calls[1]]
    assert ok(read_settled(http, runtime, f"/slas/{sla['id']}"))["status"] == "paused"


def test_finance_settles_the_month_and_pays(server: str, browser: Any, http: httpx.Client,  # noqa: F811
                                            runtime: Runtime, clock: ManualClock) -> None:
    period = next_period(clock)
    start, end = period_bounds(period, "Asia/Shanghai")
    clock.set(start + timedelta(days=2, hours=1))
    for name in ("li", "wang"):
        runtime.tokens.add(f"{name}-token-0123456789ab", name, ["engineer"])
    installation(http, clock, "li", "cust-fin-1")
    installation(http, clock, "wang", "cust-fin-2")
    clock.advance(end - clock.now() + timedelta(hours=1))

    page = sign_in(browser, server, "finance")
    assert tabs(page) == ["finance", "customers"]
    page.fill("#board-statements input[name=period]", period)
    page.click("#board-statements button.settle")
    page.wait_for_selector(row(page, "statements", "wang"))
    assert page.inner_text(f"{row(page, 'statements', 'li')} td:nth-child(2)") == "150.00"
    page.fill(f"{row(page, 'statements', 'li')} input[name=reference]", "bank transfer #8812")
    page.click(f"{row(page, 'statements', 'li')} button[data-action=pay]")
    page.wait_for_selector(f"{row(page, 'statements', 'li')} .badge.ok")
    assert "bank transfer #8812" in page.inner_text(row(page, "statements", "li"))
    page.click("#board-balances form.filters button[type=submit]")
    page.wait_for_selector(row(page, "balances", "wang"))
    shot(page, "console-finance")
    statements = ok(http.get(f"/settlements/{period}/statements"))["statements"]
    assert {s["engineer"]: s["status"] for s in statements} == {"li": "paid", "wang": "issued"}


def test_a_customer_pages_back_through_more_than_a_thousand_entries(server: str, browser: Any,  # noqa: F811
                                                                    http: httpx.Client) -> None:
    made = long_history(http, "cust-long", 1_050)
    ok(http.get("/customers/cust-long/timeline", params={"wait_for_position": made["position"], "wait_timeout": 30}))
    link = ok(http.post("/customers/cust-long/tracking-link"), 201)["url"]
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB", is_mobile=True,
                                has_touch=True, bypass_csp=True)
    phone.set_default_timeout(60_000)
    page = phone.new_page()
    page.goto(f"{server}{link}")
    # The newer order shows at once, though 1,050 updates of the older one came before it.
    page.wait_for_selector(f"[data-order='{made['newer_order_id']}']")
    page.wait_for_selector(f"[data-order='{made['order_id']}']")
    assert page.locator("#timeline li").count() == 50
    assert "Order placed" in page.inner_text("#timeline li >> nth=0")
    for _ in range(made["events"] // 50 + 1):
        if page.locator("#older-timeline.hidden").count():
            break
        shown = page.locator("#timeline li").count()
        page.click("#older-timeline")
        page.wait_for_function(f"document.querySelectorAll('#timeline li').length > {shown}")
    positions = page.eval_on_selector_all("#timeline li", "ls => ls.map(l => Number(l.dataset.position))")
    assert len(positions) == made["events"] and positions == sorted(set(positions), reverse=True)
    shot(page, "track-long-history")

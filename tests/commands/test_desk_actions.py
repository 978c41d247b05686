"""The service desk's remaining actions in a real headless Chromium, from lists only: a
dispatcher works an engineer's agenda (a stale row is refused in words with a reload, an
installation handed to the customer, an accepted job taken off a sick engineer's agenda and given
to another with its appointment) and gives a job to another engineer in one click, an operator resolves delivery incidents from the deliveries board, and a
customer switches language on /track and reads the server's summaries in it. Screenshots are
saved under ``test-results/screenshots``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from engine.domain.clock import ManualClock
from tests.commands.boards_data import ORDER, open_jobs
from tests.commands.test_console_boards import http, row, shot, sign_in  # noqa: F401 - fixtures
from tests.commands.test_field_story import eventually, ok
from tests.commands.test_pages import browser, server  # noqa: F401 - fixtures
from tests.commands.view_reads import when_shown

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def read_when(http: httpx.Client, path: str, done: Any) -> dict:
    """GET ``path`` once its view shows ``done`` (reads answer from views, which follow the
    console's commands a moment later); the caller then asserts the whole state."""
    def check() -> dict | None:
        found = ok(http.get(path))
        return found if done(found) else None
    return eventually(check)


def rows(page: Any, board: str) -> list[str]:
    return page.eval_on_selector_all(f"#board-{board} tr.board-row", "rs => rs.map(r => r.dataset.id)")


def test_a_dispatcher_works_an_agenda_and_reassigns_a_job(server: str, browser: Any,  # noqa: F811
                                                           http: httpx.Client, clock: ManualClock) -> None:  # noqa: F811
    jobs = [j["id"] for j in open_jobs(http, 3)]
    day = (clock.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    for n, job in enumerate(jobs):
        ok(http.post(f"/jobs/{job}/dispatch", json={"engineer": "wang"}))
        if n == 2:
            break  # the third waits for Wang to accept it
        ok(http.post(f"/jobs/{job}/accept", json={"engineer": "wang"}))
        slot = day + timedelta(hours=3 * n)
        agreed = ok(http.post(f"/jobs/{job}/appointment", json={"start": slot.isoformat(),
                                                                "end": (slot + timedelta(hours=2)).isoformat()}))
    ok(http.get("/engineers/agendas", params={"day": day.date().isoformat(), "wait_for_position": agreed["position"],
                                               "wait_timeout": 30}))
    page = sign_in(browser, server, "dispatcher")
    page.wait_for_selector("#board-agendas table tr")  # the first load (today) is drawn: it cannot overwrite ours
    page.fill("#board-agendas input[name=day]", day.date().isoformat())
    page.fill("#board-agendas form.filters input[name=engineer]", "wang")
    page.click("#board-agendas form.filters button[type=submit]")
    page.wait_for_selector(row(page, "agendas", jobs[1]))
    assert rows(page, "agendas") == jobs[:2]
    first, second = row(page, "agendas", jobs[0]), row(page, "agendas", jobs[1])
    # Accepted, its window not begun: moved, given to another engineer, back to the queue, or self-installed.
    for action in ("reschedule", "reassign", "back_to_queue", "self_install"):
        assert page.locator(f"{first} button[data-action={action}]").count() == 1, action
    assert page.locator(f"{first} button[data-action=self_install]").count() == 1  # an installation

    # The customer moves the second appointment by phone meanwhile: the stale row is refused in words.
    later = day + timedelta(hours=6)
    by_phone = ok(http.post(f"/jobs/{jobs[1]}/appointment/reschedule", json={
        "start": later.isoformat(), "end": (later + timedelta(hours=2)).isoformat(), "initiator": "customer",
        "reason": "at work until three"}))
    page.fill(f"{second} input[name=start]", (later + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill(f"{second} input[name=end]", (later + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
    page.fill(f"{second} input[name=reason]", "engineer's van in for repair")
    page.click(f"{second} button[data-action=reschedule]")
    page.wait_for_selector("#board-agendas .conflict")
    assert "changed since the list was read" in page.inner_text("#board-agendas .conflict")
    phoned = ok(http.get(f"/jobs/{jobs[1]}", params={"wait_for_position": by_phone["position"], "wait_timeout": 30}))
    assert phoned["window"]["start"].startswith(later.strftime("%Y-%m-%dT%H:%M"))
    shot(page, "console-agenda-conflict")
    page.click("#board-agendas .conflict button.reload")
    page.wait_for_selector("#board-agendas .conflict", state="detached")
    page.wait_for_selector(f"{first} button[data-action=self_install]")

    # No engineer can reach the first site: the customer installs it, the fee is refunded. A
    # reason is asked for before anything is sent.
    page.click(f"{first} button[data-action=self_install]")
    page.wait_for_selector("#board-agendas .board-message .error")
    assert "reason" in page.inner_text("#board-agendas .board-message")
    page.fill(f"{first} input[name=reason]", "the road to the village is closed")
    page.click(f"{first} button[data-action=self_install]")
    page.wait_for_selector(f"{first} .badge:has-text('Self-installed')")  # stays on the day, nothing left to do
    assert page.locator(f"{first} td.actions button").count() == 0
    assert read_when(http, f"/jobs/{jobs[0]}", lambda j: j["status"] != "accepted")["status"] == "self_installed"
    shot(page, "console-agenda")

    # Wang calls in sick at 8:00: his accepted second job goes to Zhao from the agenda, in one
    # click (handed back, then dispatched, each with If-Match), with the customer's window kept.
    window = ok(http.get(f"/jobs/{jobs[1]}"))["window"]
    page.fill(f"{second} input[name=new_engineer]", "zhao")
    page.fill(f"{second} input[name=reason]", "wang called in sick")
    page.click(f"{second} button[data-action=reassign]")
    page.wait_for_selector(second, state="detached")  # off Wang's agenda
    assert page.get_attribute("#board-agendas .board-message p", "class") == "result"
    moved = read_when(http, f"/jobs/{jobs[1]}", lambda j: j["engineer"] != "wang" and j["status"] != "declined")
    assert (moved["engineer"], moved["status"], moved["declined_by"], moved["window"]) == (
        "zhao", "dispatched", ["wang"], window)
    page.fill("#board-agendas form.filters input[name=engineer]", "zhao")
    page.click("#board-agendas form.filters button[type=submit]")
    page.wait_for_selector(f"{second} td:has-text('zhao')")  # on Zhao's, at the same time
    shot(page, "console-agenda-reassigned")
    # Zhao cannot go either: back to the queue, the appointment still kept for whoever goes.
    page.fill(f"{second} input[name=reason]", "zhao's van broke down")
    page.click(f"{second} button[data-action=back_to_queue]")
    page.wait_for_selector(second, state="detached")
    waiting = read_when(http, f"/jobs/{jobs[1]}", lambda j: j["engineer"] != "zhao")
    assert (waiting["status"], waiting["engineer"], waiting["declined_by"], waiting["window"]) == (
        "declined", None, ["wang", "zhao"], window)

    # Wang is ill before accepting the third: it goes to Zhao in one click from the jobs board.
    page.select_option("#board-jobs select[name=status]", "dispatched")
    page.click("#board-jobs form.filters button[type=submit]")
    third = row(page, "jobs", jobs[2])
    page.wait_for_selector(f"{third} button[data-action=reassign]")
    page.fill(f"{third} input[name=new_engineer]", "zhao")
    page.fill(f"{third} input[name=reason]", "wang is ill today")
    page.click(f"{third} button[data-action=reassign]")
    page.wait_for_selector(f"{third} td:has-text('zhao')")
    assert page.get_attribute("#board-jobs .board-message p", "class") == "result"
    moved = read_when(http, f"/jobs/{jobs[2]}", lambda j: j["engineer"] != "wang" and j["status"] != "declined")
    assert (moved["engineer"], moved["status"], moved["declined_by"]) == ("zhao", "dispatched", ["wang"])
    shot(page, "console-jobs-reassigned")


def test_a_job_whose_window_has_begun_offers_no_move_or_hand_back(server: str, browser: Any,  # noqa: F811
                                                                   http: httpx.Client,  # noqa: F811
                                                                   clock: ManualClock) -> None:
    """By the service's clock (each list's ``now``), not the browser's: the domain would refuse
    (409 ``hand-back-before-window``), so the row says the window is kept or missed."""
    jobs = [j["id"] for j in open_jobs(http, 2)]
    day = (clock.now() + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    agreed = []
    for n, job in enumerate(jobs):
        ok(http.post(f"/jobs/{job}/dispatch", json={"engineer": "wang"}))
        ok(http.post(f"/jobs/{job}/accept", json={"engineer": "wang"}))
        slot = day + timedelta(hours=4 * n)
        agreed.append(ok(http.post(f"/jobs/{job}/appointment", json={
            "start": slot.isoformat(), "end": (slot + timedelta(hours=2)).isoformat()}))["position"])
    clock.set(day + timedelta(minutes=5))  # the first window has begun, the second not yet
    refused = http.post(f"/jobs/{jobs[0]}/decline", json={"engineer": "wang", "reason": "ill"})
    assert (refused.status_code, refused.json()["rule"]) == (409, "hand-back-before-window")
    for position in agreed:  # two jobs, perhaps two partitions: the view holds both appointments
        ok(http.get("/engineers/agendas", params={"day": day.date().isoformat(), "wait_for_position": position,
                                                   "wait_timeout": 30}))
    page = sign_in(browser, server, "dispatcher")
    page.wait_for_selector("#board-agendas table tr")
    page.fill("#board-agendas input[name=day]", day.date().isoformat())
    page.click("#board-agendas form.filters button[type=submit]")
    page.wait_for_selector(row(page, "agendas", jobs[1]))
    begun, later = row(page, "agendas", jobs[0]), row(page, "agendas", jobs[1])
    assert "the engineer keeps it or it is missed" in page.inner_text(f"{begun} .window-begun")
    for action in ("reschedule", "reassign", "back_to_queue"):
        assert page.locator(f"{begun} button[data-action={action}]").count() == 0, action
        assert page.locator(f"{later} button[data-action={action}]").count() == 1, action
    assert page.locator(f"{begun} button[data-action=self_install]").count() == 1  # still the customer's choice
    assert page.locator(f"{later} .window-begun").count() == 0
    # The jobs board says the same of accepted jobs.
    page.select_option("#board-jobs select[name=status]", "accepted")
    page.click("#board-jobs form.filters button[type=submit]")
    page.wait_for_selector(row(page, "jobs", jobs[1]) + " button[data-action=reassign]")
    assert page.locator(f"{row(page, 'jobs', jobs[0])} button").count() == 0
    assert page.locator(f"{row(page, 'jobs', jobs[0])} .window-begun").count() == 1
    shot(page, "console-agenda-window-begun")


def test_an_operator_resolves_incidents_from_the_deliveries_board(server: str, browser: Any,  # noqa: F811
                                                                 http: httpx.Client) -> None:  # noqa: F811
    on_road = ok(http.post("/orders", json={**ORDER, "customer_id": "cust-road"}), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "赵师傅"}):
        ok(http.post(f"/orders/{on_road}/delivery-steps", json=body))
    ok(http.post(f"/orders/{on_road}/incidents", json={"kind": "vehicle_breakdown", "description": "gearbox failed"}),
       201)
    in_store = ok(http.post("/orders", json={**ORDER, "customer_id": "cust-store"}), 201)["order_id"]
    ok(http.post(f"/orders/{in_store}/delivery-steps", json={"step": "stock_prepared"}))
    reported = ok(http.post(f"/orders/{in_store}/incidents", json={"kind": "goods_damaged",
                                                                  "description": "box crushed"}), 201)
    ok(http.get("/orders", params={"wait_for_position": reported["position"], "wait_timeout": 30}))

    page = sign_in(browser, server, "dispatcher")
    page.click("button[data-tab='deliveries']")
    road, store = row(page, "deliveries", on_road), row(page, "deliveries", in_store)
    page.wait_for_selector(f"{road} button[data-action=redispatch]")
    assert "gearbox failed" in page.inner_text(road)
    # No driver was ever assigned to the goods in the store: nothing to re-dispatch there.
    assert page.locator(f"{store} button[data-action=redispatch]").count() == 0
    shot(page, "console-incidents")

    page.click(f"{road} button[data-action=redispatch]")
    page.wait_for_selector("#board-deliveries .board-message .error")
    page.fill(f"{road} input[name=reason]", "van broke down; a second van takes the goods")
    page.click(f"{road} button[data-action=redispatch]")
    # Back to waiting for a driver: the next step at hand is assigning one.
    page.wait_for_selector(f"{road} button[data-action=driver_assigned]")
    page.fill(f"{store} input[name=reason]", "repacked, the unit inside is intact")
    page.click(f"{store} button[data-action=resolve_incident]")
    page.wait_for_selector(f"{store} button[data-action=left_warehouse]")
    assert not page.locator("#board-deliveries .board-message .error").count()
    shot(page, "console-incidents-resolved")
    road_state = read_when(http, f"/orders/{on_road}", lambda o: o["status"] != "incident_open")
    store_state = read_when(http, f"/orders/{in_store}", lambda o: o["status"] != "incident_open")
    assert (road_state["status"], road_state["current_step"]) == ("in_delivery", "left_warehouse"), road_state
    assert store_state["status"] != "incident_open" and store_state["current_step"] == "stock_prepared", store_state


def test_a_customer_switches_language_on_the_tracking_page(server: str, browser: Any,  # noqa: F811
                                                           http: httpx.Client) -> None:  # noqa: F811
    ok(http.post("/customers", json={"customer_id": "cust-zh", "name": "周丽", "phone": "13661987045",
                                     "address": "苏州市星湖街 328 号"}), 201)
    ok(http.post("/orders", json={**ORDER, "customer_id": "cust-zh"}), 201)
    link = ok(http.post("/customers/cust-zh/tracking-link"), 201)["url"]
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-GB", is_mobile=True,
                                bypass_csp=True)
    phone.set_default_timeout(60_000)
    page = phone.new_page()
    page.goto(f"{server}{link}")
    page.wait_for_selector("#timeline li:has-text('Order placed')")

    page.click("#lang")  # 中文
    page.wait_for_selector("#timeline li:has-text('已下单')")
    assert "Order placed" not in page.inner_text("#timeline")
    page.wait_for_selector("#language-status:has-text('今后我们将用中文与您沟通')")
    # Recorded for the customer, so what we write later reads in Chinese; the page shows that too.
    when_shown(http, "/customers/cust-zh/file", lambda f: f["language"] == "zh")
    page.wait_for_selector("#timeline li:has-text('今后我们将用中文与您沟通')")
    shot(page, "track-language-zh")

    # Back to English: the page says so (Accept-Language), over the recorded Chinese.
    page.click("#lang")
    page.wait_for_selector("#timeline li:has-text('We will write to you in Chinese')")
    assert "已下单" not in page.inner_text("#timeline")
    shot(page, "track-language-en")


def test_the_console_reads_a_customers_history_in_the_language_picked(server: str, browser: Any,  # noqa: F811
                                                                      http: httpx.Client) -> None:  # noqa: F811
    placed = ok(http.post("/orders", json={**ORDER, "customer_id": "cust-desk-zh"}), 201)
    ok(http.get("/customers/cust-desk-zh/file", params={"wait_for_position": placed["position"], "wait_timeout": 30}))
    page = sign_in(browser, server, "dispatcher")
    page.click("button[data-tab='customers']")
    page.fill("#q", "cust-desk-zh")
    page.click("#search-form button")
    page.click(".customer-row")
    page.wait_for_selector("#customer-timeline li:has-text('Order placed')")
    page.click("#lang")  # 中文: the open file is read again, its history written by the server in Chinese
    page.wait_for_selector("#customer-timeline li:has-text('已下单')")
    assert "Order placed" not in page.inner_text("#customer-timeline")
    shot(page, "console-customer-file-zh")

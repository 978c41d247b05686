"""The customer tracking page and the operator console in a real headless Chromium.

A customer follows an order from placed to delivered on their phone while an operator
records the delivery steps in the console; the page updates itself. A screenshot of each
page is saved under ``test-results/screenshots``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
import uvicorn

from commands.api.app import create_app
from commands.bootstrap import Runtime
from streams.broker import free_port
from tests.conftest import ADMIN_TOKEN

SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"
STEPS = ["stock_prepared", "left_warehouse", "driver_assigned", "in_transit", "delivered"]

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


@pytest.fixture
def server(runtime: Runtime) -> Iterator[str]:
    runtime.start_background()
    port = free_port()
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_config=None, access_log=False)
    http = uvicorn.Server(config)
    thread = threading.Thread(target=http.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if http.started:
            break
        time.sleep(0.05)
    yield base
    http.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def browser(chromium: Any) -> Iterator[Any]:
    """The module's Chromium; the contexts (cookies, storage, pages) a test opened are closed after it."""
    yield chromium
    for context in chromium.contexts:
        context.close()


def test_a_customer_follows_an_order_while_the_operator_records_it(server: str, browser: object) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    order = httpx.post(f"{server}/orders", headers=admin, json={
        "customer_id": "cust-web", "tier": "vip", "delivery_address": "12 Lake Road",
        "items": [{"sku": "WP-500", "description": "Water purifier"}]}).json()
    order_id = order["order_id"]

    # The operator signs in, finds the customer and makes their tracking link.
    desk = browser.new_context(viewport={"width": 1200, "height": 900}, locale="en-GB", bypass_csp=True)  # type: ignore[attr-defined]
    console = desk.new_page()
    console.goto(f"{server}/console")
    console.fill("#token", ADMIN_TOKEN)
    console.click("#login-form button")
    console.wait_for_selector("#app:not(.hidden)")
    console.click("button[data-tab='customers']")
    for _ in range(50):
        console.fill("#q", "lake road")
        console.click("#search-form button")
        if console.locator(".customer-row").count():
            break
        time.sleep(0.1)
    console.click(".customer-row")
    console.click("#link-form button")
    console.wait_for_function("document.getElementById('link').value.includes('#t=')")
    link = console.input_value("#link")
    console.screenshot(path=str(SHOTS / "console-customer.png"), full_page=True)

    # (bypass_csp lets the test's own waits evaluate script; the pages' CSP is checked below.)
    # The customer opens it on a phone, in Chinese, with no login.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",  # type: ignore[attr-defined]
                                is_mobile=True, has_touch=True, bypass_csp=True)
    page = phone.new_page()
    page.goto(link)
    page.wait_for_selector(f"[data-order='{order_id}']")
    assert page.inner_text("header h1") == "我的订单与服务"
    page.screenshot(path=str(SHOTS / "track-placed-zh.png"), full_page=True)

    # The operator records each step from the deliveries board; the customer's page follows by itself.
    console.click("button[data-tab='deliveries']")
    order_row = f"#board-deliveries tr[data-id='{order_id}']"
    for step in STEPS:
        console.wait_for_selector(f"{order_row} button[data-action={step}]")
        if step == "driver_assigned":
            console.fill(f"{order_row} input[name=driver]", "Zhao")
        if step == "in_transit":
            console.fill(f"{order_row} input[name=lat]", "30.2741")
            console.fill(f"{order_row} input[name=lng]", "120.1551")
        console.click(f"{order_row} button[data-action={step}]")
        page.wait_for_selector(f"[data-order='{order_id}'] li.current[data-step='{step}']", timeout=60_000)
        assert not console.locator("#board-deliveries .board-message .error").count()
    console.screenshot(path=str(SHOTS / "console-commands.png"), full_page=True)

    assert page.locator(f"[data-order='{order_id}'] li.done").count() == len(STEPS)
    assert "已送达" in page.inner_text(f"[data-order='{order_id}']")
    page.screenshot(path=str(SHOTS / "track-delivered-zh.png"), full_page=True)
    page.click("#lang")
    page.wait_for_function("document.querySelector('header h1').textContent === 'Your orders and service'")
    page.wait_for_selector(f"[data-order='{order_id}'] .badge.ok:has-text('Delivered')")
    assert "Delivered" in page.inner_text(f"[data-order='{order_id}']")
    page.screenshot(path=str(SHOTS / "track-delivered-en.png"), full_page=True)

    # The SLA board and a ledger render for the operator.
    console.click("button[data-tab='sla']")
    console.screenshot(path=str(SHOTS / "console-sla.png"), full_page=True)
    for name in ("console-customer", "track-placed-zh", "console-commands", "track-delivered-zh",
                 "track-delivered-en", "console-sla"):
        assert (SHOTS / f"{name}.png").stat().st_size > 5_000


def test_a_bad_tracking_link_says_so_and_pages_are_locked_down(server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(f"{server}/track#t=not-a-token")
    page.wait_for_selector("#status.error")
    assert "expired" in page.inner_text("#status")
    response = httpx.get(f"{server}/track")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert httpx.get(f"{server}/web/../auth.py").status_code == 404
    assert httpx.get(f"{server}/web/secrets.js").status_code == 404

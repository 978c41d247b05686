"""Summaries are stored as messages and rendered at read time from the gettext catalogues."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from projections import messages
from projections.messages import negotiate, render
from projections.summaries import LABELS, summarize

PO = Path(messages.LOCALE_DIR) / "zh_CN" / "LC_MESSAGES" / "summaries.po"


def env(kind: str, data: dict, **extra: object) -> dict:
    return {"type": f"serviceorder.order.{kind}", "data": data, **extra}


def test_every_message_in_the_code_has_a_chinese_translation() -> None:
    """What `pybabel extract -k N_` finds is what the zh_CN catalogue translates, no more, no less."""
    found = {msg for source in ("summaries.py", "messages.py")
             for _, msg, _, _ in extract_from_file("python", Path(messages.__file__).parent / source,
                                                   keywords={"N_": None})}
    with PO.open("rb") as f:
        catalogue = read_po(f)
    translated = {m.id: m.string for m in catalogue if m.id}
    assert found == set(translated)
    assert all(translated.values()) and not any(m.fuzzy for m in catalogue if m.id)
    assert all(label in found for labels in LABELS.values() for label in labels.values())


def test_a_summary_is_a_message_and_renders_in_each_language() -> None:
    placed = summarize(env("OrderPlaced", {"items": [{"sku": "WP-500", "quantity": 2}], "tier": "svip",
                                           "delivery_address": "上海市浦东新区张江路 88 号"}))
    assert placed == [("Order placed: {items} ({tier}), to {address}",
                       {"items": ["2 x WP-500"], "tier": "svip", "address": "上海市浦东新区张江路 88 号"})]
    assert render(placed, "en") == "Order placed: 2 x WP-500 (SVIP service), to 上海市浦东新区张江路 88 号"
    assert render(placed, "zh") == "已下单：2 x WP-500（SVIP 服务），送至 上海市浦东新区张江路 88 号"
    step = summarize(env("DeliveryStepRecorded", {"step": "in_transit", "position": {"lat": 31.2, "lng": 121.5},
                                                  "note": "堵车"}))
    assert render(step, "en") == "In transit at (31.2000, 121.5000): 堵车"
    assert render(step, "zh") == "运输中，位置（31.2000, 121.5000）：堵车"
    declined = summarize(env("JobDeclined", {"engineer": "wang"}, reason="cannot install that model"))
    assert render(declined, "zh") == "工程师 wang 拒绝了工单：cannot install that model；将重新派单"


def test_a_job_handed_back_by_a_dispatcher_does_not_say_the_engineer_declined_it() -> None:
    own = summarize(env("JobDeclined", {"engineer": "wang"}, actor="wang", reason="too far"))
    assert render(own, "en") == "Engineer wang declined the job: too far; it will be re-dispatched"
    released = summarize(env("JobDeclined", {"engineer": "wang"}, actor="desk-1", reason="ill today"))
    assert render(released, "en") == "The job was taken back from engineer wang: ill today; it will be re-dispatched"
    assert render(released, "zh") == "工单已从工程师 wang 处收回：ill today；将重新派单"


def test_times_show_in_the_service_time_zone_and_are_stored_as_recorded() -> None:
    agreed = summarize(env("AppointmentAgreed", {"window_start": "2026-10-14T08:20:00+00:00",
                                                 "window_end": "2026-10-14T10:20:00+00:00"}))
    assert agreed[0][1] == {"start": "2026-10-14T08:20:00+00:00", "end": "2026-10-14T10:20:00+00:00"}
    assert render(agreed, "en") == "Appointment agreed: 2026-10-14 08:20 UTC to 10:20"
    assert render(agreed, "zh", ZoneInfo("Asia/Shanghai")) == "已预约：2026-10-14 16:20 CST 至 18:20"
    due = summarize(env("ReminderScheduled", {"consumables": ["PP 棉滤芯"], "due_at": "2027-01-11T20:00:00+00:00"}))
    assert render(due, "zh", ZoneInfo("Asia/Shanghai")) == "PP 棉滤芯 约在 2027-01-12 需要更换"


def test_an_unknown_code_or_event_still_reads() -> None:
    assert render(summarize(env("PaymentReceived", {"amount": "5.00", "currency": "CNY", "method": "bank_draft"})),
                  "zh") == "已收款 5.00 CNY（bank draft）"
    assert render(summarize(env("SomethingNew", {})), "zh") == "SomethingNew"


def test_the_language_follows_accept_language_then_the_recorded_one() -> None:
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert negotiate("en-GB,zh;q=0.5") == "en"
    assert negotiate("fr, zh-Hans;q=0.4, en;q=0.3") == "zh"
    assert negotiate("zh;q=0, en;q=0.1") == "en"
    assert negotiate("fr", recorded="zh-CN") == "zh"
    assert negotiate(None) == "en" and negotiate("*;q=0.5,xx;q=bad") == "en"

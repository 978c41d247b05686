"""Rules of the ReturnRequest aggregate, and who may vote (through the application)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext, Principal
from engine.domain.errors import InvalidCommand, NotPermitted, RuleViolation
from engine.domain.returns import ReturnedGoods, ReturnRequest

META = {"actor": "op", "request_id": "r", "correlation_id": "c", "causation_id": "r"}
WHY = {**META, "reason": "outside the 7-day window"}
AT = datetime(2026, 6, 1, 10, tzinfo=timezone.utc)


def request(resolution: str = "refund", required: tuple = ("sales", "technical", "finance", "logistics")
            ) -> ReturnRequest:
    return ReturnRequest.request(customer_id="c1", order_id=None, resolution=resolution, reason="leaks",
                                 items=[{"sku": "WP-500", "quantity": 1}], required=required, meta=META)


def test_approved_when_every_required_department_approves_in_any_order() -> None:
    r = request()
    for department in ("logistics", "finance", "sales"):
        r.vote(department, approve=True, meta=META)
        assert r.status == "requested"
    assert r.pending == ["technical"]
    r.vote("technical", approve=True, meta=META)
    assert (r.status, r.pending) == ("approved", [])
    assert [type(e).__name__ for e in r.collect_events()][-2:] == ["DepartmentVoted", "ReturnApproved"]


def test_first_rejection_decides_and_later_votes_are_refused() -> None:
    r = request()
    r.vote("sales", approve=True, meta=META)
    with pytest.raises(InvalidCommand, match="reason the customer will read"):
        r.vote("finance", approve=False, meta=META)
    r.vote("finance", approve=False, meta=WHY)
    assert r.status == "rejected"
    with pytest.raises(RuleViolation, match="comes too late"):
        r.vote("technical", approve=True, meta=META)


def test_a_department_votes_once_and_only_when_asked() -> None:
    r = request("exchange", ("sales", "technical", "logistics"))
    r.vote("sales", approve=True, meta=META)
    with pytest.raises(RuleViolation, match="already voted"):
        r.vote("sales", approve=True, meta=META)
    with pytest.raises(RuleViolation, match="finance is not asked"):
        r.vote("finance", approve=True, meta=META)


def test_logistics_then_refund_or_exchange_then_reverse_logistics_before_closing() -> None:
    r = request(required=("sales",))
    with pytest.raises(RuleViolation, match="cannot schedule a pickup: the request is requested"):
        r.schedule_pickup(pickup_at=AT, meta=META)
    r.vote("sales", approve=True, meta=META)
    r.schedule_pickup(pickup_at=AT, meta=META)
    r.receive_goods(meta=META)
    r.inspect(faulty_parts=["pump"], notes="pump seized", meta=META)
    with pytest.raises(RuleViolation, match="not a refund"):
        request("exchange", ("sales",)).issue_refund(amount="1", meta=META)
    r.issue_refund(amount="899", meta=META)
    with pytest.raises(RuleViolation, match="still in reverse logistics: pump"):
        r.close(meta=META)
    with pytest.raises(RuleViolation, match="cannot be scrapped"):
        r.track_part("pump", "scrapped", meta=META)
    for step in ("collected", "inspected", "scrapped"):
        r.track_part("pump", step, meta=META)
    r.close(meta=META)
    assert r.status == "closed"


def test_only_a_departments_approver_may_vote_for_it() -> None:
    app = ServiceOrderApp(EngineConfig())
    operator = CommandContext.new(Principal("olga", frozenset({"operator"})))
    finance = CommandContext.new(Principal("fay", frozenset({"approver:finance"})))
    order = app.place_order(operator, customer_id="c1", items=[{"sku": "WP-500"}], tier="basic",
                            delivery_address="1 Lake Rd").aggregate_id
    for step, more in (("stock_prepared", {}), ("left_warehouse", {}), ("driver_assigned", {"driver": "Zhao"}),
                       ("in_transit", {"position": {"lat": 30.27, "lng": 120.15}}), ("delivered", {})):
        app.record_delivery_step(operator, order, step, **more)  # type: ignore[arg-type]
    rid = app.request_return(operator, customer_id="c1", order_id=str(order), resolution="refund", reason="leaks",
                             items=[{"sku": "WP-500"}]).aggregate_id
    with pytest.raises(NotPermitted, match="approver:finance"):
        app.vote_on_return(operator, rid, "finance", approve=True)
    with pytest.raises(NotPermitted, match="approver:sales"):
        app.vote_on_return(finance, rid, "sales", approve=True)
    result = app.vote_on_return(finance, rid, "finance", approve=True)
    assert result.extra == {"status": "requested", "pending": ["sales", "technical", "logistics"]}
    assert app.get_return(rid)["votes"] == {"finance": True}


def test_the_customer_reads_the_rejecting_departments_reason() -> None:
    r = request()
    r.vote("finance", approve=False, meta=WHY)
    assert r.rejection == {"department": "finance", "reason": "outside the 7-day window"}


def test_returned_goods_are_counted_against_the_order() -> None:
    goods = ReturnedGoods(order_id="o1")
    assert goods.id == ReturnedGoods.create_id("o1")
    ordered = {"WP-500": 1, "PP": 3}
    with pytest.raises(RuleViolation, match="has no NOPE") as refused:
        goods.reserve(return_id="r1", items=[{"sku": "NOPE", "quantity": 1}], ordered=ordered)
    assert refused.value.rule == "return-matches-order"
    with pytest.raises(RuleViolation, match=r"WP-500 \(5 asked, 1 of 1 left to return\)"):
        goods.reserve(return_id="r1", items=[{"sku": "WP-500", "quantity": 5}], ordered=ordered)
    goods.reserve(return_id="r1", items=[{"sku": "PP", "quantity": 1}, {"sku": "PP", "quantity": 1}],
                  ordered=ordered)
    with pytest.raises(RuleViolation, match=r"PP \(2 asked, 1 of 3 left"):
        goods.reserve(return_id="r2", items=[{"sku": "PP", "quantity": 2}], ordered=ordered)
    assert goods.release(return_id="r1") and not goods.release(return_id="r1")
    goods.reserve(return_id="r2", items=[{"sku": "PP", "quantity": 3}], ordered=ordered)
    assert goods.returned() == {"PP": 3}

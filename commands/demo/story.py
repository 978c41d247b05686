"""Two months of a water-purifier service company, played through the application's commands.

The demo clock starts early in the previous month (Asia/Shanghai) and moves forward with the
story, so every time in the store is one the business could have recorded: last month's
installations, follow-ups and a repair (a month of engineer work ready to settle), then the
last three days (orders at every delivery step, jobs waiting, a return in the departments'
vote, complaints, a claim in dispute), then the last hours (a claim whose 48-hour proposal
clock runs, an SVIP SLA about to breach, a missed call to return). Nothing is written by
hand: each step is a command, checked by the same rules as an operator's.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Mapping
from uuid import UUID
from zoneinfo import ZoneInfo

from commands.democlock import DemoClock
from commands.demo.cast import (BIG_PURIFIER, CUSTOMERS, DRIVERS, ENGINEERS, PREFILTER, PURIFIER, SOFTENER, STAFF,
                                WAREHOUSE, Customer)
from engine.application.app import ServiceOrderApp
from engine.application.context import CommandContext, Principal

SHANGHAI = ZoneInfo("Asia/Shanghai")
DESK, DISPATCH = STAFF["operator"][0], STAFF["dispatcher"][0]


def story_start(now: datetime) -> datetime:
    """09:00 on the 2nd of the month before ``now``'s month, in Shanghai."""
    here = now.astimezone(SHANGHAI)
    year, month = (here.year - 1, 12) if here.month == 1 else (here.year, here.month - 1)
    return datetime.combine(date(year, month, 2), time(9), SHANGHAI).astimezone(timezone.utc)


class Story:
    def __init__(self, app: ServiceOrderApp, clock: DemoClock) -> None:
        self.app, self.clock = app, clock
        # Each customer's orders, first placed first: a return names the order its goods came from.
        self.orders: dict[str, list[UUID]] = {}

    def by(self, name: str, *roles: str, reason: str | None = None) -> CommandContext:
        return CommandContext.new(Principal(name, frozenset(roles or ("operator",))), reason=reason)

    def at(self, moment: datetime) -> None:
        """Move the story on to ``moment`` (a moment already past leaves the clock where it is)."""
        self.clock.advance_to(moment)

    # Orders ------------------------------------------------------------------------------

    def later(self, **delta: float) -> datetime:
        """Move the story on by ``delta`` (hours=, minutes=, days=)."""
        return self.clock.advance(timedelta(**delta))

    def order(self, who: Customer, items: list[Mapping[str, Any]], tier: str = "vip", until: str = "delivered",
              driver: str = DRIVERS[0]) -> tuple[UUID, list[UUID]]:
        """Place an order now and take its delivery up to ``until``; the installation jobs if delivered."""
        order = self.app.place_order(self.by(DESK), customer_id=who.customer_id, items=items, tier=tier,
                                     delivery_address=who.address, site_location=who.site).aggregate_id
        self.orders.setdefault(who.customer_id, []).append(order)
        steps: list[tuple[str, dict[str, Any]]] = [("stock_prepared", {}), ("left_warehouse", {}),
                                                   ("driver_assigned", {"driver": driver})]
        steps += [("in_transit", {"position": _between(WAREHOUSE, who, share)}) for share in (0.35, 0.8)]
        steps.append(("delivered", {"note": "客户已签收"}))
        last = max((n for n, (step, _) in enumerate(steps) if step == until), default=-1)
        jobs: list[UUID] = []
        for step, extra in steps[:last + 1]:
            self.later(minutes=25)
            result = self.app.record_delivery_step(self.by("warehouse", "operator"), order, step, **extra)
            jobs = [UUID(j) for j in result.extra.get("job_ids", [])]
        return order, jobs

    # Field work --------------------------------------------------------------------------

    def dispatch(self, job: UUID, engineer: str) -> None:
        self.app.dispatch_job(self.by(DISPATCH, "dispatcher"), job, engineer)

    def accept_and_book(self, job: UUID, engineer: str, in_hours: float = 3, *,
                        start: datetime | None = None) -> datetime:
        """The engineer accepts; a two-hour window starting ``in_hours`` from the story's now
        (or at ``start``) is agreed."""
        self.later(minutes=20)
        self.app.accept_job(self.by(engineer, "engineer"), job, engineer)
        window = start or self.clock.now() + timedelta(hours=in_hours)
        self.app.agree_appointment(self.by(DISPATCH, "dispatcher"), job, window, window + timedelta(hours=2))
        return window

    def visit(self, job: UUID, engineer: str, who: Customer, window: datetime, minutes: int = 55,
              **outcome: Any) -> UUID:
        """Arrive early in the window, work, check out, complete; returns the follow-up to record."""
        me = self.by(engineer, "engineer")
        self.at(window + timedelta(minutes=15))
        self.app.check_in(me, job, engineer, location=who.near(), accuracy_m=8)
        self.later(minutes=minutes)
        self.app.check_out(me, job, engineer)
        done = self.app.complete_job(me, job, **outcome)
        return UUID(done.extra["follow_up_id"])

    def follow_up(self, follow_up: UUID, paid: str = "0", satisfaction: int = 5,
                  comments: str = "安装规范，讲解清楚") -> None:
        self.later(hours=4)
        self.app.record_follow_up(self.by(DESK, "hotline"), follow_up, fixed=True, conduct="good",
                                  satisfaction=satisfaction, customer_paid=paid, comments=comments)

    def installation(self, who: Customer, engineer: str, item: dict[str, Any] = PURIFIER,
                     paid_on_site: str | None = None) -> UUID:
        """Ordered, delivered, installed the same afternoon, followed up by the desk: ~13 hours."""
        _, (job,) = self.order(who, [item], tier="svip" if item is BIG_PURIFIER else "vip")
        self.later(minutes=30)
        self.dispatch(job, engineer)
        follow_up = self.visit(job, engineer, who, self.accept_and_book(job, engineer))
        if paid_on_site:
            self.app.record_payment(self.by(engineer, "engineer"), job, collected=True, amount=paid_on_site,
                                    method="wechat_pay")
        self.follow_up(follow_up, paid=paid_on_site or "0")
        return job


def play(app: ServiceOrderApp, clock: DemoClock, now: datetime) -> dict[str, Any]:
    """Fill the store; ``now`` is where the story ends (the demo clock reads it afterwards)."""
    story, c = Story(app, clock), CUSTOMERS
    start = story_start(now)
    story.at(start)
    for who in c:
        story.later(minutes=5)
        app.register_customer(story.by(DESK), customer_id=who.customer_id, name=who.name, phone=who.phone,
                              address=who.address)
        app.prefer_customer_language(story.by(DESK), who.customer_id, who.language)

    # Last month: twelve installations, one every other day, by four engineers (chen.gang
    # only one: nothing may be held back from him), one paid on site by WeChat Pay.
    installers = ["li.wei", "wang.qiang", "zhao.lei", "li.wei", "wang.qiang", "zhao.lei", "li.wei", "wang.qiang",
                  "zhao.lei", "li.wei", "wang.qiang", "chen.gang"]
    installed: dict[str, UUID] = {}
    for n, (who, engineer) in enumerate(zip(c[:12], installers)):
        story.at(start + timedelta(days=2 * n, hours=1))
        item = SOFTENER if n == 4 else BIG_PURIFIER if n == 7 else PURIFIER
        installed[who.customer_id] = story.installation(who, engineer, item, paid_on_site="150" if n == 5 else None)
    # A repair routed to the original installer (li.wei), the fault traced to the product.
    story.later(days=1)
    repair = app.open_repair(story.by(DESK), installed["C10001"], fee="80").aggregate_id
    window = story.accept_and_book(repair, "li.wei", in_hours=20)
    follow_up = story.visit(repair, "li.wei", c[0], window, minutes=40, fault_cause="product_quality",
                            consumables_replaced=["RO 反渗透膜"])
    story.follow_up(follow_up, comments="更换 RO 膜后出水正常")

    base = datetime.combine((now - timedelta(hours=64)).astimezone(SHANGHAI).date(), time(9), SHANGHAI)
    story.at(min(base.astimezone(timezone.utc), now - timedelta(hours=64)))
    held_up, to_install = recent(story, installed, now)
    last_hours(story, now, held_up, to_install)
    story.at(now)
    return {"customers": len(c), "engineers": ENGINEERS, "store_position": app.current_position()}


def recent(story: Story, installed: dict[str, UUID], now: datetime) -> tuple[UUID, UUID]:
    """The last days (~40 hours of the story): orders at every step, jobs waiting, returns,
    complaints, a disputed claim. Returns the order held up on the road and a job to install.
    Appointments still to come are booked from ``now`` (the story's end, the real time): how far
    the story runs before it depends on the hour it is played at."""
    app, c = story.app, CUSTOMERS
    story.order(c[11], [PREFILTER], tier="basic")
    story.order(c[12], [PURIFIER])  # delivered: its installation job waits to be dispatched
    for n, (who, step) in enumerate(zip(c[12:17], ("placed", "stock_prepared", "left_warehouse", "driver_assigned",
                                                     "in_transit"))):
        story.later(minutes=40)
        story.order(who, [PURIFIER], until=step, driver=DRIVERS[n % 3])
    story.later(minutes=30)
    duplicate, _ = story.order(c[13], [PURIFIER], until="placed")
    story.later(minutes=10)
    app.cancel_order(story.by(DESK, reason="客户重复下单"), duplicate)

    returns_and_complaints(story)

    # A declined job waiting to be dispatched again; a job booked for tomorrow.
    story.later(hours=1)
    _, (declined,) = story.order(c[14], [SOFTENER], tier="svip")
    story.dispatch(declined, "wang.qiang")
    story.later(minutes=30)
    app.decline_job(story.by("wang.qiang", "engineer", reason="没有中央软水机的安装资质"), declined, "wang.qiang")
    _, (booked,) = story.order(c[15], [PURIFIER])
    story.dispatch(booked, "li.wei")
    story.accept_and_book(booked, "li.wei", start=now + timedelta(hours=18))
    # zhao.lei calls in sick: a dispatcher takes his booked job off his agenda; it waits in the
    # queue with the customer's appointment kept, for another engineer (issue 20).
    _, (handed_back,) = story.order(c[15], [PURIFIER])
    story.dispatch(handed_back, "zhao.lei")
    story.accept_and_book(handed_back, "zhao.lei", start=now + timedelta(hours=24))
    app.decline_job(story.by(DISPATCH, "dispatcher", reason="赵磊病假，今天无法上门"), handed_back, "zhao.lei")
    _, (done,) = story.order(c[16], [PURIFIER])  # installed in the last hours
    # A repair of wang.qiang's installation, dispatched to him and not yet accepted.
    story.later(hours=1)
    app.open_repair(story.by(DESK), installed["C10002"], fee="80")
    story.later(hours=1)
    held_up, _ = story.order(c[17], [BIG_PURIFIER, PREFILTER], tier="svip", until="in_transit", driver=DRIVERS[2])
    app.report_incident(story.by("warehouse", "operator"), held_up, kind="vehicle_breakdown",
                        description="货车在 G60 沪昆高速松江段爆胎，等待救援")
    return held_up, done


def returns_and_complaints(story: Story) -> None:
    app = story.app
    story.later(hours=1)
    exchange = app.request_return(story.by(DESK), customer_id="C10003", resolution="exchange",
                                  reason="RO 膜出水有异味，更换滤芯后仍未改善", order_id=str(story.orders["C10003"][0]),
                                  items=[{"sku": "RO-600", "quantity": 1}]).aggregate_id
    # C10012's pre-filter, delivered in the last days and never unpacked.
    refund = app.request_return(story.by(DESK), customer_id="C10012", resolution="refund",
                                reason="房屋出售，前置过滤器未拆封", order_id=str(story.orders["C10012"][-1]),
                                items=[{"sku": "PF-40", "quantity": 1}]).aggregate_id
    story.later(hours=2)
    for return_id, departments in ((exchange, ("sales", "technical")),
                                   (refund, ("sales", "technical", "finance", "logistics"))):
        for department in departments:
            app.vote_on_return(story.by(STAFF[f"approver_{department}"][0], f"approver:{department}"), return_id,
                               department, approve=True)
    app.schedule_return_pickup(story.by(DESK), refund, story.clock.now() + timedelta(days=3))

    # Complaints: one about an engineer still open, one about a late delivery closed.
    story.later(hours=1)
    desk = story.by(DESK, "complaints")
    conduct = app.file_complaint(desk, customer_id="C10004", category="engineer_conduct",
                                 description="工程师安装后未清理现场，包装垃圾留在厨房").aggregate_id
    app.acknowledge_complaint(desk, conduct)
    late = app.file_complaint(desk, customer_id="C10006", category="delivery",
                              description="约定上午送货，下午四点才到").aggregate_id
    app.acknowledge_complaint(desk, late)
    app.investigate_complaint(desk, late, findings="当天仓库出库延误两小时，司机未提前告知客户")
    app.resolve_complaint(desk, late, resolution="致歉并赠送一套 PP 棉滤芯")
    app.close_complaint(desk, late)

    # The flooded floor: a claim whose proposal the customer disputes.
    story.later(hours=1)
    flooded = app.file_complaint(desk, customer_id="C10007", category="product_quality",
                                 description="净水器进水接头夜间漏水，厨房木地板泡水起拱").aggregate_id
    app.acknowledge_complaint(desk, flooded)
    claim = app.open_claim(desk, flooded, damage="厨房实木地板约 6 平方米泡水起拱").aggregate_id
    story.later(hours=4)
    facts = [app.record_claim_fact(desk, claim, fact=fact, evidence=evidence).extra["fact_id"] for fact, evidence in (
        ("进水接头螺纹处有裂纹，非安装拧紧过度所致", ["photo-joint-0412.jpg", "tech-report-TR2291.pdf"]),
        ("地板泡水面积约 6 平方米，需整片重铺", ["photo-floor-0415.jpg"]))]
    app.determine_liability(story.by(DESK, "complaints", reason="接头铸件缺陷，属产品质量问题"), claim,
                            party="manufacturer", facts=facts)
    app.propose_compensation(desk, claim, amount="3000", facts=facts)
    story.later(hours=3)
    app.dispute_compensation(story.by(DESK, "complaints", reason="客户提供的地板重铺报价为 7200 元"), claim)


def last_hours(story: Story, now: datetime, held_up: UUID, to_install: UUID) -> None:
    """What is about to happen: a proposal due within 48 hours, an SLA near breach, a follow-up
    call due, a missed call to return."""
    app = story.app
    desk = story.by(DESK, "complaints")
    story.at(now - timedelta(hours=20))
    cracked = app.file_complaint(desk, customer_id="C10008", category="product_quality",
                                 description="滤瓶外壳开裂渗水，橱柜底板受潮").aggregate_id
    app.acknowledge_complaint(desk, cracked)
    app.open_claim(desk, cracked, damage="橱柜底板受潮变形")

    # Installed this morning: the follow-up call is due within 24 hours of completion.
    story.at(now - timedelta(hours=9))
    story.dispatch(to_install, "zhao.lei")
    story.visit(to_install, "zhao.lei", CUSTOMERS[16], story.accept_and_book(to_install, "zhao.lei", in_hours=1))

    calls = (("13816620417", True, "C10001"), ("13585522109", True, "C10006"), ("13917706624", False, "C10007"),
             ("021-62418830", True, None))
    for n, (phone, answered, customer) in enumerate(calls):
        story.at(now - timedelta(hours=6 - n))
        call = app.record_call(story.by(DESK, "hotline"), phone=phone, answered=answered, customer_id=customer,
                               agent=DESK if answered else None)
        if not answered:
            story.later(minutes=25)
            app.call_back(story.by(DESK, "hotline"), call.aggregate_id, reached=True)

    # The SVIP customer whose goods broke down on the road: 4 hours allowed, 2 h 40 min used.
    story.at(now - timedelta(hours=2, minutes=40))
    app.start_sla(story.by(DESK, "operator"), subject_id=str(held_up), subject_kind="order", customer_id="C10018",
                  order_id=held_up)
    story.at(now - timedelta(minutes=40))
    app.record_call(story.by(DESK, "hotline"), phone="15601889432", answered=False, customer_id="C10018")


def _between(origin: dict[str, float], who: Customer, share: float) -> dict[str, float]:
    return {"lat": round(origin["lat"] + (who.lat - origin["lat"]) * share, 5),
            "lng": round(origin["lng"] + (who.lng - origin["lng"]) * share, 5)}

"""Rules of the FieldJob aggregate."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.jobs import FieldJob

META = {"actor": "op", "request_id": "r", "correlation_id": "c", "causation_id": "r"}
WHY = {**META, "reason": "because"}
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
SITE = {"lat": 30.2741, "lng": 120.1551}
NEAR = {"lat": 30.2745, "lng": 120.1553}   # about 50 m away
FAR = {"lat": 30.3000, "lng": 120.2000}    # about 5 km away


def job(kind: str = "installation", **kw: object) -> FieldJob:
    args = {"kind": kind, "customer_id": "c1", "product": {"sku": "WP-500"}, "site_address": "1 Lake Rd",
            "site_location": SITE, "fee": "150", "meta": META}
    args.update(kw)
    return FieldJob.open(**args)  # type: ignore[arg-type]


def accepted(kind: str = "installation", **kw: object) -> FieldJob:
    j = job(kind, **kw)
    j.dispatch("wang", routing="operator_choice", meta=META)
    j.accept("wang", meta=META)
    return j


def visited(kind: str = "installation", **kw: object) -> FieldJob:
    j = accepted(kind, **kw)
    j.check_in("wang", location=NEAR, accuracy_m=10, at=NOW, max_distance_m=200, meta=META)
    j.check_out("wang", at=NOW + timedelta(minutes=45), meta=META)
    return j


def test_open_validates_kind_fee_and_consumables() -> None:
    assert job().fee == "150.00"
    with pytest.raises(InvalidCommand, match="job kind must be one of"):
        job("painting")
    with pytest.raises(InvalidCommand, match="fee must be"):
        job(fee="-3")
    with pytest.raises(InvalidCommand, match="names the consumables"):
        job("consumable_replacement")


def test_declined_job_waits_for_redispatch_and_records_who_declined() -> None:
    j = job()
    j.dispatch("wang", routing="operator_choice", meta=META)
    with pytest.raises(RuleViolation, match="dispatched to wang, not li"):
        j.accept("li", meta=META)
    with pytest.raises(InvalidCommand, match="needs a reason"):
        j.decline("wang", meta=META)
    j.decline("wang", meta=WHY)
    assert (j.status, j.engineer, j.declined_by) == ("declined", None, ["wang"])
    j.dispatch("li", routing="redispatch", meta=META)
    j.accept("li", meta=META)
    assert (j.status, j.engineer) == ("accepted", "li")


def test_dispatch_twice_without_decline_is_refused() -> None:
    j = job()
    j.dispatch("wang", routing="operator_choice", meta=META)
    with pytest.raises(RuleViolation, match="only after a decline"):
        j.dispatch("li", routing="operator_choice", meta=META)


def test_appointment_windows_are_in_the_future_and_at_most_12_hours() -> None:
    j = accepted()
    with pytest.raises(RuleViolation, match="start in the future"):
        j.agree_appointment(NOW - timedelta(hours=1), NOW + timedelta(hours=1), now=NOW, meta=META)
    with pytest.raises(InvalidCommand, match="at most 12 hours"):
        j.agree_appointment(NOW + timedelta(hours=1), NOW + timedelta(hours=14), now=NOW, meta=META)
    j.agree_appointment(NOW + timedelta(hours=1), NOW + timedelta(hours=4), now=NOW, meta=META)
    with pytest.raises(RuleViolation, match="reschedule it instead"):
        j.agree_appointment(NOW + timedelta(hours=5), NOW + timedelta(hours=6), now=NOW, meta=META)


def test_reschedule_only_before_the_window_starts_with_notice_initiator_and_reason() -> None:
    j = accepted()
    start = NOW + timedelta(hours=26)
    j.agree_appointment(start, start + timedelta(hours=3), now=NOW, meta=META)
    with pytest.raises(InvalidCommand, match="needs a reason"):
        j.reschedule(start + timedelta(days=1), start + timedelta(days=1, hours=2), now=NOW, initiator="customer",
                     meta=META)
    j.reschedule(start + timedelta(days=1), start + timedelta(days=1, hours=2), now=NOW, initiator="customer",
                 meta=WHY)
    event = j.collect_events()[-1]
    assert (event.notice_hours, event.initiator, event.previous_start) == (26.0, "customer", start)
    with pytest.raises(RuleViolation, match="can no longer be rescheduled"):
        j.reschedule(start + timedelta(days=3), start + timedelta(days=3, hours=2),
                     now=start + timedelta(days=1, minutes=1), initiator="engineer", meta=WHY)


def test_a_passed_window_without_check_in_is_missed_but_a_visit_saves_it() -> None:
    j = accepted()
    start = NOW + timedelta(hours=2)
    j.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    assert not j.miss_appointment(now=start + timedelta(hours=1), meta=META)  # not over yet
    assert j.miss_appointment(now=start + timedelta(hours=2), meta=META)
    assert (j.window, j.missed_windows) == (None, 1)

    k = accepted()
    k.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    k.check_in("wang", location=NEAR, accuracy_m=5, at=start + timedelta(minutes=5), max_distance_m=200, meta=META)
    assert not k.miss_appointment(now=start + timedelta(hours=3), meta=META)


def test_check_in_far_from_the_site_is_recorded_but_not_a_verified_visit() -> None:
    j = accepted()
    assert not j.check_in("wang", location=FAR, accuracy_m=10, at=NOW, max_distance_m=200, meta=META)
    assert j.visits[0]["distance_m"] > 4000
    j.check_out("wang", at=NOW + timedelta(minutes=5), meta=META)
    with pytest.raises(RuleViolation, match="no verified visit"):
        j.complete(meta=META)
    assert j.check_in("wang", location=NEAR, accuracy_m=10, at=NOW + timedelta(hours=1), max_distance_m=200,
                      meta=META)


def test_only_the_accepting_engineer_checks_in_once_at_a_time() -> None:
    j = accepted()
    with pytest.raises(RuleViolation, match="only the engineer who accepted"):
        j.check_in("li", location=NEAR, accuracy_m=5, at=NOW, max_distance_m=200, meta=META)
    j.check_in("wang", location=NEAR, accuracy_m=5, at=NOW, max_distance_m=200, meta=META)
    with pytest.raises(RuleViolation, match="check out first"):
        j.check_in("wang", location=NEAR, accuracy_m=5, at=NOW, max_distance_m=200, meta=META)
    with pytest.raises(RuleViolation, match="check out before completing"):
        j.complete(meta=META)
    with pytest.raises(InvalidCommand, match="before the check-in"):
        j.check_out("wang", at=NOW - timedelta(minutes=1), meta=META)


def test_check_in_needs_a_site_location() -> None:
    j = accepted(site_location=None)
    with pytest.raises(RuleViolation, match="no site location"):
        j.check_in("wang", location=NEAR, accuracy_m=5, at=NOW, max_distance_m=200, meta=META)
    j.set_site_location(SITE, meta=META)
    assert j.check_in("wang", location=NEAR, accuracy_m=5, at=NOW, max_distance_m=200, meta=META)


def test_a_repair_records_its_fault_cause() -> None:
    j = visited("repair")
    with pytest.raises(InvalidCommand, match="records its fault cause"):
        j.complete(meta=META)
    j.complete(fault_cause="installation_error", meta=META)
    assert (j.status, j.fault_cause) == ("completed", "installation_error")
    with pytest.raises(RuleViolation, match="job is completed"):
        j.complete(fault_cause="weather_conditions", meta=META)


def test_replacement_may_replace_only_some_consumables() -> None:
    j = visited("consumable_replacement", consumables=["PP", "CTO", "RO"])
    with pytest.raises(InvalidCommand, match="replace some of"):
        j.complete(consumables_replaced=["UV"], meta=META)
    j.complete(consumables_replaced=["PP"], meta=META)
    assert j.collect_events()[-1].consumables_replaced == ["PP"]


def test_customer_may_cancel_a_replacement_at_the_door_after_the_engineer_arrives() -> None:
    j = accepted("consumable_replacement", consumables=["PP"])
    with pytest.raises(RuleViolation, match="must have checked in"):
        j.cancel_at_door(meta=WHY)
    j.check_in("wang", location=NEAR, accuracy_m=5, at=NOW, max_distance_m=200, meta=META)
    j.cancel_at_door(meta=WHY)
    assert j.status == "cancelled_at_door"
    with pytest.raises(RuleViolation, match="only a consumable replacement"):
        accepted().cancel_at_door(meta=WHY)


def test_self_installation_refunds_the_installation_fee_without_a_visit() -> None:
    j = job()
    with pytest.raises(InvalidCommand, match="give the reason"):
        j.install_by_customer(meta=META)
    j.install_by_customer(meta=WHY)
    assert j.status == "self_installed" and j.collect_events()[-1].fee_refunded == "150.00"
    with pytest.raises(RuleViolation, match="only an installation"):
        job("repair").install_by_customer(meta=WHY)


def test_payment_follows_completion_and_non_payment_needs_a_reason() -> None:
    j = visited("consumable_replacement", consumables=["PP"])
    with pytest.raises(RuleViolation, match="after the work is completed"):
        j.record_payment(collected=True, amount="80", meta=META)
    j.complete(meta=META)
    with pytest.raises(InvalidCommand, match="why the customer did not pay"):
        j.record_payment(collected=False, amount="80", meta=META)
    j.record_payment(collected=False, amount="80", meta=WHY)
    j.record_payment(collected=True, amount="80", method="cash", meta=META)
    with pytest.raises(RuleViolation, match="already collected"):
        j.record_payment(collected=True, amount="80", meta=META)

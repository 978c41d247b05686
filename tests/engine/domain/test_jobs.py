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
    j.dispatch("wang", routing="operator_choice", now=NOW, meta=META)
    j.accept("wang", meta=META)
    return j


def visited(kind: str = "installation", **kw: object) -> FieldJob:
    j = accepted(kind, **kw)
    j.check_in("wang", location=NEAR, accuracy_m=10, received_at=NOW, max_distance_m=200, meta=META)
    j.check_out("wang", received_at=NOW + timedelta(minutes=45), meta=META)
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
    j.dispatch("wang", routing="operator_choice", now=NOW, meta=META)
    with pytest.raises(RuleViolation, match="dispatched to wang, not li"):
        j.accept("li", meta=META)
    with pytest.raises(InvalidCommand, match="needs a reason"):
        j.decline("wang", now=NOW, meta=META)
    j.decline("wang", now=NOW, meta=WHY)
    assert (j.status, j.engineer, j.declined_by) == ("declined", None, ["wang"])
    j.dispatch("li", routing="redispatch", now=NOW, meta=META)
    j.accept("li", meta=META)
    assert (j.status, j.engineer) == ("accepted", "li")


def test_dispatch_twice_without_decline_is_refused() -> None:
    j = job()
    j.dispatch("wang", routing="operator_choice", now=NOW, meta=META)
    with pytest.raises(RuleViolation, match="only after a decline"):
        j.dispatch("li", routing="operator_choice", now=NOW, meta=META)


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
    k.check_in("wang", location=NEAR, accuracy_m=5, received_at=start + timedelta(minutes=5), max_distance_m=200,
               meta=META)
    assert not k.miss_appointment(now=start + timedelta(hours=3), meta=META)


def test_check_in_far_from_the_site_is_recorded_but_not_a_verified_visit() -> None:
    j = accepted()
    assert not j.check_in("wang", location=FAR, accuracy_m=10, received_at=NOW, max_distance_m=200, meta=META)
    assert j.visits[0]["distance_m"] > 4000
    j.check_out("wang", received_at=NOW + timedelta(minutes=5), meta=META)
    with pytest.raises(RuleViolation, match="no verified visit"):
        j.complete(meta=META)
    assert j.check_in("wang", location=NEAR, accuracy_m=10, received_at=NOW + timedelta(hours=1), max_distance_m=200,
                      meta=META)


def test_only_the_accepting_engineer_checks_in_once_at_a_time() -> None:
    j = accepted()
    with pytest.raises(RuleViolation, match="only the engineer who accepted"):
        j.check_in("li", location=NEAR, accuracy_m=5, received_at=NOW, max_distance_m=200, meta=META)
    j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW, max_distance_m=200, meta=META)
    with pytest.raises(RuleViolation, match="check out first"):
        j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW, max_distance_m=200, meta=META)
    with pytest.raises(RuleViolation, match="check out before completing"):
        j.complete(meta=META)
    with pytest.raises(RuleViolation, match="before the check-in"):
        j.check_out("wang", received_at=NOW - timedelta(minutes=1), meta=META)


def test_check_in_needs_a_site_location() -> None:
    j = accepted(site_location=None)
    with pytest.raises(RuleViolation, match="no site location"):
        j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW, max_distance_m=200, meta=META)
    j.set_site_location(SITE, meta=META)
    assert j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW, max_distance_m=200, meta=META)


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
    j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW, max_distance_m=200, meta=META)
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


# Visit times (issue 17, case 3) -----------------------------------------------------------

def test_a_visit_is_timed_by_the_server_unless_a_bounded_device_time_is_given() -> None:
    j = accepted()
    j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW + timedelta(hours=2),
               device_at=NOW + timedelta(hours=1), max_distance_m=200, meta=META)
    assert j.visits[0]["checked_in_at"] == NOW + timedelta(hours=1)
    event = j.collect_events()[-1]
    assert (event.at, event.received_at) == (NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    # A device a minute fast reads as the receive time; one years ahead is refused.
    j.check_out("wang", received_at=NOW + timedelta(hours=3), device_at=NOW + timedelta(hours=3, minutes=1), meta=META)
    assert j.visits[0]["checked_out_at"] == NOW + timedelta(hours=3)
    assert j.collect_events()[-1].duration_minutes == 120.0


@pytest.mark.parametrize(("device_at", "why"), [
    (NOW + timedelta(days=1800), "never in the future"),
    (NOW + timedelta(hours=5) - timedelta(hours=30), "at most that old"),
    (NOW - timedelta(minutes=10), "before the job was dispatched"),
])
def test_device_times_are_bounded(device_at: datetime, why: str) -> None:
    j = accepted()
    with pytest.raises(RuleViolation, match=why) as refused:
        j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW + timedelta(hours=5), device_at=device_at,
                   max_distance_m=200, meta=META, max_device_age=timedelta(hours=24))
    assert refused.value.rule == "visit-time-bounded"
    assert j.visits == []


def test_a_check_out_dated_years_ahead_is_refused_and_the_visit_stays_open() -> None:
    j = accepted()
    j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW, max_distance_m=200, meta=META)
    with pytest.raises(RuleViolation, match="never in the future"):
        j.check_out("wang", received_at=NOW + timedelta(hours=1), device_at=datetime(2031, 1, 1, tzinfo=timezone.utc),
                    meta=META)
    assert j.open_visit is not None


def test_a_recorded_breach_is_not_undone_by_a_back_dated_check_in() -> None:
    j = accepted()
    start = NOW + timedelta(hours=6)
    j.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    assert j.miss_appointment(now=start + timedelta(hours=2), meta=META)
    with pytest.raises(RuleViolation, match="recorded as missed") as refused:
        j.check_in("wang", location=NEAR, accuracy_m=5, received_at=start + timedelta(hours=3),
                   device_at=start + timedelta(minutes=30), max_distance_m=200, meta=META)
    assert refused.value.rule == "visit-time-bounded"
    assert j.check_in("wang", location=NEAR, accuracy_m=5, received_at=start + timedelta(hours=3), max_distance_m=200,
                      meta=META)
    assert j.missed_windows == 1


def test_a_check_in_is_not_dated_before_the_last_check_out() -> None:
    j = accepted()
    j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW + timedelta(hours=1), max_distance_m=200, meta=META)
    j.check_out("wang", received_at=NOW + timedelta(hours=2), meta=META)
    with pytest.raises(RuleViolation, match="last visit ended"):
        j.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW + timedelta(hours=3),
                   device_at=NOW + timedelta(hours=1, minutes=30), max_distance_m=200, meta=META)


# Reschedule notice (case 7) and who pays for a repair (case 8) ------------------------------

def test_only_the_customer_moves_an_appointment_at_short_notice() -> None:
    j = accepted()
    start = NOW + timedelta(hours=3)
    j.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    for initiator in ("engineer", "operator"):
        with pytest.raises(RuleViolation, match="at least 4 h before it starts") as refused:
            j.reschedule(start + timedelta(days=1), start + timedelta(days=1, hours=2), now=NOW,
                         initiator=initiator, meta=WHY)
        assert refused.value.rule == "reschedule-notice"
    j.reschedule(start + timedelta(days=1), start + timedelta(days=1, hours=2), now=NOW, initiator="engineer",
                 meta=WHY, min_notice=timedelta(hours=2))
    j.reschedule(start + timedelta(days=2), start + timedelta(days=2, hours=2),
                 now=start + timedelta(days=1) - timedelta(minutes=1), initiator="customer", meta=WHY)
    event = j.collect_events()[-1]
    assert (event.initiator, event.notice_hours) == ("customer", 0.02)


@pytest.mark.parametrize(("cause", "payer"), [("installation_error", "installer"),
                                              ("product_quality", "manufacturer"),
                                              ("customer_misuse", "customer")])
def test_a_repair_is_charged_to_whoever_the_liability_rule_names(cause: str, payer: str) -> None:
    j = visited("repair")
    j.complete(fault_cause=cause, meta=META)
    assert j.charged_to == payer
    assert j.collect_events()[-1].charged_to == payer


def test_a_recorded_liability_rule_overrides_the_default_and_other_jobs_charge_the_customer() -> None:
    j = visited("repair")
    j.complete(fault_cause="weather_conditions", liability={"weather_conditions": "manufacturer"}, meta=META)
    assert j.charged_to == "manufacturer"
    k = visited()
    k.complete(meta=META)
    assert k.charged_to == "customer"


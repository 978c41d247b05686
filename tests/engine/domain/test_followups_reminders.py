"""Rules of the FollowUp, ConsumableReminder, Customer and Deadline aggregates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from engine.domain.customers import Customer, customer_uuid
from engine.domain.deadlines import Deadline, deadline_id
from engine.domain.errors import InvalidCommand, RuleViolation
from engine.domain.followups import FollowUp, followup_id
from engine.domain.reminders import ConsumableReminder

META = {"actor": "op", "request_id": "r", "correlation_id": "c", "causation_id": "r"}
NOW = datetime(2026, 5, 1, 9, 0, tzinfo=timezone.utc)


def follow_up() -> FollowUp:
    return FollowUp(job_id="job-1", customer_id="c1", engineer="li", fault_cause="weather_conditions",
                    due_at=NOW + timedelta(hours=24), meta=META)


def test_follow_up_id_derives_from_the_job_and_records_once() -> None:
    f = follow_up()
    assert f.id == followup_id("job-1")
    with pytest.raises(InvalidCommand, match="satisfaction is a whole number from 1 to 5"):
        f.record(fixed=True, arrival_time=None, conduct="good", satisfaction=6, comments=None, now=NOW, meta=META)
    with pytest.raises(InvalidCommand, match="conduct must be one of"):
        f.record(fixed=True, arrival_time=None, conduct="rude", satisfaction=3, comments=None, now=NOW, meta=META)
    f.record(fixed=False, arrival_time=NOW, conduct="poor", satisfaction=2, comments="still leaking",
             now=NOW + timedelta(hours=30), meta=META)
    assert f.collect_events()[-1].late is True
    with pytest.raises(RuleViolation, match="already been recorded"):
        f.record(fixed=True, arrival_time=None, conduct="good", satisfaction=5, comments=None, now=NOW, meta=META)
    assert not f.mark_overdue(now=NOW + timedelta(days=2), meta=META)


def test_follow_up_is_overdue_only_after_its_due_time() -> None:
    f = follow_up()
    assert not f.mark_overdue(now=NOW + timedelta(hours=23), meta=META)
    assert f.mark_overdue(now=NOW + timedelta(hours=24), meta=META)
    assert f.status == "overdue"


def reminder(days: int = 90) -> ConsumableReminder:
    return ConsumableReminder.start(customer_id="c1", installation_job_id="job-1", product={"sku": "WP"},
                                    consumables=["PP", "RO"], interval_days=days, site_address="a",
                                    site_location=None, now=NOW, meta=META)


def test_reminder_falls_due_then_repeats_when_declined() -> None:
    r = reminder()
    assert r.due_at == NOW + timedelta(days=90)
    with pytest.raises(RuleViolation, match="only a due reminder is declined"):
        r.decline(now=NOW, repeat_after_days=30, meta=META)
    assert not r.fall_due(now=NOW + timedelta(days=89), meta=META)
    assert r.fall_due(now=NOW + timedelta(days=90), meta=META)
    r.decline(now=NOW + timedelta(days=90), repeat_after_days=30, meta=META)
    assert (r.status, r.round, r.due_at) == ("scheduled", 2, NOW + timedelta(days=120))
    with pytest.raises(InvalidCommand, match="1 to 3650"):
        reminder(0)


def test_accepted_reminder_renews_after_the_replacement() -> None:
    r = reminder(60)
    r.fall_due(now=NOW + timedelta(days=60), meta=META)
    r.accept(replacement_job_id="job-2", meta=META)
    with pytest.raises(RuleViolation, match="only a due reminder is accepted"):
        r.accept(replacement_job_id="job-3", meta=META)
    r.renew(now=NOW + timedelta(days=65), meta=META)
    assert (r.status, r.due_at, r.replacement_job_id) == ("scheduled", NOW + timedelta(days=125), None)


def test_customer_contact_record() -> None:
    c = Customer.register(customer_id="c1", name="Chen Mei", phone="555", address="12 Lake Rd", meta=META)
    assert c.id == customer_uuid("c1")
    c.update_contact(name=None, phone="556", address=None, meta=META)
    assert (c.name, c.phone, c.address) == ("Chen Mei", "556", "12 Lake Rd")
    with pytest.raises(InvalidCommand, match="phone is required"):
        Customer.register(customer_id="c2", name="X", phone="", address="a", meta=META)


def test_deadline_fires_once_when_due_and_not_after_cancel() -> None:
    d = Deadline(kind="appointment", subject_id="job-1", key="1", due_at=NOW, action="job.miss_appointment",
                 args={}, customer_id="c1", meta=META)
    assert d.id == deadline_id("appointment", "job-1", "1")
    with pytest.raises(RuleViolation, match="not yet"):
        d.fire(now=NOW - timedelta(seconds=1), meta=META)
    d.fire(now=NOW, meta=META)
    with pytest.raises(RuleViolation, match="is fired"):
        d.fire(now=NOW, meta=META)
    assert not d.cancel(reason="late", meta=META)
    e = Deadline(kind="appointment", subject_id="job-1", key="2", due_at=NOW, action="job.miss_appointment",
                 args={}, customer_id=None, meta=META)
    assert e.cancel(reason="checked in", meta=META) and not e.is_due(NOW)


def test_replacing_some_filters_renews_only_those() -> None:
    r = ConsumableReminder.start(customer_id="c1", installation_job_id="job-1", product={"sku": "WP"},
                                 consumables=["PP", "carbon", "RO"], interval_days=90, site_address="a",
                                 site_location=None, now=NOW, meta=META)
    r.fall_due(now=NOW + timedelta(days=90), meta=META)
    assert r.due_consumables == ["PP", "carbon", "RO"]
    r.accept(replacement_job_id="job-2", meta=META)
    done = NOW + timedelta(days=92)
    r.renew(now=done, replaced=["PP"], meta=META)
    assert r.due_of("PP") == done + timedelta(days=90)
    assert r.due_of("carbon") == r.due_of("RO") == done + timedelta(days=30)
    assert r.due_at == done + timedelta(days=30)
    assert r.collect_events()[-1].consumables["PP"] == done + timedelta(days=90)
    r.fall_due(now=done + timedelta(days=30), meta=META)
    assert r.due_consumables == ["carbon", "RO"]
    # Declining postpones what is due; PP keeps its own date.
    r.decline(now=done + timedelta(days=30), repeat_after_days=30, meta=META)
    assert (r.due_of("PP"), r.due_of("RO")) == (done + timedelta(days=90), done + timedelta(days=60))
    # The decline says what it made of each consumable, so that no view applies the rule.
    declined = r.collect_events()[-1]
    assert (declined.due_at, declined.consumables) == (done + timedelta(days=60), {
        "PP": done + timedelta(days=90), "carbon": done + timedelta(days=60), "RO": done + timedelta(days=60)})


def test_a_v1_decline_replays_by_the_rule_it_was_written_under() -> None:
    r = ConsumableReminder.start(customer_id="c1", installation_job_id="job-1", product={"sku": "WP"},
                                 consumables=["PP"], interval_days=90, site_address="a", site_location=None,
                                 now=NOW, meta=META)
    r.fall_due(now=NOW + timedelta(days=90), meta=META)
    state = {"next_due_at": NOW + timedelta(days=120), "meta": META}
    ConsumableReminder.ReminderDeclined.upcast_v1_v2(state)  # type: ignore[attr-defined]
    v1 = ConsumableReminder.ReminderDeclined(originator_id=r.id, originator_version=r.version + 1,  # type: ignore[attr-defined]
                                             timestamp=NOW, **state)
    v1.mutate(r)
    assert (r.status, r.due_at, r.due_of("PP"), r.round) == ("scheduled", NOW + timedelta(days=120),
                                                             NOW + timedelta(days=120), 2)

"""Properties of business time: add and elapsed are inverse; closed time never counts."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.domain.calendar import TIER_TARGETS, BusinessCalendar, with_holidays

FIVE_BY_EIGHT = BusinessCalendar(working_days=frozenset(range(5)), opens=9, closes=17,
                                 holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2)}))
SEVEN_BY_24 = BusinessCalendar()
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(timezone.utc))
durations = st.integers(min_value=1, max_value=60 * 200).map(lambda m: timedelta(minutes=m))
calendars = st.sampled_from([FIVE_BY_EIGHT, SEVEN_BY_24])


@settings(max_examples=300, deadline=None)
@given(calendar=calendars, start=instants, duration=durations)
def test_adding_then_measuring_round_trips(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> None:
    end = calendar.add(start, duration)
    assert end >= start
    assert calendar.elapsed(start, end) == duration


@settings(max_examples=200, deadline=None)
@given(start=instants, duration=durations)
def test_closed_time_never_counts(start: datetime, duration: timedelta) -> None:
    end = FIVE_BY_EIGHT.add(start, duration)
    local = end.astimezone(FIVE_BY_EIGHT.tz)
    # The deadline lands inside working hours on a working day, never on a weekend or holiday.
    assert local.weekday() < 5 and local.date() not in FIVE_BY_EIGHT.holidays
    assert 9 <= local.hour < 17 or (local.hour == 17 and local.minute == 0 and local.second == 0)
    assert FIVE_BY_EIGHT.elapsed(start, end) <= end - start


@given(start=instants, duration=durations)
def test_seven_by_24_is_wall_clock_time(start: datetime, duration: timedelta) -> None:
    assert SEVEN_BY_24.add(start, duration) == start + duration


def test_a_weekend_and_a_holiday_are_skipped() -> None:
    # Wednesday 30 Sep 2026, 16:00 in Shanghai: one hour left that day, then 1-2 Oct are
    # holidays and 3-4 Oct a weekend, so 8 business hours end on Monday 5 Oct at 16:00.
    start = datetime(2026, 9, 30, 8, 0, tzinfo=timezone.utc)  # 16:00 local
    end = FIVE_BY_EIGHT.add(start, timedelta(hours=8))
    assert end.astimezone(FIVE_BY_EIGHT.tz).replace(tzinfo=None) == datetime(2026, 10, 5, 16, 0)


def test_tier_targets() -> None:
    vip, svip = TIER_TARGETS["vip"], TIER_TARGETS["svip"]
    assert vip is not None and vip[1] == timedelta(hours=8) and vip[0].working_days == frozenset(range(5))
    assert svip is not None and svip[1] == timedelta(hours=4) and svip[0].closes == 24
    assert TIER_TARGETS["basic"] is None


def test_configured_holidays_apply_to_working_day_tiers_only() -> None:
    national_day = frozenset({date(2026, 10, 1)})
    targets = with_holidays(TIER_TARGETS, national_day)
    assert targets["vip"][0].holidays == national_day  # type: ignore[index]
    assert targets["svip"][0].holidays == frozenset()  # type: ignore[index]
    assert targets["basic"] is None


def test_make_up_working_days_are_worked_like_any_working_day() -> None:
    # National Day 2026: 1-7 Oct off; Saturday 10 Oct is worked instead (调休).
    holidays = frozenset(date(2026, 10, d) for d in range(1, 8))
    calendar = BusinessCalendar(working_days=frozenset(range(5)), opens=9, closes=17, holidays=holidays,
                                working_dates=frozenset({date(2026, 10, 10)}))
    friday_end = datetime(2026, 10, 9, 17, tzinfo=calendar.tz)
    assert calendar.add(friday_end, timedelta(hours=2)) == datetime(2026, 10, 10, 11, tzinfo=calendar.tz)
    assert calendar.elapsed(friday_end, datetime(2026, 10, 12, 9, tzinfo=calendar.tz)) == timedelta(hours=8)
    assert BusinessCalendar.from_spec(calendar.spec()) == calendar
    old_spec = {k: v for k, v in calendar.spec().items() if k != "working_dates"}
    assert BusinessCalendar.from_spec(old_spec).working_dates == frozenset()
    targets = with_holidays(TIER_TARGETS, holidays, frozenset({date(2026, 10, 10)}))
    assert targets["vip"][0].works_on(date(2026, 10, 10))  # type: ignore[index]
    with pytest.raises(ValueError, match="both a holiday and a make-up"):
        BusinessCalendar(holidays=frozenset({date(2026, 10, 10)}), working_dates=frozenset({date(2026, 10, 10)}))

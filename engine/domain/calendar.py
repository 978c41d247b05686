"""Business time: working days, working hours, holidays and a time zone.

``add`` answers "when does N hours of business time starting now run out?" and
``elapsed`` answers "how much business time lies between these two instants?"; the two are
inverse (property-tested). Nights, weekends and holidays never count, except make-up
working days: Chinese calendars move working days onto weekends around public holidays
(调休), and a weekend date listed in ``working_dates`` is worked like any working day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

MAX_DAYS = 3 * 366  # a calendar with no working time at all must not loop forever


@dataclass(frozen=True)
class BusinessCalendar:
    time_zone: str = "Asia/Shanghai"
    working_days: frozenset[int] = frozenset(range(7))  # Monday = 0
    opens: int = 0  # hour of the day
    closes: int = 24
    holidays: frozenset[date] = field(default_factory=frozenset)
    working_dates: frozenset[date] = field(default_factory=frozenset)  # make-up working days

    def __post_init__(self) -> None:
        if not 0 <= self.opens < self.closes <= 24:
            raise ValueError("working hours must satisfy 0 <= opens < closes <= 24")
        if not self.working_days or not self.working_days <= set(range(7)):
            raise ValueError("working days are a non-empty set of weekday numbers 0-6")
        if self.holidays & self.working_dates:
            clash = ", ".join(sorted(d.isoformat() for d in self.holidays & self.working_dates))
            raise ValueError(f"{clash} cannot be both a holiday and a make-up working day")

    def works_on(self, day: date) -> bool:
        return day in self.working_dates or (day.weekday() in self.working_days and day not in self.holidays)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def _windows(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows from the local day containing ``start`` onwards."""
        day = start.astimezone(self.tz).date()
        for _ in range(MAX_DAYS):
            if self.works_on(day):
                opens = datetime.combine(day, time(self.opens), tzinfo=self.tz)
                closes = (datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz) if self.closes == 24
                          else datetime.combine(day, time(self.closes), tzinfo=self.tz))
                yield opens, closes
            day += timedelta(days=1)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of business time, counted from ``start``, runs out."""
        remaining = duration
        for opens, closes in self._windows(start):
            begin = max(opens, start)
            if begin >= closes:
                continue
            if remaining <= closes - begin:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= closes - begin
        raise ValueError(f"{duration} of business time does not fit in {MAX_DAYS} days of this calendar")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants (zero if ``end`` is not after ``start``)."""
        total = timedelta(0)
        if end <= start:
            return total
        for opens, closes in self._windows(start):
            if opens >= end:
                break
            overlap = min(closes, end) - max(opens, start)
            if overlap > timedelta(0):
                total += overlap
        return total

    def spec(self) -> dict[str, object]:
        return {"time_zone": self.time_zone, "working_days": sorted(self.working_days), "opens": self.opens,
                "closes": self.closes, "holidays": sorted(d.isoformat() for d in self.holidays),
                "working_dates": sorted(d.isoformat() for d in self.working_dates)}

    @classmethod
    def from_spec(cls, spec: dict[str, object]) -> BusinessCalendar:
        return cls(time_zone=str(spec["time_zone"]), working_days=frozenset(spec["working_days"]),  # type: ignore[arg-type]
                   opens=int(spec["opens"]), closes=int(spec["closes"]),  # type: ignore[arg-type]
                   holidays=frozenset(date.fromisoformat(d) for d in spec["holidays"]),  # type: ignore[union-attr]
                   # Clocks started before make-up days existed stored none.
                   working_dates=frozenset(date.fromisoformat(d) for d in spec.get("working_dates", ())))  # type: ignore[attr-defined]


def with_holidays(targets: dict[str, tuple[BusinessCalendar, timedelta] | None], holidays: frozenset[date],
                  working_dates: frozenset[date] = frozenset()) -> dict[str, tuple[BusinessCalendar, timedelta] | None]:
    """The tier targets with public holidays and make-up working days added to every
    working-day calendar (not 7x24, which works every day anyway)."""
    return {tier: None if target is None else (
        target[0] if len(target[0].working_days) == 7 and target[0].closes - target[0].opens == 24 else
        replace(target[0], holidays=target[0].holidays | holidays,
                working_dates=target[0].working_dates | working_dates), target[1])
        for tier, target in targets.items()}


# Service tiers (seed 001): VIP is served 5x8 and resolved within one working day; SVIP 7x24
# within 4 hours; basic is warranty service with no resolution clock.
TIER_TARGETS: dict[str, tuple[BusinessCalendar, timedelta] | None] = {
    "basic": None,
    "vip": (BusinessCalendar(working_days=frozenset(range(5)), opens=9, closes=17), timedelta(hours=8)),
    "svip": (BusinessCalendar(), timedelta(hours=4)),
}

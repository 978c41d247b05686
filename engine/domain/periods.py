"""Settlement periods: a calendar month in the business time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from engine.domain.errors import InvalidCommand


def period_bounds(period: str, zone: str) -> tuple[datetime, datetime]:
    """A settlement period is a calendar month (``2026-11``) in the business time zone."""
    try:
        year, month = (int(p) for p in period.split("-"))
        if len(period) != 7 or not 1 <= month <= 12 or not 2000 <= year <= 9999:
            raise ValueError
    except ValueError:
        raise InvalidCommand(f"a period is a month written YYYY-MM, not {period!r}") from None
    tz = ZoneInfo(zone)
    start = datetime(year, month, 1, tzinfo=tz)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=tz)
    return start, end

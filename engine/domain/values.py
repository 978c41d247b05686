"""Validation of the plain values commands carry: texts, positions, times, amounts."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, Mapping, overload

from engine.domain.errors import InvalidCommand

MAX_TEXT = 2000
# The largest amount of money any command carries (fees, payments, refunds, compensation):
# the one limit; the HTTP schema takes it from here.
MAX_AMOUNT = Decimal("1000000.00")


@overload
def text(value: Any, field: str, *, required: Literal[True] = True, limit: int = MAX_TEXT) -> str: ...


@overload
def text(value: Any, field: str, *, required: bool, limit: int = MAX_TEXT) -> str | None: ...


def text(value: Any, field: str, *, required: bool = True, limit: int = MAX_TEXT) -> str | None:
    """A stripped string of at most ``limit`` characters; None only when not required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidCommand(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise InvalidCommand(f"{field} must be a string")
    if len(value) > limit:
        raise InvalidCommand(f"{field} is longer than {limit} characters")
    return value.strip()


def position(position: Mapping[str, Any] | None) -> dict[str, float] | None:
    if position is None:
        return None
    try:
        lat, lng = float(position["lat"]), float(position["lng"])
    except (KeyError, TypeError, ValueError):
        raise InvalidCommand("position needs numeric 'lat' and 'lng'") from None
    if not (math.isfinite(lat) and math.isfinite(lng)) or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        raise InvalidCommand(f"position ({lat}, {lng}) is not a point on Earth")
    return {"lat": lat, "lng": lng}


def moment(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidCommand(f"{field} must be a date-time with a UTC offset")
    return value


def money(value: Any, field: str) -> str:
    """Amounts travel as decimal strings with two places: never floats."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise InvalidCommand(f"{field} must be a decimal amount") from None
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise InvalidCommand(f"{field} must be between 0 and {MAX_AMOUNT}")
    return str(amount.quantize(Decimal("0.01")))

"""A field job's vocabulary and the limits its rules apply: kinds, who asks, fault causes and who
pays for them, and the configured defaults for notice and device times."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType
from typing import Mapping

KINDS = ("installation", "repair", "follow_up_visit", "consumable_replacement")
INITIATORS = ("customer", "engineer", "operator")
FAULT_CAUSES = ("weather_conditions", "installation_error", "customer_misuse", "product_quality")
ROUTINGS = ("operator_choice", "original_installer", "redispatch")
MAX_WINDOW = timedelta(hours=12)
CLOSED = ("completed", "self_installed", "cancelled_at_door")
# Who pays for a repair, by its fault cause: the recorded rule unless configured otherwise.
# Only misuse (and, outside warranty, weather) is the customer's; the others are the
# installer's (deducted from their account) or the maker's.
PAYERS = ("customer", "installer", "manufacturer")
DEFAULT_REPAIR_LIABILITY: Mapping[str, str] = MappingProxyType({
    "installation_error": "installer", "product_quality": "manufacturer", "customer_misuse": "customer",
    "weather_conditions": "customer"})
# Device clocks drift: a device time up to this far ahead of the server reads as the receive time.
DEVICE_CLOCK_SKEW = timedelta(minutes=2)
DEFAULT_MAX_DEVICE_AGE = timedelta(hours=24)
DEFAULT_MIN_NOTICE = timedelta(hours=4)

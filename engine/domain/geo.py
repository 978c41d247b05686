"""Distances on Earth, for verifying that a check-in happened at the customer's site."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def distance_m(a: dict[str, float], b: dict[str, float]) -> float:
    """Great-circle (haversine) distance in metres between two {lat, lng} points."""
    lat1, lat2 = math.radians(a["lat"]), math.radians(b["lat"])
    dlat = lat2 - lat1
    dlng = math.radians(b["lng"] - a["lng"])
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))

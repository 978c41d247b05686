"""The tracking view reads what v2 order events say, and falls back on the delivery rules for
v1 events stored before they said it (docs/events.md), fed events without a broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections.tracking import OrderTracking, TrackingReads
from sqlstore.sqldb import Database
from tests.projections import fed_views

ORDER = "7d0c2f7e-0000-4000-8000-000000000001"


def envelope(kind: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    return fed_views.envelope("orders", ORDER, kind, version, data)


class Reads(TrackingReads):
    def __init__(self, db: Database) -> None:
        self.db = db


def fed(tmp_path: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    order = Reads(fed_views.fed(tmp_path, OrderTracking(), events)).order(ORDER)
    assert order is not None
    return order


PLACED = envelope("OrderPlaced", 1, {"customer_id": "c", "tier": "vip", "delivery_address": "1 Road",
                                     "site_location": None, "items": [{"sku": "WP-500", "quantity": 1}]})


def test_v1_events_fall_back_on_the_delivery_rules(tmp_path: Path) -> None:
    order = fed(tmp_path, [
        PLACED,
        *(envelope("DeliveryStepRecorded", v, {"step": s, "driver": "Zhao" if s == "driver_assigned" else None,
                                               "position": None, "note": None})
          for v, s in ((2, "stock_prepared"), (3, "left_warehouse"), (4, "driver_assigned"))),
        envelope("IncidentReported", 5, {"incident_id": "i1", "kind": "weather", "description": "storm"}),
        envelope("IncidentResolved", 6, {"incident_id": "i1", "resolution": "redispatched", "note": None}),
    ])
    assert (order["status"], order["current_step"], order["driver"], order["next_steps"]) == (
        "in_delivery", "left_warehouse", None, ["driver_assigned"])
    assert order["incidents"] == [{"incident_id": "i1", "kind": "weather", "description": "storm",
                                   "status": "redispatched"}]


def test_v2_events_are_read_as_they_say(tmp_path: Path) -> None:
    # Whatever the view would have derived, what the event says wins.
    order = fed(tmp_path, [
        PLACED,
        envelope("DeliveryStepRecorded", 2, {"step": "stock_prepared", "driver": None, "position": None, "note": None,
                                             "status": "in_delivery", "next_steps": ["left_warehouse"]}),
        envelope("IncidentReported", 3, {"incident_id": "i1", "kind": "weather", "description": "storm",
                                         "status": "incident_open"}),
        envelope("IncidentResolved", 4, {"incident_id": "i1", "resolution": "resolved", "note": None,
                                         "status": "in_delivery", "step": "stock_prepared",
                                         "next_steps": ["left_warehouse"]}),
    ])
    assert (order["status"], order["current_step"], order["next_steps"], order["version"]) == (
        "in_delivery", "stock_prepared", ["left_warehouse"], 4)

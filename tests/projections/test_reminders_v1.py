"""The reminders view reads a v2 decline's dates as the event says them, and applies the
decline rule only to v1 events stored before they said them (docs/events.md), fed events
without a broker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections.followups import FollowUpBoard, FollowUpReads
from sqlstore.sqldb import Database
from tests.projections import fed_views

REMINDER = "7d0c2f7e-0000-4000-8000-0000000000aa"


def envelope(kind: str, version: int, data: dict[str, Any]) -> dict[str, Any]:
    return fed_views.envelope("reminders", REMINDER, kind, version, data)


class Reads(FollowUpReads):
    def __init__(self, db: Database) -> None:
        self.db = db


def fed(tmp_path: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    reminder = Reads(fed_views.fed(tmp_path, FollowUpBoard(), events)).reminder(REMINDER)
    assert reminder is not None
    return reminder


# Two filters, the second due later than the first: a decline postpones only what is due.
HISTORY = [
    envelope("ReminderScheduled", 1, {"customer_id": "c", "installation_job_id": "j", "product": {"sku": "WP-500"},
                                      "consumables": ["pp", "ro"], "interval_days": 90, "site_address": "1 Road",
                                      "site_location": None, "due_at": "2027-03-01T00:00:00+00:00"}),
    envelope("ReminderRenewed", 2, {"due_at": "2027-03-01T00:00:00+00:00",
                                    "consumables": {"pp": "2027-03-01T00:00:00+00:00",
                                                    "ro": "2027-06-01T00:00:00+00:00"}}),
    envelope("ReminderDue", 3, {"round": 2}),
]


def test_a_v1_decline_postpones_what_was_due_and_keeps_later_dates(tmp_path: Path) -> None:
    reminder = fed(tmp_path, [*HISTORY, envelope("ReminderDeclined", 4, {"next_due_at": "2027-04-01T00:00:00+00:00"})])
    assert reminder["due"] == {"pp": "2027-04-01T00:00:00+00:00", "ro": "2027-06-01T00:00:00+00:00"}
    assert (reminder["due_at"], reminder["status"], reminder["round"]) == ("2027-04-01T00:00:00+00:00", "scheduled", 3)


def test_a_v2_decline_is_read_as_it_says(tmp_path: Path) -> None:
    # Dates the v1 rule would not give: what the event says wins.
    said = {"pp": "2027-05-01T00:00:00+00:00", "ro": "2027-05-02T00:00:00+00:00"}
    reminder = fed(tmp_path, [*HISTORY, envelope("ReminderDeclined", 4, {
        "next_due_at": "2027-04-01T00:00:00+00:00", "due_at": "2027-05-01T00:00:00+00:00", "consumables": said})])
    assert reminder["due"] == said and reminder["due_at"] == "2027-05-01T00:00:00+00:00"
    assert reminder["due_consumables"] == ["pp"]

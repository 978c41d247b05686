"""The customer file fed events directly (no broker): the language a customer reads is kept
whichever of their events reaches the view first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from projections.customer_file import CustomerFile
from projections.queries import Views
from sqlstore.sqldb import Database


def envelope(kind: str, data: dict[str, Any], position: int, subject: str = "c-1") -> dict[str, Any]:
    return {"type": f"serviceorder.customers.{kind}", "data": data, "subject": subject, "position": position,
            "time": f"2026-11-0{position}T09:00:00+00:00", "source": "serviceorder/customers"}


REGISTERED = envelope("CustomerRegistered", {"customer_id": "cust-lang", "name": "Chen Jing", "phone": "13800000000",
                                             "address": "88 Zhangjiang Road"}, 1)
PREFERRED = envelope("LanguagePreferred", {"customer_id": "cust-lang", "language": "zh"}, 2)


def applied(tmp_path: Path, *events: dict[str, Any]) -> Views:
    db = Database(str(tmp_path / f"views-{len(list(tmp_path.iterdir()))}.sqlite"))
    view = CustomerFile()
    view.create(db)
    with db.transaction() as cur:
        for event in events:
            view.apply(cur, event)
    return Views(db)


def test_a_language_preferred_before_any_other_event_is_kept(tmp_path: Path) -> None:
    for events in ((REGISTERED, PREFERRED), (PREFERRED, REGISTERED)):
        views = applied(tmp_path, *events)
        assert views.customer_language("cust-lang") == "zh", [short["type"] for short in events]
        found = views.customer_file("cust-lang")
        assert found is not None and found["name"] == "Chen Jing" and found["language"] == "zh"
        assert [c["customer_id"] for c in views.search_customers("zhangjiang")] == ["cust-lang"]


def test_a_language_alone_makes_a_file_the_contact_details_join(tmp_path: Path) -> None:
    views = applied(tmp_path, PREFERRED)
    assert views.customer_language("cust-lang") == "zh"
    found = views.customer_file("cust-lang")
    assert found is not None and found["name"] is None and found["language"] == "zh"

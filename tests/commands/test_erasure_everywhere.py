"""Erasure reaches everything: after a customer's erasure no table of the views database
holds any of their personal values (tracking history included), and the topics never held
them in clear: personal fields travel sealed under the customer's key, which an entitled
consumer opens with streams.sealed until the erasure destroys it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.store.personal import ERASED
from sqlstore.keystore import SqlKeyStore
from streams.sealed import PersonalFields
from sqlstore.sqldb import Database
from tests.commands.test_field_story import eventually, ok
from tests.commands.view_reads import when_shown
from tests.kafka_helpers import consume_all, envelopes
from tests.projections.topic_order import stop_when_caught_up

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

NAME, PHONE, HOME = "Qian Erasable", "13912345678", "5 Vanishing Lane"
DELIVERY, SITE = "77 Forgotten Road", {"lat": 30.271828, "lng": 120.314159}
PERSONAL = (NAME, PHONE, HOME, DELIVERY, "30.271828", "120.314159")
TOPICS = ("orders", "jobs", "customers", "calls", "privacy")


def every_view_table(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the views database, bookkeeping included, with all its rows."""
    with db.transaction() as cur:
        if db.dialect == "postgres":
            names = [r[0] for r in cur.execute("SELECT table_name FROM information_schema.tables "
                                               "WHERE table_schema = current_schema()").fetchall()]
        else:
            names = [r[0] for r in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
        return {name: cur.execute(f"SELECT * FROM {name}").fetchall() for name in names}


def leaks(tables: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    return [f"{table}: {value!r} in {row!r}"[:300] for table, found in tables.items() for row in found
            for value in PERSONAL if value in repr(row)]


def test_no_view_table_keeps_a_personal_value_after_an_erasure(client: TestClient, runtime: Runtime) -> None:
    ok(client.post("/customers", json={"customer_id": "cust-x", "name": NAME, "phone": PHONE, "address": HOME}),
       201)
    order = {"customer_id": "cust-x", "tier": "vip", "delivery_address": DELIVERY, "site_location": SITE,
             "items": [{"sku": "WP-500", "needs_installation": True, "consumables": ["RO membrane"]}]}
    order_id = ok(client.post("/orders", json=order), 201)["order_id"]
    for step in ({"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Zhao"},
                 {"step": "in_transit", "position": {"lat": 30.0, "lng": 120.0}}):
        ok(client.post(f"/orders/{order_id}/delivery-steps", json=step))
    (job_id,) = ok(client.post(f"/orders/{order_id}/delivery-steps", json={"step": "delivered"}))["job_ids"]
    ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": "li"}))
    ok(client.post("/calls", json={"phone": PHONE, "answered": False, "customer_id": "cust-x"}), 201)
    ok(client.post("/orders", json={**order, "customer_id": "cust-keep", "delivery_address": "1 Staying Street",
                                     "site_location": {"lat": 31.5, "lng": 121.5}}),
       201)
    # Before the erasure the views show the data (the views entitled to it open it).
    when_shown(client, f"/orders/{order_id}/tracking", lambda t: DELIVERY in str(t))
    when_shown(client, "/customers/cust-x/file", lambda f: f.get("name") == NAME)
    eventually(lambda: any(j["site_address"] == DELIVERY for j in ok(client.get("/engineers/li/agenda"))["jobs"]))

    ok(client.post("/customers/cust-x/erasure", json={"reason": "customer request #DSR-19"}))
    when_shown(client, "/customers/cust-x/file", lambda f: f.get("name") == ERASED)
    stop_when_caught_up(runtime)

    tables = every_view_table(runtime.views_db)
    assert {"tracking_history", "timeline_entries", "customer_files", "agenda_jobs", "call_backs"} <= set(tables)
    assert leaks(tables) == []
    tracking = [r for r in tables["tracking_history"] if r[0] == order_id and r[2] == "OrderPlaced"]
    assert len(tracking) == 1 and ERASED in repr(tracking[0])
    # Another customer's data is untouched.
    assert "1 Staying Street" in repr(tables["tracking_history"])

    # On the topics the personal fields were never in clear; opened now, they read erased.
    kafka = runtime.start_kafka()
    published = [env for category in TOPICS
                 for env in envelopes(consume_all(kafka.bootstrap_servers, kafka.topic(category)))]
    assert published and not [v for v in PERSONAL if v in repr(published)]
    fields = PersonalFields(SqlKeyStore(runtime.keys_db))  # type: ignore[arg-type]
    placed = next(e for e in published if e["type"].endswith("OrderPlaced") and e["subject"] == order_id)
    assert placed["data"]["delivery_address"]["_pii_"] == 1
    opened = fields.open(placed)["data"]
    assert opened["delivery_address"] == ERASED and opened["site_location"] is None
    kept = next(e for e in published if e["type"].endswith("OrderPlaced") and e["data"]["customer_id"] == "cust-keep")
    assert fields.open(kept)["data"]["delivery_address"] == "1 Staying Street"

    # A rebuild from the topics after the erasure brings nothing back.
    for projection in runtime.projections(["order_tracking", "customer_timeline", "customer_file"]):
        worker = runtime.worker(projection)
        worker.rebuild()
        worker.close()
    assert leaks(every_view_table(runtime.views_db)) == []

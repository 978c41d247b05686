"""Personal data sealing at the store: events and snapshots hold ciphertext, replays read
the data back until the customer's key is destroyed, then read [erased]; tampering with a
sealed field is refused, and a sealed value cannot be moved to another field."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Iterator

import pytest
from cryptography.exceptions import InvalidTag

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.application.context import CommandContext
from engine.store.personal import ERASED, PersonalData
from sqlstore.keystore import SqlKeyStore
from sqlstore.sqldb import Database

CTX = CommandContext.new(reason="test")
ADDRESS = "9 Hill Street, Flat 3"


@pytest.fixture
def app(tmp_path: Path) -> Iterator[ServiceOrderApp]:
    application = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(tmp_path / "events.sqlite"))))
    keys_db = Database(str(tmp_path / "keys.sqlite"))
    application.seal_personal_data(SqlKeyStore(keys_db, cache_seconds=0))
    yield application
    application.close()
    keys_db.close()


def test_events_and_snapshots_are_sealed_and_erasure_reaches_both(app: ServiceOrderApp) -> None:
    order = app.place_order(CTX, customer_id="cust-s", items=[{"sku": "WP-500"}], tier="basic",
                            delivery_address=ADDRESS, site_location={"lat": 30.27, "lng": 120.15})
    for step in ("stock_prepared", "left_warehouse", "driver_assigned"):
        app.record_delivery_step(CTX, order.aggregate_id, step, driver="Zhao")
    for n in range(50):  # long enough for a snapshot (every 50 events)
        app.record_delivery_step(CTX, order.aggregate_id, "in_transit", position={"lat": 30 + n / 100, "lng": 120})
    snapshots = list(app.snapshots.recorder.select_events(order.aggregate_id))
    assert snapshots, "the order should have been snapshotted"
    stored = b"".join(s.state for s in app.recorder.select_events(order.aggregate_id)) + snapshots[-1].state
    assert ADDRESS.encode() not in stored and b"120.15" not in stored

    assert app.repository.get(order.aggregate_id).delivery_address == ADDRESS
    app.erase_personal_data(CTX, "cust-s")
    erased = app.repository.get(order.aggregate_id)  # from the snapshot
    assert erased.delivery_address == ERASED and erased.site_location is None
    assert app.repository.get(order.aggregate_id, version=1).delivery_address == ERASED  # from the events
    # The order still works: the next step is recorded and replays.
    app.record_delivery_step(CTX, order.aggregate_id, "delivered")
    assert app.repository.get(order.aggregate_id).status == "delivered"


def test_a_sealed_field_cannot_be_edited_or_moved(app: ServiceOrderApp) -> None:
    personal = app.personal_data
    assert isinstance(personal, PersonalData)
    sealed = personal.seal_state("CustomerRegistered", {"customer_id": "c1", "name": "Li Lei", "phone": "138",
                                                        "address": "1 Road"}, "agg")
    assert sealed["name"]["_pii_"] == 1 and "Li Lei" not in json.dumps(sealed)
    assert personal.open_state(sealed)["name"] == "Li Lei"
    moved = {**sealed, "phone": sealed["name"]}
    with pytest.raises(InvalidTag):
        personal.open_state(moved)
    flipped = dict(sealed["name"])
    raw = bytearray(base64.b64decode(flipped["c"]))
    raw[0] ^= 1
    flipped["c"] = base64.b64encode(bytes(raw)).decode()
    with pytest.raises(InvalidTag):
        personal.open_state({**sealed, "name": flipped})


def test_erasure_needs_sealing_and_a_reason(tmp_path: Path) -> None:
    from engine.domain.errors import InvalidCommand, RuleViolation

    plain = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(tmp_path / "plain.sqlite"))))
    with pytest.raises(RuleViolation):
        plain.erase_personal_data(CTX, "c")
    plain.close()
    sealed = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(tmp_path / "sealed.sqlite"))))
    sealed.seal_personal_data(SqlKeyStore(Database(str(tmp_path / "k.sqlite"))))
    with pytest.raises(InvalidCommand):
        sealed.erase_personal_data(CommandContext.new(), "c")
    sealed.close()

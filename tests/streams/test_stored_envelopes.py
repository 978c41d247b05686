"""The relay's fast envelope (built from the stored bytes) is the careful envelope, byte for
byte, wherever it is taken; upcast, sealed, compressed or odd payloads take the careful way."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import Notification
from eventsourcing.utils import get_topic, resolve_topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.bootstrap import Runtime
from contract.names import PERSONAL_EVENT_FIELDS
from engine.application.context import CommandContext
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.catalogue import PUBLIC_STREAMS
from engine.store.chain import GENESIS, seal
from engine.store.signing import Signer
from sqlstore.keystore import SqlKeyStore
from sqlstore.sqldb import Database
from streams import envelope
from streams.asyncapi import data_fields, event_classes
from streams.stored_envelopes import EnvelopeMaker, NotPlain, careful_envelope, fast_envelope, stored_as_plain_json
from tests.kafka_helpers import consume_all

FIXTURES = sorted((Path(__file__).parent / "event_fixtures").glob("*/*.json"))
CURRENT = [(aggregate, cls) for aggregate in PUBLIC_STREAMS.values() for cls in event_classes(aggregate)]
SIGNER = Signer.generate()


def message(found: tuple[str, dict[str, Any]] | None, n: Notification) -> tuple[str, bytes, str, bytes] | None:
    """What the careful path sends: the topic's category, key, event id, value (headers are constant)."""
    return None if found is None else (found[0], str(n.originator_id).encode(), found[1]["id"],
                                       envelope.encode(found[1]))


def made(maker: EnvelopeMaker, n: Notification) -> tuple[str, bytes, str, bytes] | None:
    """What the relay sends, through its envelope maker."""
    found = maker.message(n)
    return None if found is None else (found[0], str(n.originator_id).encode(), found[1], found[2])


def notification(stored: Any, position: int, signed: bool) -> Notification:
    linked = seal(GENESIS, stored, SIGNER if signed else None)
    return Notification(originator_id=linked.originator_id, originator_version=linked.originator_version,
                        topic=linked.topic, state=linked.state, id=position)


@pytest.fixture(scope="module")
def app() -> ServiceOrderApp:
    return ServiceOrderApp(EngineConfig())


def qualifies(topic: str, stored_version: int) -> bool:
    cls = resolve_topic(topic)
    return cls.__name__ not in PERSONAL_EVENT_FIELDS and stored_version == getattr(cls, "class_version", 1)


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_fixture_event_type_and_version_gives_the_careful_message(app: ServiceOrderApp, path: Path) -> None:
    fixture = json.loads(path.read_text())
    from eventsourcing.persistence import StoredEvent

    stored = StoredEvent(originator_id=UUID("00000000-0000-4000-8000-000000000042"), originator_version=3,
                         topic=fixture["topic"], state=fixture["stored"].encode())
    n = notification(stored, 77, signed=True)
    maker = EnvelopeMaker(app, "/so")
    assert made(maker, n) == message(careful_envelope(app, n, "/so"), n)
    if qualifies(fixture["topic"], fixture["class_version"]):
        assert maker.fast_count == 1
    else:
        # An older version (an upcaster runs) or personal fields (sealed): the careful way.
        with pytest.raises(NotPlain):
            fast_envelope(n, "/so")
        assert (maker.fast_count, maker.careful_count) == (0, 1)


# Values of every JSON shape the store writes, and the three tagged types it transcodes.
_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.floats(-1e17, 1e17), st.text(),
                     st.uuids(),
                     st.decimals(allow_nan=False, allow_infinity=False),
                     st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8)), None])))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                       max_leaves=8)
_meta = st.dictionaries(st.sampled_from(["actor", "request_id", "correlation_id", "causation_id", "reason", "x"]),
                        st.one_of(st.text(max_size=12), st.none()), max_size=6)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
          deadline=None)
@given(event=st.sampled_from(CURRENT), values=st.data(), meta=_meta, version=st.integers(1, 10_000),
       position=st.integers(1, 2**62), signed=st.booleans(), when=st.datetimes(timezones=st.just(timezone.utc)))
def test_fast_envelope_equals_the_careful_one_for_any_values(app: ServiceOrderApp, event: Any, values: Any,
                                                             meta: dict[str, Any], version: int, position: int,
                                                             signed: bool, when: datetime) -> None:
    aggregate, cls = event
    state: dict[str, Any] = {name: values.draw(_values, label=name) for name in data_fields(cls)}
    state.update(originator_id=values.draw(st.uuids(), label="id"), originator_version=version, timestamp=when,
                 meta=meta)
    if issubclass(cls, Aggregate.Created):
        state["originator_topic"] = get_topic(aggregate)
    domain_event = object.__new__(cls)
    object.__setattr__(domain_event, "__dict__", state)
    n = notification(app.mapper.to_stored_event(domain_event), position, signed)
    maker = EnvelopeMaker(app, "/so")
    try:
        careful = message(careful_envelope(app, n, "/so"), n)
    except (TypeError, ValueError):  # what the careful way cannot send, the fast way does not send either
        with pytest.raises((TypeError, ValueError)):
            made(maker, n)
        return
    assert made(maker, n) == careful
    if cls.__name__ in PERSONAL_EVENT_FIELDS:
        assert maker.fast_count == 0


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lat=st.floats(allow_nan=False), lng=st.floats(-180, 180), note=st.text())
def test_positions_give_the_careful_bytes_for_any_float(app: ServiceOrderApp, lat: float, lng: float,
                                                        note: str) -> None:
    """Floats are where orjson and the standard library could write different bytes."""
    from engine.domain.orders import ServiceOrder

    state = {"step": "in_transit", "driver": None, "position": {"lat": lat, "lng": lng}, "note": note,
             "originator_id": UUID(int=7), "originator_version": 9,
             "timestamp": datetime(2026, 11, 30, tzinfo=timezone.utc),
             "meta": {"actor": note}}
    event = object.__new__(getattr(ServiceOrder, "DeliveryStepRecorded"))
    object.__setattr__(event, "__dict__", state)
    n = notification(app.mapper.to_stored_event(event), 3, signed=True)
    maker = EnvelopeMaker(app, "/so")
    try:
        careful = message(careful_envelope(app, n, "/so"), n)
    except ValueError:  # a lone surrogate: neither way sends it
        with pytest.raises((TypeError, ValueError)):
            made(maker, n)
        return
    assert made(maker, n) == careful
    if 1e-4 <= abs(lat) < 1e16 and (lng == 0 or 1e-4 <= abs(lng)):
        assert maker.fast_count == 1


def test_plain_events_take_the_fast_way(app: ServiceOrderApp) -> None:
    from engine.domain.orders import ServiceOrder

    placed = ServiceOrder.place(customer_id="c-1", items=[{"sku": "A", "quantity": 2}], tier="vip",
                                delivery_address="1 Lake Road", meta={"actor": "a", "request_id": "r"})
    for step in ("stock_prepared", "left_warehouse", "driver_assigned"):
        placed.record_step(step, driver="d-1", meta={"actor": "a"})
    placed.record_step("in_transit", position={"lat": 30.0123, "lng": 120.1}, meta={"actor": "a"})
    maker = EnvelopeMaker(app, "/so")
    for k, event in enumerate(placed.collect_events(), 1):
        n = notification(app.mapper.to_stored_event(event), k, signed=True)
        assert made(maker, n) == message(careful_envelope(app, n, "/so"), n)
    assert (maker.fast_count, maker.careful_count) == (4, 1)  # OrderPlaced holds personal fields


def test_sealed_personal_fields_take_the_careful_way_and_stay_sealed(tmp_path: Path) -> None:
    sealing = ServiceOrderApp(EngineConfig())
    sealing.seal_personal_data(SqlKeyStore(Database(str(tmp_path / "keys.sqlite"))))
    from engine.domain.orders import ServiceOrder

    placed = ServiceOrder.place(customer_id="c-1", items=[{"sku": "A"}], tier="vip", delivery_address="1 Lake Road",
                                meta={})
    n = notification(sealing.mapper.to_stored_event(placed.collect_events()[0]), 1, signed=False)
    assert b'"_pii_"' in n.state
    maker = EnvelopeMaker(sealing, "/so")
    found = made(maker, n)
    assert found is not None and json.loads(found[3])["data"]["delivery_address"]["_pii_"] == 1
    assert (maker.fast_count, maker.careful_count) == (0, 1)
    assert found == message(careful_envelope(sealing, n, "/so"), n)


def test_compressed_or_encrypted_stores_take_the_careful_way() -> None:
    compressed = ServiceOrderApp(EngineConfig(env={"PERSISTENCE_MODULE": "eventsourcing.popo",
                                                      "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}))
    assert not stored_as_plain_json(compressed.mapper)
    assert not EnvelopeMaker(compressed, "/so").fast
    assert EnvelopeMaker(ServiceOrderApp(EngineConfig()), "/so").fast
    assert not EnvelopeMaker(ServiceOrderApp(EngineConfig()), "/so", fast=False).fast


def test_tagged_values_the_fast_way_does_not_know_take_the_careful_way() -> None:
    from eventsourcing.persistence import StoredEvent

    from engine.domain.orders import ServiceOrder

    state = {"step": "s", "driver": None, "position": {"_type_": "something_else", "_data_": "x"}, "note": None,
             "timestamp": {"_type_": "datetime_iso", "_data_": "2026-11-22T08:30:00+00:00"}, "meta": {}}
    stored = StoredEvent(originator_id=UUID(int=1), originator_version=2,
                         topic=get_topic(getattr(ServiceOrder, "DeliveryStepRecorded")),
                         state=json.dumps(state).encode())
    with pytest.raises(NotPlain):
        fast_envelope(notification(stored, 5, signed=False), "/so")


def test_the_relay_publishes_fast_envelopes_equal_to_the_careful_ones(runtime: Runtime) -> None:
    ctx = CommandContext.new()
    for n in range(3):
        order = runtime.app.place_order(ctx, customer_id=f"c{n}", items=[{"sku": "A", "quantity": 1}], tier="vip",
                                        delivery_address="1 Lake Road").aggregate_id
        runtime.app.record_delivery_step(ctx, order, "stock_prepared")
        runtime.app.record_delivery_step(ctx, order, "left_warehouse", driver="d-1")
    relay = runtime.relay()
    relay.catch_up()
    relay.close()
    assert (relay.envelopes.fast_count, relay.envelopes.careful_count) == (6, 3)  # OrderPlaced: personal fields
    published = consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic("orders"), expect=9)
    expected = [message(careful_envelope(runtime.app, n, runtime.settings.event_source), n)
                for n in runtime.app.recorder.select_notifications(start=1, limit=100)]
    assert sorted((r.key, r.value) for r in published) == sorted((m[1], m[3]) for m in expected if m is not None)

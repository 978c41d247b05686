"""The CloudEvents envelope: shape, stable ids, refusal of anything else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.domain.orders import ServiceOrder
from streams import envelope


def placed_event() -> object:
    meta = {"actor": "alice", "request_id": "req-1", "correlation_id": "corr-1", "causation_id": "cause-1"}
    order = ServiceOrder.place(customer_id="c-1", items=[{"sku": "A"}], tier="basic", delivery_address="x", meta=meta)
    return order.collect_events()[0]


def test_envelope_is_cloudevents_1_0_with_our_extensions() -> None:
    event = placed_event()
    env = envelope.build(event=event, event_type="OrderPlaced", category="orders", aggregate_type="ServiceOrder",
                         position=42, source_prefix="/serviceorder")
    assert env["specversion"] == "1.0"
    assert env["type"] == "serviceorder.orders.OrderPlaced"
    assert env["source"] == "/serviceorder/orders"
    assert env["subject"] == str(event.originator_id)
    assert env["time"] == event.timestamp.isoformat()
    assert env["datacontenttype"] == "application/json"
    assert env["dataschema"] == "urn:serviceorder:schema:orders:OrderPlaced:v1"
    assert (env["aggregateversion"], env["position"], env["aggregatetype"]) == (1, 42, "ServiceOrder")
    assert (env["actor"], env["requestid"], env["correlationid"], env["causationid"]) == (
        "alice", "req-1", "corr-1", "cause-1")
    assert env["data"]["customer_id"] == "c-1" and "meta" not in env["data"]
    # Extension attribute names must be lower-case alphanumerics (CloudEvents 1.0 §3.1.1).
    assert all(k.isalnum() and k.islower() for k in env)
    assert envelope.decode(envelope.encode(env)) == env


def test_event_id_is_stable_for_the_same_event_and_distinct_otherwise() -> None:
    event = placed_event()
    assert envelope.event_id(event.originator_id, 1) == envelope.event_id(str(event.originator_id), 1)
    assert envelope.event_id(event.originator_id, 1) != envelope.event_id(event.originator_id, 2)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"specversion": "1.0"}', "missing attributes"),
        (b'{"specversion":"0.3","id":1,"source":1,"type":1,"subject":1,"time":1,"aggregateversion":1,'
         b'"position":1,"data":{}}', "unsupported specversion"),
    ],
)
def test_malformed_envelopes_are_refused(raw: bytes, message: str) -> None:
    with pytest.raises(envelope.MalformedEnvelope, match=message):
        envelope.decode(raw)


@given(st.one_of(st.uuids(), st.text(max_size=40)), st.integers(min_value=0, max_value=2**63 - 1))
def test_event_ids_are_the_uuid5_of_aggregate_and_version(aggregate_id: object, version: int) -> None:
    from uuid import NAMESPACE_URL, uuid5

    from streams.envelope import event_id

    expected = str(uuid5(uuid5(NAMESPACE_URL, "urn:serviceorder:event"), f"{aggregate_id}:{version}"))
    assert event_id(aggregate_id, version) == expected  # type: ignore[arg-type]

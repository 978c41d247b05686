"""Views whose rows merge several aggregates decide by the events' store positions and
times, never by the order events happen to be applied in: rebuilt with their partitions
read in different orders they hold identical rows."""

from __future__ import annotations

from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from commands.api.app import create_app
from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from tests.commands.conftest import AUTH
from tests.commands.test_field_story import ok
from tests.commands.test_settlement_month import installation
from tests.projections.test_worker import rows
from tests.projections.topic_order import (in_store_order, replay_aggregate_by_aggregate, replay_in_store_order,
                                          replay_topic_by_topic)

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)


@pytest.fixture
def api(runtime: Runtime) -> Iterator[TestClient]:
    runtime.tokens.add("li-token-0123456789ab", "li", ["engineer"])
    with TestClient(create_app(runtime), headers=AUTH) as c:
        yield c


def order(client: TestClient, customer: str, address: str) -> None:
    ok(client.post("/orders", json={"customer_id": customer, "tier": "basic", "delivery_address": address,
                                    "items": [{"sku": "FL-10"}]}), 201)


def register(client: TestClient, customer: str, address: str) -> None:
    ok(client.post("/customers", json={"customer_id": customer, "name": f"Name of {customer}", "phone": "1234567",
                                       "address": address}), 201)


def test_views_merging_aggregates_rebuild_the_same_in_any_partition_order(api: TestClient, runtime: Runtime,
                                                                           clock: ManualClock) -> None:
    register(api, "cust-reg", "1 Registered Road")
    for n in range(3):
        order(api, "cust-reg", f"{n} Elsewhere")
        order(api, "cust-anon", f"{n} Anon Street")  # never registered: the last order's address
        order(api, "cust-late", f"{n} Before Registration")
    register(api, "cust-late", "9 Registered Late")
    for when in ("Before", "After"):
        if when == "After":
            ok(api.post("/customers/cust-gone/erasure", json={"reason": "request"}))
        order(api, "cust-gone", f"{1 + (when == 'After')} {when} Erasure")
        ok(api.post("/calls", json={"phone": f"555-{when}", "answered": False, "customer_id": "cust-gone"}), 201)
        ok(api.post("/jobs", json={"kind": "repair", "customer_id": "cust-gone", "product": {"sku": "FL-10"},
                                   "site_address": f"Site {when} Erasure"}), 201)
    installation(api, clock, "li", "cust-anon")
    order(api, "cust-anon", "4 Anon Street Last")

    merging = [p for p in runtime.projections() if len(p.categories) > 1]
    assert {"customer_file", "customer_timeline", "order_tracking"} <= {p.name for p in merging}
    envelopes = in_store_order(runtime)
    for projection in merging:
        replay_in_store_order(runtime, projection, envelopes)
        expected = {t: rows(runtime.views_db, t) for t in projection.tables}
        replay_topic_by_topic(runtime, projection, list(projection.categories))
        assert {t: rows(runtime.views_db, t) for t in projection.tables} == expected, projection.name
        forwards, backwards = list(projection.categories), list(reversed(projection.categories))
        for categories in (forwards, backwards):
            for reverse in (False, True):
                replay_aggregate_by_aggregate(runtime, projection, categories, reverse)
                got = {t: rows(runtime.views_db, t) for t in projection.tables}
                differing = {t: ([r for r in got[t] if r not in expected[t]][:3],
                                 [r for r in expected[t] if r not in got[t]][:3])
                             for t in expected if got[t] != expected[t]}
                assert differing == {}, (projection.name, categories, reverse)

    files = {r[0]: r for r in rows(runtime.views_db, "customer_files")}
    assert files["cust-anon"][3] == "4 Anon Street Last"
    assert files["cust-reg"][3] == "1 Registered Road" and files["cust-late"][3] == "9 Registered Late"
    # Erased what was given before the erasure; the order placed since brought a new address.
    assert files["cust-gone"][1:4] == (None, None, "2 After Erasure")
    everything = repr([rows(runtime.views_db, t) for p in merging for t in p.tables])
    assert "Before Erasure" not in everything and "555-Before" not in everything
    assert "Site After Erasure" in everything and "555-After" in everything

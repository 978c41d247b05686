"""Erasing a customer's personal data on request: sealed per customer in the store, gone from
every view and replay after the erasure, while the history and its hash chains stay intact
and another customer's data is untouched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.store.audit import Audit
from engine.domain.clock import ManualClock
from engine.domain.customers import customer_uuid
from engine.store.personal import ERASED
from tests.commands.test_audit_api import VERIFIER
from tests.commands.test_field_story import eventually, ok
from tests.commands.test_settlement_month import installation
from tests.commands.view_reads import read_settled, when_shown
from tests.projections.test_worker import rows
from tests.projections.topic_order import stop_when_caught_up

NAME, PHONE, ADDRESS = "Wang Xiaoming", "13800138000", "88 Plum Lane"


def register(client: TestClient, customer_id: str, name: str) -> None:
    ok(client.post("/customers", json={"customer_id": customer_id, "name": name, "phone": PHONE,
                                       "address": ADDRESS}), 201)


def raw_store_bytes(runtime: Runtime) -> bytes:
    out = b""
    position = 0
    while notes := runtime.app.recorder.select_notifications(start=position + 1, limit=1_000):
        position = notes[-1].id
        out += b"".join(n.state for n in notes)
    return out


def test_personal_data_is_erased_and_the_history_still_verifies(client: TestClient, runtime: Runtime,
                                                                clock: ManualClock, tmp_path: Path) -> None:
    runtime.tokens.add("li-token-0123456789ab", "li", ["engineer"])
    register(client, "cust-gone", NAME)
    register(client, "cust-stays", "Zhao Li")
    done = installation(client, clock, "li", "cust-gone")
    installation(client, clock, "li", "cust-stays")

    # Sealed in the store from the start: the plain name is nowhere in the stored bytes.
    stored = raw_store_bytes(runtime)
    assert NAME.encode() not in stored and b"12 Lake Road" not in stored
    assert ok(read_settled(client, runtime, f"/jobs/{done['job_id']}"))["site_address"] == "12 Lake Road"
    eventually(lambda: ok(client.get("/customers", params={"q": "xiaoming"}))["customers"])

    # Only an admin erases, and only with a reason.
    operator = {"Authorization": "Bearer ops-token-0123456789ab"}
    runtime.tokens.add("ops-token-0123456789ab", "olga", ["operator"])
    assert client.post("/customers/cust-gone/erasure", json={"reason": "x"}, headers=operator).status_code == 403
    assert client.post("/customers/cust-gone/erasure", json={}).status_code == 422
    erased = ok(client.post("/customers/cust-gone/erasure", json={"reason": "customer request #DSR-7"}))
    assert erased["keys_destroyed"] == 1

    # Every view that held it: customer file, search, agenda, visit sites, timeline.
    when_shown(client, "/customers/cust-gone/file", lambda f: f["name"] == ERASED)
    file = ok(client.get("/customers/cust-gone/file"))
    assert file["phone"] == ERASED and file["address"] == ERASED
    assert ok(client.get("/customers", params={"q": "xiaoming"}))["customers"] == []
    timeline = eventually(lambda: (t := ok(client.get("/customers/cust-gone/timeline"))["entries"])
                          and "Personal data erased" in t[-1]["summary"] and t)
    text = str(timeline)
    assert NAME not in text and "12 Lake Road" not in text and PHONE not in text
    def sites() -> dict[str, str]:
        return {j["customer_id"]: j["site_address"] for j in ok(client.get("/engineers/li/agenda"))["jobs"]}

    by_customer = eventually(lambda: (s := sites()).get("cust-gone") == ERASED and s)
    assert by_customer["cust-stays"] == "12 Lake Road"
    for table in ("visit_sites", "customer_files", "agenda_jobs", "timeline_entries"):
        assert NAME not in str(rows(runtime.views_db, table))

    # Replays after the erasure: the aggregate and a fresh rebuild read [erased].
    job = ok(read_settled(client, runtime, f"/jobs/{done['job_id']}"))
    assert job["site_address"] == ERASED
    customer = runtime.app.repository.get(customer_uuid("cust-gone"))
    assert (customer.name, customer.phone, customer.address) == (ERASED, ERASED, ERASED)
    assert runtime.app.repository.get(customer_uuid("cust-stays")).name == "Zhao Li"
    stop_when_caught_up(runtime)
    incremental = rows(runtime.views_db, "customer_files")
    for projection in runtime.projections(["customer_file"]):
        worker = runtime.worker(projection)
        worker.rebuild()
        worker.close()
    assert rows(runtime.views_db, "customer_files") == incremental

    # The history is whole and every chain verifies; the bundle verifies without the service.
    audit = Audit(runtime.app)
    assert audit.verify_all()["intact"] is True
    history = audit.history(customer_uuid("cust-gone"))
    assert history["chain"]["intact"] and history["events"][0]["data"]["name"] == ERASED
    bundle = tmp_path / "customer.audit"
    bundle.write_bytes(audit.bundle(customer_uuid("cust-gone"), runtime.app.clock.now()))
    assert subprocess.run([sys.executable, "-I", str(VERIFIER), str(bundle)], capture_output=True).returncode == 0


def test_erasing_twice_is_recorded_again_and_new_data_gets_a_new_key(client: TestClient, runtime: Runtime) -> None:
    register(client, "cust-back", NAME)
    assert ok(client.post("/customers/cust-back/erasure", json={"reason": "request 1"}))["keys_destroyed"] == 1
    ok(client.patch("/customers/cust-back", json={"name": "Wang Back"}))
    assert runtime.app.repository.get(customer_uuid("cust-back")).name == "Wang Back"
    again = ok(client.post("/customers/cust-back/erasure", json={"reason": "request 2"}))
    assert again["keys_destroyed"] == 1 and again["version"] == 2
    assert runtime.app.repository.get(customer_uuid("cust-back")).name == ERASED
    # A customer with no personal data on record is still recorded as erased (0 keys).
    assert ok(client.post("/customers/nobody/erasure", json={"reason": "request 3"}))["keys_destroyed"] == 0


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_an_old_event_read_after_the_erasure_is_scrubbed_too(runtime: Runtime) -> None:
    """Topics arrive in any order: the customer's file built from the customers topic after
    the privacy topic was read is erased as soon as it is written."""
    from engine.application.context import CommandContext
    from tests.projections.topic_order import envelopes_by_category

    runtime.app.register_customer(CommandContext.new(), customer_id="cust-late", name=NAME, phone=PHONE,
                                  address=ADDRESS)
    events = envelopes_by_category(runtime)  # read *before* the erasure: plaintext, as on the topic
    runtime.app.erase_personal_data(CommandContext.new(reason="request"), "cust-late")
    erasure = envelopes_by_category(runtime)["privacy"]
    projection = runtime.projections(["customer_file"])[0]
    projection.drop(runtime.views_db)
    with runtime.views_db.transaction() as cur:
        for env in erasure + events["customers"]:
            projection.apply(cur, env)
    assert NAME not in str(rows(runtime.views_db, "customer_files"))

"""The customer's lawyer checks a claim's bundle with tools/verify_bundle.py after someone
edited it (and redid the SHA-256 in its first line): each edit the issue lists is refused,
and the bundle carries nothing of other customers but hashes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.store.audit import Audit
from engine.domain.clock import ManualClock
from engine.store.signing import Signer
from sqlstore.keystore import SqlKeyStore
from sqlstore.sqldb import Database
from tests.engine.store.evidence_fixtures import CTX, disputed_claim, edited, verify_bundle


@pytest.fixture
def app(tmp_path: Path) -> Any:
    keys = Database(str(tmp_path / "keys.sqlite"))
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(tmp_path / "events.sqlite")),
                                       clock=ManualClock(), signer=Signer.generate(), key_store=SqlKeyStore(keys)))
    yield app
    app.close()
    keys.close()


def exported(app: ServiceOrderApp, tmp_path: Path) -> tuple[dict[str, UUID], bytes]:
    """The flooded-floor claim, its complaint naming the order, and (correlated with it by a
    case number) one event of another customer's complaint, whose other events are not ours."""
    order = app.place_order(CTX, customer_id="c1", items=[{"sku": "WP-500", "quantity": 1}], tier="vip",
                            delivery_address="12 Lake Road").aggregate_id
    complaint = app.file_complaint(CTX, customer_id="c1", category="product_quality",
                                   description="the floor is flooded", order_id=str(order)).aggregate_id
    claim = app.open_claim(CTX.because("water"), complaint, damage="wooden floor").aggregate_id
    app.propose_compensation(CTX, claim, amount="3000", facts=[])
    _, other_claim = disputed_claim(app, customer="someone-else")
    other = UUID(Audit(app).history(other_claim)["events"][0]["data"]["complaint_id"])
    audit = Audit(app)
    story = audit.claim_story(claim, lambda c, r: [(str(other), 1, "correlated")])
    return {"claim": claim, "complaint": complaint, "order": order, "other": other}, audit.bundle(story, app.clock.now())


def check(tmp_path: Path, raw: bytes, *args: str) -> tuple[int, str]:
    path = tmp_path / "bundle.audit"
    path.write_bytes(raw)
    result = verify_bundle(path, *args)
    return result.returncode, result.stdout + result.stderr


def test_the_bundle_verifies_and_shares_nothing_of_other_customers(app: ServiceOrderApp, tmp_path: Path) -> None:
    ids, raw = exported(app, tmp_path)
    code, out = check(tmp_path, raw)
    assert code == 0, out
    assert "4 chains" in out and "of others as hash only" in out and "from the bundle itself" in out
    body = json.loads(raw.partition(b"\n")[2])
    other = next(c for c in body["chains"] if c["aggregate_id"] == str(ids["other"]))
    assert other["relation"] == "correlated"
    assert [e.get("withheld", False) for e in other["events"]] == [False] + [True] * (len(other["events"]) - 1)
    assert set(other["events"][1]) == {"version", "topic", "withheld", "previous", "payload_sha256", "hash",
                                       "key_id", "signature"}
    stored = b"".join(base64.b64decode(e["stored"]) for c in body["chains"] for e in c["events"] if "stored" in e)
    # The other customer's claim (its amounts, its dispute) appears nowhere, not even in stored bytes.
    assert b"the floor cost 8000" not in raw and b"the floor cost 8000" not in stored
    # Personal fields are withheld in the readable copy (sealed in the signed bytes).
    order = next(c for c in body["chains"] if c["aggregate_id"] == str(ids["order"]))
    assert order["events"][0]["view"]["data"]["delivery_address"] == {
        "withheld": "personal data, sealed under the customer's key"}
    assert b"12 Lake Road" not in raw and b"12 Lake Road" not in stored
    # Pinned keys: the engine's published keys.
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(Audit(app).keyring.export()))
    assert check(tmp_path, raw, "--keys", str(keys))[0] == 0
    assert check(tmp_path, raw, "--all-signatures")[0] == 0


def _drop_chain(aggregate: str) -> Any:
    return lambda b: b.update(chains=[c for c in b["chains"] if c["aggregate_id"] != aggregate])


def _event(body: dict[str, Any], aggregate: str, version: int) -> dict[str, Any]:
    chain = next(c for c in body["chains"] if c["aggregate_id"] == aggregate)
    return next(e for e in chain["events"] if e["version"] == version)


def _relabel(body: dict[str, Any], claim: str) -> None:
    view = _event(body, claim, 2)["view"]
    view.update(event_type="ProposalWithdrawn", event_version=2)


def _add_field(body: dict[str, Any], claim: str) -> None:
    view = _event(body, claim, 2)["view"]
    view["event_version"] += 1
    view["data"]["approved_by"] = "the director"


def _personal(body: dict[str, Any], order: str) -> None:
    _event(body, order, 1)["view"]["data"]["delivery_address"] = "1 Other Street"


def _hash_only(body: dict[str, Any], other: str) -> None:
    _event(body, other, 2)["payload_sha256"] = "00" * 32


EDITS = {
    "the claim's own chain removed": (lambda ids: _drop_chain(str(ids["claim"])), "own chain is not in the bundle"),
    "a related chain removed": (lambda ids: _drop_chain(str(ids["complaint"])), "its chain is missing"),
    "the subject changed": (lambda ids: lambda b: b.update(subject=str(ids["complaint"])), "own chain is not"),
    "an event relabelled": (lambda ids: lambda b: _relabel(b, str(ids["claim"])), "event_type differs"),
    "a field added, event version raised": (lambda ids: lambda b: _add_field(b, str(ids["claim"])),
                                            "has a field 'approved_by'"),
    "a personal field changed": (lambda ids: lambda b: _personal(b, str(ids["order"])), "delivery_address differs"),
    "a hash-only entry changed": (lambda ids: lambda b: _hash_only(b, str(ids["other"])), "v2: its content"),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_every_edit_of_the_bundle_is_refused(app: ServiceOrderApp, tmp_path: Path, edit: str) -> None:
    ids, raw = exported(app, tmp_path)
    make, expected = EDITS[edit]
    code, out = check(tmp_path, edited(raw, make(ids)))
    assert code == 1, out
    assert "the bundle is not as the engine signed it" in out and expected in out, out


def test_a_related_chain_removed_is_refused_with_the_digest_too(app: ServiceOrderApp, tmp_path: Path) -> None:
    ids, raw = exported(app, tmp_path)
    digest = tmp_path / "digest.json"
    digest.write_text(json.dumps(Audit(app).digest(app.clock.now())))
    assert check(tmp_path, raw, "--digest", str(digest))[0] == 0
    without = edited(raw, lambda b: (_drop_chain(str(ids["complaint"]))(b),
                                     b.update(manifest=[m for m in b["manifest"] if m[0] != str(ids["complaint"])])))
    code, out = check(tmp_path, without, "--digest", str(digest))
    assert code == 1 and "not as the engine signed it" in out, out


def test_a_bundle_re_signed_with_another_key_fails_against_the_pinned_keys(app: ServiceOrderApp,
                                                                          tmp_path: Path) -> None:
    import hashlib

    ids, raw = exported(app, tmp_path)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(Audit(app).keyring.export()))
    mallory = Signer.generate()
    body = json.loads(raw.partition(b"\n")[2])
    body["public_keys"] = mallory.keyring.public_keys()
    _event(body, str(ids["claim"]), 2)["view"]["data"]["amount"] = "9000.00"
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.sha256(text).digest()
    signature = mallory.sign(b"serviceorder-bundle-v2\n" + digest)
    forged = (f"serviceorder-audit-bundle-v2 sha256={digest.hex()} key={mallory.key_id.hex()} "
              f"signature={signature.hex()}\n").encode() + text
    code, out = check(tmp_path, forged, "--keys", str(keys))
    assert code == 1 and "not a trusted key" in out and "amount differs" in out, out


def test_duplicate_keys_in_the_bundle_are_refused(app: ServiceOrderApp, tmp_path: Path) -> None:
    _, raw = exported(app, tmp_path)
    header, _, body = raw.partition(b"\n")
    forged = body.replace(b'{"chains":', b'{"subject":"x","chains":', 1)
    code, out = check(tmp_path, header + b"\n" + forged)
    assert code == 1 and "duplicate keys" in out, out


def test_other_customers_events_from_before_signing_are_withheld_too(tmp_path: Path) -> None:
    env = event_store_env(sqlite_path=str(tmp_path / "events.sqlite"))
    legacy = ServiceOrderApp(EngineConfig(env=env, clock=ManualClock()))
    _, other_claim = disputed_claim(legacy, customer="someone-else")
    legacy.close()
    app = ServiceOrderApp(EngineConfig(env=env, clock=ManualClock(), signer=Signer.generate()))
    try:
        _, claim = disputed_claim(app)
        audit = Audit(app)
        raw = audit.bundle(audit.claim_story(claim, lambda c, r: [(str(other_claim), 1, "correlated")]),
                           app.clock.now())
    finally:
        app.close()
    body = json.loads(raw.partition(b"\n")[2])
    other = next(c for c in body["chains"] if c["aggregate_id"] == str(other_claim))
    assert [set(e) >= {"withheld"} for e in other["events"]] == [False, True, True, True, True]
    assert all("stored" not in e and "view" not in e and "payload_sha256" not in e for e in other["events"][1:])
    code, out = check(tmp_path, raw)
    assert code == 0 and "NOTE" in out and "cannot be recomputed" in out, out

"""Someone with write access to the database but not the signing key tampers with a claim in
every way the issue lists, on SQLite and PostgreSQL: ``audit verify`` (one aggregate and the
whole store) names the aggregate and the first wrong version, and a bundle exported from the
tampered store fails the standalone verifier at that version."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from engine.store.anchors import build_anchors, check_anchors
from engine.application.app import ServiceOrderApp
from engine.store.audit import Audit
from engine.store.chain import read_link
from engine.store.signing import Signer
from tests.engine.store.evidence_fixtures import (CTX, AppFactory, breaks, bundle_of, disputed_claim, long_claim,
                                            make_app, signer, verify_bundle)
from tests.engine.store.tampering import Tamperer

__all__ = ["make_app", "signer"]  # fixtures


def _insert(t: Tamperer, claim: UUID, unsigned: bool) -> None:
    """A correctly linked forged fact slipped in at version 3, the genuine events renumbered."""
    for v in (5, 4, 3):
        t.renumber(claim, v, v + 1)
    previous = read_link(t.state(claim, 2)).own
    assert previous is not None
    payload = read_link(t.state(claim, 2)).payload.replace(b"hose split", b"customer misuse")
    topic = t.topic(claim, 2)
    state = t.forge_unsigned(claim, 3, topic, payload, previous) if unsigned else \
        t.forge(claim, 3, topic, payload, previous)
    t.insert(claim, 3, topic, state)


def _append(t: Tamperer, claim: UUID) -> None:
    """A correctly linked sixth event: the revision again, with the amount raised."""
    previous = read_link(t.state(claim, 5)).own
    assert previous is not None
    payload = read_link(t.state(claim, 5)).payload.replace(b'"5000.00"', b'"9000.00"')
    t.insert(claim, 6, t.topic(claim, 5), t.forge(claim, 6, t.topic(claim, 5), payload, previous))


def _swap(t: Tamperer, claim: UUID) -> None:
    two, three = t.state(claim, 2), t.state(claim, 3)
    t.set_state(claim, 2, three)
    t.set_state(claim, 3, two)


def _lower(payload: bytes) -> bytes:
    return payload.replace(b'"3000.00"', b'"300.00"').replace(b'"5000.00"', b'"500.00"')


TAMPERING: dict[str, tuple[Callable[[Tamperer, UUID], None], int, str]] = {
    # An amount lowered in place, the link left as it was.
    "edit": (lambda t, c: t.set_state(c, 3, t.state(c, 3).replace(b'"3000.00"', b'"300.00"')), 3, "edited"),
    # The tail from version 3 rewritten and every link re-hashed (the old signatures kept).
    "re-chain": (lambda t, c: t.rechain(c, 3, 5, _lower), 3, "forged"),
    # The same, signed with a key of the attacker's own.
    "re-chain, own key": (lambda t, c: t.rechain(c, 3, 5, _lower, Signer.generate()), 3, "unknown_key"),
    "insert": (lambda t, c: _insert(t, c, unsigned=False), 3, "forged"),
    "insert unsigned": (lambda t, c: _insert(t, c, unsigned=True), 3, "unsigned"),
    "delete": (lambda t, c: t.delete(c, 2), 2, "missing"),
    "reorder": (_swap, 2, "out_of_order"),
    "append": (_append, 6, "forged"),
}


@pytest.mark.parametrize("tampering", list(TAMPERING))
def test_each_tampering_is_named_at_its_first_wrong_version(make_app: AppFactory, tmp_path: Path,
                                                            tampering: str) -> None:
    app = make_app()
    _, claim = disputed_claim(app)
    path_before = bundle_of(app, claim, tmp_path)
    assert verify_bundle(path_before).returncode == 0
    tamper, version, kind = TAMPERING[tampering]
    tamper(Tamperer(app), claim)

    report = Audit(app).verify(claim).as_dict()
    assert (report["broken"]["version"], report["broken"]["kind"]) == (version, kind), report
    everything = Audit(app).verify_all()
    assert everything["intact"] is False and breaks(everything) == [(str(claim), version, kind)]

    result = verify_bundle(bundle_of(app, claim, tmp_path))
    assert result.returncode == 1, result.stdout
    first = next(line for line in result.stdout.splitlines() if line.startswith(f"FAIL {claim} v"))
    assert first.startswith(f"FAIL {claim} v{version}:"), result.stdout


def test_a_forged_snapshot_is_refused_on_load_and_named_by_verify(make_app: AppFactory) -> None:
    app = make_app()
    claim = long_claim(app)
    t = Tamperer(app)
    genuine = t.snapshot_state(claim, 50)
    assert b'"1000.00"' in genuine
    t.set_snapshot_state(claim, 50, genuine.replace(b'"1000.00"', b'"9000.00"'))

    fresh = make_app()  # no cache: every read loads from the store
    assert fresh.get_claim(claim)["amount"] == "1000.00"
    audit = Audit(fresh)
    assert audit.state(claim, version=50)["state"]["amount"] == "1000.00"
    assert [c for c in audit.diff(claim, 49, 50)["changes"] if c["field"] == "amount"] == []
    report = audit.verify(claim).as_dict()
    assert (report["broken"]["version"], report["broken"]["kind"]) == (50, "snapshot_forged")
    assert breaks(audit.verify_all()) == [(str(claim), 50, "snapshot_forged")]

    # Re-signed with the attacker's own key: refused the same way.
    forged = t.resign_snapshot(claim, 50, read_payload(genuine).replace(b'"1000.00"', b'"9000.00"'),
                               Signer.generate())
    t.set_snapshot_state(claim, 50, forged)
    assert fresh.get_claim(claim)["amount"] == "1000.00"
    assert audit.verify(claim).as_dict()["broken"]["kind"] == "snapshot_forged"


def read_payload(snapshot_state: bytes) -> bytes:
    return snapshot_state[108:]


def test_verify_compares_every_snapshot_with_the_replayed_events(make_app: AppFactory, signer: Signer) -> None:
    """A snapshot signed with the engine's key that disagrees with the events (a bug, or a key
    holder's forgery) is used on load, but verify replays and names it."""
    app = make_app()
    claim = long_claim(app)
    t = Tamperer(app)
    payload = read_payload(t.snapshot_state(claim, 50)).replace(b'"1000.00"', b'"9000.00"')
    t.set_snapshot_state(claim, 50, t.resign_snapshot(claim, 50, payload, signer))
    report = Audit(make_app()).verify(claim).as_dict()
    assert (report["broken"]["version"], report["broken"]["kind"]) == (50, "snapshot_differs")
    assert "amount" in report["broken"]["detail"]
    # A snapshot recording another chain head than the stored event's is refused on load.
    genuine_payload = read_payload(t.snapshot_state(claim, 50)).replace(b'"9000.00"', b'"1000.00"')
    t.set_snapshot_state(claim, 50, t.resign_snapshot(claim, 50, genuine_payload, signer, head=bytes(32)))
    assert make_app().get_claim(claim)["amount"] == "1000.00"
    broken = Audit(app).verify(claim).as_dict()["broken"]
    assert broken["kind"] == "snapshot_forged" and "chain head" in broken["detail"]


def test_deleting_the_last_events_is_named_by_the_snapshot_and_by_the_anchors(make_app: AppFactory,
                                                                              signer: Signer) -> None:
    app = make_app()
    claim = long_claim(app)
    anchors = build_anchors(app, 0, None, datetime.now(timezone.utc), signer, max_events=20)
    assert len(anchors) > 1 and check_anchors(app, anchors, signer.keyring)["intact"]
    t = Tamperer(app)
    t.delete(claim, 51)
    t.delete(claim, 50)
    assert Audit(app).verify(claim).as_dict()["broken"]["kind"] == "missing"
    checked = check_anchors(app, anchors, signer.keyring)
    assert [(r["aggregate_id"], r["version"], r["kind"]) for r in checked["rewritten"]] == [(str(claim), 50, "missing")]


def test_with_a_stolen_key_the_anchors_still_name_the_first_rewritten_version(make_app: AppFactory,
                                                                             signer: Signer) -> None:
    app = make_app()
    _, claim = disputed_claim(app)
    anchors = build_anchors(app, 0, None, datetime.now(timezone.utc), signer)
    app.accept_compensation(CTX, claim)
    anchors += build_anchors(app, anchors[-1]["position"], _id(anchors[-1]), datetime.now(timezone.utc), signer)
    Tamperer(app).rechain(claim, 3, 6, _lower, key=signer)
    assert Audit(app).verify(claim).broken is None  # the signatures hold: the key signed them
    checked = check_anchors(app, anchors, signer.keyring)
    assert checked["intact"] is False and checked["anchors"] == 2
    assert [(r["aggregate_id"], r["version"], r["kind"]) for r in checked["rewritten"]] == [
        (str(claim), 3, "rewritten")]
    # An altered anchor, or one left out, is refused.
    altered = [{**anchors[0], "position": anchors[0]["position"] + 1}, anchors[1]]
    assert any("signature does not hold" in p for p in check_anchors(app, altered, signer.keyring)["problems"])
    assert any("does not follow" in p for p in check_anchors(app, anchors[1:], signer.keyring)["problems"])
    assert check_anchors(app, [], signer.keyring)["intact"] is False


def _id(anchor: dict) -> str:
    from engine.store.anchors import anchor_id

    return anchor_id(anchor)


def test_events_from_before_signing_are_reported_unsigned_not_tampered(make_app: AppFactory) -> None:
    legacy = make_app(key=None)
    complaint, claim = disputed_claim(legacy)
    app = make_app()
    app.accept_compensation(CTX, claim)
    audit = Audit(app)
    report = audit.verify(claim).as_dict()
    assert report["intact"] and (report["unsigned_events"], report["signed_events"]) == (5, 1)
    untouched = audit.verify(complaint).as_dict()
    assert untouched["intact"] and untouched["signed_events"] == 0 and untouched["unsigned_events"] > 0
    assert audit.verify_all()["intact"]
    # ...but an unsigned event after a signed one is not the engine's.
    t = Tamperer(app)
    previous = read_link(t.state(claim, 6)).own
    assert previous is not None
    t.insert(claim, 7, t.topic(claim, 6), t.forge_unsigned(claim, 7, t.topic(claim, 6),
                                                           read_link(t.state(claim, 6)).payload, previous))
    assert breaks(audit.verify_all()) == [(str(claim), 7, "unsigned")]


def test_after_a_key_rotation_what_the_old_key_signed_stays_valid(make_app: AppFactory, signer: Signer) -> None:
    complaint, claim = disputed_claim(make_app())
    old = signer.keyring.public_keys()[signer.key_id.hex()]
    new_key = Ed25519PrivateKey.generate()
    rotated = Signer(new_key, retired=[bytes.fromhex(old)])
    app = make_app(key=rotated)
    app.accept_compensation(CTX, claim)
    report = Audit(app).verify(claim).as_dict()
    assert report["intact"] and report["signed_events"] == 6
    keys = {read_link(s.state).key_id for s in app.recorder.select_events(claim)}
    assert keys == {signer.key_id, rotated.key_id}
    # Without the retired public key, a chain last signed by the old key names no key of the
    # engine (the claim's newer head, signed by the new key, still vouches for its old links).
    forgetful = Audit(make_app(key=Signer(new_key)))
    assert forgetful.verify(claim).broken is None
    assert (forgetful.verify(complaint).as_dict()["broken"] or {}).get("kind") == "unknown_key"


def test_state_as_of_a_version_names_who_changed_it_last_and_why(make_app: AppFactory) -> None:
    app = make_app()
    _, claim = disputed_claim(app)
    audit = Audit(app)
    change = audit.state(claim, version=4)["last_change"]
    assert change["version"] == 4 and change["event_type"] == "ProposalDisputed"
    assert change["reason"] == "the floor cost 8000" and change["actor"] == "system" and change["recorded_at"]
    at = datetime.fromisoformat(audit.history(claim)["events"][2]["recorded_at"])
    assert audit.state(claim, at=at)["last_change"]["event_type"] == "CompensationProposed"


def test_an_app_without_keys_refuses_to_export_bundles(make_app: AppFactory, tmp_path: Path) -> None:
    from engine.domain.errors import InvalidCommand

    app: ServiceOrderApp = make_app(key=None)
    _, claim = disputed_claim(app)
    with pytest.raises(InvalidCommand, match="signed"):
        bundle_of(app, claim, tmp_path)


def test_snapshots_from_before_signing_are_compared_but_never_loaded(make_app: AppFactory) -> None:
    claim = long_claim(make_app(key=None))
    app = make_app()
    assert app.get_claim(claim)["amount"] == "1000.00"  # replayed: the unsigned snapshot is not used
    report = Audit(app).verify(claim).as_dict()
    assert report["intact"] and report["snapshots_checked"] == 1 and report["unsigned_events"] == 51
    t = Tamperer(app)
    t.set_snapshot_state(claim, 50, t.snapshot_state(claim, 50).replace(b'"1000.00"', b'"9000.00"'))
    assert app.get_claim(claim)["amount"] == "1000.00"
    assert breaks(Audit(app).verify_all()) == [(str(claim), 50, "snapshot_differs")]

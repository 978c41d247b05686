"""Audit: replay, as-of queries, diffs, hash chains, digests and bundles, against a real
SQLite event store that the tests tamper with directly (as someone with database access
would), checking each kind of tampering is caught at the right event."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator
from uuid import UUID

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.store.audit import Audit
from engine.store.chain import GENESIS, SIGN_DOMAIN, read_link, signed_link_hash, unseal
from engine.domain.clock import ManualClock
from engine.application.context import CommandContext
from engine.domain.errors import InvalidCommand, NotFound
from engine.store.signing import Signer
from tests.engine.store.evidence_fixtures import rehash
from tests.engine.store.tampering import Tamperer

CTX = CommandContext.new()
WHY = CTX.because("water under the floor since the install")
VERIFIER = Path(__file__).resolve().parents[3] / "tools" / "verify_bundle.py"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "events.sqlite"


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def app(store: Path, signer: Signer) -> Iterator[ServiceOrderApp]:
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(store)), clock=ManualClock(),
                                       signer=signer))
    yield app
    app.close()


def disputed_claim(app: ServiceOrderApp) -> tuple[UUID, UUID]:
    complaint = app.file_complaint(CTX, customer_id="c1", category="product_quality",
                                   description="the floor is flooded").aggregate_id
    claim = app.open_claim(WHY, complaint, damage="wooden floor").aggregate_id
    fact = app.record_claim_fact(CTX, claim, fact="hose split at the joint", evidence=["photo-1.jpg"]).extra["fact_id"]
    app.propose_compensation(CTX, claim, amount="3000", facts=[fact])
    app.dispute_compensation(CTX.because("the floor cost 8000"), claim)
    app.revise_compensation(CTX.because("invoice for the floor"), claim, amount="5000", facts=[fact])
    return complaint, claim


def state_of(store: Path, aggregate_id: UUID, version: int) -> bytes:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = ?",
                          (aggregate_id.hex, version)).fetchone()[0]


def test_every_stored_event_is_a_signed_link_in_its_aggregates_chain(app: ServiceOrderApp, store: Path,
                                                                     signer: Signer) -> None:
    _, claim = disputed_claim(app)
    previous = GENESIS
    for version in range(1, 6):
        link = read_link(state_of(store, claim, version))
        assert link.previous == previous and link.key_id == signer.key_id
        topic = app.recorder.select_events(claim, gt=version - 1, lte=version)[0].topic
        assert link.own == signed_link_hash(previous, str(claim), version, topic, hashlib.sha256(link.payload).digest())
        assert signer.keyring.verify(signer.key_id, link.signature or b"", SIGN_DOMAIN + link.own)
        assert unseal(state_of(store, claim, version))[2] == link.payload
        previous = link.own
    report = Audit(app).verify(claim)
    assert report.broken is None and report.head_version == 5 and report.head_hash == previous.hex()
    assert report.signed == 5


def test_history_names_who_when_why_and_the_facts(app: ServiceOrderApp) -> None:
    _, claim = disputed_claim(app)
    history = Audit(app).history(claim)
    assert history["aggregate_type"] == "CompensationClaim" and history["chain"]["intact"]
    types = [e["event_type"] for e in history["events"]]
    assert types == ["ClaimOpened", "FactRecorded", "CompensationProposed", "ProposalDisputed", "CompensationRevised"]
    revised = history["events"][-1]
    assert revised["meta"]["reason"] == "invoice for the floor" and revised["meta"]["actor"] == "system"
    assert revised["data"]["previous_amount"] == "3000.00" and revised["data"]["amount"] == "5000.00"
    assert history["events"][1]["data"]["evidence"] == ["photo-1.jpg"]
    assert history["events"][1]["previous_hash"] == history["events"][0]["hash"]


def test_state_as_of_time_agrees_with_state_as_of_version(app: ServiceOrderApp) -> None:
    _, claim = disputed_claim(app)
    audit = Audit(app)
    for event in audit.history(claim)["events"]:
        at = datetime.fromisoformat(event["recorded_at"])
        assert audit.state(claim, at=at) == {**audit.state(claim, version=event["version"]), "as_of": at.isoformat()}
    assert audit.state(claim, version=3)["state"]["amount"] == "3000.00"
    assert audit.state(claim)["state"]["amount"] == "5000.00"
    first = datetime.fromisoformat(audit.history(claim)["events"][0]["recorded_at"])
    with pytest.raises(NotFound, match="did not exist"):
        audit.state(claim, at=first - timedelta(seconds=1))
    with pytest.raises(NotFound, match="versions 1 to 5"):
        audit.state(claim, version=6)
    with pytest.raises(InvalidCommand):
        audit.state(claim, version=1, at=first)


def test_diff_between_versions_lists_each_changed_field(app: ServiceOrderApp) -> None:
    _, claim = disputed_claim(app)
    diff = Audit(app).diff(claim, 3, 5)
    changes = {c["field"]: (c["from"], c["to"]) for c in diff["changes"]}
    assert changes["amount"] == ("3000.00", "5000.00")
    assert "status" not in changes  # proposed, disputed, proposed again
    assert [e["event_type"] for e in diff["events"]] == ["ProposalDisputed", "CompensationRevised"]


def test_a_digest_proves_the_history_was_not_rewritten_later(app: ServiceOrderApp, signer: Signer) -> None:
    complaint, claim = disputed_claim(app)
    audit = Audit(app)
    digest = audit.digest(app.clock.now())
    assert digest["intact"] and [str(claim), 5, audit.verify(claim).head_hash] in digest["chains"]
    app.accept_compensation(CTX, claim)
    assert audit.check_digest(digest)["intact"] is True
    # Someone with the signing key rewrites the claim from version 3 on, re-hashing and
    # re-signing every later link: the chain alone looks intact, but its head at the digest's
    # version no longer matches.
    Tamperer(app).rechain(claim, 3, 6, lambda p: p.replace(b'"5000.00"', b'"500.00"'), key=signer)
    assert audit.verify(claim).broken is None
    checked = audit.check_digest(digest)
    assert checked["intact"] is False
    assert [(r["aggregate_id"], r["version"], r["kind"]) for r in checked["rewritten"]] == [(str(claim), 5, "rewritten")]
    # The digest is signed: changing what it says (even with its root redone) is refused.
    with pytest.raises(InvalidCommand, match="signature"):
        audit.check_digest({**digest, "taken_at": "2020-01-01T00:00:00+00:00"})
    with pytest.raises(InvalidCommand, match="altered"):
        audit.check_digest({**digest, "chains": digest["chains"][:-1]})
    assert complaint


def test_the_bundle_verifies_standalone_and_fails_after_any_changed_byte(app: ServiceOrderApp,
                                                                        tmp_path: Path) -> None:
    complaint, claim = disputed_claim(app)
    audit = Audit(app)
    story = audit.claim_story(claim, lambda c, r: [])
    assert [a["relation"] for a in story["aggregates"]] and story["intact"]
    assert {a["aggregate_id"]: a["relation"] for a in story["aggregates"]} == {str(claim): "subject",
                                                                              str(complaint): "complaint"}
    times = [e["recorded_at"] for e in story["story"]]
    assert times == sorted(times)
    bundle = audit.bundle(story, app.clock.now())
    path = tmp_path / "claim.audit"
    path.write_bytes(bundle)
    ok = subprocess.run([sys.executable, "-I", str(VERIFIER), str(path)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "2 chains" in ok.stdout and "every link intact" in ok.stdout
    # Any changed byte fails: try bytes all over the file.
    for offset in range(0, len(bundle), max(1, len(bundle) // 40)):
        changed = bytearray(bundle)
        changed[offset] = (changed[offset] + 1) % 256
        path.write_bytes(bytes(changed))
        bad = subprocess.run([sys.executable, "-I", str(VERIFIER), str(path)], capture_output=True, text=True)
        assert bad.returncode != 0, f"byte {offset} changed and the bundle still verified"


def test_the_verifier_finds_the_broken_link_even_when_the_file_hash_is_redone(app: ServiceOrderApp,
                                                                              tmp_path: Path) -> None:
    import base64
    import json

    _, claim = disputed_claim(app)
    audit = Audit(app)
    raw = audit.bundle(audit.claim_story(claim, lambda c, r: []), app.clock.now())
    body = json.loads(raw.partition(b"\n")[2])
    event = body["chains"][0]["events"][2]
    state = base64.b64decode(event["stored"]).replace(b'"3000.00"', b'"300.00"')
    event["stored"] = base64.b64encode(state).decode()
    forged = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    path = tmp_path / "forged.audit"
    path.write_bytes(rehash(raw, forged))
    result = subprocess.run([sys.executable, "-I", str(VERIFIER), str(path)], capture_output=True, text=True)
    assert result.returncode == 1
    assert f"FAIL {claim} v3: its content does not match its hash (edited)" in result.stdout
    # The readable copy cannot be changed either without the verifier noticing.
    body = json.loads(raw.partition(b"\n")[2])
    body["chains"][0]["events"][2]["view"]["data"]["amount"] = "300.00"
    forged = json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(rehash(raw, forged))
    result = subprocess.run([sys.executable, "-I", str(VERIFIER), str(path)], capture_output=True, text=True)
    assert result.returncode == 1 and "the readable copy's amount differs from the signed event" in result.stdout

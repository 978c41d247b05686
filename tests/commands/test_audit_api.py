"""An auditor replays a disputed compensation claim over HTTP: the chronological story with
the complaint, the job and its visits, and the refund made in the same conversation; state
as of a version, a diff, chain verification, a digest, and a bundle checked standalone."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from commands import cli
from commands.bootstrap import Runtime
from commands.settings import Settings
from engine.domain.clock import ManualClock
from tests.commands.test_cli import _env
from tests.commands.test_field_story import eventually, ok
from tests.commands.test_settlement_month import installation
from tests.engine.store.tampering import Tamperer

AUDITOR = {"Authorization": "Bearer audit-token-0123456789ab"}
CASE = {"X-Correlation-ID": "case-2026-0042"}
VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "verify_bundle.py"


def test_an_auditor_replays_a_disputed_claim(client: TestClient, runtime: Runtime, clock: ManualClock,
                                             settings: Settings, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    runtime.tokens.add("audit-token-0123456789ab", "ada", ["auditor"])
    runtime.tokens.add("li-token-0123456789ab", "li", ["engineer"])
    # Li also installed for another customer: that fee is on Li's account chain too.
    other_job = installation(client, clock, "li", "cust-other")
    job = installation(client, clock, "li", "cust-floor")
    complaint = ok(client.post("/complaints", json={"customer_id": "cust-floor", "category": "product_quality",
                                                    "description": "water on the wooden floor",
                                                    "job_id": job["job_id"]}, headers=CASE), 201)["id"]
    claim = ok(client.post(f"/complaints/{complaint}/claims", json={"damage": "wooden floor"}, headers=CASE),
               201)["id"]
    fact = ok(client.post(f"/claims/{claim}/facts", json={"fact": "inlet hose split", "evidence": ["hose.jpg"]},
                          headers=CASE))["fact_id"]
    ok(client.post(f"/claims/{claim}/proposal", json={"amount": "3000", "facts": [fact]}, headers=CASE))
    ok(client.post(f"/claims/{claim}/dispute", json={"reason": "the floor cost 8000"}, headers=CASE))
    ok(client.post(f"/claims/{claim}/revision", json={"amount": "5000", "facts": [fact], "reason": "invoice"},
                   headers=CASE))
    # In the same conversation, finance refunds the installation fee for the bad work.
    ok(client.post("/refunds", json={"customer_id": "cust-floor", "amount": "150", "method": "transfer",
                                     "job_id": job["job_id"], "engineer_at_fault": True,
                                     "reason": "goodwill while the claim is open"}, headers=CASE), 201)

    # Auditors read everything and command nothing.
    assert client.post(f"/claims/{claim}/accept", headers=AUDITOR).status_code == 403
    assert client.post("/refunds", json={}, headers=AUDITOR).status_code in (403, 422)
    assert client.get(f"/audit/claims/{claim}", headers={"Authorization": "Bearer li-token-0123456789ab"}
                      ).status_code == 403
    assert client.get("/engineers/li/ledger", headers=AUDITOR).status_code in (200, 404)

    story = eventually(lambda: (s := ok(client.get(f"/audit/claims/{claim}", headers=AUDITOR)))
                       and any(e["event_type"] == "RefundPaid" for e in s["story"]) and s)
    relations = {a["relation"] for a in story["aggregates"]}
    assert {"subject", "complaint", "referenced", "correlated"} <= relations and story["intact"]
    types = [e["event_type"] for e in story["story"]]
    assert types.index("EngineerCheckedIn") < types.index("ComplaintFiled") < types.index("ClaimOpened") \
        < types.index("CompensationRevised")
    revised = next(e for e in story["story"] if e["event_type"] == "CompensationRevised")
    assert revised["meta"]["reason"] == "invoice" and revised["meta"]["correlation_id"] == "case-2026-0042"
    assert revised["data"]["previous_amount"] == "3000.00" and revised["hash"]

    history = ok(client.get(f"/audit/aggregates/{claim}", headers=AUDITOR))
    assert history["chain"]["intact"] and history["events"][1]["data"]["evidence"] == ["hose.jpg"]
    assert ok(client.get(f"/audit/aggregates/{claim}/state", params={"version": 3}, headers=AUDITOR)
              )["state"]["amount"] == "3000.00"
    at = history["events"][2]["recorded_at"]
    assert ok(client.get(f"/audit/aggregates/{claim}/state", params={"at": at}, headers=AUDITOR))["version"] == 3
    diff = ok(client.get(f"/audit/aggregates/{claim}/diff", params={"from": 3, "to": 5}, headers=AUDITOR))
    assert {"field": "amount", "from": "3000.00", "to": "5000.00"} in diff["changes"]
    assert client.get(f"/audit/aggregates/{claim}/state", params={"version": 99}, headers=AUDITOR).status_code == 404
    assert ok(client.get(f"/audit/aggregates/{claim}/verify", headers=AUDITOR))["intact"] is True
    assert ok(client.get("/audit/verify", headers=AUDITOR))["intact"] is True

    digest = client.get("/audit/digest", headers=AUDITOR)
    assert digest.status_code == 200 and "attachment" in digest.headers["content-disposition"]
    checked = ok(client.post("/audit/digest/check", json=digest.json(), headers=AUDITOR))
    assert checked["intact"] and checked["checked"] == len(digest.json()["chains"])
    assert client.post("/audit/digest/check", json={"format": "nope"}, headers=AUDITOR).status_code == 422

    bundle = client.get(f"/audit/claims/{claim}/bundle", headers=AUDITOR)
    assert bundle.status_code == 200
    path = tmp_path / "claim.audit"
    path.write_bytes(bundle.content)
    (tmp_path / "digest.json").write_bytes(digest.content)
    result = subprocess.run([sys.executable, "-I", str(VERIFIER), str(path), "--digest", str(tmp_path / "digest.json")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "heads match the digest" in result.stdout
    # Minimal disclosure: nothing of the other customer's job, in the readable copies or the bytes.
    chains = json.loads(bundle.content.partition(b"\n")[2])["chains"]
    carried = bundle.content + b"".join(base64.b64decode(e["stored"]) for c in chains for e in c["events"]
                                        if "stored" in e)
    assert b"cust-other" not in carried and other_job["job_id"].encode() not in carried
    assert any(e.get("withheld") for c in chains for e in c["events"])
    # The engine's published keys pin the bundle's signature.
    (tmp_path / "keys.json").write_text(json.dumps(ok(client.get("/audit/keys", headers=AUDITOR))))
    assert subprocess.run([sys.executable, "-I", str(VERIFIER), str(path), "--keys", str(tmp_path / "keys.json")]
                          ).returncode == 0

    # State as of a time given with a UTC offset: the `+` is encoded (docs/audit.md).
    local = datetime.fromisoformat(at).astimezone(timezone(timedelta(hours=8))).isoformat()
    as_of = ok(client.get(f"/audit/aggregates/{claim}/state?at={quote(local)}", headers=AUDITOR))
    assert as_of["version"] == 3 and as_of["last_change"]["event_type"] == "CompensationProposed"
    assert as_of["last_change"]["actor"] == "admin" and as_of["last_change"]["correlation_id"] == "case-2026-0042"

    # Anchors: published on demand (admins), checked by auditors.
    assert client.post("/audit/anchors", headers=AUDITOR).status_code == 403
    assert ok(client.post("/audit/anchors"))["anchors"] >= 1
    assert ok(client.post("/audit/anchors"))["anchors"] == 0  # nothing new since
    assert ok(client.get("/audit/anchors/check", headers=AUDITOR))["intact"] is True

    # The same from the command line.
    runtime.stop.set()
    _env(monkeypatch, settings)
    assert cli.main(["audit", "verify"]) == 0
    assert cli.main(["audit", "verify", "--aggregate", claim]) == 0
    assert cli.main(["audit", "digest", "--out", str(tmp_path / "cli-digest.json")]) == 0
    assert cli.main(["audit", "verify", "--digest", str(tmp_path / "cli-digest.json")]) == 0
    assert cli.main(["audit", "bundle", claim, "--out", str(tmp_path / "cli.audit")]) == 0
    assert subprocess.run([sys.executable, "-I", str(VERIFIER), str(tmp_path / "cli.audit")]).returncode == 0
    assert cli.main(["audit", "bundle", complaint, "--out", str(tmp_path / "x.audit")]) == 2
    assert cli.main(["audit", "anchors", "--out", str(tmp_path / "anchors.jsonl")]) == 0
    assert cli.main(["audit", "verify", "--anchors"]) == 0
    assert cli.main(["audit", "keys", "--out", str(tmp_path / "cli-keys.json")]) == 0

    # Someone with the database deletes the claim's last event and edits the proposal in place.
    tamper = Tamperer(runtime.app)
    tamper.delete(UUID(claim), 5)
    assert cli.main(["audit", "verify", "--anchors", str(tmp_path / "anchors.jsonl")]) == 1
    tamper.set_state(UUID(claim), 3, tamper.state(UUID(claim), 3).replace(b'"3000.00"', b'"300.00"'))
    found = ok(client.get("/audit/verify", headers=AUDITOR))
    assert [(b["aggregate_id"], b["version"], b["kind"]) for b in found["broken"]] == [(claim, 3, "edited")]
    assert ok(client.get(f"/audit/aggregates/{claim}/verify", headers=AUDITOR))["broken"]["version"] == 3
    assert cli.main(["audit", "verify"]) == 1
    checked = ok(client.get("/audit/anchors/check", headers=AUDITOR))
    assert [(r["aggregate_id"], r["version"], r["kind"]) for r in checked["rewritten"]] == [(claim, 5, "missing")]

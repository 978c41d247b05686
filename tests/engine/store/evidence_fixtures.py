"""Shared by the evidence tests: signed applications on each real store, a disputed claim,
and running the standalone bundle verifier."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator
from uuid import UUID

import pytest

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.store.audit import Audit
from engine.domain.clock import ManualClock
from engine.application.context import CommandContext
from engine.store.signing import Signer
from sqlstore.sqldb import PostgresURL

CTX = CommandContext.new()
VERIFIER = Path(__file__).resolve().parents[3] / "tools" / "verify_bundle.py"
AppFactory = Callable[..., ServiceOrderApp]


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def make_app(backend: str, tmp_path: Path, request: pytest.FixtureRequest, signer: Signer
             ) -> Iterator[AppFactory]:
    """Applications on one store (SQLite or PostgreSQL): by default signing with ``signer``."""
    if backend == "postgres":
        url, schema = request.getfixturevalue("pg_url"), request.getfixturevalue("pg_schema")
        env = event_store_env(postgres=PostgresURL.parse(url).eventsourcing_env(schema))
    else:
        env = event_store_env(sqlite_path=str(tmp_path / "events.sqlite"))
    apps: list[ServiceOrderApp] = []

    def make(key: Signer | None = signer) -> ServiceOrderApp:
        app = ServiceOrderApp(EngineConfig(env=env, clock=ManualClock(), signer=key))
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.close()


def disputed_claim(app: ServiceOrderApp, customer: str = "c1") -> tuple[UUID, UUID]:
    """A claim of 5 events: opened, fact, 3000 proposed, disputed, revised to 5000."""
    complaint = app.file_complaint(CTX, customer_id=customer, category="product_quality",
                                   description="the floor is flooded").aggregate_id
    claim = app.open_claim(CTX.because("water under the floor"), complaint, damage="wooden floor").aggregate_id
    fact = app.record_claim_fact(CTX, claim, fact="hose split at the joint", evidence=["photo-1.jpg"]).extra["fact_id"]
    app.propose_compensation(CTX, claim, amount="3000", facts=[fact])
    app.dispute_compensation(CTX.because("the floor cost 8000"), claim)
    app.revise_compensation(CTX.because("invoice for the floor"), claim, amount="5000", facts=[fact])
    return complaint, claim


def long_claim(app: ServiceOrderApp) -> UUID:
    """A claim with 1,000.00 proposed at version 49 and a snapshot at version 50."""
    complaint = app.file_complaint(CTX, customer_id="c9", category="product_quality",
                                   description="flooded").aggregate_id
    claim = app.open_claim(CTX.because("liability unclear"), complaint, damage="floor").aggregate_id
    fact = ""
    for n in range(47):
        fact = app.record_claim_fact(CTX, claim, fact=f"moisture reading {n}", evidence=[]).extra["fact_id"]
    app.propose_compensation(CTX.because("the invoice"), claim, amount="1000", facts=[fact])
    app.record_claim_fact(CTX, claim, fact="a last reading", evidence=[])
    app.record_claim_fact(CTX, claim, fact="and one more", evidence=[])
    return claim


def bundle_of(app: ServiceOrderApp, claim: UUID, tmp_path: Path,
              linked: Callable[[set[str], set[str]], list[tuple[str, int, str]]] = lambda c, r: []) -> Path:
    audit = Audit(app)
    path = tmp_path / f"claim-{claim}.audit"
    path.write_bytes(audit.bundle(audit.claim_story(claim, linked), app.clock.now()))
    return path


def verify_bundle(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-I", str(VERIFIER), str(path), *args], capture_output=True, text=True)


def breaks(report: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(b["aggregate_id"], b["version"], b["kind"]) for b in report["broken"]]


def rehash(raw: bytes, body: bytes) -> bytes:
    """A bundle with ``body`` and its first line's SHA-256 redone (its signature left as it was),
    as someone editing the file would do."""
    header = raw.partition(b"\n")[0].decode().split(" ")
    header[1] = f"sha256={hashlib.sha256(body).hexdigest()}"
    return " ".join(header).encode() + b"\n" + body


def edited(raw: bytes, edit: Callable[[dict[str, Any]], Any]) -> bytes:
    body = json.loads(raw.partition(b"\n")[2])
    edit(body)
    return rehash(raw, json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())

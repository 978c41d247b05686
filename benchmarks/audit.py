"""Audit of a long claim: loading, verifying and replaying a claim with 10,000 events.

    .venv/bin/python -m benchmarks.audit [--events 10000] [--backend sqlite|postgres|both] [--quick]

Prints the CPU that signing adds per event written and verified, then, for each backend, the time to read the raw stored events (the library's floor),
to load the history with every link verified, to verify the chain alone, to rebuild the
state as of a version and as of a time (with snapshots every 50 events, and without), to
export a bundle, and for the standalone verifier to check it; each beside the raw read.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable
from uuid import UUID, uuid4

from benchmarks import postgres_schema
from eventsourcing.persistence import StoredEvent

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.store.audit import Audit
from engine.domain.claims import CompensationClaim
from engine.store.chain import GENESIS, read_link, seal
from engine.application.context import CommandContext
from engine.store.signing import Signer
from engine.store.verification import check_signature
from sqlstore.sqldb import PostgresURL

CTX = CommandContext.new()
VERIFIER = Path(__file__).resolve().parents[1] / "tools" / "verify_bundle.py"


def timed(fn: Callable[[], Any], repeat: int = 3, clock: Callable[[], float] = time.perf_counter) -> float:
    runs = []
    for _ in range(repeat):
        started = clock()
        fn()
        runs.append(clock() - started)
    return statistics.median(runs)


def long_claim(app: ServiceOrderApp, events: int) -> UUID:
    complaint = app.file_complaint(CTX, customer_id="c1", category="product_quality",
                                   description="flooded floor").aggregate_id
    claim_id = app.open_claim(CTX.because("liability unclear"), complaint, damage="wooden floor").aggregate_id
    claim: CompensationClaim = app.repository.get(claim_id)
    meta = CTX.because("new evidence").meta()
    while claim.version < events:
        claim.record_fact(fact=f"site note {claim.version}: moisture reading taken", evidence=["reading.jpg"],
                          meta=meta)
        if claim.version % 500 == 0:
            app.save(claim)
    app.save(claim)
    return claim_id


def run(backend: str, events: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="so-audit-bench-"))
    with ExitStack() as stack:
        if backend == "postgres":
            url, schema = stack.enter_context(postgres_schema())
            env = event_store_env(postgres=PostgresURL.parse(url).eventsourcing_env(schema))
        else:
            env = event_store_env(sqlite_path=str(tmp / "events.sqlite"))
        signer = Signer.generate()
        app = ServiceOrderApp(EngineConfig(env=env, signer=signer))
        stack.callback(app.close)  # before the schema is dropped
        plain = ServiceOrderApp(EngineConfig(env={**env, "IS_SNAPSHOTTING_ENABLED": "n"}, signer=signer))
        stack.callback(plain.close)
        _report(backend, events, tmp, app, plain)


def sealing(signer: Signer, events: int = 2_000) -> None:
    """The CPU that signing adds to each event written, and to each event verified (CPU time:
    on a shared machine wall time measures the neighbours)."""
    payload = b'{"fact":"site note: moisture reading taken","evidence":["reading.jpg"]}' * 4
    stored = [StoredEvent(uuid4(), n, "engine.claims:CompensationClaim.FactRecorded", payload)
              for n in range(1, events + 1)]
    unsigned = timed(lambda: [seal(GENESIS, s) for s in stored], clock=time.process_time) / events
    signed = timed(lambda: [seal(GENESIS, s, signer) for s in stored], clock=time.process_time) / events
    sealed = [seal(GENESIS, s, signer) for s in stored]
    checks = timed(lambda: [check_signature("a", 1, read_link(s.state), signer.keyring) for s in sealed],
                   clock=time.process_time) / events
    print(f"CPU sealing an event: unsigned {unsigned * 1e6:.0f} us, signed {signed * 1e6:.0f} us "
          f"(+{(signed - unsigned) * 1e6:.0f} us per event written); checking a signature {checks * 1e6:.0f} us "
          f"per event verified")


def _report(backend: str, events: int, tmp: Path, app: ServiceOrderApp, plain: ServiceOrderApp) -> None:
    started = time.perf_counter()
    claim = long_claim(app, events)
    print(f"[{backend}] wrote a claim of {events:,} events in {time.perf_counter() - started:.1f}s")
    audit = Audit(app)
    raw = timed(lambda: list(app.recorder.select_events(claim)))
    middle = audit.history(claim)["events"][events // 2]["recorded_at"]
    from datetime import datetime

    at = datetime.fromisoformat(middle)
    rows = [
        ("raw stored events (library floor)", raw),
        ("history, every link verified", timed(lambda: audit.history(claim))),
        ("chain verification alone", timed(lambda: audit.verify(claim))),
        ("state at the last version, snapshots", timed(lambda: audit.state(claim))),
        ("state at the last version, no snapshots", timed(lambda: Audit(plain).state(claim))),
        (f"state at version {events // 2}, snapshots", timed(lambda: audit.state(claim, version=events // 2))),
        ("state as of a time (middle), snapshots", timed(lambda: audit.state(claim, at=at))),
        ("diff of two distant versions", timed(lambda: audit.diff(claim, 10, events - 10))),
    ]
    bundle = tmp / "claim.audit"
    rows.append(("bundle export", timed(lambda: bundle.write_bytes(audit.bundle(claim, app.clock.now())),
                                        repeat=1)))
    rows.append(("standalone verifier on the bundle", timed(
        lambda: subprocess.run([sys.executable, "-I", str(VERIFIER), str(bundle)], check=True,
                               capture_output=True), repeat=1)))
    for name, seconds in rows:
        print(f"[{backend}] {name:<42} {seconds * 1000:8.0f} ms  ({seconds / raw:5.1f}x the raw read)")
    print(f"[{backend}] bundle size {bundle.stat().st_size / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="a small run that checks the benchmark works")
    args = parser.parse_args()
    if args.quick:
        args.events = 500
    sealing(Signer.generate())
    for backend in (["sqlite", "postgres"] if args.backend == "both" else [args.backend]):
        run(backend, args.events)


if __name__ == "__main__":
    main()

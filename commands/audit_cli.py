"""``serviceorder audit ...`` and ``serviceorder anchor``: verify the store (chains, signatures,
snapshots, digests, anchors), export digests, bundles and anchors, and run the signing keys.

Everything reads the event store; only the anchor commands talk to Kafka.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable
from uuid import UUID

from commands.settings import Settings


def _write(text: str, out: str | None, what: str) -> None:
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")
        print(f"{what} written to {out}", file=sys.stderr)
    else:
        print(text)


def _read_anchors(source: str, runtime: Any) -> list[dict[str, Any]]:
    """Anchors from a file (JSON lines, as `audit anchors --out` writes) or, by default, the topic."""
    if source == "kafka":
        return runtime.anchors().published()
    lines = Path(source).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _verify(audit: Any, runtime: Any, args: argparse.Namespace) -> dict[str, Any]:
    from engine.store.anchors import check_anchors

    if args.anchors:
        return check_anchors(runtime.app, _read_anchors(args.anchors, runtime), audit.keyring)
    if args.digest:
        return audit.check_digest(json.loads(Path(args.digest).read_text(encoding="utf-8")))
    if args.aggregate:
        return audit.verify(UUID(args.aggregate)).as_dict()
    return audit.verify_all()


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    from commands.bootstrap import build_runtime
    from engine.store.audit import Audit
    from engine.domain.errors import DomainError
    from engine.store.signing import write_new_key
    from projections.audit import linked_events

    if args.action == "new-key":
        # Made apart from any runtime: the file is the secret an operator installs next.
        key_id = write_new_key(Path(args.out))
        print(f"new signing key {key_id.hex()} written to {args.out}", file=sys.stderr)
        return 0
    runtime = build_runtime(settings)
    try:
        audit = Audit(runtime.app)
        if args.action == "verify":
            report = _verify(audit, runtime, args)
            print(json.dumps(report, indent=1))
            return 0 if report["intact"] else 1
        if args.action == "digest":
            _write(json.dumps(audit.digest(runtime.app.clock.now()), indent=1), args.out, "digest")
            return 0
        if args.action == "keys":
            _write(json.dumps(runtime.signer.keyring.export(), indent=1), args.out, "public keys")
            return 0
        if args.action == "anchor":
            publisher = runtime.anchors()
            published = publisher.publish()
            print(f"{len(published)} anchors of {sum(a['events'] for a in published)} events published to "
                  f"{publisher.topic}", file=sys.stderr)
            return 0
        if args.action == "anchors":
            _write("\n".join(json.dumps(a) for a in runtime.anchors().published()), args.out, "anchors")
            return 0
        claim_id = UUID(args.claim)
        story = audit.claim_story(claim_id, lambda c, r: linked_events(runtime.views_db, c, r))
        Path(args.out).write_bytes(audit.bundle(story, runtime.app.clock.now()))
        print(f"bundle of {len(story['aggregates'])} chains, {len(story['story'])} story events written to "
              f"{args.out}; check it with: python3 tools/verify_bundle.py {args.out}", file=sys.stderr)
        return 0
    except (DomainError, ValueError) as exc:
        print(f"audit: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()


def add_parsers(sub: Any, run_loop: Callable[[Settings, Callable[[Any], Any]], int]) -> None:
    au = sub.add_parser("audit", help="verify chains, signatures and snapshots; digests, anchors, bundles, keys")
    actions = au.add_subparsers(dest="action", required=True)
    v = actions.add_parser("verify", help="check every chain (or one aggregate, or against a digest or the anchors)")
    v.add_argument("--aggregate", help="only this aggregate id")
    v.add_argument("--digest", help="also prove nothing before this digest's heads was rewritten")
    v.add_argument("--anchors", nargs="?", const="kafka", metavar="FILE",
                   help="check the store against every published anchor (the topic, or an exported file)")
    d = actions.add_parser("digest", help="the signed head hash of every chain, to keep outside the store")
    d.add_argument("--out", help="file to write (default: standard output)")
    actions.add_parser("anchor", help="publish signed hashes of every event since the last anchor, now")
    an = actions.add_parser("anchors", help="export every published anchor (JSON lines)")
    an.add_argument("--out", help="file to write (default: standard output)")
    k = actions.add_parser("keys", help="the engine's public keys (current and retired), to publish")
    k.add_argument("--out", help="file to write (default: standard output)")
    nk = actions.add_parser("new-key", help="generate a signing key into a new file (for a rotation)")
    nk.add_argument("--out", required=True, help="file to create (never overwritten)")
    bu = actions.add_parser("bundle", help="export a claim's signed audit bundle")
    bu.add_argument("claim", help="claim id")
    bu.add_argument("--out", required=True, help="file to write")
    au.set_defaults(func=cmd_audit)
    sub.add_parser("anchor", help="publish anchors every SERVICEORDER_ANCHOR_INTERVAL seconds").set_defaults(
        func=lambda settings, args: run_loop(settings, lambda runtime: runtime.anchors(at_start=True)))

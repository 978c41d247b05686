#!/usr/bin/env python3
"""Check a serviceorder audit bundle without the service: Python 3.9+ standard library only.

    python3 verify_bundle.py claim-bundle.audit [--digest digest.json]

It checks, and says exactly where anything fails:
1. the SHA-256 in the bundle's first line against the exact bytes that follow (any changed
   byte fails);
2. every chain from version 1: versions in sequence, each link naming its predecessor's
   hash, each hash matching the stored bytes (the same computation as engine/chain.py:
   SHA-256 of b"serviceorder-chain-v1\\n" + previous hash + "<aggregate id>\\n<version>\\n
   <topic>\\n" + payload, where a stored event is b"SOC1" + previous + hash + payload);
3. that each readable copy of an event says what its stored payload says (when the payload
   is plain JSON, i.e. not encrypted), fields added by upcasting an older version and
   personal fields sealed under a customer's key excepted;
4. with --digest: that every chain head the digest recorded is still in the bundle with the
   same hash (the history was not rewritten after the digest was taken).
Exit status 0 when everything holds, 1 otherwise, 2 for unusable input.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import uuid

FORMAT = "serviceorder-audit-bundle-v1"
DIGEST_FORMAT = "serviceorder-digest-v1"
MAGIC = b"SOC1"
DOMAIN = b"serviceorder-chain-v1\n"
SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}


def link_hash(previous: bytes, aggregate_id: str, version: int, topic: str, payload: bytes) -> bytes:
    return hashlib.sha256(DOMAIN + previous + f"{aggregate_id}\n{version}\n{topic}\n".encode() + payload).digest()


def untag(obj: dict) -> object:
    """The library's JSON transcoder tags non-JSON values as {"_type_": ..., "_data_": ...}."""
    if set(obj) == {"_type_", "_data_"}:
        if obj["_type_"] == "uuid_hex":
            return str(uuid.UUID(obj["_data_"]))
        return obj["_data_"]
    return obj


def check_chain(chain: dict) -> list[str]:
    problems: list[str] = []
    aggregate_id = chain["aggregate_id"]
    previous = bytes(32)
    for expected, event in enumerate(chain["events"], 1):
        where = f"{aggregate_id} v{event.get('version')}"
        if event["version"] != expected:
            kind = "missing (deleted)" if event["version"] > expected else "out of order"
            return problems + [f"{aggregate_id} v{expected}: expected version {expected}, found "
                               f"{event['version']}: {kind}"]
        state = base64.b64decode(event["stored"], validate=True)
        if state[:4] != MAGIC:
            return problems + [f"{where}: the stored event carries no chain link"]
        prev, own, payload = state[4:36], state[36:68], state[68:]
        if prev != previous:
            return problems + [f"{where}: its link does not name the previous event's hash (reordered or inserted)"]
        if link_hash(prev, aggregate_id, expected, event["topic"], payload) != own:
            return problems + [f"{where}: its content does not match its hash (edited)"]
        problems += check_view(where, payload, event.get("view") or {})
        previous = own
    return problems


def check_view(where: str, payload: bytes, view: dict) -> list[str]:
    try:
        stored = json.loads(payload, object_hook=untag)
    except (UnicodeDecodeError, ValueError):
        return []  # compressed or encrypted: the chain vouches for the bytes, not the copy
    stored_version = stored.pop("class_version", 1)
    data = {k: v for k, v in stored.items() if k not in SKIP}
    sealed = {k for k, v in data.items() if isinstance(v, dict) and v.get("_pii_") == 1}
    shown = view.get("data") or {}
    problems = [f"{where}: the readable copy's {field} differs from the stored event"
                for field, said in (("recorded_at", stored.get("timestamp")), ("meta", stored.get("meta") or {}))
                if view.get(field) != said]
    # Personal fields are sealed under the customer's key (or erased): the chain vouches for
    # their ciphertext; the readable copy cannot be checked against it without the key.
    data = {k: v for k, v in data.items() if k not in sealed}
    shown = {k: v for k, v in shown.items() if k not in sealed}
    if any(shown.get(k, object()) != v for k, v in data.items()):
        problems.append(f"{where}: the readable copy's data differs from the stored event")
    # Fields the stored event lacks may only come from upcasting an older version.
    if set(shown) - set(data) and stored_version >= view.get("event_version", 1):
        problems.append(f"{where}: the readable copy's data has fields the stored event does not")
    return problems


def check_digest(chains: dict, digest: dict) -> list[str]:
    if digest.get("format") != DIGEST_FORMAT:
        return ["the digest file is not a serviceorder digest"]
    root = hashlib.sha256("".join(f"{a} {v} {h}\n" for a, v, h in digest["chains"]).encode()).hexdigest()
    if root != digest.get("root"):
        return ["the digest's root does not match its chains: the digest itself was altered"]
    problems = []
    for aggregate_id, version, expected in digest["chains"]:
        chain = chains.get(aggregate_id)
        if chain is None:
            continue  # the bundle holds only some aggregates
        events = {e["version"]: e for e in chain["events"]}
        if version not in events:
            problems.append(f"{aggregate_id} v{version}: in the digest but not in the bundle (truncated)")
            continue
        own = base64.b64decode(events[version]["stored"])[36:68].hex()
        if own != expected:
            problems.append(f"{aggregate_id} v{version}: hash differs from the digest's (rewritten after it)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--digest", help="a digest exported earlier (serviceorder audit digest)")
    args = parser.parse_args(argv)
    with open(args.bundle, "rb") as f:
        raw = f.read()
    header, _, body = raw.partition(b"\n")
    parts = header.decode("ascii", "replace").split(" ")
    if len(parts) != 2 or parts[0] != FORMAT or not parts[1].startswith("sha256="):
        print(f"not a {FORMAT} file", file=sys.stderr)
        return 2
    problems = []
    if hashlib.sha256(body).hexdigest() != parts[1][len("sha256="):]:
        problems.append("the bundle's bytes do not match its SHA-256: the file was changed after export")
    try:
        bundle = json.loads(body)
        chains = {c["aggregate_id"]: c for c in bundle["chains"]}
        for chain in bundle["chains"]:
            problems += check_chain(chain)
    except (ValueError, KeyError, TypeError) as exc:
        problems.append(f"the bundle's content is unreadable: {exc!r}")
        chains, bundle = {}, {}
    if args.digest and chains:
        with open(args.digest, encoding="utf-8") as f:
            problems += check_digest(chains, json.load(f))
    events = sum(len(c["events"]) for c in chains.values())
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        return 1
    print(f"OK {bundle.get('subject')}: {len(chains)} chains, {events} events, every link intact"
          + (", heads match the digest" if args.digest else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

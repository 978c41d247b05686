#!/usr/bin/env python3
"""Check a serviceorder audit bundle without the service: Python 3.9+ standard library only.

    python3 verify_bundle.py claim.audit [--keys public-keys.json] [--digest digest.json] [--all-signatures]

It refuses the bundle, saying where, unless all of this holds:
1. the SHA-256 in the first line matches the bytes that follow, and the engine's Ed25519
   signature in the first line holds over it (so the subject, the list of chains and every
   readable copy are as the engine exported them); the keys come from --keys (the
   engine's published keys: pin them) or else from the bundle itself (then compare the
   key id printed with the one the engine's operator publishes);
2. the subject has its chain, of the named type, and every chain of the bundle's manifest
   is present with the manifest's head;
3. every chain links from version 1: versions in sequence, each link naming its
   predecessor's hash, each hash recomputed from the stored bytes (or, for an event of
   another customer shown as a hash-only entry, from its payload digest), no unsigned event
   after a signed one, and the head's Ed25519 signature (RFC 8032, written out below) holding
   under a trusted key, which vouches for every link before it (--all-signatures checks each);
4. each readable copy says exactly what its signed event says: type, version, event version,
   time, meta and every data field (personal fields are shown as withheld, and must be sealed);
5. with --digest: the digest's signature holds, and every head it recorded for a chain of the
   bundle is still there with the same hash.
Exit status 0 when everything holds, 1 otherwise, 2 for unusable input. One file on purpose,
longer than the project's modules: it is handed to people outside the company, who should
be able to read all of it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import uuid

FORMAT = "serviceorder-audit-bundle-v2"
DIGEST_FORMAT = "serviceorder-digest-v1"
KEYS_FORMAT = "serviceorder-public-keys-v1"
WITHHELD = {"withheld": "personal data, sealed under the customer's key"}
SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta", "class_version"}

# Ed25519 verification, RFC 8032 section 5.1.7 (points in extended coordinates, 5.1.4).
P = 2 ** 255 - 19
L = 2 ** 252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
BY = 4 * pow(5, P - 2, P) % P


def _add(a: tuple, b: tuple) -> tuple:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = t1 * 2 * D * t2 % P, z1 * 2 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return e * f % P, g * h % P, f * g % P, e * h % P


def _double(a: tuple) -> tuple:
    x1, y1, z1, _ = a
    aa, bb, cc = x1 * x1 % P, y1 * y1 % P, 2 * z1 * z1 % P
    h = aa + bb
    e, g = h - (x1 + y1) * (x1 + y1), aa - bb
    f = cc + g
    return e * f % P, g * h % P, f * g % P, e * h % P


def _mul2(s: int, a: tuple, h: int, b: tuple) -> tuple:
    """[s]a + [h]b in one pass of doublings (Straus)."""
    both, result = _add(a, b), (0, 1, 1, 0)
    for i in range(max(s.bit_length(), h.bit_length()) - 1, -1, -1):
        result = _double(result)
        bit_s, bit_h = (s >> i) & 1, (h >> i) & 1
        if bit_s or bit_h:
            result = _add(result, both if bit_s and bit_h else a if bit_s else b)
    return result


def _decode(s: bytes) -> tuple | None:
    y = int.from_bytes(s, "little") & ((1 << 255) - 1)
    sign = s[31] >> 7
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P or (x == 0 and sign):
        return None
    if x & 1 != sign:
        x = P - x
    return x, y, 1, x * y % P


BASE = _decode(BY.to_bytes(32, "little"))


def ed25519_verify(public: bytes, message: bytes, signature: bytes) -> bool:
    if len(public) != 32 or len(signature) != 64:
        return False
    a, r = _decode(public), _decode(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    # [s]B = R + [h]A, checked as [s]B + [h](-A) = R.
    left, right = _mul2(s, BASE, h, ((P - a[0]) % P, a[1], a[2], (P - a[3]) % P)), r
    return (left[0] * right[2] - right[0] * left[2]) % P == 0 and (left[1] * right[2] - right[1] * left[2]) % P == 0


# The engine's formats (engine/store/chain.py, bundles.py, anchors.py).
def chain_hash(previous: bytes, aggregate_id: str, version: int, topic: str, payload: bytes, signed: bool) -> bytes:
    ids = f"{aggregate_id}\n{version}\n{topic}\n".encode()
    if signed:  # payload is the payload's SHA-256
        return hashlib.sha256(b"serviceorder-chain-v2\n" + previous + ids + payload).digest()
    return hashlib.sha256(b"serviceorder-chain-v1\n" + previous + ids + payload).digest()


def untag(obj: dict) -> object:
    """The library's JSON transcoder tags non-JSON values as {"_type_": ..., "_data_": ...}."""
    if set(obj) == {"_type_", "_data_"}:
        return str(uuid.UUID(obj["_data_"])) if obj["_type_"] == "uuid_hex" else obj["_data_"]
    return obj


def no_duplicates(pairs: list) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in an object: {sorted(k for k in set(keys) if keys.count(k) > 1)}")
    return dict(pairs)


def readable_copy(topic: str, payload: bytes) -> dict | None:
    try:
        state = json.loads(payload, object_hook=untag)
    except (UnicodeDecodeError, ValueError):
        return None
    data = {k: WITHHELD if isinstance(v, dict) and v.get("_pii_") == 1 else v
            for k, v in state.items() if k not in SKIP}
    return {"event_type": topic.rsplit(".", 1)[-1], "event_version": state.get("class_version", 1),
            "recorded_at": state.get("timestamp"), "meta": state.get("meta") or {}, "data": data}


class Checker:
    def __init__(self, keys: dict, all_signatures: bool) -> None:
        self.keys, self.all_signatures = keys, all_signatures
        self.problems: list = []
        self.notes: list = []
        self.counts = {"full": 0, "withheld": 0, "unsigned": 0}

    def signature_holds(self, where: str, key_id: str, message: bytes, signature: bytes) -> bool:
        public = self.keys.get(key_id)
        if public is None:
            self.problems.append(f"{where}: signed by key {key_id}, which is not a trusted key of the engine")
            return False
        if not ed25519_verify(public, message, signature):
            self.problems.append(f"{where}: its signature does not hold (forged, or re-hashed without the key)")
            return False
        return True

    def chain(self, chain: dict) -> tuple:
        """Check one chain; (head version, head hash hex)."""
        aggregate_id, previous, signed_links = chain["aggregate_id"], bytes(32), []
        for expected, event in enumerate(chain["events"], 1):
            where = f"{aggregate_id} v{event.get('version')}"
            if event["version"] != expected:
                kind = "missing (deleted)" if event["version"] > expected else "out of order"
                self.problems.append(f"{aggregate_id} v{expected}: expected version {expected}, found "
                                     f"{event['version']}: {kind}")
                return None, None
            broken_at = len(self.problems)
            link = self.link(where, aggregate_id, expected, event, previous, bool(signed_links))
            if link is None:
                # A forgery before the break (an inserted event) is the first wrong version.
                found = self.problems[broken_at:]
                del self.problems[broken_at:]
                self.signatures(signed_links)
                self.problems += found
                return None, None
            own, signed = link
            if signed is not None:
                signed_links.append((where, own) + signed)
            previous = own
        self.signatures(signed_links)
        return len(chain["events"]), previous.hex() if chain["events"] else None

    def link(self, where: str, aggregate_id: str, version: int, event: dict, previous: bytes, after_signed: bool):
        if event.get("withheld"):
            self.counts["withheld"] += 1
            prev, own = bytes.fromhex(event["previous"]), bytes.fromhex(event["hash"])
            is_signed = "signature" in event
            if not is_signed:  # from before signing: its hash covers a payload the bundle withholds
                self.notes.append(f"{where}: unsigned and withheld; its own hash cannot be recomputed")
                payload_digest, signed = None, None
            else:
                payload_digest, signed = bytes.fromhex(event["payload_sha256"]), (event["key_id"],
                                                                                 bytes.fromhex(event["signature"]))
        else:
            self.counts["full"] += 1
            state = base64.b64decode(event["stored"], validate=True)
            magic = state[:4]
            if magic not in (b"SOC1", b"SOC2"):
                self.problems.append(f"{where}: the stored event carries no chain link")
                return None
            is_signed = magic == b"SOC2"
            prev, own = state[4:36], state[36:68]
            payload = state[140:] if is_signed else state[68:]
            payload_digest = hashlib.sha256(payload).digest() if is_signed else payload
            signed = (state[68:76].hex(), state[76:140]) if is_signed else None
            self.view(where, version, event, payload)
        if prev != previous:
            self.problems.append(f"{where}: its link does not name the previous event's hash (reordered or inserted)")
            return None
        if payload_digest is not None and \
                chain_hash(prev, aggregate_id, version, event["topic"], payload_digest, is_signed) != own:
            self.problems.append(f"{where}: its content does not match its hash (edited)")
            return None
        if not is_signed:
            self.counts["unsigned"] += 1
            if after_signed:
                self.problems.append(f"{where}: an unsigned event after signed ones (not written by the engine)")
                return None
        return own, signed

    def signatures(self, signed_links: list) -> None:
        """The head's signature vouches for every link before it; on failure, find the first bad one."""
        if not signed_links:
            return
        quiet = Checker(self.keys, False)
        where, own, key_id, signature = signed_links[-1]
        if not self.all_signatures and quiet.signature_holds(where, key_id, b"serviceorder-event-v2\n" + own,
                                                             signature):
            return
        for where, own, key_id, signature in signed_links:
            if not self.signature_holds(where, key_id, b"serviceorder-event-v2\n" + own, signature) \
                    and not self.all_signatures:
                return

    def view(self, where: str, version: int, event: dict, payload: bytes) -> None:
        stored, shown = readable_copy(event["topic"], payload), event.get("view") or {}
        if stored is None:
            self.notes.append(f"{where}: payload compressed or encrypted; its readable copy was not checked")
            return
        for field in ("event_type", "event_version", "recorded_at", "meta"):
            if shown.get(field) != stored[field]:
                self.problems.append(f"{where}: the readable copy's {field} differs from the signed event")
        data, said = stored["data"], shown.get("data")
        if not isinstance(said, dict):
            self.problems.append(f"{where}: the readable copy has no data")
            return
        for field in sorted(set(data) | set(said)):
            if field not in data:
                self.problems.append(f"{where}: the readable copy has a field {field!r} the signed event does not")
            elif field not in said or said[field] != data[field]:
                self.problems.append(f"{where}: the readable copy's {field} differs from the signed event")
        if set(shown) - {"event_type", "event_version", "recorded_at", "meta", "data"}:
            self.problems.append(f"{where}: the readable copy has parts the signed event does not")


def trusted_keys(bundle: dict, keys_file: str | None) -> tuple:
    if keys_file:
        with open(keys_file, encoding="utf-8") as f:
            document = json.load(f, object_pairs_hook=no_duplicates)
        if document.get("format") != KEYS_FORMAT:
            raise ValueError(f"{keys_file} is not a {KEYS_FORMAT} document")
        publics, source = [k["public_key"] for k in document["keys"]], f"from {keys_file}"
    else:
        publics = list((bundle.get("public_keys") or {}).values())
        source = "from the bundle itself: compare with the engine's published key ids, or pass --keys"
    keys = {hashlib.sha256(bytes.fromhex(p)).digest()[:8].hex(): bytes.fromhex(p) for p in publics}
    return keys, source


def check_bundle(header: list, body: bytes, bundle: dict, checker: Checker) -> dict:
    problems = checker.problems
    digest = hashlib.sha256(body).digest()
    fields = dict(part.split("=", 1) for part in header[1:] if "=" in part)
    if fields.get("sha256") != digest.hex():
        problems.append("the bundle's bytes do not match its SHA-256: the file was changed after export")
    quiet = Checker(checker.keys, False)
    if not quiet.signature_holds("the bundle", fields.get("key", "?"), b"serviceorder-bundle-v2\n" + digest,
                                 bytes.fromhex(fields.get("signature", ""))):
        problems.append(f"{quiet.problems[0]}: the bundle is not as the engine signed it (its subject, chains or "
                        "readable copies were changed)")
    chains = {c["aggregate_id"]: c for c in bundle["chains"]}
    subject = chains.get(bundle["subject"])
    if subject is None or subject.get("relation") != "subject":
        problems.append(f"the subject {bundle['subject']}'s own chain is not in the bundle")
    elif not subject["events"] or subject["events"][0]["topic"].split(":")[-1].split(".")[0] != bundle["subject_type"]:
        problems.append(f"the subject's chain is not a {bundle['subject_type']}")
    heads = {}
    for chain in bundle["chains"]:
        heads[chain["aggregate_id"]] = checker.chain(chain)
    listed = {m[0]: m for m in bundle["manifest"]}
    for aggregate_id, relation, version, head in bundle["manifest"]:
        if aggregate_id not in chains:
            problems.append(f"{aggregate_id} ({relation}): in the bundle's manifest but its chain is missing")
        elif heads[aggregate_id][0] is not None and heads[aggregate_id] != (version, head):
            problems.append(f"{aggregate_id}: its head is not the one the manifest names (v{version})")
    problems += [f"{a}: a chain that is not in the bundle's manifest" for a in chains if a not in listed]
    return chains


def check_digest(chains: dict, bundle: dict, digest: dict, checker: Checker) -> None:
    problems = checker.problems
    if digest.get("format") != DIGEST_FORMAT:
        problems.append("the digest file is not a serviceorder digest")
        return
    root = hashlib.sha256("".join(f"{a} {v} {h}\n" for a, v, h in digest["chains"]).encode()).hexdigest()
    if root != digest.get("root"):
        problems.append("the digest's root does not match its chains: the digest itself was altered")
    if "signature" not in digest:
        checker.notes.append("the digest is not signed (taken before signing existed)")
    else:
        fields = {k: v for k, v in digest.items() if k != "signature"}
        text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        checker.signature_holds("the digest", digest["key_id"], b"serviceorder-document-v1\n"
                                + hashlib.sha256(text).digest(), bytes.fromhex(digest["signature"]))
    manifest = {m[0]: m for m in bundle["manifest"]}
    for aggregate_id, version, expected in digest["chains"]:
        if aggregate_id not in manifest:
            continue  # a chain the bundle does not need
        chain = chains.get(aggregate_id)
        events = {e["version"]: e for e in chain["events"]} if chain else {}
        if version not in events:
            problems.append(f"{aggregate_id} v{version}: in the digest but not in the bundle (removed or truncated)")
            continue
        event = events[version]
        own = event["hash"] if event.get("withheld") else base64.b64decode(event["stored"])[36:68].hex()
        if own != expected:
            problems.append(f"{aggregate_id} v{version}: hash differs from the digest's (rewritten after it)")


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--keys", help="the engine's public keys (serviceorder audit keys): trust only these")
    parser.add_argument("--digest", help="a digest exported earlier (serviceorder audit digest)")
    parser.add_argument("--all-signatures", action="store_true", help="check every event's signature")
    args = parser.parse_args(argv)
    with open(args.bundle, "rb") as f:
        raw = f.read()
    first, _, body = raw.partition(b"\n")
    header = first.decode("ascii", "replace").split(" ")
    if header[0] != FORMAT:
        print(f"not a {FORMAT} file", file=sys.stderr)
        return 2
    try:
        bundle = json.loads(body, object_pairs_hook=no_duplicates)
        keys, source = trusted_keys(bundle, args.keys)
        checker = Checker(keys, args.all_signatures)
        chains = check_bundle(header, body, bundle, checker)
        if args.digest:
            with open(args.digest, encoding="utf-8") as f:
                check_digest(chains, bundle, json.load(f, object_pairs_hook=no_duplicates), checker)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        print(f"FAIL the bundle's content is unreadable: {exc!r}")
        return 1
    for note in checker.notes:
        print(f"NOTE {note}")
    if checker.problems:
        for p in dict.fromkeys(checker.problems):
            print(f"FAIL {p}")
        return 1
    c = checker.counts
    print(f"OK {bundle['subject']} ({bundle['subject_type']}): {len(chains)} chains, {c['full'] + c['withheld']} "
          f"events ({c['full']} in full, {c['withheld']} of others as hash only, {c['unsigned']} unsigned from "
          f"before signing), every link intact, signed by key {header[2][4:] if len(header) > 2 else '?'} "
          f"({source})" + (", heads match the digest" if args.digest else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())

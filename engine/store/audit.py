"""What auditors read: any aggregate's history with its chain links, its state as of any
version or time, the difference between two versions, chain verification over one
aggregate or the whole store, digests of every chain head, and audit bundles.

Everything here reads the event store, never a view: the store is the record. Views are
used only to *find* related aggregates (by correlation and causation id); what is shown
about them is read back from the store and verified.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable
from uuid import UUID

from engine.store.anchors import document_problem, sign_document
from engine.store.bundles import export_bundle
from engine.store.chain import GENESIS, Link, read_link
from engine.store.verification import ChainReport, check_link, check_signature, verify_chain
from engine.domain.errors import InvalidCommand, NotFound
from engine.store.snapshots import check_snapshots, snapshot_originators

DIGEST_FORMAT = "serviceorder-digest-v1"
_SKIP = {"originator_id", "originator_version", "timestamp", "originator_topic", "meta"}


def plain(value: Any) -> Any:
    """JSON-ready copy of aggregate or event state."""
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def digest_root(chains: list[list[Any]]) -> str:
    return hashlib.sha256("".join(f"{a} {v} {h}\n" for a, v, h in chains).encode()).hexdigest()


class Audit:
    """Audit reads over a ServiceOrderApp's event store."""

    def __init__(self, app: Any) -> None:
        self.app = app
        # The engine's public keys (from its key files, never from the store) check signatures.
        self.signer = getattr(app, "signer", None)
        self.keyring = self.signer.keyring if self.signer is not None else None

    # One aggregate ---------------------------------------------------------------------

    def _stored(self, aggregate_id: UUID) -> list[Any]:
        stored = list(self.app.recorder.select_events(aggregate_id))
        if not stored:
            raise NotFound(f"{aggregate_id} has no history")
        return stored

    def _head(self, aggregate_id: UUID) -> list[Any]:
        head = list(self.app.recorder.select_events(aggregate_id, desc=True, limit=1))
        if not head:
            raise NotFound(f"{aggregate_id} has no history")
        return head

    def history(self, aggregate_id: UUID) -> dict[str, Any]:
        """Every event with who, when, why, the ids that tie it to a conversation, and its link."""
        stored = self._stored(aggregate_id)
        events = []
        for s in stored:
            link = read_link(s.state)
            events.append({**self._describe(s), "previous_hash": link.previous.hex() if link.previous else None,
                           "hash": link.own.hex() if link.own else None,
                           "key_id": link.key_id.hex() if link.key_id else None})
        report = self._verify(aggregate_id, stored)
        return {"aggregate_id": str(aggregate_id), "aggregate_type": events[0]["topic"].rsplit(".", 1)[0].split(":")[-1],
                "version": stored[-1].originator_version, "chain": report.as_dict(), "events": events}

    def _describe(self, stored: Any) -> dict[str, Any]:
        event = self.app.mapper.to_domain_event(stored)
        return {"version": stored.originator_version, "event_type": stored.topic.rsplit(".", 1)[-1],
                "topic": stored.topic, "event_version": getattr(type(event), "class_version", 1),
                "recorded_at": event.timestamp.isoformat(),
                "meta": dict(getattr(event, "meta", {}) or {}),
                "data": {k: plain(v) for k, v in vars(event).items() if k not in _SKIP}}

    def state(self, aggregate_id: UUID, *, version: int | None = None, at: datetime | None = None) -> dict[str, Any]:
        """The aggregate as it was after ``version``, or at time ``at`` (the last event then)."""
        if version is not None and at is not None:
            raise InvalidCommand("give a version or a time, not both")
        # The head alone tells whether the version exists; a time needs every event's time.
        stored = self._stored(aggregate_id) if at is not None else self._head(aggregate_id)
        if at is not None:
            if at.tzinfo is None:
                raise InvalidCommand("the time needs a UTC offset")
            times = [(s.originator_version, self.app.mapper.to_domain_event(s).timestamp) for s in stored]
            before = [v for v, t in times if t <= at]
            if not before:
                raise NotFound(f"{aggregate_id} did not exist at {at.isoformat()}")
            version = before[-1]
        head = stored[-1].originator_version
        if version is not None and not 1 <= version <= head:
            raise NotFound(f"{aggregate_id} has versions 1 to {head}, not {version}")
        aggregate = self.app.repository.get(aggregate_id, version=version)
        last = self.app.recorder.select_events(aggregate_id, gt=aggregate.version - 1, lte=aggregate.version)
        change = self._describe(last[0]) if last else None
        return {"aggregate_id": str(aggregate_id), "aggregate_type": type(aggregate).__name__,
                "version": aggregate.version, "as_of": at.isoformat() if at else None,
                "recorded_at": aggregate.modified_on.isoformat(),
                # Who made this state and why: the last event it includes.
                "last_change": None if change is None else {
                    **{k: change[k] for k in ("version", "event_type", "recorded_at")},
                    **{k: change["meta"].get(k) for k in ("actor", "reason", "request_id", "correlation_id")}},
                "state": {k: plain(v) for k, v in vars(aggregate).items() if not k.startswith("_")}}

    def diff(self, aggregate_id: UUID, from_version: int, to_version: int) -> dict[str, Any]:
        """Which fields changed between two versions, from what to what, and the events between."""
        before = self.state(aggregate_id, version=from_version)
        after = self.state(aggregate_id, version=to_version)
        old, new = flatten(before["state"]), flatten(after["state"])
        changes = [{"field": f, "from": old.get(f), "to": new.get(f)}
                   for f in sorted(set(old) | set(new)) if old.get(f) != new.get(f)]
        low, high = sorted((from_version, to_version))
        between = [self._describe(s) for s in self.app.recorder.select_events(aggregate_id, gt=low, lte=high)]
        return {"aggregate_id": str(aggregate_id), "from_version": from_version, "to_version": to_version,
                "changes": changes, "events": between}

    def verify(self, aggregate_id: UUID) -> ChainReport:
        return self._verify(aggregate_id, self._stored(aggregate_id))

    def _verify(self, aggregate_id: UUID, stored: list[Any]) -> ChainReport:
        """The chain (links and signatures), then every snapshot against the replayed events."""
        report = verify_chain(str(aggregate_id), stored, self.keyring)
        if report.broken is not None:
            return report
        broken, checked = check_snapshots(self.app, aggregate_id, stored, self.keyring)
        return replace(report, broken=broken, snapshots=checked)

    # The whole store -----------------------------------------------------------------------

    def scan(self, batch: int = 2_000) -> tuple[int, dict[str, dict[str, Any]], list[dict[str, Any]]]:
        """One pass over the notification log: every chain checked, with its head.

        Returns (position reached, heads {aggregate: {version, hash}}, first break per chain).
        An aggregate's events appear in the log in version order, so one pass suffices.
        """
        heads: dict[str, tuple[int, bytes, Link | None]] = {}
        broken: dict[str, dict[str, Any]] = {}
        position = 0
        while True:
            notes = self.app.recorder.select_notifications(start=position + 1, limit=batch)
            if not notes:
                break
            for n in notes:
                position = n.id
                key = str(n.originator_id)
                if key in broken:
                    continue
                version, previous, signed = heads.get(key, (0, GENESIS, None))
                found, link = check_link(key, version + 1, previous, n, None, signed is not None)
                if found is not None or link.own is None:
                    broken[key] = found.as_dict() if found else {}
                else:  # the head's signature vouches for the chain: keep it, without the payload
                    heads[key] = (version + 1, link.own, replace(link, payload=b"") if link.key_id else signed)
        forged = {k for k, (v, _, head) in heads.items() if head is not None and k not in broken
                  and check_signature(k, v, head, self.keyring) is not None}
        # A broken chain is judged again in version order: an event inserted later sits at
        # the end of the log, and the first broken link is the first in version order.
        # Snapshots are checked against the replayed events of their aggregate.
        suspects = set(broken) | forged | ({str(a) for a in snapshot_originators(self.app.snapshots.recorder)}
                                           if self.app.snapshots is not None else set())
        for key in sorted(suspects):
            stored = list(self.app.recorder.select_events(UUID(key)))
            report = self._verify(UUID(key), stored) if stored else None
            if report is None or report.broken is None:
                broken.pop(key, None)
            else:
                broken[key] = report.broken.as_dict()
        return position, {k: {"version": v, "hash": h.hex()} for k, (v, h, _) in heads.items()}, \
            sorted(broken.values(), key=lambda b: (b["aggregate_id"], b["version"]))

    def verify_all(self) -> dict[str, Any]:
        position, heads, broken = self.scan()
        return {"position": position, "chains": len(heads) + len({b["aggregate_id"] for b in broken} - set(heads)),
                "intact": not broken, "broken": broken}

    def digest(self, now: datetime) -> dict[str, Any]:
        """The head of every chain at a store position: keep it outside the store, check it later."""
        position, heads, broken = self.scan()
        chains = sorted([a, h["version"], h["hash"]] for a, h in heads.items())
        digest = {"format": DIGEST_FORMAT, "position": position, "taken_at": now.isoformat(),
                  "intact": not broken, "broken": broken, "chains": chains, "root": digest_root(chains)}
        return sign_document(digest, self.signer) if self.signer is not None else digest

    def check_digest(self, digest: dict[str, Any]) -> dict[str, Any]:
        """Has the store been rewritten since ``digest`` was taken? Every head it lists must still
        be in the store with the same hash, on a chain that still verifies."""
        if digest.get("format") != DIGEST_FORMAT or not isinstance(digest.get("chains"), list):
            raise InvalidCommand(f"not a {DIGEST_FORMAT} document")
        chains = digest["chains"]
        if digest_root(chains) != digest.get("root"):
            raise InvalidCommand("the digest's root does not match its chains: the digest itself was altered")
        if "signature" in digest and (problem := document_problem(digest, self.keyring)) is not None:
            raise InvalidCommand(f"the digest's signature: {problem}")
        position, heads, broken = self.scan()
        mismatches = []
        for aggregate_id, version, expected in chains:
            stored = self.app.recorder.select_events(UUID(aggregate_id), gt=version - 1, lte=version)
            own = read_link(stored[0].state).own if stored else None
            if own is None or own.hex() != expected:
                mismatches.append({"aggregate_id": aggregate_id, "version": version,
                                   "kind": "missing" if not stored else "rewritten",
                                   "detail": "the event at the digest's head is gone (truncated or deleted)"
                                   if not stored else "the event at the digest's head has a different hash: "
                                   "the chain was rewritten after the digest was taken"})
        return {"digest_position": digest.get("position"), "digest_taken_at": digest.get("taken_at"),
                "digest_signed": "signature" in digest,  # unsigned: taken before signing existed
                "position": position, "checked": len(chains), "intact": not broken and not mismatches,
                "rewritten": mismatches, "broken": broken}

    # A claim's whole story ------------------------------------------------------------------------

    def claim_story(self, claim_id: UUID, linked: Callable[[set[str], set[str]], list[tuple[str, int, str]]]
                    ) -> dict[str, Any]:
        """The claim's events and the related events of other aggregates, in one chronological story.

        Related are: the complaint the claim came from and the order or job that complaint
        names (all their events: the visits are the job's), and any event in the same
        conversation (correlation id) as those, or caused by one of their requests.
        """
        claim = self._first_event_data(claim_id, "CompensationClaim")
        relations: dict[str, str] = {str(claim_id): "subject"}
        complaint_id = claim.get("complaint_id")
        if complaint_id:
            relations[complaint_id] = "complaint"
            filed = self._first_event_data(UUID(complaint_id))
            for key in ("order_id", "job_id"):
                if filed.get(key):
                    relations.setdefault(filed[key], "referenced")
        entries: dict[tuple[str, int], dict[str, Any]] = {}
        for aggregate_id, relation in relations.items():
            for s in self._stored(UUID(aggregate_id)):
                entries[(aggregate_id, s.originator_version)] = self._entry(s, relation)
        correlations = {e["meta"].get("correlation_id") for e in entries.values()} - {None}
        requests = {e["meta"].get("request_id") for e in entries.values()} - {None}
        for aggregate_id, version, how in linked(correlations, requests):
            if (aggregate_id, version) in entries:
                continue
            stored = self.app.recorder.select_events(UUID(aggregate_id), gt=version - 1, lte=version)
            if stored:
                entries[(aggregate_id, version)] = self._entry(stored[0], how)
        story = sorted(entries.values(), key=lambda e: (e["recorded_at"], e["aggregate_id"], e["version"]))
        aggregates = sorted({e["aggregate_id"] for e in story})
        chains = {a: self.verify(UUID(a)).as_dict() for a in aggregates}
        return {"claim_id": str(claim_id), "aggregates": [{"aggregate_id": a, "relation": relations.get(a, next(
            e["relation"] for e in story if e["aggregate_id"] == a)), "chain": chains[a]} for a in aggregates],
                "intact": all(c["intact"] for c in chains.values()), "story": story}

    def _entry(self, stored: Any, relation: str) -> dict[str, Any]:
        own = read_link(stored.state).own
        return {"aggregate_id": str(stored.originator_id),
                "aggregate_type": stored.topic.split(":")[-1].split(".")[0], "relation": relation,
                **self._describe(stored), "hash": own.hex() if own else None}

    def _first_event_data(self, aggregate_id: UUID, expected_type: str | None = None) -> dict[str, Any]:
        first = self._stored(aggregate_id)[0]
        if expected_type and first.topic.split(":")[-1].split(".")[0] != expected_type:
            raise NotFound(f"{aggregate_id} is not a {expected_type}")
        return self._describe(first)["data"]

    # Bundles ----------------------------------------------------------------------------------

    def bundle(self, story: dict[str, Any] | UUID, now: datetime) -> bytes:
        """The signed bundle of a claim's story (``claim_story``), or of one aggregate alone:
        engine/bundles.py."""
        if isinstance(story, UUID):
            return export_bundle(self.app, self.signer, story, {str(story): "subject"}, set(), now)
        relations = {story["claim_id"]: "subject", **{a["aggregate_id"]: a["relation"] for a in story["aggregates"]}}
        events = {(e["aggregate_id"], e["version"]) for e in story["story"]}
        return export_bundle(self.app, self.signer, UUID(story["claim_id"]), relations, events, now)

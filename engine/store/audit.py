"""What auditors read: any aggregate's history with its chain links, its state as of any
version or time, the difference between two versions, chain verification over one
aggregate or the whole store, digests of every chain head, and audit bundles.

Everything here reads the event store, never a view: the store is the record. Views are
used only to *find* related aggregates (by correlation and causation id); what is shown
about them is read back from the store and verified.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Callable, Iterable
from uuid import UUID

from engine.store.chain import GENESIS, ChainReport, check_link, unseal, verify_chain
from engine.domain.errors import InvalidCommand, NotFound

BUNDLE_FORMAT = "serviceorder-audit-bundle-v1"
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


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_root(chains: list[list[Any]]) -> str:
    return hashlib.sha256("".join(f"{a} {v} {h}\n" for a, v, h in chains).encode()).hexdigest()


class Audit:
    """Audit reads over a ServiceOrderApp's event store."""

    def __init__(self, app: Any) -> None:
        self.app = app

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
            prev, own, _ = unseal(s.state)
            events.append({**self._describe(s), "previous_hash": prev.hex() if prev else None,
                           "hash": own.hex() if own else None})
        report = verify_chain(str(aggregate_id), stored)
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
        return {"aggregate_id": str(aggregate_id), "aggregate_type": type(aggregate).__name__,
                "version": aggregate.version, "as_of": at.isoformat() if at else None,
                "recorded_at": aggregate.modified_on.isoformat(),
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
        return verify_chain(str(aggregate_id), self._stored(aggregate_id))

    # The whole store -----------------------------------------------------------------------

    def scan(self, batch: int = 2_000) -> tuple[int, dict[str, dict[str, Any]], list[dict[str, Any]]]:
        """One pass over the notification log: every chain checked, with its head.

        Returns (position reached, heads {aggregate: {version, hash}}, first break per chain).
        An aggregate's events appear in the log in version order, so one pass suffices.
        """
        heads: dict[str, tuple[int, bytes]] = {}
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
                version, previous = heads.get(key, (0, GENESIS))
                found, own = check_link(key, version + 1, previous, n)
                if found is not None:
                    broken[key] = found.as_dict()
                else:
                    heads[key] = (version + 1, own)
        # A broken chain is judged again in version order: an event inserted later sits at
        # the end of the log, and the first broken link is the first in version order.
        for key in list(broken):
            report = verify_chain(key, self.app.recorder.select_events(UUID(key)))
            if report.broken is None:
                del broken[key]
            else:
                broken[key] = report.broken.as_dict()
        return position, {k: {"version": v, "hash": h.hex()} for k, (v, h) in heads.items()}, \
            sorted(broken.values(), key=lambda b: (b["aggregate_id"], b["version"]))

    def verify_all(self) -> dict[str, Any]:
        position, heads, broken = self.scan()
        return {"position": position, "chains": len(heads) + len({b["aggregate_id"] for b in broken} - set(heads)),
                "intact": not broken, "broken": broken}

    def digest(self, now: datetime) -> dict[str, Any]:
        """The head of every chain at a store position: keep it outside the store, check it later."""
        position, heads, broken = self.scan()
        chains = sorted([a, h["version"], h["hash"]] for a, h in heads.items())
        return {"format": DIGEST_FORMAT, "position": position, "taken_at": now.isoformat(),
                "intact": not broken, "broken": broken, "chains": chains, "root": digest_root(chains)}

    def check_digest(self, digest: dict[str, Any]) -> dict[str, Any]:
        """Has the store been rewritten since ``digest`` was taken? Every head it lists must still
        be in the store with the same hash, on a chain that still verifies."""
        if digest.get("format") != DIGEST_FORMAT or not isinstance(digest.get("chains"), list):
            raise InvalidCommand(f"not a {DIGEST_FORMAT} document")
        chains = digest["chains"]
        if digest_root(chains) != digest.get("root"):
            raise InvalidCommand("the digest's root does not match its chains: the digest itself was altered")
        position, heads, broken = self.scan()
        mismatches = []
        for aggregate_id, version, expected in chains:
            stored = self.app.recorder.select_events(UUID(aggregate_id), gt=version - 1, lte=version)
            own = unseal(stored[0].state)[1] if stored else None
            if own is None or own.hex() != expected:
                mismatches.append({"aggregate_id": aggregate_id, "version": version,
                                   "kind": "missing" if not stored else "rewritten",
                                   "detail": "the event at the digest's head is gone (truncated or deleted)"
                                   if not stored else "the event at the digest's head has a different hash: "
                                   "the chain was rewritten after the digest was taken"})
        return {"digest_position": digest.get("position"), "digest_taken_at": digest.get("taken_at"),
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
        _, own, _ = unseal(stored.state)
        return {"aggregate_id": str(stored.originator_id),
                "aggregate_type": stored.topic.split(":")[-1].split(".")[0], "relation": relation,
                **self._describe(stored), "hash": own.hex() if own else None}

    def _first_event_data(self, aggregate_id: UUID, expected_type: str | None = None) -> dict[str, Any]:
        first = self._stored(aggregate_id)[0]
        if expected_type and first.topic.split(":")[-1].split(".")[0] != expected_type:
            raise NotFound(f"{aggregate_id} is not a {expected_type}")
        return self._describe(first)["data"]

    # Bundles ----------------------------------------------------------------------------------

    def bundle(self, subject_id: UUID, related: Iterable[UUID], now: datetime) -> bytes:
        """A self-verifying file: the full chains of the subject and related aggregates, with a
        readable copy of each event, and a SHA-256 of the exact body in its first line."""
        aggregates = [subject_id, *[r for r in dict.fromkeys(related) if r != subject_id]]
        chains = []
        for aggregate_id in aggregates:
            stored = self._stored(aggregate_id)
            chains.append({
                "aggregate_id": str(aggregate_id),
                "report": verify_chain(str(aggregate_id), stored).as_dict(),
                "events": [{"version": s.originator_version, "topic": s.topic,
                            "stored": base64.b64encode(s.state).decode(), "view": self._describe(s)}
                           for s in stored],
            })
        body = canonical({"format": BUNDLE_FORMAT, "subject": str(subject_id),
                          "exported_at": now.astimezone(timezone.utc).isoformat(),
                          "store_position": self.app.current_position(), "chains": chains})
        return f"{BUNDLE_FORMAT} sha256={hashlib.sha256(body).hexdigest()}\n".encode() + body

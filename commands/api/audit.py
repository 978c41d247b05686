"""Audit over HTTP: replay any history from the event store, prove it untampered.

Every endpoint needs the ``auditor`` role (``admin`` holds it). Auditors read everything
and can issue no command: the role grants reads only.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Callable
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Response
from kafka.errors import KafkaError

from commands.api.deps import RuntimeDep, requires
from commands.api.problems import Problem
from commands.api.routing import OneHopRoute
from engine.store import anchors
from engine.store.audit import Audit
from engine.application.context import Principal
from projections.audit import linked_events

router = APIRouter(route_class=OneHopRoute, prefix="/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(requires("auditor"))]
Admin = Annotated[Principal, Depends(requires("admin"))]


def _audit(runtime: Any) -> Audit:
    return Audit(runtime.app)


@router.get("/aggregates/{aggregate_id}")
def history(aggregate_id: UUID, _: Auditor, runtime: RuntimeDep) -> dict:
    """Every event of any aggregate, oldest first: actor, time, reason, request and correlation ids,
    the facts and evidence the event names, and its chain link; with the chain's verification."""
    return _audit(runtime).history(aggregate_id)


@router.get("/aggregates/{aggregate_id}/state")
def state(aggregate_id: UUID, _: Auditor, runtime: RuntimeDep,
          version: Annotated[int | None, Query(ge=1, le=2**31)] = None,
          at: Annotated[datetime | None, Query(description="ISO time with offset: the state then")] = None) -> dict:
    """The aggregate as of a version, or as of a point in time (its last event by then); else now."""
    return _audit(runtime).state(aggregate_id, version=version, at=at)


@router.get("/aggregates/{aggregate_id}/diff")
def diff(aggregate_id: UUID, _: Auditor, runtime: RuntimeDep,
         from_version: Annotated[int, Query(ge=1, le=2**31, alias="from")],
         to_version: Annotated[int, Query(ge=1, le=2**31, alias="to")]) -> dict:
    """Which fields changed between two versions, from what to what, and the events in between."""
    return _audit(runtime).diff(aggregate_id, from_version, to_version)


@router.get("/aggregates/{aggregate_id}/verify")
def verify(aggregate_id: UUID, _: Auditor, runtime: RuntimeDep) -> dict:
    return _audit(runtime).verify(aggregate_id).as_dict()


@router.get("/verify")
def verify_all(_: Auditor, runtime: RuntimeDep) -> dict:
    """Every chain in the store, in one pass: the first broken link of each broken chain."""
    return _audit(runtime).verify_all()


@router.get("/claims/{claim_id}")
def claim_story(claim_id: UUID, _: Auditor, runtime: RuntimeDep) -> dict:
    """The claim with its complaint, the order or job it names, and every event in the same
    conversations (correlation id) or caused by their requests, in one chronological story."""
    return _audit(runtime).claim_story(claim_id, lambda c, r: linked_events(runtime.views_db, c, r))


@router.get("/claims/{claim_id}/bundle", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}}})
def claim_bundle(claim_id: UUID, _: Auditor, runtime: RuntimeDep) -> Response:
    """A signed file with the chains of the claim and of every aggregate in its story (other
    customers' events as hash-only entries); check it with ``tools/verify_bundle.py``."""
    audit = _audit(runtime)
    story = audit.claim_story(claim_id, lambda c, r: linked_events(runtime.views_db, c, r))
    body = audit.bundle(story, runtime.app.clock.now())
    return Response(body, media_type="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="claim-{claim_id}.audit"'})


@router.get("/digest")
def digest(_: Auditor, runtime: RuntimeDep) -> Response:
    """The head hash of every chain at the current store position. Keep it outside the store
    (and give its ``root`` to someone else); later, ``POST /audit/digest/check`` proves the
    history up to those heads was not rewritten."""
    found = _audit(runtime).digest(runtime.app.clock.now())
    return Response(json.dumps(found, indent=1), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="digest-{found["position"]}.json"'})


@router.post("/digest/check")
def check_digest(document: Annotated[dict, Body(description="a digest from GET /audit/digest")], _: Auditor,
                 runtime: RuntimeDep) -> dict:
    return _audit(runtime).check_digest(document)


@router.get("/keys")
def keys(_: Auditor, runtime: RuntimeDep) -> dict:
    """The engine's public keys (current and retired): what bundles, digests and anchors are signed with."""
    return runtime.signer.keyring.export()


def _from_broker(what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (KafkaError, TimeoutError) as exc:
        raise Problem(503, "Broker unavailable", f"the anchors could not be {what}: {exc}",
                      "broker-unavailable") from None


@router.post("/anchors")
def publish_anchors(_: Admin, runtime: RuntimeDep) -> dict:
    """Publish anchors now: the signed hashes of every event stored since the last anchor."""
    publisher = runtime.anchors()
    published = _from_broker("published", publisher.publish)
    return {"topic": publisher.topic, "anchors": len(published), "events": sum(a["events"] for a in published),
            "position": published[-1]["position"] if published else None}


@router.get("/anchors/check")
def check_anchors(_: Auditor, runtime: RuntimeDep) -> dict:
    """The store against every published anchor: per aggregate, the first version rewritten or missing."""
    published = _from_broker("read", runtime.anchors().published)
    return anchors.check_anchors(runtime.app, published, _audit(runtime).keyring)

"""Issue 20 over HTTP: an accepted job handed back through ``POST /jobs/{id}/decline`` (by its
engineer, or by a dispatcher for them) with If-Match, the appointment kept and the job waiting
in the queue with it; another engineer is refused (403), a missing reason is a 422, a stale
version a 412 and a window that has begun a 409, each problem+json, each storing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from tests.commands.test_cross_workflow_http import engineer, taken
from tests.commands.test_field_story import NEAR, delivered_installation_job, iso, ok
from tests.commands.test_rules_over_http import refused
from tests.commands.view_reads import read_settled

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_an_accepted_job_is_handed_back_before_its_window_and_goes_on_with_it(
        client: TestClient, runtime: Runtime, clock: ManualClock) -> None:
    li, wang = engineer(runtime, "li"), engineer(runtime, "wang")
    job_id = delivered_installation_job(client)
    taken(client, job_id, li, "li")
    start = clock.now() + timedelta(hours=26)
    window = {"start": iso(start), "end": iso(start + timedelta(hours=2))}
    agreed = ok(client.post(f"/jobs/{job_id}/appointment", json=window))
    path = f"/jobs/{job_id}/decline"

    # Wang cannot hand back Li's job, even naming himself; nothing is stored.
    refused(client.post(path, json={"engineer": "wang", "reason": "too far"}, headers=wang), 403,
            "engineer-holds-job")
    forbidden = client.post(path, json={"engineer": "li", "reason": "too far"}, headers=wang)
    assert forbidden.status_code == 403 and forbidden.headers["content-type"].startswith("application/problem+json")
    missing = client.post(path, json={"engineer": "li"}, headers={"If-Match": f'"{agreed["version"]}"'})
    assert missing.status_code == 422, missing.text
    stale = client.post(path, json={"engineer": "li", "reason": "ill"}, headers={"If-Match": '"2"'})
    assert stale.status_code == 412 and stale.headers["content-type"].startswith("application/problem+json")
    assert ok(read_settled(client, runtime, f"/jobs/{job_id}"))["version"] == agreed["version"]

    # Li calls in sick: the dispatcher hands the job back for him, at the version the agenda showed.
    handed = ok(client.post(path, json={"engineer": "li", "reason": "ill today"},
                            headers={"If-Match": f'"{agreed["version"]}"'}))
    job = ok(client.get(f"/jobs/{job_id}", params={"wait_for_position": handed["position"], "wait_timeout": 30}))
    assert (job["status"], job["engineer"], job["declined_by"]) == ("declined", None, ["li"])
    assert job["window"] == {"start": iso(start), "end": iso(start + timedelta(hours=2))}
    queue = ok(client.get("/jobs", params={"wait_for_position": handed["position"], "wait_timeout": 30}))["jobs"]
    (waiting,) = [j for j in queue if j["job_id"] == job_id]
    assert (waiting["status"], waiting["engineer"], waiting["window_start"]) == ("declined", None, iso(start))

    # On to Wang, with the same appointment; the job is his now, not Li's.
    taken(client, job_id, wang, "wang")
    refused(client.post(f"/jobs/{job_id}/check-ins", json={"engineer": "li", **NEAR, "accuracy_m": 5}, headers=li),
            403, "engineer-holds-job")
    # Once the window has begun Wang keeps it or misses it: handing it back is refused in words.
    clock.set(start + timedelta(minutes=5))
    before = ok(read_settled(client, runtime, f"/jobs/{job_id}"))["version"]
    problem = refused(client.post(path, json={"engineer": "wang", "reason": "stuck in traffic"}, headers=wang), 409,
                      "hand-back-before-window")
    assert "has begun" in problem["detail"]
    assert ok(read_settled(client, runtime, f"/jobs/{job_id}"))["version"] == before

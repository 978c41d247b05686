"""The authorization matrix: every endpoint x every role, with what each route declares.

Each route's required roles are read from its dependencies (``requires(...)``), so a new
endpoint is covered the day it is added, and one without any role requirement fails the
test unless it is on the short public list. Every call a role is not allowed is refused
(403, or 401 without a token); every call it is allowed gets past authorization (inputs
here are dummies, so "allowed" means "not 401/403", never a 5xx). The scoped reads of
engineers and customers (their own, else 404) are checked on real data below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator
from uuid import UUID, uuid4

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from commands.api import access
from commands.api.app import ROUTERS, create_app
from commands.api.batch import command_routes
from commands.auth import ROLES
from commands.bootstrap import Runtime
from engine.domain.clock import ManualClock
from tests.commands.test_field_story import eventually, ok
from tests.commands.test_settlement_month import installation
from tests.commands.view_reads import read_settled

PUBLIC = {"/health", "/asyncapi.json", "/track", "/console", "/web/{name}"}
# Routes that check each command they carry as that command's own route does (tested below).
PER_COMMAND = {"/commands/batch"}
# POSTs that only read (a body too big for a query string): auditors may call them.
READS_BY_POST = {"/audit/digest/check"}
PATH_VALUES = {"token_id": "0123456789ab", "period": "2026-01", "projection": "customer_timeline"}

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def token(role: str) -> str:
    return f"matrix-{role.replace(':', '-')}-token-0123456789"


required, allowed = access.requirements, access.allowed


def endpoints(_: Any = None) -> Iterator[tuple[str, str, APIRoute]]:
    return access.endpoints(ROUTERS)


def principal_of(role: str) -> str:
    return f"matrix-{role}"


def url(path: str, role: str) -> str:
    """Dummy path values; an engineer or customer path names the caller (their own is allowed)."""
    own = {"engineer": principal_of(role), "customer_id": principal_of(role)}
    for name in (part[1:-1] for part in path.split("/") if part.startswith("{")):
        path = path.replace(f"{{{name}}}", own.get(name) or PATH_VALUES.get(name, str(uuid4())))
    return path


@pytest.fixture
def matrix(runtime: Runtime) -> Iterator[TestClient]:
    for role in ROLES:
        runtime.tokens.add(token(role), principal_of(role), [role])
    with TestClient(create_app(runtime)) as client:
        yield client


def test_every_endpoint_for_every_role(matrix: TestClient) -> None:
    unauthorised_successes, wrongly_refused, server_errors, unprotected = [], [], [], []
    calls = 0
    for method, path, route in endpoints(matrix.app):
        requirements = required(route)
        if not requirements:
            if path not in PUBLIC | PER_COMMAND:
                unprotected.append(f"{method} {path}")
            continue
        body = {} if method in ("POST", "PUT", "PATCH") else None
        anonymous = matrix.request(method, url(path, "anonymous"), json=body)
        assert anonymous.status_code == 401, f"{method} {path} without a token: {anonymous.status_code}"
        assert anonymous.headers["content-type"].startswith("application/problem+json")
        for role in ROLES:
            calls += 1
            response = matrix.request(method, url(path, role), json=body, headers={"Authorization": f"Bearer {token(role)}"})
            status = response.status_code
            if status >= 500:
                server_errors.append(f"{role} {method} {path}: {status}")
            elif allowed(role, requirements):
                if status in (401, 403):
                    wrongly_refused.append(f"{role} {method} {path}: {status} {response.text[:120]}")
            elif status != 403:
                unauthorised_successes.append(f"{role} {method} {path}: {status}")
            else:
                assert response.headers["content-type"].startswith("application/problem+json")
    assert calls > 1_000
    assert unprotected == []
    assert server_errors == []
    assert unauthorised_successes == []
    assert wrongly_refused == []


def test_a_batch_authorizes_each_command_exactly_as_its_own_route(matrix: TestClient) -> None:
    routes = command_routes(route for router in ROUTERS for route in router.routes)
    assert len(routes) > 50
    for role in ROLES:
        auth = {"Authorization": f"Bearer {token(role)}"}
        paths = [url(route.path, role) for route in routes]
        alone = [matrix.post(path, json={}, headers=auth).status_code for path in paths]
        response = matrix.post("/commands/batch", json={"commands": [{"path": p, "body": {}} for p in paths]},
                               headers=auth)
        assert response.status_code == 200, response.text
        batched = [r["status"] for r in response.json()["results"]]
        assert [(p, s) for p, s in zip(paths, batched)] == [(p, s) for p, s in zip(paths, alone)], role
        assert any(s == 403 for s in alone) or role == "admin", role


def test_auditors_command_nothing_and_admins_alone_manage_tokens(matrix: TestClient) -> None:
    for method, path, route in endpoints(matrix.app):
        requirements = required(route)
        if method != "GET" and path not in READS_BY_POST and requirements:
            assert not allowed("auditor", requirements), f"an auditor may call {method} {path}"
        if path.startswith("/tokens"):
            assert [r for r in ROLES if allowed(r, requirements)] == ["admin"], path


def test_engineers_and_customers_read_only_their_own(client: TestClient, runtime: Runtime,
                                                     clock: ManualClock) -> None:
    for name in ("li", "wang"):
        runtime.tokens.add(token(name), name, ["engineer"])
        runtime.tokens.add(f"{name}-token-0123456789ab", name, ["engineer"])  # as installation() signs
    runtime.tokens.add(token("cust-own"), "cust-own", ["customer"])
    runtime.tokens.add(token("cust-other"), "cust-other", ["customer"])
    done = installation(client, clock, "li", "cust-own")
    li, wang = ({"Authorization": f"Bearer {token(n)}"} for n in ("li", "wang"))
    own, other = ({"Authorization": f"Bearer {token(n)}"} for n in ("cust-own", "cust-other"))

    eventually(lambda: read_settled(client, runtime, f"/jobs/{done['job_id']}", headers=li).status_code == 200)
    assert read_settled(client, runtime, f"/jobs/{done['job_id']}", headers=wang).status_code == 404
    assert ok(read_settled(client, runtime, f"/jobs/{done['job_id']}", headers=own))["customer_id"] == "cust-own"
    assert read_settled(client, runtime, f"/jobs/{done['job_id']}", headers=other).status_code == 404
    eventually(lambda: client.get("/customers/cust-own/timeline", headers=own).status_code == 200)
    assert client.get("/customers/cust-own/timeline", headers=other).status_code == 404
    assert client.get("/customers/cust-own/timeline", headers=li).status_code == 403
    complaint = ok(client.post("/complaints", json={"customer_id": "cust-own", "category": "service",
                                                    "description": "late", "job_id": done["job_id"]}), 201)["id"]
    claim = ok(client.post(f"/complaints/{complaint}/claims", json={"damage": "scratched cabinet"}), 201)["id"]
    for path in (f"/complaints/{complaint}", f"/claims/{claim}"):
        assert ok(read_settled(client, runtime, path, headers=own))["customer_id"] == "cust-own"
        assert client.get(path, headers=other).status_code == 404
        assert client.get(path, headers=li).status_code == 403
    eventually(lambda: client.get("/engineers/li/ledger", headers=li).status_code == 200)
    assert client.get("/engineers/li/ledger", headers=wang).status_code == 403
    assert client.get("/engineers/li/ledger", headers=own).status_code == 403


def test_the_documented_role_table_is_the_matrix(backend: str) -> None:
    document = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    assert access.with_table(document, access.role_table(ROUTERS)) == document, (
        "docs/api.md's role table is stale: run `python -m commands.api.access --write docs/api.md`")
    assert "| `POST /claims/{claim_id}/payment` | admin, finance |" in document
    assert "| `POST /refunds` | admin, finance |" in document


# What an engineer's body says on each job-scoped command; other job routes need no engineer.
def job_body(method: str, path: str, engineer: str, job_id: str) -> dict[str, Any] | None:
    if method != "POST":
        return None
    return {
        "/jobs/{job_id}/accept": {"engineer": engineer},
        "/jobs/{job_id}/decline": {"engineer": engineer, "reason": "too far"},
        "/jobs/{job_id}/check-ins": {"engineer": engineer, "lat": 30.2743, "lng": 120.1553, "accuracy_m": 5},
        "/jobs/{job_id}/check-outs": {"engineer": engineer},
        "/jobs/{job_id}/cancel-at-door": {"reason": "changed their mind"},
        "/jobs/{job_id}/payments": {"collected": True, "amount": "999", "method": "cash"},
        "/payments": {"customer_id": "cust-own", "amount": "999", "method": "cash", "job_id": job_id, "on_site": True,
                      "collected_by": engineer},
    }.get(path, {})


def test_every_job_scoped_route_against_own_and_anothers_job(client: TestClient, runtime: Runtime,
                                                             clock: ManualClock) -> None:
    """Engineer B's token on A's job: refused (403, or 404 for reads) and nothing stored,
    whatever the body says; A's own token gets past authorization on every route the
    engineer role may call."""
    for name in ("li", "wang"):
        runtime.tokens.add(token(name), name, ["engineer"])
    order = {"customer_id": "cust-own", "tier": "vip", "delivery_address": "1 Lake Rd",
             "site_location": {"lat": 30.2741, "lng": 120.1551},
             "items": [{"sku": "WP-500", "needs_installation": True, "installation_fee": "150"}]}
    order_id = ok(client.post("/orders", json=order), 201)["order_id"]
    for body in ({"step": "stock_prepared"}, {"step": "left_warehouse"},
                 {"step": "driver_assigned", "driver": "Zhao"}, {"step": "in_transit", "position": order["site_location"]}):
        ok(client.post(f"/orders/{order_id}/delivery-steps", json=body))
    (job_id,) = ok(client.post(f"/orders/{order_id}/delivery-steps", json={"step": "delivered"}))["job_ids"]
    ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": "li"}))
    li, wang = ({"Authorization": f"Bearer {token(n)}"} for n in ("li", "wang"))
    scoped = [(m, p, r) for m, p, r in endpoints() if access.job_scoped(m, p)]
    assert len(scoped) >= 16
    for method, path, route in scoped:
        url_path = path.replace("{job_id}", job_id)
        version = runtime.app.get_job(UUID(job_id))["version"]
        for body in (job_body(method, path, "wang", job_id), job_body(method, path, "li", job_id)):
            response = client.request(method, url_path, json=body, headers=wang)
            assert response.status_code in (403, 404), f"wang {method} {path} {body}: {response.text}"
            assert response.headers["content-type"].startswith("application/problem+json")
        assert runtime.app.get_job(UUID(job_id))["version"] == version, f"{method} {path} stored something"
        if allowed("engineer", required(route)):
            own = client.request(method, url_path, json=job_body(method, path, "li", job_id), headers=li)
            assert own.status_code not in (401, 403, 404), f"li {method} {path}: {own.text}"
            if runtime.app.get_job(UUID(job_id))["status"] == "declined":
                # li handed his accepted job back (issue 20): it is given to him again for the rest.
                ok(client.post(f"/jobs/{job_id}/dispatch", json={"engineer": "li"}))
                ok(client.post(f"/jobs/{job_id}/accept", json={"engineer": "li"}, headers=li))
    refused = client.post(f"/jobs/{job_id}/check-ins", json=job_body("POST", "/jobs/{job_id}/check-ins", "wang",
                                                                       job_id), headers=wang)
    assert refused.json()["rule"] == "engineer-holds-job"

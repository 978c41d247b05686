"""Who may call what: every route's role requirements, read from its dependencies.

The authorization matrix test and docs/api.md's role table both come from here, so the
documented roles cannot drift from the code: ``python -m commands.api.access --write
docs/api.md`` rewrites the table between its markers, and a test fails when it is stale.
Job-scoped routes (a ``{job_id}`` in the path, or a payment naming a job) let an engineer
act only on jobs dispatched to them; the engine checks that (engine/application/policies.py).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterable, Iterator

from fastapi import APIRouter
from fastapi.routing import APIRoute

from commands.auth import ROLES
from engine.application.context import Principal

BEGIN, END = "<!-- role-table:begin -->", "<!-- role-table:end -->"
# Routes whose body may name a job (``job_id``): job-scoped like the /jobs/{job_id} routes.
JOB_SCOPED_BY_BODY = {("POST", "/payments")}


def requirements(route: APIRoute) -> list[tuple[str, ...]]:
    """Every role requirement in the route's dependency tree (all must be met)."""
    found: list[tuple[str, ...]] = []

    def walk(dependant: Any) -> None:
        roles = getattr(dependant.call, "roles", None)
        if roles:
            found.append(tuple(roles))
        for sub in dependant.dependencies:
            walk(sub)

    walk(route.dependant)
    return found


def allowed(role: str, needed: list[tuple[str, ...]]) -> bool:
    principal = Principal(f"any-{role}", frozenset({role}))
    return all(any(principal.has(r) for r in one_of) for one_of in needed)


def endpoints(routers: Iterable[APIRouter]) -> Iterator[tuple[str, str, APIRoute]]:
    for router in routers:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                yield method, route.path, route


def job_scoped(method: str, path: str) -> bool:
    return "{job_id}" in path or (method, path) in JOB_SCOPED_BY_BODY


def role_table(routers: Iterable[APIRouter]) -> str:
    """The markdown table of every protected route and the roles that may call it."""
    lines = ["| method and path | roles that may call it |", "| --- | --- |"]
    for method, path, route in endpoints(routers):
        needed = requirements(route)
        if not needed:
            continue
        roles = [r for r in ROLES if allowed(r, needed)]
        shown = [f"{r} (own jobs only)" if r == "engineer" and job_scoped(method, path) else r for r in roles]
        lines.append(f"| `{method} {path}` | {', '.join(shown)} |")
    return "\n".join(lines)


def with_table(document: str, table: str) -> str:
    head, _, rest = document.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def main(argv: list[str]) -> int:
    from commands.api.app import ROUTERS

    if len(argv) == 2 and argv[0] == "--write":
        path = Path(argv[1])
        path.write_text(with_table(path.read_text(encoding="utf-8"), role_table(ROUTERS)), encoding="utf-8")
        return 0
    print(role_table(ROUTERS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Batch commands: many commands in one request, each run as its own single route runs it.

A batch carries commands for the API's command routes (every ``POST`` that answers with a
command result), each with its target (the path of its single route), an optional expected
version and idempotency key, and its body. Each command is handed to its own route in this
process, with the batch's principal: the same validation, the same role checks, the same
handler and the same problem mapping as if it had come alone, without the HTTP stack,
the middleware or a token lookup per command. Each is its own transaction (they share
group commit's batches, engine/groupcommit.py), so one refused command never undoes
another: the answer lists every command's own status and result or problem, in order.

Commands on the same target run one after another, in the order given (a carrier's
positions for one truck's order); commands on different targets run concurrently, in any
order. Kafka command intake (commands/intake.py) runs its messages through the same
executor.
"""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, MutableMapping, Sequence

import orjson
import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.routing import Match

from commands.api.deps import BATCH_PRINCIPAL, authenticate
from commands.api.routing import INLINE, OneHopRoute
from commands.api.schemas import ResultOut
from engine.application.context import Principal

log = structlog.get_logger(__name__)

MAX_COMMANDS = 1000
# Commands in flight at once, across all batches of this process: enough to fill group
# commit's transactions, few enough to leave the store's connections to single commands.
THREADS = 32

router = APIRouter(route_class=OneHopRoute, tags=["batch"])


class BatchCommandIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(pattern=r"^/[A-Za-z0-9._~%:@!$&'()*+,;=/-]{1,1000}$",
                      description="the command's target: the path of its single route, e.g. "
                                  "`/orders/{order_id}/delivery-steps`",
                      examples=["/orders/5b0c6f0e-4d0a-4f57-9d8e-0c2f1a7b9e11/delivery-steps"])
    body: dict[str, Any] | None = Field(default=None, description="the single route's request body")
    expected_version: int | None = Field(default=None, ge=0, le=10**18,
                                         description="as the single route's If-Match: refused (412) when stale")
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200,
                                        description="as the single route's Idempotency-Key")


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    commands: list[BatchCommandIn] = Field(min_length=1, max_length=MAX_COMMANDS)


class BatchItemOut(BaseModel):
    index: int = Field(description="the command's place in the request, from 0")
    path: str
    status: int = Field(description="the status its single route would have answered")
    result: ResultOut | None = Field(default=None, description="present when it succeeded")
    problem: dict[str, Any] | None = Field(default=None, description="RFC 9457 problem when it was refused")
    location: str | None = None


class BatchOut(BaseModel):
    succeeded: int
    failed: int
    results: list[BatchItemOut]


@dataclass(frozen=True)
class Outcome:
    """One command's answer: its status and its JSON body (a result or a problem), undecoded."""

    index: int
    path: str
    status: int
    body: bytes
    location: str | None = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    def json(self, **naming: Any) -> bytes:
        """The outcome as a JSON object, named by its index unless ``naming`` says otherwise."""
        kind = b"result" if self.ok else b"problem"
        head = json.dumps({**(naming or {"index": self.index}), "path": self.path, "status": self.status,
                           **({"location": self.location} if self.location else {})})
        return head[:-1].encode() + b', "' + kind + b'": ' + (self.body or b"null") + b"}"


def command_routes(routes: Iterable[Any]) -> list[APIRoute]:
    """The API's command routes: every POST answering with a command result."""
    return [r for r in routes if isinstance(r, APIRoute) and r.methods == {"POST"}
            and r.response_model is ResultOut]


class BatchExecutor:
    """Runs commands through their own routes, inside ``app``."""

    def __init__(self, app: FastAPI, threads: int = THREADS) -> None:
        self.app = app
        self.routes = command_routes(app.router.routes)
        # Each thread runs one command at a time, start to finish, on an event loop of its
        # own, the endpoint inline (commands/api/routing.py): no hand-off between threads
        # per command, and as many commands in flight as threads, whose saves group commit
        # writes together. Handing each command's endpoint from one event loop to the
        # thread pool instead cost the loop more than the command (profiled) and left group
        # commit about two saves per transaction.
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="batch")
        self._local = threading.local()

    def _loop(self) -> asyncio.AbstractEventLoop:
        loop = getattr(self._local, "loop", None)
        if loop is None:
            loop = self._local.loop = asyncio.new_event_loop()
            INLINE.set(True)
        return loop

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    async def run(self, commands: Sequence[BatchCommandIn], principal: Principal,
                  base: Mapping[str, Any]) -> list[Outcome]:
        """Every command's outcome, in order. ``base`` is the scope they inherit (state, client...)."""
        chains: dict[Any, list[tuple[int, BatchCommandIn, APIRoute | None, dict[str, Any]]]] = {}
        for index, command in enumerate(commands):
            scope = self._scope(command, principal, base)
            route, child = self._route(scope)
            if route is not None:
                scope.update(child)
            params = child.get("path_params") or {}
            # The first path parameter names the aggregate a command changes; commands
            # without one create something and depend on nothing else in the batch.
            target = (route.path_format.split("/")[1], next(iter(params.values()))) if params and route else index
            chains.setdefault(target, []).append((index, command, route, scope))
        outcomes: list[Outcome | None] = [None] * len(commands)

        def run_chain(chain: list[tuple[int, BatchCommandIn, APIRoute | None, dict[str, Any]]]) -> None:
            loop = self._loop()
            for index, command, route, scope in chain:
                outcomes[index] = loop.run_until_complete(self._one(index, command, route, scope))

        await asyncio.gather(*(asyncio.wrap_future(self.pool.submit(run_chain, chain)) for chain in chains.values()))
        return [o for o in outcomes if o is not None]

    async def run_alone(self, commands: Sequence[BatchCommandIn], principal: Principal,
                        request_id: str) -> list[Outcome]:
        """As ``run``, outside any HTTP request (the Kafka intake): the scope an HTTP request
        would have brought, the app's problem handlers included."""
        handlers = {k: v for k, v in self.app.exception_handlers.items() if k not in (500, Exception)}
        exception_handlers = {k: v for k, v in handlers.items() if not isinstance(k, int)}
        status_handlers = {k: v for k, v in handlers.items() if isinstance(k, int)}
        base = {"state": {"request_id": request_id, "correlation_id": request_id}, "client": None,
                "server": None, "starlette.exception_handlers": (exception_handlers, status_handlers)}
        return await self.run(commands, principal, base)

    def _scope(self, command: BatchCommandIn, principal: Principal, base: Mapping[str, Any]) -> dict[str, Any]:
        body = orjson.dumps(command.body if command.body is not None else {})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if command.expected_version is not None:
            headers.append((b"if-match", f'"{command.expected_version}"'.encode()))
        if command.idempotency_key is not None:
            headers.append((b"idempotency-key", command.idempotency_key.encode()))
        causation = dict(base.get("headers") or ()).get(b"x-causation-id")
        if causation:
            headers.append((b"x-causation-id", causation))
        path = command.path
        return {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": base.get("scheme", "http"), "server": base.get("server"), "client": base.get("client"),
            "root_path": "", "path": path, "raw_path": path.encode(), "query_string": b"", "headers": headers,
            "app": self.app, "state": {**(base.get("state") or {}), "principal": principal},
            "starlette.exception_handlers": base.get("starlette.exception_handlers"),
            BATCH_PRINCIPAL: principal, "serviceorder.body": body,
        }

    def _route(self, scope: dict[str, Any]) -> tuple[APIRoute | None, Mapping[str, Any]]:
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return route, child
        return None, {}

    async def _one(self, index: int, command: BatchCommandIn, route: APIRoute | None,
                   scope: dict[str, Any]) -> Outcome:
        if route is None:
            return Outcome(index, command.path, 404, _problem(
                404, "Not found", f"no command at {command.path} (a batch carries command routes' paths only)",
                "not-found", command.path))
        body = scope.pop("serviceorder.body")
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        status, location, chunks = 500, None, []

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status, location
            if message["type"] == "http.response.start":
                status = message["status"]
                location = next((v.decode("latin-1") for k, v in message.get("headers", ()) if k == b"location"),
                                 None)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            async with AsyncExitStack() as stack:
                scope["fastapi_middleware_astack"] = stack
                await route.handle(scope, receive, send)
        except Exception:  # noqa: BLE001 - one command's failure is its own answer, not the batch's
            log.exception("batch_command_failed", path=command.path)
            return Outcome(index, command.path, 500, _problem(
                500, "Internal error", "the server failed on this command; it wrote nothing unless a later read "
                "shows it", "internal", command.path))
        return Outcome(index, command.path, status, b"".join(chunks), location)


def _problem(status: int, title: str, detail: str, slug: str, instance: str) -> bytes:
    return json.dumps({"type": f"urn:serviceorder:problem:{slug}", "title": title, "status": status,
                       "detail": detail, "instance": instance}).encode()


def render(outcomes: Sequence[Outcome]) -> bytes:
    succeeded = sum(1 for o in outcomes if o.ok)
    return (b'{"succeeded": %d, "failed": %d, "results": [' % (succeeded, len(outcomes) - succeeded)
            + b", ".join(o.json() for o in outcomes) + b"]}")


@router.post("/commands/batch", response_model=BatchOut, summary="Run many commands, each on its own",
             description=f"""At most {MAX_COMMANDS} commands, and a body within the server's request limit
(`SERVICEORDER_MAX_REQUEST_BYTES`, 1 MiB by default). Each command is checked and run exactly as its
own route would run it (roles, validation, rules, `expected_version` as `If-Match`,
`idempotency_key` as `Idempotency-Key`), in its own transaction: the answer is 200 with each
command's status and result or problem, in the order sent, whatever each one's outcome.
Commands on the same target run in the order given; others concurrently.""")
async def run_batch(batch: BatchIn, request: Request,
                    principal: Principal = Depends(authenticate)) -> Response:  # noqa: B008
    executor: BatchExecutor = request.app.state.batch
    outcomes = await executor.run(batch.commands, principal, request.scope)
    failed = sum(1 for o in outcomes if not o.ok)
    log.info("batch_run", commands=len(outcomes), failed=failed)
    return Response(render(outcomes), media_type="application/json")

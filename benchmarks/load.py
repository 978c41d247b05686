"""A small closed-loop HTTP/1.1 load generator for the benchmarks (standard library only).

Each of ``concurrency`` connections keeps one request in flight, with keep-alive, for a
fixed time; every response's latency and status are recorded. Requests are rendered to
bytes before they are sent, so the generator spends little of the machine's CPU on itself
(it shares two cores with the service and PostgreSQL). Run it in its own process.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator


@dataclass
class Request:
    method: str
    path: str
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def render(self, host: str, token: str) -> bytes:
        data = b"" if self.body is None else json.dumps(self.body).encode()
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {token}",
                 f"Content-Length: {len(data)}"]
        if data:
            lines.append("Content-Type: application/json")
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


# A script is a generator of requests for one connection: it receives each response (so a
# later request can use an id from an earlier one) and ends when it has no more to send.
Script = Callable[[int], Iterator[Request]]


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; NaN when there are none."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))] if ordered else float("nan")


@dataclass
class Result:
    concurrency: int
    seconds: float
    latencies: list[float]
    statuses: Counter[int]

    @property
    def ok(self) -> int:
        return sum(n for s, n in self.statuses.items() if s < 400)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds

    def percentile(self, p: float) -> float:
        return percentile(self.latencies, p)

    def summary(self) -> dict[str, Any]:
        return {"concurrency": self.concurrency, "seconds": round(self.seconds, 2), "requests": len(self.latencies),
                "ok_per_s": round(self.rate), "p50_ms": round(self.percentile(50) * 1000, 1),
                "p99_ms": round(self.percentile(99) * 1000, 1), "statuses": dict(sorted(self.statuses.items()))}


async def _read_response(reader: asyncio.StreamReader) -> Response:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Response(status, headers, body)


async def _connection(n: int, host: str, port: int, token: str, script: Script, until: float,
                      latencies: list[float], statuses: Counter[int], interval: float | None) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    requests = script(n)
    slot = time.perf_counter()
    try:
        request = next(requests)
        while time.perf_counter() < until:
            if interval is not None:
                # Open loop: this connection's share of a fixed rate, whatever the latency.
                slot += interval
                await asyncio.sleep(max(0.0, slot - time.perf_counter()))
            started = time.perf_counter()
            writer.write(request.render(f"{host}:{port}", token))
            response = await _read_response(reader)
            latencies.append(time.perf_counter() - started)
            statuses[response.status] += 1
            if response.headers.get("connection") == "close":
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            request = requests.send(response)
    except StopIteration:
        pass
    finally:
        writer.close()


async def _run(host: str, port: int, token: str, script: Script, concurrency: int, seconds: float,
               first: int, rate: float | None) -> Result:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    started = time.perf_counter()
    until = started + seconds
    interval = concurrency / rate if rate else None
    await asyncio.gather(*(_connection(first + i, host, port, token, script, until, latencies, statuses, interval)
                           for i in range(concurrency)))
    return Result(concurrency, time.perf_counter() - started, latencies, statuses)


def run(host: str, port: int, token: str, script: Script, concurrency: int, seconds: float,
        first: int = 0, rate: float | None = None) -> Result:
    """Drive ``concurrency`` connections (numbered from ``first``) for ``seconds``: as fast as
    the service answers, or at ``rate`` requests/s in all."""
    return asyncio.run(_run(host, port, token, script, concurrency, seconds, first, rate))

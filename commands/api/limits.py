"""Request size limit: a body larger than the configured maximum is refused with 413.

Pure ASGI, just inside the request ids (so the 413 names its request), so an oversized
body is refused from its declared length before any of it reaches the app, and a body
without a length (chunked) is cut off as soon as it passes the limit rather than buffered
whole. (Starlette's own RequestBodyLimitMiddleware answers some of these with text/plain;
every error of this API is problem+json.)

Before answering, the rest of the body is read and thrown away, up to ``drain_bytes``:
ordinary clients (Python's http.client and urllib, curl without Expect) send the whole
body before they read a response, and a server that closes a connection with unread data
resets it, so the client sees ECONNRESET or EPIPE instead of the 413. A body beyond the
drain bound gets the 413 at once and the connection closed.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from commands.api.problems import send_problem

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int, drain_bytes: int = 16 * 1_048_576) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _refuse(scope, send, 400, "Bad request", "Content-Length is not a number", "malformed-request")
                return
            if length > self.max_bytes:
                await self._refuse_size(scope, receive, send, 0 if length > self.drain_bytes else self.drain_bytes)
                return
        received, started, refused = 0, False, False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Answer 413 here and tell the app the client went away: an exception
                    # raised from receive() reaches the app wrapped, and would read as a 400.
                    refused = True
                    if not started:
                        more = message.get("more_body", False)
                        await self._refuse_size(scope, receive, send, self.drain_bytes - received if more else None)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already; whatever the app answers to the disconnect is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, guarded)

    async def _refuse_size(self, scope: dict[str, Any], receive: Receive, send: Send, drain: int | None) -> None:
        """``drain``: how many more bytes to read and discard first (None: the body was read whole)."""
        if drain is not None and drain > 0:
            await _discard(receive, drain)
        await _refuse(scope, send, 413, "Request too large", f"the request body exceeds {self.max_bytes} bytes",
                      "request-too-large")


async def _discard(receive: Receive, limit: int) -> None:
    """Read the rest of the body (up to ``limit`` bytes) so the connection closes cleanly."""
    drained = 0
    while drained <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        drained += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def _refuse(scope: dict[str, Any], send: Send, status: int, title: str, detail: str, slug: str) -> None:
    await send_problem(scope, send, status, title, detail, slug, {"Connection": "close"})

"""Request size limit: a body larger than the configured maximum is refused with 413.

Pure ASGI, outermost, so an oversized body is refused from its declared length before any
of it is read, and a body without a length (chunked) is cut off as soon as it passes the
limit rather than buffered whole. (Starlette's own RequestBodyLimitMiddleware answers some
of these with text/plain; every error of this API is problem+json.)
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable

from starlette.requests import Request

from commands.api.problems import problem_response

Message = dict[str, Any]
ASGIApp = Callable[[dict[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
                   Awaitable[None]]


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await self._refuse(scope, receive, send, 400, "Bad request", "Content-Length is not a number",
                                   "malformed-request")
                return
            if too_big:
                await self._refuse_size(scope, receive, send)
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
                        await self._refuse_size(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out already; whatever the app answers to the disconnect is dropped
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted, guarded)

    async def _refuse_size(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Message]],
                           send: Callable[[Message], Awaitable[None]]) -> None:
        await self._refuse(scope, receive, send, 413, "Request too large",
                           f"the request body exceeds {self.max_bytes} bytes", "request-too-large")

    @staticmethod
    async def _refuse(scope: dict[str, Any], receive: Callable[[], Awaitable[Message]],
                      send: Callable[[Message], Awaitable[None]], status: int, title: str, detail: str,
                      slug: str) -> None:
        response = problem_response(Request(scope), status, title, detail, slug, {"Connection": "close"})
        await response(scope, receive, send)  # type: ignore[arg-type]  # Starlette types send's message loosely

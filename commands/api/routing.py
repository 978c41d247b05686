"""The route class of every router: a plain ``def`` endpoint costs one thread-pool hop.

FastAPI runs a synchronous endpoint in the thread pool and then, for a route with a
response model, validates its answer in the thread pool again: two hops per request, each
one a queue hand-off and a wake-up between threads that cost more CPU than the validation
(profiled: the hops were a quarter of a batch command's event-loop time). Here a
synchronous endpoint is wrapped in a coroutine that sends only the endpoint to the thread
pool; FastAPI sees a coroutine and validates the answer on the event loop. Signatures,
dependencies and documentation are the endpoint's own (``functools.wraps``).
The batch executor's threads run it with no hop at all (``INLINE``).
"""

from __future__ import annotations

import functools
import inspect
from contextvars import ContextVar
from typing import Any, Callable

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


# True in the batch executor's own threads (commands/api/batch.py): each runs one command
# at a time on an event loop of its own, so the endpoint runs right there, without a hop.
INLINE: ContextVar[bool] = ContextVar("serviceorder_inline_endpoints", default=False)


def in_thread(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        if INLINE.get():
            return endpoint(*args, **kwargs)
        return await run_in_threadpool(endpoint, *args, **kwargs)

    return run


class OneHopRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)

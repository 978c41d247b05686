"""Reading views with read-your-writes (``wait_for_position`` on any view endpoint), and the
query parameters of paged lists."""

from __future__ import annotations

from typing import Annotated, Any, Callable
from uuid import UUID

from fastapi import Depends, Query, Request, Response

from commands.api.problems import Problem
from commands.bootstrap import Runtime
from contract.names import CATEGORIES
from projections.messages import negotiate
from projections.paging import MAX_LIMIT, MAX_POSITION
from projections.registry import PROJECTIONS

WaitFor = Annotated[int | None, Query(ge=1, le=MAX_POSITION,
                                      description="block until the view holds the write at this store position")]
WaitTimeout = Annotated[float, Query(gt=0, le=60, description="seconds to wait for wait_for_position")]
# The boards' lists: a page of at most ``limit`` rows; ``next_cursor`` of one page asks for the next.
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="rows per page")]
PageCursor = Annotated[str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_-]+$",
                                         description="next_cursor of the previous page")]
Before = Annotated[int | None, Query(ge=1, le=MAX_POSITION, description="only entries before this "
                                                                         "(next_before of the previous page)")]


def answer_language(request: Request, response: Response, recorded: str | None = None) -> str:
    """The language summaries are rendered in: Accept-Language's, else the customer's recorded
    one, else English; the answer says which (Content-Language) and that it depends on the
    header (Vary)."""
    language = negotiate(request.headers.get("accept-language"), recorded)
    response.headers["Content-Language"] = language
    response.headers["Vary"] = "Accept-Language"
    return language


class Reading:
    """What a view read needs besides the view: the request and response, for the language."""

    def __init__(self, request: Request, response: Response) -> None:
        self.request, self.response = request, response

    def language(self, recorded: str | None) -> str:
        return answer_language(self.request, self.response, recorded)


Language = Annotated[Reading, Depends(Reading)]


def wait_for_view(runtime: Runtime, projection: str, position: int | None, timeout: float,
                  concerns: Callable[[UUID], bool], subject: str) -> None:
    """Wait until ``projection`` has applied the event at ``position``.

    The position must be a write the store issued for this view's subject; anything else
    could never appear in the view and is refused at once instead of timing out.
    """
    if position is None:
        return
    found = runtime.app.event_at(position)
    shown = {CATEGORIES[c] for c in PROJECTIONS[projection].categories}
    if found is None or runtime.app.aggregate_type(found[0]) not in shown or not concerns(found[0]):
        raise Problem(422, "Malformed request", f"store position {position} is not a write to {subject}",
                      "malformed-request")
    runtime.views.wait_for_version(projection, str(found[0]), found[1], position,
                                   min(timeout, runtime.settings.read_wait_max_seconds))


def read_one(runtime: Runtime, response: Response, projection: str, aggregate_id: UUID, subject: str,
             position: int | None, timeout: float, read: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    """A single resource read from its view (``read``), after waiting for ``position`` (a write
    to this resource), with its aggregate's version as the ``ETag`` (for ``If-Match``). None
    means the view does not hold it: unknown, or not projected yet, which a client that passed
    its command's ``wait_for_position`` never sees (the wait comes first)."""
    wait_for_view(runtime, projection, position, timeout, lambda writer: writer == aggregate_id, subject)
    row = read()
    if row is None:
        raise Problem(404, "Not found", f"no {subject} (unknown, or not projected yet)", "not-found")
    response.headers["ETag"] = f'"{row["version"]}"'
    return row

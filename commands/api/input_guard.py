"""Hostile input refused at the edge, before any route, for every endpoint at once.

- Control characters: NUL and the other C0 characters in a path segment, a query
  parameter, a header value (tab excepted, as HTTP allows it) or any string of a JSON body
  (keys included) answer 422. In a body, tab, line feed and carriage return are accepted
  in free-text fields only (``commands.api.schemas.FreeText``: descriptions, notes,
  reasons). Lone UTF-16 surrogates (``"\\ud800"``), which no UTF-8 store can hold, are refused
  the same way. Such text would be stored, then refused by the views' database
  (PostgreSQL holds no NUL) and park every later event of its aggregate.
- Duplicate keys in a JSON object, at any depth, answer 400: parsers disagree on which
  one wins, and a second ``customer_id`` must never silently replace the first.

A JSON body is read whole here (the size limit, outside this, bounds it), checked, and
handed on unchanged; anything that is not JSON is left to the route's own validation.
Commands from Kafka (commands/intake.py) are checked by the same code (``checked_json``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Awaitable, Callable
from urllib.parse import unquote_to_bytes

from commands.api.problems import send_problem

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]

_ANY_CONTROL = re.compile("[\x00-\x1f\ud800-\udfff]")
_FREE_TEXT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_URL_CONTROL = re.compile(b"[\x00-\x1f]")
_HEADER_CONTROL = re.compile(b"[\x00-\x08\x0a-\x1f]")


class Refused(Exception):
    def __init__(self, status: int, title: str, detail: str, slug: str, location: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.slug, self.location = status, title, detail, slug, location


def _control(location: str, char: str) -> Refused:
    return Refused(422, "Control character refused", f"{location}: the character U+{ord(char):04X} is not accepted "
                   "(no control characters; tabs and line breaks only in free text)", "control-character", location)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise Refused(400, "Duplicate key", f"the key {duplicate!r} appears twice in one JSON object",
                      "duplicate-key", f"body.{duplicate}")
    return found


def checked_json(body: bytes, free_text: frozenset[str], location: str = "body") -> Any:
    """The JSON document in ``body``, checked: Refused for a duplicate key at any depth or a
    control character (tab and line breaks only in ``free_text`` fields); ValueError when
    it is not JSON."""
    try:
        text = body.decode("utf-8")  # strict: no encoded surrogates
    except UnicodeDecodeError:
        text = None
    document = json.loads(body if text is None else text, object_pairs_hook=_no_duplicates)
    # A raw control character is not valid JSON, so valid UTF-8 without an escape
    # sequence holds none: most bodies skip the walk.
    if text is None or "\\" in text:
        _check_value(document, location, False, free_text)
    return document


def _check_value(value: Any, location: str, free: bool, free_text: frozenset[str]) -> None:
    if type(value) is str:
        found = (_FREE_TEXT_CONTROL if free else _ANY_CONTROL).search(value)
        if found:
            raise _control(location, found.group())
    elif type(value) is dict:
        for key, item in value.items():
            found = _ANY_CONTROL.search(key)
            if found:
                raise _control(f"{location} (a key)", found.group())
            _check_value(item, f"{location}.{key}", key in free_text, free_text)
    elif type(value) is list:
        for n, item in enumerate(value):
            _check_value(item, f"{location}.{n}", free, free_text)


class InputGuard:
    def __init__(self, app: ASGIApp, free_text: frozenset[str]) -> None:
        self.app = app
        self.free_text = free_text

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_url_and_headers(scope)
        except Refused as refused:
            await _answer(scope, send, refused)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type")
        # No content type: FastAPI may be told to read such a body as JSON too, so check it.
        if not (_is_json(content_type) if content_type is not None else scope["method"] not in ("GET", "HEAD")):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away, or the size limit answered already
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            self._check_body(body)
        except Refused as refused:
            await _answer(scope, send, refused)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    @staticmethod
    def _check_url_and_headers(scope: dict[str, Any]) -> None:
        found = _ANY_CONTROL.search(scope.get("path", ""))
        if found:
            raise _control("path", found.group())
        query: bytes = scope.get("query_string", b"")
        if query:
            found_bytes = _URL_CONTROL.search(unquote_to_bytes(query))
            if found_bytes:
                raise _control("query", found_bytes.group().decode("latin-1"))
        for name, value in scope.get("headers") or ():
            found_bytes = _HEADER_CONTROL.search(value)
            if found_bytes:
                raise _control(f"header.{name.decode('latin-1')}", found_bytes.group().decode("latin-1"))

    def _check_body(self, body: bytes) -> None:
        if not body:
            return
        try:
            checked_json(body, self.free_text)
        except (ValueError, UnicodeDecodeError):
            return  # not JSON: the route answers 422 with the parser's own words


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


async def _answer(scope: dict[str, Any], send: Send, refused: Refused) -> None:
    await send_problem(scope, send, refused.status, refused.title, refused.detail, refused.slug,
                       errors=[{"location": refused.location, "message": refused.detail}])

"""The customer tracking page (``/track#t=<token>``) and the operator console (``/console``):
static pages that call this same API with a bearer token. Served from ``commands/web`` with
no build step, under a strict Content-Security-Policy (scripts from this origin only)."""

from __future__ import annotations

import json
from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from commands.api.problems import Problem
from commands.api.routing import OneHopRoute
from contract.names import DELIVERY_STEPS

router = APIRouter(route_class=OneHopRoute, include_in_schema=False)
WEB = FilePath(__file__).resolve().parent.parent / "web"
# Every stylesheet and script in commands/web (no build step: the console is several small
# ES modules); a name not in this listing is a 404, so no path can reach outside it.
ASSETS = {p.name: "text/css" if p.suffix == ".css" else "text/javascript"
          for p in WEB.iterdir() if p.suffix in (".css", ".js")}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _file(name: str, media_type: str) -> Response:
    return Response((WEB / name).read_bytes(), media_type=f"{media_type}; charset=utf-8", headers=HEADERS)


@router.get("/track")
def track() -> Response:
    return _file("track.html", "text/html")


@router.get("/console")
def console() -> Response:
    return _file("console.html", "text/html")


def _contract_names() -> Response:
    """The contract's names the pages need (contract/names.py), so no page spells them again."""
    names = {"deliverySteps": list(DELIVERY_STEPS)}
    script = ('"use strict";\n// Generated from contract/names.py.\n'
              f"const CONTRACT = Object.freeze({json.dumps(names)});\n")
    return Response(script.encode(), media_type="text/javascript; charset=utf-8", headers=HEADERS)


@router.get("/web/{name}")
def asset(name: Annotated[str, Path(max_length=40)]) -> Response:
    if name == "contract.js":
        return _contract_names()
    if name not in ASSETS:
        raise Problem(404, "Not found", f"no asset {name!r}", "not-found")
    return _file(name, ASSETS[name])

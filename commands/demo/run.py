"""Turning a fresh store into the demo company, and telling the operator how to look at it."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import structlog

from commands import democlock
from commands.bootstrap import Runtime, build_runtime
from commands.demo.cast import CUSTOMERS, ENGINEERS, STAFF
from commands.demo.story import play, story_start
from commands.settings import Settings

log = structlog.get_logger(__name__)
TOKENS_FILE = "demo-tokens.json"
TOKEN_DAYS = 365  # the demo clock may be moved by months; the demo's tokens outlive that


class StoreNotFresh(Exception):
    def __init__(self, events: int) -> None:
        super().__init__(f"this store already holds {events} events and is not a demo store: the demo fills only "
                         "a fresh store (point SERVICEORDER_DATA_DIR or DATABASE_URL's schema elsewhere)")


def prepare(settings: Settings) -> bool:
    """Make the configured store a demo store, so that runtimes built on it run on its demo
    clock; True if it was fresh (then ``fill`` it), False if it was a demo store already.
    Refuses a store holding anything else (StoreNotFresh)."""
    runtime = build_runtime(settings)
    try:
        if runtime.demo_clock is not None:
            return False
        events = runtime.app.current_position()
        if events:
            raise StoreNotFresh(events)
        democlock.start(runtime.state_db, story_start(datetime.now(timezone.utc)))
        return True
    finally:
        runtime.close()


def fill(runtime: Runtime) -> dict[str, Any]:
    """Play the demo company's story into a prepared, still empty demo store; returns what was made."""
    clock = runtime.demo_clock
    if clock is None or runtime.app.current_position():
        raise StoreNotFresh(runtime.app.current_position())
    log.info("demo_filling", story_starts=clock.now().isoformat())
    made = play(runtime.app, clock, datetime.now(timezone.utc))
    made["tokens"] = _issue_tokens(runtime)
    path = runtime.settings.data_dir / TOKENS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(made["tokens"], indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.chmod(path, 0o600)
    log.info("demo_filled", events=made["store_position"], tokens_file=str(path))
    return made


def _issue_tokens(runtime: Runtime) -> dict[str, dict[str, Any]]:
    """A token for each desk role, each engineer and two customers' tracking links."""
    people = {**{role: (name, roles) for role, (name, roles) in STAFF.items()},
              **{f"engineer {name}": (name, ["engineer"]) for name in ENGINEERS},
              **{f"customer {c.customer_id} ({c.name})": (c.customer_id, ["customer"]) for c in CUSTOMERS[16:18]}}
    tokens = {}
    for who, (principal, roles) in people.items():
        issued = runtime.tokens.issue(principal, roles, ttl=timedelta(days=TOKEN_DAYS), created_by="demo",
                                      label=f"demo: {who}")
        tokens[who] = {"principal": principal, "roles": roles, "token": issued.token}
    return tokens


def banner(made: dict[str, Any] | None, base: str, runtime: Runtime) -> str:
    """What `serve --demo` prints: where to look, as whom, and how to move the clock."""
    lines = [f"  demo        clock at {runtime.demo_clock.now():%Y-%m-%d %H:%M} UTC" if runtime.demo_clock else ""]
    if made is not None:
        lines.append(f"              {made['customers']} customers, {made['store_position']} events; tokens in "
                     f"{runtime.settings.data_dir / TOKENS_FILE}")
        for who, token in made["tokens"].items():
            if token["roles"] == ["customer"]:
                lines.append(f"  track       {base}/track#t={token['token']}  ({who})")
            elif who in ("dispatcher", "approver_sales", "finance"):
                lines.append(f"  {who:<11} {base}/console  token {token['token']}")
    lines.append("  move time   serviceorder clock advance 2h   (or POST /demo/clock {\"advance\": \"2h\"})")
    return "\n".join(line for line in lines if line) + "\n"

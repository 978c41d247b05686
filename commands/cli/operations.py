"""``serviceorder dlq`` (parked poison events: list, retry, skip) and ``tokens`` (API tokens:
issue, list, revoke): an operator's repairs, on the views and state databases only."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from typing import Any

from commands.cli.running import runtime_of
from commands.settings import Settings


def cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    """List, retry or skip parked poison events (reads and writes the views database only)."""
    from projections import parking
    from projections.registry import PROJECTIONS

    runtime = runtime_of(settings)
    try:
        if args.action == "list":
            print(json.dumps(parking.parked(runtime.views_db, args.projection), indent=1))
            return 0
        if args.projection not in PROJECTIONS:
            print(f"unknown projection {args.projection!r}; known: {', '.join(PROJECTIONS)}", file=sys.stderr)
            return 2
        projection = runtime.projections([args.projection])[0]
        try:
            if args.action == "retry":
                result = parking.retry(runtime.views_db, projection, args.aggregate)
            else:
                result = parking.skip(runtime.views_db, projection, args.aggregate, actor=args.actor,
                                      reason=args.reason)
        except LookupError as exc:
            print(f"dlq: {exc}", file=sys.stderr)
            return 1
        print(json.dumps(result, indent=1))
        return 0 if result["still_parked_from_version"] is None else 1
    finally:
        runtime.close()


def cmd_tokens(settings: Settings, args: argparse.Namespace) -> int:
    """Issue, list and revoke API tokens (the state database only; no Kafka)."""
    runtime = runtime_of(settings)
    try:
        if args.action == "issue":
            try:
                issued = runtime.tokens.issue(args.principal, args.role, created_by=args.actor, label=args.label,
                                              ttl=timedelta(days=args.days or settings.token_ttl_days))
            except ValueError as exc:
                print(f"tokens: {exc}", file=sys.stderr)
                return 2
            print(json.dumps(issued.record, indent=1), file=sys.stderr)
            print(issued.token)  # alone on stdout, so a script can capture it
            return 0
        if args.action == "list":
            print(json.dumps(runtime.tokens.list(args.principal), indent=1))
            return 0
        if runtime.tokens.revoke(args.token_id, by=args.actor):
            print(f"token {args.token_id} revoked", file=sys.stderr)
            return 0
        known = runtime.tokens.get(args.token_id)
        print(f"tokens: {args.token_id} {'was already revoked' if known else 'is not a token id'}", file=sys.stderr)
        return 1
    finally:
        runtime.close()


def add_parsers(sub: Any) -> None:
    """dlq and tokens."""
    dl = sub.add_parser("dlq", help="parked poison events: list, retry or skip")
    dla = dl.add_subparsers(dest="action", required=True)
    ls = dla.add_parser("list", help="parked events and their errors")
    ls.add_argument("projection", nargs="?")
    for name, text in (("retry", "apply an aggregate's parked events again"),
                       ("skip", "give up on an aggregate's failed event and release the rest")):
        a = dla.add_parser(name, help=text)
        a.add_argument("projection")
        a.add_argument("aggregate", help="aggregate id")
        if name == "skip":
            a.add_argument("--reason", required=True)
            a.add_argument("--actor", default=os.environ.get("USER", "operator"))
    dl.set_defaults(func=cmd_dlq)
    tk = sub.add_parser("tokens", help="API tokens: issue, list, revoke")
    tka = tk.add_subparsers(dest="action", required=True)
    ti = tka.add_parser("issue", help="a new token (printed once, on standard output)")
    ti.add_argument("principal", help="who it acts as (an engineer's or customer's id, an operator's name)")
    ti.add_argument("--role", action="append", required=True, help="a role (repeat for more)")
    ti.add_argument("--days", type=int, help="expires after this many days (default SERVICEORDER_TOKEN_TTL_DAYS)")
    ti.add_argument("--label", help="what the token is for")
    tl = tka.add_parser("list", help="every token (never the token itself)")
    tl.add_argument("--principal")
    tr = tka.add_parser("revoke", help="revoke a token at once")
    tr.add_argument("token_id", help="the id shown by 'tokens list'")
    for action in (ti, tr):
        action.add_argument("--actor", default=os.environ.get("USER", "admin"), help="recorded as issuer/revoker")
    tk.set_defaults(func=cmd_tokens)

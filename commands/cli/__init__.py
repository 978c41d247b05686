"""The ``serviceorder`` command line (entry point ``commands.cli:main``; ``python -m commands.cli``
too). Each group of commands has its module: serving (serve, demo, clock, broker), pipeline
(relay, intake, scheduler, project, rebuild, streams), operations (dlq, tokens), and
commands/audit_cli.py (audit, anchor); running holds what they share."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from commands import audit_cli, logs
from commands.cli import operations, pipeline, serving
from commands.cli.running import run_loop
from commands.settings import Settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="serviceorder", description="Event-sourced service-order engine.")
    sub = p.add_subparsers(dest="command", required=True)
    serving.add_parsers(sub)
    streams_sub = pipeline.add_parsers(sub)
    audit_cli.add_parsers(sub, run_loop)
    operations.add_parsers(sub)
    pipeline.add_asyncapi_parsers(sub, streams_sub)
    serving.add_broker_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    if args.command in ("serve", "demo"):
        chosen = {k: getattr(args, k) for k in ("host", "port") if getattr(args, k, None) is not None}
        try:
            settings = Settings.model_validate({**settings.model_dump(), **chosen})
        except ValidationError as exc:
            print(f"configuration error:\n{exc}", file=sys.stderr)
            return 2
    logs.configure(settings.log_format, settings.log_level)
    from engine.store.signing import SigningKeyError

    try:
        return int(args.func(settings, args) or 0)
    except SigningKeyError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2

"""The commands that move events along: ``relay`` (store to Kafka), ``intake`` (Kafka commands
into the store), ``scheduler``, ``project`` and ``rebuild`` (views), and ``streams`` (republish
from the store, the AsyncAPI document)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

import structlog

from commands.cli.running import progress_bar, run_loop, runtime_of, stop_on_signals
from commands.settings import Settings

log = structlog.get_logger("serviceorder.cli")


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    return run_loop(settings, lambda runtime: runtime.relay())


def cmd_intake(settings: Settings, args: argparse.Namespace) -> int:
    from commands.intake import Intake, IntakeRefused

    if not settings.intake_token:
        print("serviceorder intake needs SERVICEORDER_INTAKE_TOKEN: the token whose principal runs the commands",
              file=sys.stderr)
        return 2
    runtime = runtime_of(settings)
    stop = stop_on_signals()
    try:
        Intake(runtime, settings.intake_token, batch_size=settings.intake_batch_size,
               fetch_wait_ms=settings.projection_fetch_wait_ms).run(stop)
    except IntakeRefused as exc:
        print(str(exc), file=sys.stderr)
        return 2
    finally:
        runtime.close()
    return 0


def cmd_scheduler(settings: Settings, args: argparse.Namespace) -> int:
    return run_loop(settings, lambda runtime: runtime.scheduler())


def cmd_project(settings: Settings, args: argparse.Namespace) -> int:
    runtime = runtime_of(settings)
    stop = stop_on_signals()
    runtime.stop = stop
    try:
        runtime.start_background(relay=False, scheduler=False, projections=args.names or None)
        stop.wait()
    finally:
        runtime.close()
    return 0


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild views from offset zero into a shadow and swap each in whole (projections.rebuilding)."""
    from projections import rebuilding
    from projections.base import Projection
    from projections.worker import ProjectionWorker
    from sqlstore.sqldb import Database

    runtime = runtime_of(settings)
    try:
        projections = runtime.projections(args.names or None)
        runtime.start_kafka()
        if runtime.broker is not None:
            # The bundled broker keeps nothing once serve stops: fill it from the event store
            # first (the relay republishes every topic that is behind the store).
            relay = runtime.relay()
            try:
                relay.catch_up()
            finally:
                relay.close()
            print("bundled broker filled from the event store", file=sys.stderr)
        for projection in projections:
            update, done = progress_bar(f"rebuild {projection.name}")

            def builder(db: Database, projection: Projection = projection) -> ProjectionWorker:
                return runtime.worker(projection, db)

            try:
                count = rebuilding.rebuild(runtime.views_db, projection, builder, progress=update)
            except Exception as exc:
                done()
                log.exception("rebuild_failed", projection=projection.name)
                print(f"{projection.name}: rebuild failed ({exc}); the view was left as it was", file=sys.stderr)
                return 1
            done()
            print(f"{projection.name}: rebuilt from offset zero, {count} records", file=sys.stderr)
    finally:
        runtime.close()
    return 0


def cmd_republish(settings: Settings, args: argparse.Namespace) -> int:
    from contract.names import CATEGORIES

    runtime = runtime_of(settings)
    try:
        relay = runtime.relay()
        if not relay.take_lease():  # a running relay publishes: republishing beside it would race it
            print("a relay is running (it holds the relay lease): stop it, then republish", file=sys.stderr)
            return 2
        relay.catch_up()
        for category in args.categories or list(CATEGORIES):
            if category not in CATEGORIES:
                print(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}", file=sys.stderr)
                return 2
            update, done = progress_bar(f"republish {category}")
            seen = 0

            def step(n: int, update: Callable[[int, int], None] = update) -> None:
                nonlocal seen
                seen += n
                update(seen, seen)

            try:
                count = relay.republish(category, progress=step, from_position=args.from_position)
            finally:
                done()
            print(f"{category}: {count} events published again", file=sys.stderr)
        relay.close()
    finally:
        runtime.close()
    return 0


def cmd_asyncapi(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from streams.asyncapi import render

    if args.out:
        Path(args.out).write_text(render(), encoding="utf-8")
        print(f"AsyncAPI document written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(render())
    return 0


def add_parsers(sub: Any) -> Any:
    """relay, intake, scheduler, project, rebuild, streams and republish; returns the streams
    group's subparsers, which ``asyncapi`` joins too (add_asyncapi_parsers)."""
    sub.add_parser("relay", help="publish the event store's new events to Kafka").set_defaults(func=cmd_relay)
    sub.add_parser("intake", help="run the commands that arrive on Kafka (<prefix>.commands), each exactly once "
                                  "(several share the partitions)").set_defaults(func=cmd_intake)
    sub.add_parser("scheduler", help="fire due deadlines (safe to run more than one)").set_defaults(
        func=cmd_scheduler)
    pr = sub.add_parser("project", help="run projection workers")
    pr.add_argument("names", nargs="*", help="projections to run (default: all)")
    pr.set_defaults(func=cmd_project)
    rb = sub.add_parser("rebuild", help="drop projections and rebuild them from offset zero")
    rb.add_argument("names", nargs="*", help="projections to rebuild (default: all)")
    rb.set_defaults(func=cmd_rebuild)
    streams = sub.add_parser("streams", help="the event streams: republish, asyncapi")
    streams_sub = streams.add_subparsers(dest="streams_command", required=True)
    for where, name in ((sub, "republish"), (streams_sub, "republish")):
        rp = where.add_parser(name, help="publish a category's events again from the store to Kafka "
                                         "(after a broker loss, or to backfill a new topic)")
        rp.add_argument("categories", nargs="*", help="categories (default: all)")
        rp.add_argument("--from", dest="from_position", type=int, default=1, metavar="POSITION",
                        help="start at this store position (default: the beginning)")
        rp.set_defaults(func=cmd_republish)
    return streams_sub


def add_asyncapi_parsers(*where: Any) -> None:
    for sub in where:
        aa = sub.add_parser("asyncapi", help="print (or write) the AsyncAPI 3 document of the event streams")
        aa.add_argument("--out", help="file to write, e.g. docs/asyncapi.json")
        aa.set_defaults(func=cmd_asyncapi)

"""The ``serviceorder`` command line: serve, relay, intake, project, rebuild, republish, audit
(commands/audit_cli.py), anchor, dlq, tokens, broker."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any, Callable

import structlog
from pydantic import ValidationError

from commands import audit_cli, logs
from commands.settings import Settings

log = structlog.get_logger("serviceorder.cli")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def _runtime(settings: Settings):  # noqa: ANN202
    from commands.bootstrap import build_runtime

    return build_runtime(settings)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from commands.api.app import create_app
    from streams.broker import free_port

    fresh = False
    if args.demo:
        from commands.demo.run import StoreNotFresh, prepare

        try:
            fresh = prepare(settings)
        except StoreNotFresh as exc:
            print(f"demo: {exc}", file=sys.stderr)
            return 2
    runtime = _runtime(settings)
    try:
        made = None
        if fresh:
            from commands.demo.run import fill

            made = fill(runtime)
        if args.fill_only:
            print(f"demo store ready in {settings.data_dir.resolve()}"
                  + (f" ({made['store_position']} events)" if made else " (it was one already)"), file=sys.stderr)
            return 0
        kafka = runtime.start_kafka()
        runtime.start_background(relay=not args.no_relay, projections=None if not args.no_projections else [],
                                 scheduler=not args.no_scheduler)
        if args.workers > 1:
            return _serve_replicas(settings, args, runtime, kafka.bootstrap_servers)
        port = settings.port or free_port()
        base = f"http://{settings.host}:{port}"
        print(
            "\nserviceorder is running\n"
            f"  API         {base}\n"
            f"  API docs    {base}/docs\n"
            f"  Kafka       {kafka.bootstrap_servers}{' (bundled broker, memory only)' if runtime.broker else ''}\n"
            f"  event store {'PostgreSQL' if settings.database_url else settings.data_dir.resolve()}\n"
            + (f"  admin token {runtime.admin_token}\n" if runtime.admin_token_generated else "")
            + (_demo_banner(made, base, runtime) if runtime.demo_clock else "")
            + "  stop with Ctrl-C\n",
            file=sys.stderr, flush=True,
        )
        config = uvicorn.Config(create_app(runtime), host=settings.host, port=port, log_config=None,
                                access_log=False)
        # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the
        # handler that was there before it: make that handler a clean exit, so the workers
        # stop and the bundled broker is not left behind.
        signal.signal(signal.SIGTERM, _exit_cleanly)
        signal.signal(signal.SIGINT, _exit_cleanly)
        try:
            uvicorn.Server(config).run()
        except SystemExit:
            pass
    finally:
        runtime.close()
        log.info("serve_stopped")
    return 0


def _demo_banner(made: Any, base: str, runtime: Any) -> str:
    from commands.demo.run import banner

    return banner(made, base, runtime)


def _serve_replicas(settings: Settings, args: argparse.Namespace, runtime: Any, bootstrap: str) -> int:
    from commands import replicas

    sock = replicas.bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    # The API processes read the same settings, plus what this process decided at start.
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SERVICEORDER_ADMIN_TOKEN": runtime.admin_token}
    processes = replicas.start_api_processes(sock, args.workers, env)
    print(f"\nserviceorder is running: {args.workers} API processes on http://{settings.host}:{port}, "
          f"Kafka {bootstrap}\n" + (f"  admin token {runtime.admin_token}\n" if runtime.admin_token_generated else "")
          + "  stop with Ctrl-C\n", file=sys.stderr, flush=True)
    stop = _stop_on_signals()
    try:
        replicas.supervise(processes, stop, lambda: replicas.start_api_processes(sock, 1, env)[0])
    finally:
        replicas.stop_all(processes)
        sock.close()
    return 0


def _exit_cleanly(*_: object) -> None:
    raise SystemExit(0)


def _run_loop(settings: Settings, loop: Callable[[Any], Any]) -> int:
    """Run one of the runtime's loops (relay, scheduler) in the foreground until a signal."""
    runtime = _runtime(settings)
    stop = _stop_on_signals()
    try:
        loop(runtime).run(stop)
    finally:
        runtime.close()
    return 0


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    return _run_loop(settings, lambda runtime: runtime.relay())


def cmd_intake(settings: Settings, args: argparse.Namespace) -> int:
    from commands.intake import Intake, IntakeRefused

    if not settings.intake_token:
        print("serviceorder intake needs SERVICEORDER_INTAKE_TOKEN: the token whose principal runs the commands",
              file=sys.stderr)
        return 2
    runtime = _runtime(settings)
    stop = _stop_on_signals()
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
    return _run_loop(settings, lambda runtime: runtime.scheduler())


def cmd_project(settings: Settings, args: argparse.Namespace) -> int:
    runtime = _runtime(settings)
    stop = _stop_on_signals()
    runtime.stop = stop
    try:
        runtime.start_background(relay=False, scheduler=False, projections=args.names or None)
        stop.wait()
    finally:
        runtime.close()
    return 0


def _bar(desc: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    from tqdm import tqdm

    bar = tqdm(desc=desc, unit="ev", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = max(total, done)
        bar.n = done
        bar.refresh()

    return update, bar.close


def cmd_rebuild(settings: Settings, args: argparse.Namespace) -> int:
    """Rebuild views from offset zero into a shadow and swap each in whole (projections.rebuilding)."""
    from projections import rebuilding
    from projections.base import Projection
    from projections.worker import ProjectionWorker
    from sqlstore.sqldb import Database

    runtime = _runtime(settings)
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
            update, done = _bar(f"rebuild {projection.name}")

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

    runtime = _runtime(settings)
    try:
        relay = runtime.relay()
        relay.catch_up()
        for category in args.categories or list(CATEGORIES):
            if category not in CATEGORIES:
                print(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}", file=sys.stderr)
                return 2
            update, done = _bar(f"republish {category}")
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


def cmd_dlq(settings: Settings, args: argparse.Namespace) -> int:
    """List, retry or skip parked poison events (reads and writes the views database only)."""
    import json

    from projections import parking
    from projections.registry import PROJECTIONS

    runtime = _runtime(settings)
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
    import json
    from datetime import timedelta

    runtime = _runtime(settings)
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


def cmd_clock(settings: Settings, args: argparse.Namespace) -> int:
    """Read or move the demo clock of a demo store (refused on any other store)."""
    from commands.democlock import NotADemoStore, parse_duration

    runtime = _runtime(settings)
    try:
        clock = runtime.demo_clock
        if clock is None:
            print(f"clock: {NotADemoStore()}", file=sys.stderr)
            return 2
        if args.action == "advance":
            try:
                clock.advance(parse_duration(args.duration))
            except ValueError as exc:
                print(f"clock: {exc}", file=sys.stderr)
                return 2
        print(f"{clock.now().isoformat(timespec='seconds')} (real time + {clock.offset})")
        return 0
    finally:
        runtime.close()


def cmd_asyncapi(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from streams.asyncapi import render

    if args.out:
        Path(args.out).write_text(render(), encoding="utf-8")
        print(f"AsyncAPI document written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(render())
    return 0


def cmd_broker(settings: Settings, args: argparse.Namespace) -> int:
    from streams.broker import BrokerProcess

    stop = _stop_on_signals()
    with BrokerProcess(port=args.port, binary=settings.broker_binary) as broker:
        print(f"Kafka-protocol broker (memory only) at {broker.bootstrap_servers}; stop with Ctrl-C",
              file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            if not broker.alive():
                print("the broker exited", file=sys.stderr)
                return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="serviceorder", description="Event-sourced service-order engine.")
    sub = p.add_subparsers(dest="command", required=True)
    serving = argparse.ArgumentParser(add_help=False)
    serving.add_argument("--host", help="address to listen on (0.0.0.0 for every interface); "
                                        "default SERVICEORDER_HOST or 127.0.0.1")
    serving.add_argument("--port", type=int, help="HTTP port (0 picks a free one); default SERVICEORDER_PORT or 8000")
    serving.add_argument("--no-relay", action="store_true", help="do not run the relay in this process")
    serving.add_argument("--no-projections", action="store_true", help="do not run projections in this process")
    serving.add_argument("--no-scheduler", action="store_true", help="do not fire deadlines in this process")
    serving.add_argument("--workers", type=int, default=1,
                         help="API processes sharing the port (default 1: the API runs in this process)")
    s = sub.add_parser("serve", parents=[serving],
                       help="API + relay + projections in one process (the embedded default)")
    s.add_argument("--demo", action="store_true",
                   help="demo mode: fill a fresh store with a demo company first (as `serviceorder demo`)")
    s.set_defaults(func=cmd_serve, fill_only=False)
    dm = sub.add_parser("demo", parents=[serving],
                        help="fill a fresh store with a believable water-purifier company, then serve it "
                             "with a demo clock you can move forward")
    dm.add_argument("--fill-only", action="store_true", help="fill the store and exit without serving")
    dm.set_defaults(func=cmd_serve, demo=True)
    ck = sub.add_parser("clock", help="the demo clock of a demo store: show it, or move it forward")
    cka = ck.add_subparsers(dest="action")
    ckv = cka.add_parser("advance", help="move the clock forward (never back); a running serve follows within 1 s")
    ckv.add_argument("duration", help="2h, 1d12h, 90m or an ISO 8601 duration such as PT2H")
    ck.set_defaults(func=cmd_clock)
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
    audit_cli.add_parsers(sub, _run_loop)
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
    for where in (sub, streams_sub):
        aa = where.add_parser("asyncapi", help="print (or write) the AsyncAPI 3 document of the event streams")
        aa.add_argument("--out", help="file to write, e.g. docs/asyncapi.json")
        aa.set_defaults(func=cmd_asyncapi)
    b = sub.add_parser("broker", help="run the bundled Kafka-protocol broker in the foreground")
    b.add_argument("--port", type=int, default=9092)
    b.set_defaults(func=cmd_broker)
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


if __name__ == "__main__":
    sys.exit(main())

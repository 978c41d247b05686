"""The ``serviceorder`` command line: serve, relay, project, rebuild, republish, broker."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import Any, Callable

import structlog
from pydantic import ValidationError

from commands import logs
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

    runtime = _runtime(settings)
    try:
        kafka = runtime.start_kafka()
        runtime.start_background(relay=not args.no_relay, projections=None if not args.no_projections else [],
                                 scheduler=not args.no_scheduler)
        port = settings.port or free_port()
        base = f"http://{settings.host}:{port}"
        print(
            "\nserviceorder is running\n"
            f"  API         {base}\n"
            f"  API docs    {base}/docs\n"
            f"  Kafka       {kafka.bootstrap_servers}{' (bundled broker, memory only)' if runtime.broker else ''}\n"
            f"  event store {'PostgreSQL' if settings.database_url else settings.data_dir.resolve()}\n"
            + (f"  admin token {runtime.admin_token}\n" if runtime.admin_token_generated else "")
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
    runtime = _runtime(settings)
    try:
        for projection in runtime.projections(args.names or None):
            update, done = _bar(f"rebuild {projection.name}")
            try:
                count = runtime.worker(projection).rebuild(progress=update)
            finally:
                done()
            print(f"{projection.name}: rebuilt from offset zero, {count} records", file=sys.stderr)
    finally:
        runtime.close()
    return 0


def cmd_republish(settings: Settings, args: argparse.Namespace) -> int:
    from engine.catalogue import PUBLIC_STREAMS

    runtime = _runtime(settings)
    try:
        relay = runtime.relay()
        relay.catch_up()
        for category in args.categories or list(PUBLIC_STREAMS):
            if category not in PUBLIC_STREAMS:
                print(f"unknown category {category!r}; known: {', '.join(PUBLIC_STREAMS)}", file=sys.stderr)
                return 2
            update, done = _bar(f"republish {category}")
            seen = 0

            def step(n: int, update: Callable[[int, int], None] = update) -> None:
                nonlocal seen
                seen += n
                update(seen, seen)

            try:
                count = relay.republish(category, progress=step)
            finally:
                done()
            print(f"{category}: {count} events published again", file=sys.stderr)
        relay.close()
    finally:
        runtime.close()
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
    s = sub.add_parser("serve", help="API + relay + projections in one process (the embedded default)")
    s.add_argument("--port", type=int, help="HTTP port (0 picks a free one); default SERVICEORDER_PORT or 8000")
    s.add_argument("--no-relay", action="store_true", help="do not run the relay in this process")
    s.add_argument("--no-projections", action="store_true", help="do not run projections in this process")
    s.add_argument("--no-scheduler", action="store_true", help="do not fire deadlines in this process")
    s.set_defaults(func=cmd_serve)
    sub.add_parser("relay", help="publish the event store's new events to Kafka").set_defaults(func=cmd_relay)
    sub.add_parser("scheduler", help="fire due deadlines (safe to run more than one)").set_defaults(
        func=cmd_scheduler)
    pr = sub.add_parser("project", help="run projection workers")
    pr.add_argument("names", nargs="*", help="projections to run (default: all)")
    pr.set_defaults(func=cmd_project)
    rb = sub.add_parser("rebuild", help="drop projections and rebuild them from offset zero")
    rb.add_argument("names", nargs="*", help="projections to rebuild (default: all)")
    rb.set_defaults(func=cmd_rebuild)
    rp = sub.add_parser("republish", help="publish a category's events again from the store to Kafka")
    rp.add_argument("categories", nargs="*", help="categories (default: all)")
    rp.set_defaults(func=cmd_republish)
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
    if getattr(args, "port", None) is not None and args.command == "serve":
        settings = settings.model_copy(update={"port": args.port})
    logs.configure(settings.log_format, settings.log_level)
    return int(args.func(settings, args) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""``serviceorder serve`` and ``demo`` (the API with relay, projections and scheduler, in one
process or several sharing the port), ``clock`` (a demo store's clock) and ``broker`` (the
bundled Kafka-protocol broker in the foreground)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

import structlog

from commands.cli.running import runtime_of, stop_on_signals
from commands.settings import Settings

log = structlog.get_logger("serviceorder.cli")


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
    runtime = runtime_of(settings)
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
            return _serve_replicas(settings, args, runtime, kafka.bootstrap_servers, made)
        port = settings.port or free_port()
        print(banner(settings, runtime, kafka.bootstrap_servers, f"http://{settings.host}:{port}", made),
              file=sys.stderr, flush=True)
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


def banner(settings: Settings, runtime: Any, bootstrap: str, base: str, made: dict[str, Any] | None,
           workers: int = 1) -> str:
    """What serve prints once it listens: where the API, Kafka and the store are, the admin token
    when it made one, and in demo mode where to look and as whom. One API process or several,
    the same lines."""
    processes = f": {workers} API processes" if workers > 1 else ""
    lines = [f"\nserviceorder is running{processes}",
             f"  API         {base}",
             f"  API docs    {base}/docs",
             f"  Kafka       {bootstrap}{' (bundled broker, memory only)' if runtime.broker else ''}",
             f"  event store {'PostgreSQL' if settings.database_url else settings.data_dir.resolve()}"]
    if runtime.admin_token_generated:
        lines.append(f"  admin token {runtime.admin_token}")
    text = "\n".join(lines) + "\n"
    if runtime.demo_clock:
        from commands.demo.run import banner as demo_banner

        text += demo_banner(made, base, runtime)
    return text + "  stop with Ctrl-C\n"


def _serve_replicas(settings: Settings, args: argparse.Namespace, runtime: Any, bootstrap: str,
                    made: dict[str, Any] | None) -> int:
    from commands import replicas

    sock = replicas.bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    # The API processes read the same settings, plus what this process decided at start.
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "SERVICEORDER_ADMIN_TOKEN": runtime.admin_token}
    processes = replicas.start_api_processes(sock, args.workers, env)
    print(banner(settings, runtime, bootstrap, f"http://{settings.host}:{port}", made, workers=args.workers),
          file=sys.stderr, flush=True)
    stop = stop_on_signals()
    try:
        replicas.supervise(processes, stop, lambda: replicas.start_api_processes(sock, 1, env)[0])
    finally:
        replicas.stop_all(processes)
        sock.close()
    return 0


def _exit_cleanly(*_: object) -> None:
    raise SystemExit(0)


def cmd_clock(settings: Settings, args: argparse.Namespace) -> int:
    """Read or move the demo clock of a demo store (refused on any other store)."""
    from commands.democlock import NotADemoStore, parse_duration

    runtime = runtime_of(settings)
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


def cmd_broker(settings: Settings, args: argparse.Namespace) -> int:
    from streams.broker import BrokerProcess

    stop = stop_on_signals()
    with BrokerProcess(port=args.port, binary=settings.broker_binary) as broker:
        print(f"Kafka-protocol broker (memory only) at {broker.bootstrap_servers}; stop with Ctrl-C",
              file=sys.stderr, flush=True)
        while not stop.wait(1.0):
            if not broker.alive():
                print("the broker exited", file=sys.stderr)
                return 1
    return 0


def add_parsers(sub: Any) -> None:
    """serve, demo and clock."""
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


def add_broker_parser(sub: Any) -> None:
    b = sub.add_parser("broker", help="run the bundled Kafka-protocol broker in the foreground")
    b.add_argument("--port", type=int, default=9092)
    b.set_defaults(func=cmd_broker)

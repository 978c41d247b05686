"""A PostgreSQL LISTEN that wakes a follower of the event store as soon as something is written."""

from __future__ import annotations

import select
import threading
import time
from typing import TYPE_CHECKING

import psycopg2

if TYPE_CHECKING:
    from sqlstore.sqldb import Database


class Doorbell:
    """Rings when PostgreSQL delivers a NOTIFY on ``channel`` (the event store sends one with
    every write), so a follower of the store wakes at once instead of after its poll interval.

    A missed ring costs only latency: followers still poll. The listening connection is its
    own (LISTEN lasts for a session) and is opened again after a failure; a fresh one rings
    once, since writes may have happened while nobody was listening.
    """

    def __init__(self, db: Database, channel: str) -> None:
        if db.dialect != "postgres":
            raise ValueError("a doorbell needs PostgreSQL (LISTEN/NOTIFY)")
        self.db = db
        self.channel = channel
        self._rang = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, name=f"doorbell-{channel}", daemon=True)
        self._thread.start()

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Wait for a ring (True), ``timeout`` seconds or ``stop`` (False); a ring is consumed."""
        deadline = time.monotonic() + timeout
        while not self._rang.wait(min(0.25, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline or (stop is not None and stop.is_set()):
                return False
        self._rang.clear()
        return True

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _listen(self) -> None:
        while not self._stop.is_set():
            conn = None
            try:
                conn = self.db.session()
                with conn.cursor() as cur:
                    cur.execute(f'LISTEN "{self.channel}"')
                self._rang.set()
                while not self._stop.is_set():
                    if select.select([conn], [], [], 0.5)[0]:
                        conn.poll()
                        if conn.notifies:
                            conn.notifies.clear()
                            self._rang.set()
            except (psycopg2.Error, OSError):
                self._stop.wait(1.0)
            finally:
                if conn is not None:
                    conn.close()

"""The event store's PostgreSQL factory: eventsourcing's, with a pool that recovers from a
server restart on the first failure instead of one failure per dead connection.

eventsourcing hands out pooled psycopg 3 connections (psycopg_pool) unchecked unless
``POSTGRES_PRE_PING`` is set, which costs a round trip on every checkout. After a
PostgreSQL restart every idle connection in the pool is dead. The recorder retries a failed
statement (10 attempts, 0.2 s apart), but each attempt takes the next dead connection from
the pool, so a pool holding more dead connections than attempts failed command after command
with 503 (issue 19: 17 in a row). Here the first failure has the pool test every idle
connection (psycopg_pool's ``ConnectionPool.check``: one empty query each; the dead are
replaced in the background), so the recorder's next attempt gets a live one.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from eventsourcing import postgres
from eventsourcing.persistence import InterfaceError, OperationalError


class RecoveringDatastore(postgres.PostgresDatastore):
    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        try:
            with super().get_connection() as conn:
                yield conn
        except (OperationalError, InterfaceError):
            if not self.pool.closed:
                self.pool.check()
            raise


class PostgresFactory(postgres.PostgresFactory):
    """Named by topic in ``PERSISTENCE_MODULE`` (engine.store.eventstore.event_store_env)."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        # The library builds its datastore from a dozen environment settings in the
        # constructor above; the subclass adds behaviour only (no state), so the object is
        # re-classed rather than rebuilt from a copy of that parsing.
        self.datastore.__class__ = RecoveringDatastore

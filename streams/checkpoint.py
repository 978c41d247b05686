"""The relay's durable checkpoint, in the same database as the event store: the store
position published so far, and the last record written to each partition (what the relay
reads back to find a topic that lost its records)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kafka import TopicPartition

from sqlstore.sqldb import Database

DDL = (
    """CREATE TABLE IF NOT EXISTS relay_position (
        relay TEXT PRIMARY KEY,
        position BIGINT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS relay_checkpoints (
        relay TEXT NOT NULL,
        topic TEXT NOT NULL,
        partition_no INTEGER NOT NULL,
        last_offset BIGINT NOT NULL,
        event_id TEXT NOT NULL,
        PRIMARY KEY (relay, topic, partition_no)
    )""",
)


@dataclass
class Published:
    topic: str
    partition: int
    offset: int
    event_id: str


# The partition number of the marker row of a topic whose republish has not completed.
REPUBLISHING = -1


class RelayState:
    """The relay's durable checkpoint, in the same database as the event store."""

    def __init__(self, db: Database, name: str) -> None:
        self.db = db
        self.name = name
        with db.transaction() as cur:
            for stmt in DDL:
                cur.execute(stmt)

    def position(self) -> int:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT position FROM relay_position WHERE relay = %s", (self.name,)).fetchone()
        return int(row[0]) if row else 0

    def checkpoints(self) -> dict[TopicPartition, tuple[int, str]]:
        with self.db.transaction() as cur:
            rows = cur.execute(
                "SELECT topic, partition_no, last_offset, event_id FROM relay_checkpoints WHERE relay = %s",
                (self.name,),
            ).fetchall()
        return {TopicPartition(t, int(p)): (int(o), e) for t, p, o, e in rows}

    def commit(self, position: int | None, published: list[Published]) -> None:
        last: dict[tuple[str, int], Published] = {}
        for p in published:
            key = (p.topic, p.partition)
            if key not in last or p.offset > last[key].offset:
                last[key] = p
        with self.db.transaction() as cur:
            if position is not None:
                cur.execute(
                    "INSERT INTO relay_position (relay, position, updated_at) VALUES (%s, %s, %s) "
                    "ON CONFLICT (relay) DO UPDATE SET position = EXCLUDED.position, updated_at = EXCLUDED.updated_at",
                    (self.name, position, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
                )
            for p in last.values():
                cur.execute(
                    "INSERT INTO relay_checkpoints (relay, topic, partition_no, last_offset, event_id) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (relay, topic, partition_no) DO UPDATE SET "
                    "last_offset = EXCLUDED.last_offset, event_id = EXCLUDED.event_id",
                    (self.name, p.topic, p.partition, p.offset, p.event_id),
                )

    def forget_topic(self, topic: str) -> None:
        """Drop a topic's checkpoints and mark it as being republished: until the republish
        completes (``republished``), verification finds the topic behind, so a republish cut
        short by a crash or a broker failure is started again, not silently left partial."""
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM relay_checkpoints WHERE relay = %s AND topic = %s", (self.name, topic))
            cur.execute("INSERT INTO relay_checkpoints (relay, topic, partition_no, last_offset, event_id) "
                        "VALUES (%s, %s, %s, %s, %s)", (self.name, topic, REPUBLISHING, -1, "republishing"))

    def republished(self, topic: str) -> None:
        with self.db.transaction() as cur:
            cur.execute("DELETE FROM relay_checkpoints WHERE relay = %s AND topic = %s AND partition_no = %s",
                        (self.name, topic, REPUBLISHING))



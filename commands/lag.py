"""How far behind the store each reader is: the relay (store events not yet on Kafka) and
each projection (records on its topics not yet applied), plus parked and rejected records.

The relay's checkpoints hold the last offset it wrote to every partition, so a projection's
lag is exact without asking the broker for end offsets (which some brokers misreport).
"""

from __future__ import annotations

from typing import Any

from commands.bootstrap import Runtime
from projections import parking


def lag_report(runtime: Runtime) -> dict[str, Any]:
    store = runtime.app.current_position()
    relay_state = runtime.relay_state()
    relay_position = relay_state.position()
    ends = {(tp.topic, tp.partition): offset + 1 for tp, (offset, _) in relay_state.checkpoints().items()
            if tp.partition >= 0}
    with runtime.views_db.transaction() as cur:
        offsets = cur.execute("SELECT projection, topic, partition_no, next_offset FROM projection_offsets").fetchall()
        rejected = dict(cur.execute("SELECT projection, COUNT(*) FROM projection_rejects GROUP BY projection"
                                    ).fetchall())
    applied = {(p, t, int(n)): int(o) for p, t, n, o in offsets}
    parked = parking.counts(runtime.views_db)
    projections = {}
    for projection in runtime.projections():
        topics = {runtime.settings.topic_prefix + "." + c for c in projection.categories}
        behind = sum(max(0, end - applied.get((projection.name, t, n), 0))
                     for (t, n), end in ends.items() if t in topics)
        projections[projection.name] = {"lag_records": behind, "parked_events": parked.get(projection.name, 0),
                                        "rejected_records": int(rejected.get(projection.name, 0))}
    return {"store_position": store, "relay": {"position": relay_position, "lag_events": max(0, store - relay_position)},
            "projections": projections}


def prometheus(report: dict[str, Any]) -> str:
    """The report in the Prometheus text exposition format (version 0.0.4)."""
    lines = [
        "# HELP serviceorder_store_position Position of the last event in the event store's notification log.",
        "# TYPE serviceorder_store_position gauge",
        f"serviceorder_store_position {report['store_position']}",
        "# HELP serviceorder_relay_lag_events Store notifications not yet published to Kafka.",
        "# TYPE serviceorder_relay_lag_events gauge",
        f"serviceorder_relay_lag_events {report['relay']['lag_events']}",
    ]
    for metric, key, text in (
            ("serviceorder_projection_lag_records", "lag_records", "Records on the projection's topics not yet applied."),
            ("serviceorder_projection_parked_events", "parked_events", "Poison events parked, with the events behind them."),
            ("serviceorder_projection_rejected_records", "rejected_records", "Records that were not our envelopes.")):
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
        lines += [f'{metric}{{projection="{name}"}} {values[key]}' for name, values in report["projections"].items()]
    return "\n".join(lines) + "\n"

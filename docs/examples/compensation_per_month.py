#!/usr/bin/env python3
"""An analytics consumer of the serviceorder streams: compensation paid per month.

Plain kafka-python, no serviceorder code: it relies only on the published contract
(docs/asyncapi.json). It reads the `<prefix>.claims` topic from the beginning and sums
`CompensationPaid.data.amount` per month of the event's `time`, the way an analytics team
would, and shows the contract's guarantees at work:

- delivery is at least once, so it dedupes by the CloudEvents `id` (stable on republish);
- `dataschema` names the event's version; it checks the versions it understands;
- amounts are decimal strings: it sums with Decimal, never float;
- it needs no personal data, so it never opens the sealed personal fields (``x-sealed`` in
  the contract) and needs no access to the key store.

    python3 docs/examples/compensation_per_month.py --bootstrap localhost:9092 [--prefix serviceorder]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from decimal import Decimal

from kafka import KafkaConsumer, TopicPartition

UNDERSTOOD = {"urn:serviceorder:schema:claims:CompensationPaid:v1"}


def compensation_per_month(bootstrap: str, prefix: str = "serviceorder", idle_ms: int = 2000) -> dict[str, Decimal]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
                             consumer_timeout_ms=idle_ms, value_deserializer=json.loads)
    topic = f"{prefix}.claims"
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    seen: set[str] = set()
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for record in consumer:  # stops after idle_ms without records
        event = record.value
        if event.get("type") != "serviceorder.claims.CompensationPaid" or event["id"] in seen:
            continue
        if event.get("dataschema") not in UNDERSTOOD:
            raise ValueError(f"CompensationPaid version {event.get('dataschema')} is not understood; upgrade")
        seen.add(event["id"])
        totals[event["time"][:7]] += Decimal(event["data"]["amount"])
    consumer.close()
    return dict(sorted(totals.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default="localhost:9092")
    parser.add_argument("--prefix", default="serviceorder")
    args = parser.parse_args()
    for month, paid in compensation_per_month(args.bootstrap, args.prefix).items():
        print(f"{month}  {paid:>12}")


if __name__ == "__main__":
    main()

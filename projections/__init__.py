"""Read models built from the Kafka topics: customer timelines, order tracking.

Each projection writes its view rows, its per-aggregate version marks and its consumer
offsets in one database transaction, so a crash can neither lose nor double-apply an event,
and each can be rebuilt from offset zero.
"""

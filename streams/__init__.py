"""The event backbone: the outbox relay from the event store to Kafka, the CloudEvents
envelope, Kafka consumer helpers, and the bundled broker for the embedded default."""

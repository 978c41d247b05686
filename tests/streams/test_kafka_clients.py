"""The Kafka clients warn about I/O stalls only when they are real (streams/kafka.py)."""

from __future__ import annotations

from streams.kafka import SLOW_IO_STEP_SECONDS, KafkaConfig


def test_every_client_warns_only_on_io_steps_of_seconds(kafka: KafkaConfig) -> None:
    consumer, producer, admin = kafka.consumer(), kafka.producer(), kafka.admin()
    try:
        for client in (consumer._client, producer._sender._client, admin._client):
            assert client._net.config["slow_task_threshold_secs"] == SLOW_IO_STEP_SECONDS
    finally:
        consumer.close()
        producer.close(timeout=5)
        admin.close()

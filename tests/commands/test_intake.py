"""Command intake from Kafka: commands in, each run once, results and dead letters out."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Iterator
from uuid import UUID

import jsonschema
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from commands.bootstrap import Runtime
from commands.api.batch import Outcome
from commands.intake import BadMessage, Intake, IntakeRefused, parse
from commands.settings import Settings
from engine.application.context import CommandContext, Principal
from streams import intake_topics as topics
from streams.asyncapi import document
from tests.commands.test_api import ORDER
from tests.commands.test_field_story import eventually
from tests.conftest import ADMIN_TOKEN
from tests.kafka_helpers import consume_all

CARRIER_TOKEN = "carrier-intake-token-0123456789"


def send(runtime: Runtime, messages: list[tuple[str | None, bytes]]) -> None:
    producer = KafkaProducer(bootstrap_servers=runtime.start_kafka().bootstrap_servers, acks="all")
    try:
        for key, value in messages:
            producer.send(runtime.kafka.topic(topics.COMMANDS), key=key.encode() if key else None, value=value)
        producer.flush()
    finally:
        producer.close()


def command(message_id: str, path: str, body: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"id": message_id, "path": path, "body": body, **extra}).encode()


def placed_orders(runtime: Runtime, n: int) -> list[str]:
    ctx = CommandContext.new(Principal("dispatch", frozenset({"dispatcher"})))
    return [str(runtime.app.place_order(ctx, customer_id=f"cust-{i}", items=ORDER["items"], tier="vip",
                                        delivery_address="1 Road").aggregate_id) for i in range(n)]


@pytest.fixture
def intake(runtime: Runtime) -> Iterator[Intake]:
    runtime.tokens.add(CARRIER_TOKEN, "carrier-7", ["dispatcher"])
    runtime.start_kafka().ensure_topics([topics.COMMANDS])
    runtime.start_background(projections=["order_tracking"], scheduler=False)
    worker = Intake(runtime, CARRIER_TOKEN, batch_size=50)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    yield worker
    stop.set()
    thread.join(timeout=30)


def results(runtime: Runtime, expect: int) -> dict[str, dict[str, Any]]:
    records = consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic(topics.RESULTS), expect=expect)
    return {r["id"]: r for r in (json.loads(rec.value) for rec in records)}


def test_commands_from_kafka_are_stored_published_and_projected(intake: Intake, runtime: Runtime) -> None:
    (order_id,) = placed_orders(runtime, 1)
    path = f"/orders/{order_id}/delivery-steps"
    send(runtime, [
        (order_id, command("m-1", path, {"step": "stock_prepared"})),
        (order_id, command("m-2", path, {"step": "left_warehouse"}, expected_version=2)),
        (order_id, command("m-3", path, {"step": "delivered"})),  # a rule refuses it: a result, not a dead letter
        (order_id, command("m-4", path, {"step": "driver_assigned", "driver": "Wang"})),
        (order_id, command("m-5", path, {"step": "in_transit", "position": {"lat": 30.1, "lng": 120.2}})),
        (None, command("m-6", "/orders", ORDER)),
        (order_id, b"not json"),
        (order_id, b'{"id": "m-7", "id": "m-8", "path": "/orders"}'),
        (order_id, json.dumps({"path": path, "body": {}}).encode()),
        (order_id, command("m-9", path, {"step": "stock_prepared"}, sender="x")),
        (order_id, command("m-10", path, {"step": "in_transit", "driver": "Wang\u0000"})),
    ])
    answers = results(runtime, expect=6)
    assert {k: v["status"] for k, v in answers.items()} == {"m-1": 200, "m-2": 200, "m-3": 409, "m-4": 200,
                                                             "m-5": 200, "m-6": 201}
    assert answers["m-5"]["result"]["version"] == 5 and answers["m-3"]["problem"]["type"].endswith("rule-violation")
    schema = {**topics.RESULT_SCHEMA}
    for answer in answers.values():
        jsonschema.validate(answer, schema)
    order = runtime.app.get_order(UUID(order_id))
    assert (order["version"], order["position_updates"], order["driver"]) == (5, 1, "Wang")
    assert runtime.app.get_order(UUID(answers["m-6"]["result"]["order_id"]))["customer_id"] == ORDER["customer_id"]
    events = consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic("orders"), expect=6)
    mine = [json.loads(e.value) for e in events if e.key.decode() == order_id]
    assert [e["aggregateversion"] for e in mine] == [1, 2, 3, 4, 5]
    assert mine[-1]["actor"] == "carrier-7"
    eventually(lambda: (runtime.views.tracking(order_id) or {}).get("version") == 5)

    dead = consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic(topics.DEAD_LETTERS), expect=5)
    reasons = {r.value: dict(r.headers)[topics.REASON_HEADER].decode() for r in dead}
    assert reasons[b"not json"].startswith("not JSON")
    assert "the key 'id' appears twice" in reasons[b'{"id": "m-7", "id": "m-8", "path": "/orders"}']
    assert any("'id' must be" in reason for reason in reasons.values())
    assert any("sender" in reason for reason in reasons.values())
    assert any(reason.startswith("control-character: message.body.driver") for reason in reasons.values())
    assert all(dict(r.headers)["source-topic"] == runtime.kafka.topic(topics.COMMANDS).encode() for r in dead)


def test_a_message_sent_twice_runs_once(intake: Intake, runtime: Runtime) -> None:
    (order_id,) = placed_orders(runtime, 1)
    twice = command("truck-7-0001", f"/orders/{order_id}/delivery-steps", {"step": "stock_prepared"})
    send(runtime, [(order_id, twice)])
    eventually(lambda: intake.processed == 1)
    send(runtime, [(order_id, twice)])
    eventually(lambda: intake.processed == 2)
    records = consume_all(runtime.kafka.bootstrap_servers, runtime.kafka.topic(topics.RESULTS), expect=2)
    first, again = (json.loads(r.value) for r in records)
    assert (first["result"]["replayed"], again["result"]["replayed"]) == (False, True)
    assert first["result"]["version"] == again["result"]["version"] == 2
    assert runtime.app.get_order(UUID(order_id))["version"] == 2


def test_the_intake_principal_needs_the_roles_each_command_needs(runtime: Runtime) -> None:
    runtime.tokens.add("engineer-intake-token-0123456789", "li", ["engineer"])
    (order_id,) = placed_orders(runtime, 1)
    worker = Intake(runtime, "engineer-intake-token-0123456789")
    worker.start()
    try:
        send(runtime, [(order_id, command("e-1", f"/orders/{order_id}/delivery-steps", {"step": "stock_prepared"}))])
        eventually(lambda: worker.cycle() == 1)
    finally:
        worker.close()
    (answer,) = results(runtime, expect=1).values()
    assert answer["status"] == 403 and runtime.app.get_order(UUID(order_id))["version"] == 1
    with pytest.raises(IntakeRefused):
        Intake(runtime, "no-such-token-0123456789abc").start()


def test_messages_that_are_not_commands_are_refused_with_a_reason() -> None:
    for value, reason in ((None, "empty"), (b"\xff", "not JSON"), (b"[1]", "object"), (b'{"path": "/orders"}', "'id'"),
                          (b'{"id": "a\\u0000", "path": "/orders"}', "message.id"),
                          (b'{"id": "a", "path": "/orders", "idempotency_key": "b"}', "idempotency_key"),
                          (b'{"id": "a", "path": "orders"}', "path"), (b"{" + b" " * 2000 + b"}", "exceeds")):
        with pytest.raises(BadMessage, match=reason):
            parse(value, 1_024)
    assert parse(b'{"id": "k", "path": "/orders", "body": {}}', 1_024).idempotency_key == "k"


def test_intake_messages_get_the_http_input_guards_checks() -> None:
    """What commands/api/input_guard.py refuses over HTTP never reaches the engine by Kafka."""
    def message(body: str) -> bytes:
        return ('{"id": "m", "path": "/orders/x/incidents", "body": ' + body + "}").encode()

    for body, reason in (('{"kind": "late\\u0000"}', "control-character: message.body.kind: the character U+0000"),
                         ('{"kind": "a\\u001b"}', "U+001B"),
                         ('{"kind": "a\\tb"}', "U+0009"),  # a tab outside free text
                         ('{"kind": "a", "description": "a\\u0007"}', "message.body.description"),
                         ('{"note\\u0000": "a"}', "(a key)"),
                         ('{"kind": "a", "x": [{"y": 1, "y": 2}]}', "duplicate-key: the key 'y' appears twice")):
        with pytest.raises(BadMessage) as refused:
            parse(message(body), 1_024)
        assert reason in str(refused.value)
    # Tab and line breaks are free text's, as over HTTP.
    command = parse(message('{"kind": "a", "description": "line 1\\n\\tline 2\\r\\n"}'), 1_024)
    assert command.body == {"kind": "a", "description": "line 1\n\tline 2\r\n"}


def test_the_intake_topics_are_in_the_asyncapi_document() -> None:
    doc = document()
    assert doc["channels"]["intake.commands"]["address"] == "{prefix}.commands"
    assert doc["channels"]["intake.results"]["address"] == "{prefix}.command-results"
    assert doc["channels"]["intake.dead_letters"]["address"] == "{prefix}.commands.dead-letter"
    schema = doc["components"]["messages"]["intake.Command"]["payload"]
    jsonschema.validate({"id": "m", "path": "/orders", "body": {}}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"path": "/orders"}, schema)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_every_command_is_written_once_when_the_intake_is_killed(runtime: Runtime, settings: Settings,
                                                                 tmp_path: Path) -> None:
    runtime.tokens.add(CARRIER_TOKEN, "carrier-7", ["dispatcher"])
    orders = placed_orders(runtime, 60)
    kafka = runtime.start_kafka()
    kafka.ensure_topics([topics.COMMANDS])
    steps = [{"step": "stock_prepared"}, {"step": "left_warehouse"}, {"step": "driver_assigned", "driver": "Wang"}]
    steps += [{"step": "in_transit", "position": {"lat": 30 + k / 100, "lng": 120.0}} for k in range(10)]
    messages = [(o, command(f"{o}-{n}", f"/orders/{o}/delivery-steps", body))
                for n, body in enumerate(steps) for o in orders]
    send(runtime, messages)
    total = len(messages)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("SERVICEORDER_")},
           "SERVICEORDER_DATABASE_URL": settings.database_url or "", "SERVICEORDER_DATABASE_SCHEMA":
           settings.database_schema, "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
           "SERVICEORDER_TOPIC_PREFIX": settings.topic_prefix, "SERVICEORDER_ADMIN_TOKEN": ADMIN_TOKEN,
           "SERVICEORDER_INTAKE_TOKEN": CARRIER_TOKEN, "SERVICEORDER_INTAKE_BATCH_SIZE": "20",
           "SERVICEORDER_DATA_DIR": str(tmp_path / "intake"), "SERVICEORDER_LOG_FORMAT": "json"}

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "commands.cli", "intake"], env=env,
                                stdout=subprocess.DEVNULL, stderr=open(tmp_path / "intake.log", "ab"))  # noqa: SIM115

    results_read = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False,
                                 auto_offset_reset="earliest")
    results_read.assign([TopicPartition(kafka.topic(topics.RESULTS), p) for p in range(kafka.partitions)])
    answered = [0]

    def more_than(n: int) -> bool:
        answered[0] += sum(len(part) for part in results_read.poll(timeout_ms=50).values())
        return answered[0] > n

    first = start()
    try:
        # Killed as soon as a few polls are answered, mid-run (the run is 13 polls of 20 at least).
        eventually(lambda: more_than(40), timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        done_before_kill = len(consume_all(kafka.bootstrap_servers, kafka.topic(topics.RESULTS), idle=0.5))
        assert done_before_kill < total, "the intake finished before it was killed: nothing was tested"
    finally:
        first.kill()
        results_read.close()
    second = start()
    try:
        eventually(lambda: len({json.loads(r.value)["id"] for r in consume_all(
            kafka.bootstrap_servers, kafka.topic(topics.RESULTS), idle=0.3)}) == total, timeout=90)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    answers = [json.loads(r.value) for r in consume_all(kafka.bootstrap_servers, kafka.topic(topics.RESULTS),
                                                          idle=0.5)]
    assert all(a["status"] in (200, 201) for a in answers), [a for a in answers if a["status"] >= 300][:3]
    by_id: dict[str, set[int]] = {}
    for a in answers:
        by_id.setdefault(a["id"], set()).add(a["result"]["version"])
    assert all(len(versions) == 1 for versions in by_id.values())  # a redelivered message answers the same
    for order_id in orders:
        order = runtime.app.get_order(UUID(order_id))
        assert (order["version"], order["position_updates"]) == (1 + 3 + 10, 10), order_id


def test_a_poll_that_met_an_unavailable_store_is_neither_answered_nor_committed(runtime: Runtime) -> None:
    runtime.tokens.add(CARRIER_TOKEN, "carrier-7", ["dispatcher"])
    (order_id,) = placed_orders(runtime, 1)
    worker = Intake(runtime, CARRIER_TOKEN)
    worker.start()
    run_alone = worker.executor.run_alone
    calls: list[int] = []

    async def store_down_once(commands: Any, principal: Any, request_id: str) -> Any:
        calls.append(len(commands))
        if len(calls) == 1:
            return [Outcome(0, commands[0].path, 503, b'{"status": 503}')]
        return await run_alone(commands, principal, request_id)

    worker.executor.run_alone = store_down_once  # type: ignore[method-assign]
    try:
        send(runtime, [(order_id, command("d-1", f"/orders/{order_id}/delivery-steps", {"step": "stock_prepared"}))])
        eventually(lambda: worker.cycle() == 1)
    finally:
        worker.close()
    assert calls == [1, 1]  # the same message again, after the pause
    (answer,) = results(runtime, expect=1).values()
    assert answer["status"] == 200 and runtime.app.get_order(UUID(order_id))["version"] == 2

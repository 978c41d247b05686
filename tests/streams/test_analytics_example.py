"""The example analytics consumer in docs/examples, run against the real broker: it sums
compensation paid per month from the claims topic, deduping the duplicates a republish
makes, and agrees with the engine's own view."""

from __future__ import annotations

import importlib.util
from decimal import Decimal
from pathlib import Path

from commands.bootstrap import Runtime
from engine.application.context import CommandContext
from projections.complaints import ComplaintsBoard
from tests.projections.test_worker import drain

CTX = CommandContext.new()
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "compensation_per_month.py"


def paid_claim(runtime: Runtime, amount: str) -> None:
    app = runtime.app
    complaint = app.file_complaint(CTX, customer_id="c1", category="product_quality", description="leak").aggregate_id
    claim = app.open_claim(CTX, complaint, damage="floor").aggregate_id
    app.propose_compensation(CTX, claim, amount=amount, facts=[])
    app.accept_compensation(CTX, claim)
    app.pay_compensation(CTX, claim, amount=amount, reference="transfer")


def test_the_example_consumer_sums_compensation_per_month(runtime: Runtime) -> None:
    paid_claim(runtime, "5000")
    paid_claim(runtime, "1200.50")
    relay = runtime.relay()
    relay.catch_up()
    assert relay.republish("claims") == 8  # every claim event again: duplicates on the topic
    relay.close()
    spec = importlib.util.spec_from_file_location("compensation_per_month", EXAMPLE)
    assert spec and spec.loader
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    totals = example.compensation_per_month(runtime.kafka.bootstrap_servers, runtime.settings.topic_prefix,
                                            idle_ms=1500)
    assert list(totals.values()) == [Decimal("6200.50")]
    worker = runtime.worker(ComplaintsBoard())
    drain(worker, 2 * 2 + 2 * 4)
    worker.close()
    view = runtime.views.compensation_by_month()
    assert [(v["month"], Decimal(v["paid"])) for v in view] == [(m, t) for m, t in totals.items()]

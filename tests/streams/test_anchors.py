"""The anchors topic on a real Kafka-protocol broker: the standalone publisher anchors at once
and then every interval, each run continuing where the topic's last anchor stopped, and the
store checked against every anchor read back from the topic."""

from __future__ import annotations

import threading
from pathlib import Path

from engine.store.anchors import anchor_id, check_anchors
from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.store.eventstore import event_store_env
from engine.domain.clock import ManualClock
from engine.store.signing import Signer
from streams.anchors import AnchorPublisher
from streams.kafka import KafkaConfig
from tests.commands.test_field_story import eventually
from tests.engine.store.evidence_fixtures import disputed_claim
from tests.engine.store.tampering import Tamperer


def test_anchors_follow_one_another_on_the_topic(kafka: KafkaConfig, tmp_path: Path) -> None:
    signer = Signer.generate()
    app = ServiceOrderApp(EngineConfig(env=event_store_env(sqlite_path=str(tmp_path / "events.sqlite")),
                                       clock=ManualClock(), signer=signer))
    try:
        _, claim = disputed_claim(app)
        stop = threading.Event()
        publisher = AnchorPublisher(app, kafka, signer, interval=3600, at_start=True)
        worker = threading.Thread(target=publisher.run, args=(stop,))
        worker.start()
        try:
            first = eventually(lambda: publisher.published(idle_ms=200))
        finally:
            stop.set()
            worker.join(timeout=30)
        assert first[-1]["position"] == app.current_position() and first[0]["after"] == 0
        disputed_claim(app, customer="c2")
        assert publisher.publish()[0]["previous"] == anchor_id(first[-1])
        assert publisher.publish() == []  # nothing new
        every = publisher.published(idle_ms=200)
        assert len(every) == len(first) + 1 and check_anchors(app, every, signer.keyring)["intact"]
        Tamperer(app).delete(claim, 5)
        checked = check_anchors(app, publisher.published(idle_ms=200), signer.keyring)
        assert [(r["aggregate_id"], r["version"], r["kind"]) for r in checked["rewritten"]] == [
            (str(claim), 5, "missing")]
    finally:
        app.close()

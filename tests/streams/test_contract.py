"""The analytics contract: the committed AsyncAPI document is current, every published version
of every event stays readable (fixtures, upcasting), and what the relay publishes matches the
schemas the document promises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator
from uuid import UUID

import jsonschema
import pytest
from eventsourcing.persistence import StoredEvent

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.catalogue import PUBLIC_STREAMS
from engine.store.topics import category_of, event_type_name
from engine.store.personal import PERSONAL_EVENT_FIELDS, PersonalData
from streams import asyncapi, envelope
from sqlstore.keystore import SqlKeyStore
from sqlstore.sqldb import Database
from streams.asyncapi import data_fields, event_classes
from tests.streams.contract_fixtures import HERE, SUBJECT, path_of

DOC = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"
FIXTURES = sorted(HERE.glob("*/*.json"))


@pytest.fixture(scope="module")
def app() -> ServiceOrderApp:
    return ServiceOrderApp(EngineConfig())


@pytest.fixture(scope="module")
def sealer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PersonalData]:
    """Seals personal fields as the store does before the relay publishes them."""
    keys_db = Database(str(tmp_path_factory.mktemp("keys") / "keys.sqlite"))
    yield PersonalData(SqlKeyStore(keys_db))
    keys_db.close()


def test_the_committed_asyncapi_document_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == asyncapi.render(), (
        "docs/asyncapi.json is out of date: run `serviceorder asyncapi --out docs/asyncapi.json` and commit it")


def test_every_event_type_and_version_has_a_fixture() -> None:
    missing = [f"{c}/{e.__name__}.v{getattr(e, 'class_version', 1)}"
               for c, a in PUBLIC_STREAMS.items() for e in event_classes(a)
               if not path_of(c, e, getattr(e, "class_version", 1)).exists()]
    assert not missing, f"no fixture for {missing}: run `python -m tests.streams.contract_fixtures` and commit"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_fixture_is_readable_and_published_as_the_document_says(app: ServiceOrderApp, sealer: PersonalData,
                                                                      fixture: Path) -> None:
    saved = json.loads(fixture.read_text(encoding="utf-8"))
    stored = StoredEvent(originator_id=SUBJECT, originator_version=1, topic=saved["topic"],
                         state=saved["stored"].encode())
    event = app.mapper.to_domain_event(stored)  # upcast from the fixture's version to the current one
    category = category_of(saved["topic"])
    assert category == fixture.parent.name
    event_type = event_type_name(saved["topic"])
    assert type(event).__name__ == event_type
    assert set(data_fields(type(event))) <= set(vars(event)), "a current field is missing after upcasting"
    published = object.__new__(type(event))
    object.__setattr__(published, "__dict__", sealer.seal_state(event_type, vars(event), event.originator_id))
    env = envelope.build(event=published, event_type=event_type, category=category,
                         aggregate_type=PUBLIC_STREAMS[category].__name__, position=1, source_prefix="/serviceorder")
    message = asyncapi.document()["components"]["messages"][f"{category}.{event_type}"]
    schema = {**message["payload"], "components": asyncapi.document()["components"]}
    jsonschema.validate(json.loads(envelope.encode(env)), schema)
    for name in PERSONAL_EVENT_FIELDS.get(event_type, ()):
        assert env["data"][name] is None or env["data"][name]["_pii_"] == 1, name


def test_version_1_follow_ups_are_upcast_to_their_first_completion(app: ServiceOrderApp) -> None:
    saved = json.loads((HERE / "followups" / "FollowUpScheduled.v1.json").read_text(encoding="utf-8"))
    assert "completion" not in saved["stored"]
    event = app.mapper.to_domain_event(StoredEvent(originator_id=UUID(int=7), originator_version=1,
                                                   topic=saved["topic"], state=saved["stored"].encode()))
    assert event.completion == 1


def test_the_schema_refuses_data_that_breaks_the_contract() -> None:
    document = asyncapi.document()
    schema = {"$ref": "#/components/schemas/jobs.JobOpened.data", "components": document["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"kind": "installation"}, schema)
    # Personal fields are published sealed, never in clear, and marked so.
    placed = document["components"]["schemas"]["orders.OrderPlaced.data"]
    assert placed["properties"]["delivery_address"]["x-sealed"] is True
    assert "x-sealed" not in placed["properties"]["tier"]
    sealed_address = {"$ref": "#/components/schemas/orders.OrderPlaced.data/properties/delivery_address",
                      "components": document["components"]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate("12 Lake Road", sealed_address)
    assert document["channels"]["jobs"]["address"] == "{prefix}.jobs"
    assert document["components"]["messages"]["followups.FollowUpScheduled"]["x-event-version"] == 2


def test_the_engine_publishes_exactly_the_contracts_names() -> None:
    from contract import names
    from engine.domain.orders import STEPS
    from projections.summaries import LABELS

    assert list(PUBLIC_STREAMS) == list(names.CATEGORIES)
    for category, aggregate in PUBLIC_STREAMS.items():
        assert aggregate.__name__ == names.CATEGORIES[category]
        assert tuple(cls.__name__ for cls in event_classes(aggregate)) == names.EVENT_TYPES[category]
    published = {event for events in names.EVENT_TYPES.values() for event in events}
    assert set(names.PERSONAL_EVENT_FIELDS) <= published and set(names.ERASURE_EVENTS) <= published
    for event, fields in names.PERSONAL_EVENT_FIELDS.items():
        (category,) = [c for c, events in names.EVENT_TYPES.items() if event in events]
        assert set(fields) <= set(data_fields(getattr(PUBLIC_STREAMS[category], event)))
    assert STEPS == names.DELIVERY_STEPS and tuple(LABELS["step"]) == names.DELIVERY_STEPS

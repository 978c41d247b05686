"""The store reads used by read routes (type, customer and origin of an aggregate, the
write at a position) come from stored records and never replay an aggregate."""

from __future__ import annotations

from uuid import uuid4

import pytest

from engine.application.app import ServiceOrderApp
from engine.domain.accounts import account_id
from tests.engine.application.test_fieldwork import CTX, ITEM, SITE, accepted_job, deliver
from tests.engine.application.test_fieldwork import app, clock  # noqa: F401  (the in-memory app, a manual clock)


def test_reads_answer_from_stored_records_without_loading_aggregates(app: ServiceOrderApp,  # noqa: F811
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    placed = app.place_order(CTX, customer_id="c7", items=[ITEM], tier="vip", delivery_address="1 Lake Rd",
                             site_location=SITE)
    (job_id,) = deliver(app)
    app.dispatch_job(CTX, job_id, "li")

    def no_loading(*_: object, **__: object) -> None:
        raise AssertionError("a read loaded an aggregate")

    monkeypatch.setattr(app.repository, "get", no_loading)
    assert app.aggregate_type(placed.aggregate_id) == "ServiceOrder"
    assert app.aggregate_type(job_id) == "FieldJob"
    assert app.customer_of(placed.aggregate_id) == "c7"
    assert app.origin(job_id)["kind"] == "installation"
    assert app.event_at(placed.position) == (placed.aggregate_id, 1)
    missing = uuid4()
    assert (app.aggregate_type(missing), app.customer_of(missing), app.origin(missing)) == (None, None, {})


def test_an_engineers_account_is_known_by_the_engineer_it_was_opened_for(app: ServiceOrderApp) -> None:  # noqa: F811
    job_id = accepted_job(app)
    app.check_in(CTX, job_id, "li", location=SITE, accuracy_m=5)
    app.check_out(CTX, job_id, "li")
    app.complete_job(CTX, job_id)
    assert app.aggregate_type(account_id("li")) == "EngineerAccount"
    assert app.origin(account_id("li"))["engineer"] == "li" and app.customer_of(account_id("li")) is None

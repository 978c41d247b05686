"""Handing an accepted job back (issue 20): by its engineer or a dispatcher for them, only
before its appointment window begins; the appointment stays for the next engineer, who keeps
or misses it and completes the job only after a verified visit of their own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.domain.errors import InvalidCommand, RuleViolation
from tests.engine.domain.test_jobs import META, NEAR, NOW, WHY, accepted, visited


def test_an_accepted_job_is_handed_back_before_its_window_and_keeps_the_appointment() -> None:
    j = accepted()
    start = NOW + timedelta(hours=3)
    j.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    with pytest.raises(RuleViolation, match="accepted by wang, not li"):
        j.decline("li", now=NOW, meta=WHY)
    with pytest.raises(InvalidCommand, match="needs a reason"):
        j.decline("wang", now=NOW, meta=META)
    j.decline("wang", now=NOW + timedelta(hours=1), meta=WHY)
    assert (j.status, j.engineer, j.declined_by) == ("declined", None, ["wang"])
    # The customer's appointment stands for the next engineer: no re-agreeing, no silent move.
    assert j.window is not None and j.window["start"] == start and j.windows_agreed == 1
    j.dispatch("li", routing="redispatch", now=NOW + timedelta(hours=1), meta=META)
    j.accept("li", meta=META)
    with pytest.raises(RuleViolation, match="reschedule it instead"):
        j.agree_appointment(start, start + timedelta(hours=1), now=NOW, meta=META)
    j.check_in("li", location=NEAR, accuracy_m=5, received_at=start + timedelta(minutes=10), max_distance_m=200,
               meta=META)
    assert not j.miss_appointment(now=start + timedelta(hours=3), meta=META)  # li kept it


def test_a_hand_back_is_refused_once_the_window_has_begun_or_the_engineer_came() -> None:
    j = accepted()
    start = NOW + timedelta(hours=3)
    j.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    for now in (start, start + timedelta(minutes=30), start + timedelta(hours=5)):
        with pytest.raises(RuleViolation, match="has begun") as refused:
            j.decline("wang", now=now, meta=WHY)
        assert refused.value.rule == "hand-back-before-window"
    assert (j.status, j.engineer) == ("accepted", "wang")

    early = accepted()
    early.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    early.check_in("wang", location=NEAR, accuracy_m=5, received_at=NOW + timedelta(hours=1), max_distance_m=200,
                   meta=META)
    with pytest.raises(RuleViolation, match="on site"):
        early.decline("wang", now=NOW + timedelta(hours=1), meta=WHY)
    early.check_out("wang", received_at=NOW + timedelta(hours=2), meta=META)
    with pytest.raises(RuleViolation, match="already been on site"):
        early.decline("wang", now=NOW + timedelta(hours=2), meta=WHY)

    done = visited()
    done.complete(meta=META)
    with pytest.raises(RuleViolation, match="cannot decline: the job is completed"):
        done.decline("wang", now=NOW, meta=WHY)


def test_an_accepted_job_without_an_appointment_is_handed_back_any_time_and_the_next_engineer_visits() -> None:
    j = visited()
    j.decline("wang", now=NOW + timedelta(days=3), meta=WHY)
    assert (j.status, j.window, j.declined_by) == ("declined", None, ["wang"])
    j.dispatch("li", routing="redispatch", now=NOW + timedelta(days=3), meta=META)
    j.accept("li", meta=META)
    with pytest.raises(RuleViolation, match="no verified visit"):  # wang's visit is not li's
        j.complete(meta=META)


def test_a_kept_window_the_next_engineer_misses_is_their_breach_not_the_first_ones() -> None:
    j = accepted()
    start = NOW + timedelta(hours=3)
    j.agree_appointment(start, start + timedelta(hours=2), now=NOW, meta=META)
    j.decline("wang", now=NOW, meta=WHY)
    j.dispatch("li", routing="redispatch", now=NOW, meta=META)
    j.accept("li", meta=META)
    assert j.miss_appointment(now=start + timedelta(hours=2), meta=META)
    assert (j.engineer, j.missed_windows, j.window) == ("li", 1, None)

"""The cross-workflow model's hand-back step (issue 20): an accepted job goes back, from its
engineer or a dispatcher on their behalf, and on to the other engineer; the rule that an
engineer acts only on the jobs they hold follows it, and a refused command stores nothing.
A mixin of ``CrossWorkflowModel`` (its ``app``, ``jobs`` and ``_jobs``), kept apart to keep
that module small."""

from __future__ import annotations

from typing import Any, Callable
from uuid import UUID

from hypothesis import strategies as st
from hypothesis.stateful import precondition, rule

from engine.application.app import ServiceOrderApp
from engine.application.context import CommandContext, Principal
from engine.domain.errors import NotPermitted
from tests.engine.application.cross_workflow_invariants import ENGINEERS

DISPATCHER = CommandContext.new(Principal("dispatch", frozenset({"dispatcher"})))
NEAR = {"lat": 30.2743, "lng": 120.1553}


def engineer(name: str) -> CommandContext:
    return CommandContext.new(Principal(name, frozenset({"engineer"})))


class HandBack:
    app: ServiceOrderApp
    jobs: dict[UUID, dict[str, Any]]
    _jobs: Callable[..., list[UUID]]

    @precondition(lambda self: self._jobs("accepted"))
    @rule(data=st.data(), by_dispatcher=st.booleans())
    def hand_back_and_reassign(self, data: st.DataObject, by_dispatcher: bool) -> None:
        """An accepted job (no appointment here) goes back, from its engineer or a dispatcher on
        their behalf, and on to the other engineer: the engineer-holds-job rule follows it."""
        job = data.draw(st.sampled_from(self._jobs("accepted")))
        m = self.jobs[job]
        first, other = m["engineer"], next(e for e in ENGINEERS if e != m["engineer"])
        who = DISPATCHER if by_dispatcher else engineer(first)
        self.app.decline_job(who.because("ill today"), job, first)
        self.app.dispatch_job(DISPATCHER, job, other)
        self.app.accept_job(engineer(other), job, other)
        m["engineer"] = other
        position = self.app.current_position()
        try:
            self.app.check_in(engineer(first), job, first, location=NEAR, accuracy_m=5)
        except NotPermitted as refused:
            assert refused.rule == "engineer-holds-job"
        else:
            raise AssertionError(f"{first} checked in on the job handed to {other}")
        assert self.app.current_position() == position, "a refused command stored something"

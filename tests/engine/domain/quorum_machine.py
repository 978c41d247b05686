"""A stateful model of parallel approval: any order of votes, approvals and rejections."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine.domain.errors import DomainError
from engine.domain.returns import DEPARTMENTS, ReturnRequest

META = {"actor": "a", "request_id": "r", "correlation_id": "c", "causation_id": "r", "reason": "no"}


class ApprovalQuorum(RuleBasedStateMachine):
    @initialize(required=st.sets(st.sampled_from(DEPARTMENTS), min_size=1))
    def request(self, required: set[str]) -> None:
        self.required = set(required)
        self.r = ReturnRequest.request(customer_id="c", order_id=None, resolution="refund", reason="x",
                                       items=[{"sku": "A"}], required=sorted(required), meta=META)
        self.voted: dict[str, bool] = {}

    @property
    def decided(self) -> str | None:
        if any(not v for v in self.voted.values()):
            return "rejected"
        if set(self.voted) == self.required:
            return "approved"
        return None

    @rule(department=st.sampled_from(DEPARTMENTS), approve=st.booleans())
    def vote(self, department: str, approve: bool) -> None:
        legal = self.decided is None and department in self.required and department not in self.voted
        try:
            self.r.vote(department, approve=approve, meta=META)
        except DomainError:
            assert not legal
            return
        assert legal
        self.voted[department] = approve

    @invariant()
    def status_follows_the_votes(self) -> None:
        assert self.r.status == (self.decided or "requested")
        assert set(self.r.pending) == (set() if self.decided else self.required - set(self.voted))

    @invariant()
    def replayed_equals_live(self) -> None:
        # Events stay pending on the aggregate until saved: replay those.
        replayed = None
        for e in list(self.r._pending_events):
            replayed = e.mutate(replayed)
        assert replayed is not None
        assert (replayed.status, replayed.votes) == (self.r.status, self.r.votes)

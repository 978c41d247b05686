"""A stateful model of a field job's life, with time moving and deadlines firing.

Rules are commands (including "time passes", after which the window's deadline is offered
to the scheduler); the model predicts which are legal and what the deadline does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.domain.clock import ManualClock
from engine.application.context import CommandContext
from engine.domain.deadlines import deadline_id
from engine.application.waits import WINDOW
from tests.engine.stateful import ModelChecked

CTX = CommandContext.new()
WHY = CTX.because("checked with the customer")
SITE = {"lat": 30.2741, "lng": 120.1551}
NEAR = {"lat": 30.2744, "lng": 120.1552}
FAR = {"lat": 30.35, "lng": 120.25}
ENGINEERS = st.sampled_from(["wang", "li"])


class JobLifecycle(ModelChecked, RuleBasedStateMachine):
    @initialize(head_start=st.booleans(), hours=st.integers(1, 24))
    def open(self, head_start: bool, hours: int) -> None:
        self.clock = ManualClock()
        self.app = ServiceOrderApp(EngineConfig(clock=self.clock))
        self.job = self.app.open_job(CTX, kind="installation", customer_id="c", product={"sku": "WP"},
                                     site_address="x", site_location=SITE, fee="100").aggregate_id
        self.status, self.engineer = "open", None
        self.window: tuple | None = None
        self.windows_agreed = 0
        self.deadline_active = False
        self.missed = 0
        # The end of the last window recorded as missed: a visit cannot be dated at or before it.
        self.missed_until: datetime | None = None
        self.open_visit = False
        self.verified = False
        self.came_for_window = False
        if head_start:  # half the runs begin accepted with a window, so they reach the late stages
            self.dispatch("wang")
            self.respond("wang", True)
            self.agree(hours, 6)


    @property
    def closed(self) -> bool:
        return self.status in ("completed", "self_installed")

    @rule(engineer=ENGINEERS)
    def dispatch(self, engineer: str) -> None:
        if self.attempt(self.status in ("open", "declined"), lambda: self.app.dispatch_job(CTX, self.job, engineer)):
            self.status, self.engineer = "dispatched", engineer

    @rule(engineer=ENGINEERS, accept=st.booleans())
    def respond(self, engineer: str, accept: bool) -> None:
        legal = self.status == "dispatched" and engineer == self.engineer
        if accept:
            if self.attempt(legal, lambda: self.app.accept_job(CTX, self.job, engineer)):
                self.status = "accepted"
        elif self.attempt(legal or self.may_hand_back(engineer), lambda: self.app.decline_job(WHY, self.job, engineer)):
            # The appointment (and its deadline) stays for the next engineer.
            self.status, self.engineer, self.verified = "declined", None, False

    def may_hand_back(self, engineer: str) -> bool:
        """An accepted job goes back to the queue until its window begins or its engineer came."""
        if self.status != "accepted" or engineer != self.engineer or self.open_visit:
            return False
        return self.window is None or (self.clock.now() < self.window[0] and not self.came_for_window)

    @rule(hours=st.integers(1, 24), length=st.integers(1, 12))
    def agree(self, hours: int, length: int) -> None:
        start = self.clock.now() + timedelta(hours=hours)
        end = start + timedelta(hours=length)
        if self.attempt(self.status == "accepted" and self.window is None,
                        lambda: self.app.agree_appointment(CTX, self.job, start, end)):
            self.window, self.deadline_active, self.came_for_window = (start, end), True, False
            self.windows_agreed += 1

    @rule(hours=st.integers(1, 24), length=st.integers(1, 12))
    def reschedule(self, hours: int, length: int) -> None:
        start = self.clock.now() + timedelta(hours=hours)
        end = start + timedelta(hours=length)
        legal = (not self.closed and self.window is not None and self.clock.now() < self.window[0]
                 and not self.open_visit)
        if self.attempt(legal, lambda: self.app.reschedule_appointment(WHY, self.job, start, end,
                                                                       initiator="customer")):
            self.window, self.deadline_active, self.came_for_window = (start, end), True, False
            self.windows_agreed += 1

    @rule(hours=st.integers(0, 12))
    def time_passes(self, hours: int) -> None:
        self.clock.advance(timedelta(hours=hours))
        outcome = self.app.fire_deadline(deadline_id(WINDOW, self.job, str(self.windows_agreed)))
        due = self.deadline_active and self.window is not None and self.clock.now() >= self.window[1]
        if due:
            assert outcome == "fired", outcome
            assert self.window is not None
            self.missed_until = self.window[1]
            self.window, self.deadline_active = None, False
            self.missed += 1
        else:
            assert outcome in ("not_due", "not_scheduled"), outcome

    @rule(near=st.booleans())
    def check_in(self, near: bool) -> None:
        legal = (self.status == "accepted" and not self.open_visit
                 and (self.missed_until is None or self.clock.now() > self.missed_until))
        if self.attempt(legal, lambda: self.app.check_in(CTX, self.job, self.engineer or "nobody",
                                                         location=NEAR if near else FAR, accuracy_m=10)):
            self.open_visit, self.came_for_window = True, True
            if self.window is not None and self.clock.now() <= self.window[1]:
                self.deadline_active = False  # kept; a later arrival leaves the breach to the deadline
            self.verified = self.verified or near

    @rule(minutes=st.integers(0, 300))
    def check_out(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        if self.attempt(self.open_visit, lambda: self.app.check_out(CTX, self.job, self.engineer or "nobody")):
            self.open_visit = False

    @rule()
    def complete(self) -> None:
        legal = self.status == "accepted" and not self.open_visit and self.verified
        if self.attempt(legal, lambda: self.app.complete_job(CTX, self.job)):
            self.status, self.window, self.deadline_active = "completed", None, False

    # Rare in life and final: only once engineers have failed to come, so runs get far.
    @precondition(lambda self: self.missed > 0 or self.status == "declined")
    @rule()
    def self_install(self) -> None:
        if self.attempt(not self.closed, lambda: self.app.install_by_customer(WHY, self.job)):
            self.status, self.window, self.deadline_active = "self_installed", None, False

    @invariant()
    def job_agrees_with_model(self) -> None:
        job = self.app.get_job(self.job)
        assert job["status"] == self.status
        assert job["engineer"] == (None if self.status in ("open", "declined") else self.engineer)
        assert job["missed_windows"] == self.missed
        assert (job["window"] is None) == (self.window is None)

    @invariant()
    def replayed_equals_live(self) -> None:
        replayed = None
        for e in self.app.events.get(self.job):
            replayed = e.mutate(replayed)
        live = self.app.repository.get(self.job)
        assert {k: v for k, v in vars(replayed).items() if not k.startswith("_")} == {
            k: v for k, v in vars(live).items() if not k.startswith("_")}

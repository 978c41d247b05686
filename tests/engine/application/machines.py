"""A stateful model of the delivery workflow, for hypothesis.

The model is deliberately simple (an index into the step list, a cancelled flag, a set of
open incidents); it predicts which commands are legal, and the aggregate must agree:
illegal commands always raise, legal ones always succeed, and the aggregate rebuilt from
the stored events always equals the live one.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine.application.app import ServiceOrderApp
from engine.application.config import EngineConfig
from engine.application.context import CommandContext
from engine.domain.orders import INCIDENT_KINDS, STEPS, ServiceOrder
from tests.engine.stateful import ModelChecked

CTX = CommandContext.new()
positions = st.one_of(st.fixed_dictionaries({"lat": st.floats(-90, 90), "lng": st.floats(-180, 180)}), st.none())


def state_of(order: ServiceOrder) -> dict[str, Any]:
    return {k: v for k, v in vars(order).items() if not k.startswith("_")} | {"version": order.version}


class DeliveryWorkflow(ModelChecked, RuleBasedStateMachine):
    @initialize(tier=st.sampled_from(["basic", "vip", "svip"]))
    def place(self, tier: str) -> None:
        self.app = ServiceOrderApp(EngineConfig())
        self.order_id = self.app.place_order(
            CTX, customer_id="c", items=[{"sku": "A", "quantity": 1}], tier=tier, delivery_address="x"
        ).aggregate_id
        self.step = -1
        self.cancelled = False
        self.open: set[str] = set()
        self.closed: set[str] = set()

    def live(self) -> ServiceOrder:
        return self.app.repository.get(self.order_id)


    @property
    def finished(self) -> bool:
        return self.cancelled or self.step == len(STEPS) - 1

    def next_legal_steps(self) -> list[str]:
        if self.finished:
            return list(STEPS)
        nxt = [STEPS[self.step + 1]]
        return nxt + (["in_transit"] if self.step >= 0 and STEPS[self.step] == "in_transit" else [])

    @rule(data=st.data(), position=positions, driver=st.sampled_from([None, "Wang", "Li"]))
    def record_step(self, data: st.DataObject, position: dict | None, driver: str | None) -> None:
        # Mostly the step the model expects next (so runs get far), sometimes any step.
        step = data.draw(st.one_of(st.sampled_from(self.next_legal_steps()), st.sampled_from(STEPS)))
        index = STEPS.index(step)
        legal = (
            not self.finished
            and not self.open
            and step in self.next_legal_steps()
            and (step != "driver_assigned" or driver is not None)
            and (step != "in_transit" or position is not None)
        )
        if self.attempt(legal, lambda: self.app.record_delivery_step(
                CTX, self.order_id, step, driver=driver, position=position)):
            self.step = index

    @rule(kind=st.sampled_from(INCIDENT_KINDS))
    def report_incident(self, kind: str) -> None:
        if self.attempt(not self.finished,
                        lambda: self.app.report_incident(CTX, self.order_id, kind=kind, description="d")):
            self.open.add(self.last_result.extra["incident_id"])

    @rule(data=st.data(), resolution=st.sampled_from(["resolved", "redispatched"]), with_reason=st.booleans())
    def resolve_incident(self, data: st.DataObject, resolution: str, with_reason: bool) -> None:
        incident = data.draw(st.one_of(st.sampled_from(sorted(self.open) or ["unknown"]),
                                       st.sampled_from(sorted(self.closed) + ["unknown"])))
        legal = (
            incident in self.open
            and with_reason
            and (resolution == "resolved" or self.step >= STEPS.index("driver_assigned"))
        )
        ctx = CTX.because("checked with the driver" if with_reason else None)
        if self.attempt(legal, lambda: self.app.resolve_incident(
                ctx, self.order_id, incident, resolution=resolution)):
            self.open.discard(incident)
            self.closed.add(incident)
            if resolution == "redispatched":
                self.step = STEPS.index("left_warehouse")

    @rule(with_reason=st.booleans())
    def cancel(self, with_reason: bool) -> None:
        legal = not self.cancelled and self.step <= STEPS.index("stock_prepared") and with_reason
        ctx = CTX.because("customer changed their mind" if with_reason else None)
        if self.attempt(legal, lambda: self.app.cancel_order(ctx, self.order_id)):
            self.cancelled = True

    @invariant()
    def aggregate_agrees_with_model(self) -> None:
        order = self.live()
        assert order.cancelled == self.cancelled
        assert (STEPS.index(order.step) if order.step else -1) == self.step
        assert set(order.open_incidents) == self.open

    @invariant()
    def replayed_equals_live(self) -> None:
        # The repository may serve snapshots; replaying every event from scratch must agree.
        events = self.app.events.get(self.order_id)
        replayed = None
        for e in events:
            replayed = e.mutate(replayed)
        assert replayed is not None
        assert state_of(replayed) == state_of(self.live())

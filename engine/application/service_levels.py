"""Workflow 6, service tiers and SLAs: resolution clocks in business time (warned at 75%,
breached at 100%, both by deadlines), and the hotline's calls and call-backs."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.domain import Aggregate

from engine.application import policies
from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import Change, CommandResult, Effects
from engine.application.waits import BREACH, SLA_BREACH, SLA_WARN, WARNING
from engine.domain.calls import HotlineCall
from engine.domain.deadlines import Deadline
from engine.domain.errors import InvalidCommand, NotFound
from engine.domain.sla import ServiceLevel


def _sla_not_found(level_id: UUID) -> NotFound:
    return NotFound(f"service level {level_id} does not exist")


class ServiceLevels(Handler):
    def register_deadline_actions(self) -> None:
        self.deadlines.on(SLA_WARN, self._on_sla_warning)
        self.deadlines.on(SLA_BREACH, self._on_sla_breach)

    # SLA clocks ------------------------------------------------------------------------------

    def start_sla(self, ctx: CommandContext, *, subject_id: str, subject_kind: str, customer_id: str,
                  tier: str | None = None, order_id: UUID | None = None,
                  idempotency_key: str | None = None) -> CommandResult:
        """Start the resolution clock of an item; the tier is given or taken from the customer's order."""
        def act() -> Effects:
            chosen = tier
            if chosen is None:
                if order_id is None:
                    raise InvalidCommand("give the tier, or the order whose tier applies")
                chosen = policies.tier_of_order(self.uow, order_id)
            target = self.config.tier_targets.get(chosen)
            if target is None:
                raise InvalidCommand(f"the {chosen} tier has no resolution clock")
            calendar, allowed = target
            level = ServiceLevel.start(subject_id=subject_id, subject_kind=subject_kind, customer_id=customer_id,
                                       tier=chosen, calendar=calendar, allowed=allowed, now=self.uow.now(),
                                       meta=ctx.meta())
            assert level.due_at is not None
            return Effects(level, {"due_at": level.due_at.isoformat()}, self._sla_deadlines(level, ctx))

        return self.uow.command(ctx, "start_sla", {"subject": subject_id, "kind": subject_kind, "tier": tier,
                                                   "order": str(order_id) if order_id else None}, idempotency_key, act)

    def pause_sla(self, ctx: CommandContext, level_id: UUID, *, expected_version: int | None = None,
                  idempotency_key: str | None = None) -> CommandResult:
        def change(level: ServiceLevel) -> Effects:
            stale = self._stop_sla_deadlines(level, ctx, "paused")
            level.pause(now=self.uow.now(), meta=ctx.meta())
            return Effects(level, also=stale)

        return self._level(ctx, "pause_sla", level_id, {"why": ctx.reason}, change, expected_version, idempotency_key)

    def resume_sla(self, ctx: CommandContext, level_id: UUID, *, expected_version: int | None = None,
                   idempotency_key: str | None = None) -> CommandResult:
        def change(level: ServiceLevel) -> Effects:
            level.resume(now=self.uow.now(), meta=ctx.meta())
            return Effects(level, also=self._sla_deadlines(level, ctx))

        return self._level(ctx, "resume_sla", level_id, {}, change, expected_version, idempotency_key)

    def complete_sla(self, ctx: CommandContext, level_id: UUID, *, expected_version: int | None = None,
                     idempotency_key: str | None = None) -> CommandResult:
        def change(level: ServiceLevel) -> Effects:
            stale = self._stop_sla_deadlines(level, ctx, "completed")
            level.complete(now=self.uow.now(), meta=ctx.meta())
            return Effects(level, {"breached": level.breached or level.used_seconds > level.allowed_seconds},
                           stale)

        return self._level(ctx, "complete_sla", level_id, {}, change, expected_version, idempotency_key)

    def get_sla(self, level_id: UUID) -> dict[str, Any]:
        level = self.uow.load(ServiceLevel, level_id, not_found=_sla_not_found)
        now = self.uow.now()
        running = level.status == "running"
        return {"sla_id": str(level.id), "version": level.version, "subject_id": level.subject_id,
                "customer_id": level.customer_id, "tier": level.tier, "status": level.status,
                "allowed_seconds": level.allowed_seconds,
                "used_seconds": int(level.used(now).total_seconds()) if running else level.used_seconds,
                "time_left_seconds": int(level.time_left(now).total_seconds()) if running else
                level.allowed_seconds - level.used_seconds,
                "warn_at": level.warn_at.isoformat() if level.warn_at else None,
                "due_at": level.due_at.isoformat() if level.due_at else None,
                "warned": level.warned, "breached": level.breached}

    def _sla_deadlines(self, level: ServiceLevel, ctx: CommandContext) -> list[Aggregate]:
        deadlines: list[Aggregate] = []
        for kind, due, action in ((WARNING, level.warn_at, SLA_WARN), (BREACH, level.due_at, SLA_BREACH)):
            if due is not None:
                deadlines.append(self.deadlines.schedule(kind=kind, subject_id=level.id, key=str(level.runs),
                                                         due_at=due, action=action, customer_id=level.customer_id,
                                                         meta=ctx.meta()))
        return deadlines

    def _stop_sla_deadlines(self, level: ServiceLevel, ctx: CommandContext, why: str) -> list[Aggregate]:
        return [d for kind in (WARNING, BREACH)
                for d in self.deadlines.cancel(kind, level.id, str(level.runs), reason=why, meta=ctx.meta())]

    def _on_sla_warning(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        level = self.uow.load(ServiceLevel, UUID(deadline.subject_id))
        return [level] if level.warn(now=now, meta=meta) else []

    def _on_sla_breach(self, deadline: Deadline, now: datetime, meta: dict[str, str]) -> list[Aggregate]:
        level = self.uow.load(ServiceLevel, UUID(deadline.subject_id))
        return [level] if level.breach(now=now, meta=meta) else []

    def _level(self, ctx: CommandContext, name: str, level_id: UUID, payload: dict[str, Any],
               change: Change[ServiceLevel], expected_version: int | None,
               idempotency_key: str | None) -> CommandResult:
        return self.uow.change(ctx, name, ServiceLevel, level_id, payload, change, expected_version=expected_version,
                               idempotency_key=idempotency_key, not_found=_sla_not_found)

    # Hotline calls ---------------------------------------------------------------------------

    def record_call(self, ctx: CommandContext, *, phone: str, answered: bool, at: datetime | None = None,
                    customer_id: str | None = None, agent: str | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        when = at or self.uow.now()
        day = when.astimezone(ZoneInfo(self.config.hotline_time_zone)).date().isoformat()
        payload = {"phone": phone, "answered": answered, "at": when.isoformat(), "customer": customer_id,
                   "agent": agent}

        def act() -> Effects:
            call = HotlineCall.record(phone=phone, at=when, day=day, answered=answered, customer_id=customer_id,
                                      agent=agent, meta=ctx.meta())
            due = call.call_back_due_at
            extra = {"call_back_due_at": due.isoformat()} if due is not None else {}
            return Effects(call, extra)

        return self.uow.command(ctx, "record_call", payload, idempotency_key, act)

    def call_back(self, ctx: CommandContext, call_id: UUID, *, reached: bool, expected_version: int | None = None,
                  idempotency_key: str | None = None) -> CommandResult:
        return self.uow.change(ctx, "call_back", HotlineCall, call_id, {"reached": reached},
                               lambda c: c.call_back(at=self.uow.now(), reached=reached, meta=ctx.meta()),
                               expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=lambda i: NotFound(f"call {i} does not exist"))

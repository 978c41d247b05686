"""Workflow 1, orders and their delivery: place, record delivery steps, incidents, cancel."""

from __future__ import annotations

from typing import Any, Mapping
from uuid import UUID

from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.policies import installation_jobs_on_delivery
from engine.application.unit_of_work import Change, CommandResult, Effects
from engine.domain.errors import OrderNotFound
from engine.domain.orders import ServiceOrder


class Orders(Handler):
    def place_order(self, ctx: CommandContext, *, customer_id: str, items: list[Mapping[str, Any]], tier: str,
                    delivery_address: str, site_location: Mapping[str, Any] | None = None,
                    idempotency_key: str | None = None) -> CommandResult:
        payload = {"customer_id": customer_id, "items": items, "tier": tier, "address": delivery_address,
                   "site": site_location}
        return self.uow.command(ctx, "place_order", payload, idempotency_key, lambda: Effects(ServiceOrder.place(
            customer_id=customer_id, items=items, tier=tier, delivery_address=delivery_address,
            site_location=site_location, meta=ctx.meta())))

    def record_delivery_step(self, ctx: CommandContext, order_id: UUID, step: str, *, driver: str | None = None,
                             position: Mapping[str, Any] | None = None, note: str | None = None,
                             expected_version: int | None = None,
                             idempotency_key: str | None = None) -> CommandResult:
        def change(order: ServiceOrder) -> Effects:
            order.record_step(step, driver=driver, position=position, note=note, meta=ctx.meta())
            jobs = installation_jobs_on_delivery(order, ctx.meta()) if step == "delivered" else []
            return Effects(order, {"job_ids": [str(j.id) for j in jobs]} if jobs else {}, list(jobs))

        return self._order(ctx, "record_delivery_step", order_id,
                           {"step": step, "driver": driver, "position": position, "note": note}, change,
                           expected_version, idempotency_key)

    def report_incident(self, ctx: CommandContext, order_id: UUID, *, kind: str, description: str,
                        expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._order(
            ctx, "report_incident", order_id, {"kind": kind, "description": description},
            lambda order: {"incident_id": order.report_incident(kind=kind, description=description, meta=ctx.meta())},
            expected_version, idempotency_key)

    def resolve_incident(self, ctx: CommandContext, order_id: UUID, incident_id: str, *, resolution: str,
                         note: str | None = None, expected_version: int | None = None,
                         idempotency_key: str | None = None) -> CommandResult:
        return self._order(
            ctx, "resolve_incident", order_id,
            {"incident": incident_id, "resolution": resolution, "note": note, "reason": ctx.reason},
            lambda order: order.resolve_incident(incident_id, resolution=resolution, note=note, meta=ctx.meta()),
            expected_version, idempotency_key)

    def cancel_order(self, ctx: CommandContext, order_id: UUID, *, expected_version: int | None = None,
                     idempotency_key: str | None = None) -> CommandResult:
        return self._order(ctx, "cancel_order", order_id, {"reason": ctx.reason},
                           lambda order: order.cancel(meta=ctx.meta()), expected_version, idempotency_key)

    def get_order(self, order_id: UUID) -> dict[str, Any]:
        order = self.uow.load(ServiceOrder, order_id, not_found=OrderNotFound)
        return {
            "order_id": str(order.id),
            "version": order.version,
            "customer_id": order.customer_id,
            "tier": order.tier,
            "items": order.items,
            "delivery_address": order.delivery_address,
            "site_location": order.site_location,
            "status": order.status,
            "current_step": order.step,
            "next_steps": list(order.next_steps),
            "driver": order.driver,
            "position": order.position,
            "position_updates": order.position_updates,
            "incidents": [{"incident_id": k, **v} for k, v in order.incidents.items()],
            "placed_at": order.created_on.isoformat(),
            "modified_at": order.modified_on.isoformat(),
        }

    def _order(self, ctx: CommandContext, name: str, order_id: UUID, payload: dict[str, Any], change: Change[ServiceOrder],
               expected_version: int | None, idempotency_key: str | None) -> CommandResult:
        return self.uow.change(ctx, name, ServiceOrder, order_id, payload, change, expected_version=expected_version,
                               idempotency_key=idempotency_key, not_found=OrderNotFound)

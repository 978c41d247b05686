"""The application service: one method per command, each one atomic write.

Methods take and return ids and plain values, never aggregates. Every command can carry
an expected version (optimistic concurrency requested by the caller) and an idempotency
key (a retried command returns its first result and writes nothing new). Orders are here;
field work (jobs, follow-ups, reminders, customers) is in ``engine.fieldwork``, returns
in ``engine.returning``.
"""

from __future__ import annotations

from typing import Any, Mapping
from uuid import UUID

from engine.domain.accounts import EngineerAccount
from engine.domain.claims import CompensationClaim
from engine.application.context import CommandContext
from engine.domain.errors import OrderNotFound
from engine.application.complaining import Complaints
from engine.application.fieldwork import FieldWork
from engine.domain.jobs import FieldJob
from engine.application.levels import ServiceLevels
from engine.domain.orders import ServiceOrder
from engine.application.returning import Returns
from engine.application.service import CommandResult, Effects, ServiceBase
from engine.application.settling import Settlement


class ServiceOrderApp(FieldWork, Returns, Complaints, ServiceLevels, Settlement, ServiceBase):
    name = "ServiceOrders"
    # Long histories (position updates, visits) make snapshots pay.
    snapshotting_intervals = {ServiceOrder: 50, FieldJob: 50, EngineerAccount: 50, CompensationClaim: 50}
    deadline_actions = {**FieldWork.deadline_actions, "claim.proposal_overdue": "_on_proposal_overdue",
                        "sla.warn": "_on_sla_warning", "sla.breach": "_on_sla_breach"}

    # Orders -----------------------------------------------------------------------------

    def place_order(
        self,
        ctx: CommandContext,
        *,
        customer_id: str,
        items: list[Mapping[str, Any]],
        tier: str,
        delivery_address: str,
        site_location: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        payload = {"customer_id": customer_id, "items": items, "tier": tier, "address": delivery_address,
                   "site": site_location}
        return self._command(ctx, "place_order", payload, idempotency_key, lambda: Effects(ServiceOrder.place(
            customer_id=customer_id, items=items, tier=tier, delivery_address=delivery_address,
            site_location=site_location, meta=ctx.meta())))

    def record_delivery_step(
        self,
        ctx: CommandContext,
        order_id: UUID,
        step: str,
        *,
        driver: str | None = None,
        position: Mapping[str, Any] | None = None,
        note: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        def change(order: ServiceOrder) -> Effects:
            order.record_step(step, driver=driver, position=position, note=note, meta=ctx.meta())
            # Delivered goods that need installing get their installation jobs in the same write.
            jobs = self._installation_jobs_for(order, ctx) if step == "delivered" else []
            return Effects(order, {"job_ids": [str(j.id) for j in jobs]} if jobs else {}, list(jobs))

        return self._change(ctx, "record_delivery_step", ServiceOrder, order_id, expected_version, idempotency_key,
                            {"step": step, "driver": driver, "position": position, "note": note}, change,
                            OrderNotFound)

    def report_incident(
        self,
        ctx: CommandContext,
        order_id: UUID,
        *,
        kind: str,
        description: str,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        return self._change(
            ctx, "report_incident", ServiceOrder, order_id, expected_version, idempotency_key,
            {"kind": kind, "description": description},
            lambda order: {"incident_id": order.report_incident(kind=kind, description=description, meta=ctx.meta())},
            OrderNotFound,
        )

    def resolve_incident(
        self,
        ctx: CommandContext,
        order_id: UUID,
        incident_id: str,
        *,
        resolution: str,
        note: str | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        return self._change(
            ctx, "resolve_incident", ServiceOrder, order_id, expected_version, idempotency_key,
            {"incident": incident_id, "resolution": resolution, "note": note, "reason": ctx.reason},
            lambda order: order.resolve_incident(incident_id, resolution=resolution, note=note, meta=ctx.meta()),
            OrderNotFound,
        )

    def cancel_order(
        self,
        ctx: CommandContext,
        order_id: UUID,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        return self._change(ctx, "cancel_order", ServiceOrder, order_id, expected_version, idempotency_key,
                            {"reason": ctx.reason}, lambda order: order.cancel(meta=ctx.meta()), OrderNotFound)

    def get_order(self, order_id: UUID) -> dict[str, Any]:
        order = self._load_as(ServiceOrder, order_id, not_found=OrderNotFound)
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


def event_store_env(
    *, sqlite_path: str | None = None, postgres: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The eventsourcing environment for one of the two supported stores."""
    if postgres is not None:
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            # The library's DB functions drop the table lock that keeps the notification
            # log gap-free for followers; the lock timeout stops writers queueing forever.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
            "POSTGRES_LOCK_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            **postgres,
        }
    if sqlite_path is None:
        raise ValueError("either sqlite_path or postgres is required")
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": sqlite_path, "SQLITE_LOCK_TIMEOUT": "10"}


__all__ = ["CommandResult", "ServiceOrderApp", "event_store_env"]

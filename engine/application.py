"""The application service: one method per command, each one atomic write.

Methods take and return ids and plain values, never aggregates. Every command can carry
an expected version (optimistic concurrency requested by the caller) and an idempotency
key (a retried command returns its first result and writes nothing new).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from engine.context import CommandContext
from engine.errors import ConcurrencyConflict, OrderNotFound, StaleVersion
from engine.idempotency import IdempotencyRecord, fingerprint, record_id
from engine.orders import ServiceOrder


@dataclass(frozen=True)
class CommandResult:
    aggregate_id: UUID
    version: int
    # Position of the command's last event in the store's notification log; readers pass
    # it back as wait_for_position. Unknown (None) when the result is an idempotent replay.
    position: int | None = None
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        return {"aggregate_id": str(self.aggregate_id), "version": self.version, "extra": self.extra}

    @classmethod
    def replay_of(cls, stored: Mapping[str, Any]) -> CommandResult:
        return cls(UUID(stored["aggregate_id"]), stored["version"], None, True, dict(stored["extra"]))


class ServiceOrderApp(Application[UUID]):
    name = "ServiceOrders"
    # Long in-transit histories (a position update every few minutes) make snapshots pay.
    snapshotting_intervals = {ServiceOrder: 50}

    # Commands -------------------------------------------------------------------------

    def place_order(
        self,
        ctx: CommandContext,
        *,
        customer_id: str,
        items: list[Mapping[str, Any]],
        tier: str,
        delivery_address: str,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        payload = {"customer_id": customer_id, "items": items, "tier": tier, "address": delivery_address}

        def act() -> tuple[Aggregate, dict[str, Any]]:
            order = ServiceOrder.place(
                customer_id=customer_id, items=items, tier=tier, delivery_address=delivery_address, meta=ctx.meta()
            )
            return order, {}

        return self._command(ctx, "place_order", payload, idempotency_key, act)

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
        return self._change_order(
            ctx, "record_delivery_step", order_id, expected_version, idempotency_key,
            {"step": step, "driver": driver, "position": position, "note": note},
            lambda order: order.record_step(step, driver=driver, position=position, note=note, meta=ctx.meta()),
        )

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
        return self._change_order(
            ctx, "report_incident", order_id, expected_version, idempotency_key,
            {"kind": kind, "description": description},
            lambda order: {"incident_id": order.report_incident(kind=kind, description=description, meta=ctx.meta())},
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
        return self._change_order(
            ctx, "resolve_incident", order_id, expected_version, idempotency_key,
            {"incident": incident_id, "resolution": resolution, "note": note, "reason": ctx.reason},
            lambda order: order.resolve_incident(incident_id, resolution=resolution, note=note, meta=ctx.meta()),
        )

    def cancel_order(
        self,
        ctx: CommandContext,
        order_id: UUID,
        *,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> CommandResult:
        return self._change_order(
            ctx, "cancel_order", order_id, expected_version, idempotency_key,
            {"reason": ctx.reason},
            lambda order: order.cancel(meta=ctx.meta()),
        )

    # Queries --------------------------------------------------------------------------

    def get_order(self, order_id: UUID) -> dict[str, Any]:
        order = self._load(order_id, None)
        return {
            "order_id": str(order.id),
            "version": order.version,
            "customer_id": order.customer_id,
            "tier": order.tier,
            "items": order.items,
            "delivery_address": order.delivery_address,
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

    def current_position(self) -> int:
        return self.recorder.max_notification_id() or 0

    def writer_at(self, position: int) -> UUID | None:
        """The aggregate whose event holds ``position`` in the notification log, if any."""
        found = self.recorder.select_notifications(start=position, limit=1, stop=position)
        return UUID(str(found[0].originator_id)) if found else None

    def customer_of(self, aggregate_id: UUID) -> str | None:
        try:
            return self.get_order(aggregate_id)["customer_id"]
        except OrderNotFound:
            return None

    # Plumbing -------------------------------------------------------------------------

    def _load(self, order_id: UUID, expected_version: int | None) -> ServiceOrder:
        try:
            order = self.repository.get(order_id)
        except AggregateNotFoundError:
            raise OrderNotFound(order_id) from None
        if not isinstance(order, ServiceOrder):
            raise OrderNotFound(order_id)
        if expected_version is not None and order.version != expected_version:
            raise StaleVersion(order_id, expected_version, order.version)
        return order

    def _find_record(self, rid: UUID) -> IdempotencyRecord | None:
        try:
            record = self.repository.get(rid)
        except AggregateNotFoundError:
            return None
        return record if isinstance(record, IdempotencyRecord) else None

    def _change_order(
        self,
        ctx: CommandContext,
        name: str,
        order_id: UUID,
        expected_version: int | None,
        idempotency_key: str | None,
        payload: dict[str, Any],
        change: Callable[[ServiceOrder], dict[str, Any] | None],
    ) -> CommandResult:
        """Load an order (checking the caller's expected version), change it, save it."""

        def act() -> tuple[Aggregate, dict[str, Any]]:
            order = self._load(order_id, expected_version)
            return order, change(order) or {}

        return self._command(ctx, name, {"order": str(order_id), **payload}, idempotency_key, act)

    def _command(
        self,
        ctx: CommandContext,
        name: str,
        payload: dict[str, Any],
        idempotency_key: str | None,
        act: Callable[[], tuple[Aggregate, dict[str, Any]]],
    ) -> CommandResult:
        rid = fp = None
        if idempotency_key is not None:
            rid, fp = record_id(ctx.principal.name, idempotency_key), fingerprint(name, payload)
            prior = self._find_record(rid)
            if prior is not None:
                return CommandResult.replay_of(prior.replay(fp))
        aggregate, extra = act()
        result = CommandResult(aggregate.id, aggregate.version, extra=extra)
        pending: list[Aggregate] = [aggregate]
        if idempotency_key is not None:
            pending.append(
                IdempotencyRecord(
                    principal=ctx.principal.name, key=idempotency_key, fingerprint=fp, result=result.stored()
                )
            )
        try:
            recordings = self.save(*pending)
        except IntegrityError:
            if rid is not None and (prior := self._find_record(rid)) is not None:
                return CommandResult.replay_of(prior.replay(fp))
            raise ConcurrencyConflict(
                f"{aggregate.id} was changed by another command at the same time; reload it and retry"
            ) from None
        position = max(r.notification.id for r in recordings if r.domain_event.originator_id == aggregate.id)
        return CommandResult(aggregate.id, aggregate.version, position, extra=extra)


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

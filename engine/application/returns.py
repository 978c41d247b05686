"""Workflow 4, returns and exchanges: a request judged by departments, then pickup,
receipt, inspection, refund or exchange, part tracking and closing."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping
from uuid import UUID

from engine.application import policies
from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import Change, CommandResult, Effects
from engine.domain.errors import InvalidCommand, NotFound, NotPermitted, OrderNotFound
from engine.domain.orders import ServiceOrder
from engine.domain.returns import ReturnedGoods, ReturnRequest, approver_role
from engine.domain.values import moment


def _order_uuid(order_id: str) -> UUID:
    try:
        return UUID(order_id)
    except ValueError:
        raise OrderNotFound(order_id) from None


def _not_found(return_id: UUID) -> NotFound:
    return NotFound(f"return request {return_id} does not exist")


class Returns(Handler):
    def request_return(self, ctx: CommandContext, *, customer_id: str, resolution: str, reason: str,
                       items: list[Mapping[str, Any]], order_id: str | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        payload = {"customer": customer_id, "resolution": resolution, "reason": reason, "items": items,
                   "order": order_id}

        def act() -> Effects:
            if not order_id:
                raise InvalidCommand("a return names the order its goods came from (order_id)")
            order = self.uow.load(ServiceOrder, _order_uuid(order_id), not_found=OrderNotFound)
            request = ReturnRequest.request(customer_id=customer_id, order_id=str(order.id), resolution=resolution,
                                            reason=reason, items=items,
                                            required=self.config.return_departments.get(resolution, ()),
                                            meta=ctx.meta())
            goods = self.uow.find(ReturnedGoods, ReturnedGoods.create_id(str(order.id)))
            return Effects(request, {"pending": request.pending},
                           [policies.returned_goods_reserved(order, goods, request)])

        return self.uow.command(ctx, "request_return", payload, idempotency_key, act)

    def vote_on_return(self, ctx: CommandContext, return_id: UUID, department: str, *, approve: bool,
                       expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        if not ctx.principal.has(approver_role(department)):
            raise NotPermitted(f"{ctx.principal.name} does not hold the {approver_role(department)!r} role")

        def change(request: ReturnRequest) -> Effects:
            request.vote(department, approve=approve, meta=ctx.meta())
            goods = self.uow.find(ReturnedGoods, ReturnedGoods.create_id(request.order_id)) if request.order_id else None
            return Effects(request, {"status": request.status, "pending": request.pending},
                           list(policies.returned_goods_released(goods, request)))

        return self._returning(ctx, "vote_on_return", return_id, {"department": department, "approve": approve,
                                                                  "reason": ctx.reason}, change,
                               expected_version, idempotency_key)

    def schedule_return_pickup(self, ctx: CommandContext, return_id: UUID, pickup_at: datetime, *,
                               expected_version: int | None = None, idempotency_key: str | None = None
                               ) -> CommandResult:
        return self._returning(ctx, "schedule_return_pickup", return_id, {"at": pickup_at.isoformat()},
                               lambda r: r.schedule_pickup(pickup_at=moment(pickup_at, "pickup_at"), meta=ctx.meta()),
                               expected_version, idempotency_key)

    def receive_returned_goods(self, ctx: CommandContext, return_id: UUID, *, expected_version: int | None = None,
                               idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "receive_returned_goods", return_id, {},
                               lambda r: r.receive_goods(meta=ctx.meta()), expected_version, idempotency_key)

    def inspect_return(self, ctx: CommandContext, return_id: UUID, *, faulty_parts: list[str],
                       notes: str | None = None, expected_version: int | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "inspect_return", return_id, {"parts": faulty_parts, "notes": notes},
                               lambda r: r.inspect(faulty_parts=faulty_parts, notes=notes, meta=ctx.meta()),
                               expected_version, idempotency_key)

    def issue_return_refund(self, ctx: CommandContext, return_id: UUID, *, amount: Any,
                            expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "issue_return_refund", return_id, {"amount": str(amount)},
                               lambda r: r.issue_refund(amount=amount, meta=ctx.meta()),
                               expected_version, idempotency_key)

    def ship_return_exchange(self, ctx: CommandContext, return_id: UUID, *, shipment: str,
                             expected_version: int | None = None, idempotency_key: str | None = None
                             ) -> CommandResult:
        return self._returning(ctx, "ship_return_exchange", return_id, {"shipment": shipment},
                               lambda r: r.ship_exchange(shipment=shipment, meta=ctx.meta()),
                               expected_version, idempotency_key)

    def track_returned_part(self, ctx: CommandContext, return_id: UUID, part: str, step: str, *,
                            expected_version: int | None = None, idempotency_key: str | None = None
                            ) -> CommandResult:
        return self._returning(ctx, "track_returned_part", return_id, {"part": part, "step": step},
                               lambda r: r.track_part(part, step, meta=ctx.meta()), expected_version, idempotency_key)

    def close_return(self, ctx: CommandContext, return_id: UUID, *, expected_version: int | None = None,
                     idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "close_return", return_id, {}, lambda r: r.close(meta=ctx.meta()),
                               expected_version, idempotency_key)

    def get_return(self, return_id: UUID) -> dict[str, Any]:
        r = self.uow.load(ReturnRequest, return_id, not_found=_not_found)
        return {"return_id": str(r.id), "version": r.version, "customer_id": r.customer_id, "order_id": r.order_id,
                "resolution": r.resolution, "items": r.items, "required": r.required, "votes": r.votes,
                "pending": r.pending, "status": r.status, "faulty_parts": r.parts,
                # Snapshots from before the reason was kept have none.
                "rejection": getattr(r, "rejection", None)}

    def _returning(self, ctx: CommandContext, name: str, return_id: UUID, payload: dict[str, Any],
                   change: Change[ReturnRequest], expected_version: int | None,
                   idempotency_key: str | None) -> CommandResult:
        return self.uow.change(ctx, name, ReturnRequest, return_id, payload, change,
                               expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=_not_found)

"""Return and exchange commands (workflow 4): a mixin of ServiceOrderApp."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Mapping
from uuid import UUID

from engine.application.context import CommandContext
from engine.domain.errors import NotFound, NotPermitted
from engine.domain.returns import DEFAULT_REQUIRED, ReturnRequest, approver_role
from engine.application.service import CommandResult, Effects
from engine.domain.values import moment

if TYPE_CHECKING:
    from engine.application.service import ServiceBase

    _Base = ServiceBase
else:
    _Base = object


def _not_found(return_id: UUID) -> NotFound:
    return NotFound(f"return request {return_id} does not exist")


class Returns(_Base):
    # Departments that judge each resolution; set from configuration at start-up.
    return_departments: Mapping[str, tuple[str, ...]] = DEFAULT_REQUIRED

    def request_return(self, ctx: CommandContext, *, customer_id: str, resolution: str, reason: str,
                       items: list[Mapping[str, Any]], order_id: str | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        payload = {"customer": customer_id, "resolution": resolution, "reason": reason, "items": items,
                   "order": order_id}

        def act() -> Effects:
            request = ReturnRequest.request(customer_id=customer_id, order_id=order_id, resolution=resolution,
                                            reason=reason, items=items,
                                            required=self.return_departments.get(resolution, ()), meta=ctx.meta())
            return Effects(request, {"pending": request.pending})

        return self._command(ctx, "request_return", payload, idempotency_key, act)

    def vote_on_return(self, ctx: CommandContext, return_id: UUID, department: str, *, approve: bool,
                       expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        if not ctx.principal.has(approver_role(department)):
            raise NotPermitted(f"{ctx.principal.name} does not hold the {approver_role(department)!r} role")

        def change(request: ReturnRequest) -> Effects:
            request.vote(department, approve=approve, meta=ctx.meta())
            return Effects(request, {"status": request.status, "pending": request.pending})

        return self._returning(ctx, "vote_on_return", return_id, expected_version, idempotency_key,
                               {"department": department, "approve": approve, "reason": ctx.reason}, change)

    def schedule_return_pickup(self, ctx: CommandContext, return_id: UUID, pickup_at: datetime, *,
                               expected_version: int | None = None, idempotency_key: str | None = None
                               ) -> CommandResult:
        return self._returning(ctx, "schedule_return_pickup", return_id, expected_version, idempotency_key,
                               {"at": pickup_at.isoformat()},
                               lambda r: r.schedule_pickup(pickup_at=moment(pickup_at, "pickup_at"), meta=ctx.meta()))

    def receive_returned_goods(self, ctx: CommandContext, return_id: UUID, *, expected_version: int | None = None,
                               idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "receive_returned_goods", return_id, expected_version, idempotency_key, {},
                               lambda r: r.receive_goods(meta=ctx.meta()))

    def inspect_return(self, ctx: CommandContext, return_id: UUID, *, faulty_parts: list[str],
                       notes: str | None = None, expected_version: int | None = None,
                       idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "inspect_return", return_id, expected_version, idempotency_key,
                               {"parts": faulty_parts, "notes": notes},
                               lambda r: r.inspect(faulty_parts=faulty_parts, notes=notes, meta=ctx.meta()))

    def issue_return_refund(self, ctx: CommandContext, return_id: UUID, *, amount: Any,
                            expected_version: int | None = None, idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "issue_return_refund", return_id, expected_version, idempotency_key,
                               {"amount": str(amount)}, lambda r: r.issue_refund(amount=amount, meta=ctx.meta()))

    def ship_return_exchange(self, ctx: CommandContext, return_id: UUID, *, shipment: str,
                             expected_version: int | None = None, idempotency_key: str | None = None
                             ) -> CommandResult:
        return self._returning(ctx, "ship_return_exchange", return_id, expected_version, idempotency_key,
                               {"shipment": shipment}, lambda r: r.ship_exchange(shipment=shipment, meta=ctx.meta()))

    def track_returned_part(self, ctx: CommandContext, return_id: UUID, part: str, step: str, *,
                            expected_version: int | None = None, idempotency_key: str | None = None
                            ) -> CommandResult:
        return self._returning(ctx, "track_returned_part", return_id, expected_version, idempotency_key,
                               {"part": part, "step": step}, lambda r: r.track_part(part, step, meta=ctx.meta()))

    def close_return(self, ctx: CommandContext, return_id: UUID, *, expected_version: int | None = None,
                     idempotency_key: str | None = None) -> CommandResult:
        return self._returning(ctx, "close_return", return_id, expected_version, idempotency_key, {},
                               lambda r: r.close(meta=ctx.meta()))

    def get_return(self, return_id: UUID) -> dict[str, Any]:
        r = self._load_as(ReturnRequest, return_id, not_found=_not_found)
        return {"return_id": str(r.id), "version": r.version, "customer_id": r.customer_id, "order_id": r.order_id,
                "resolution": r.resolution, "items": r.items, "required": r.required, "votes": r.votes,
                "pending": r.pending, "status": r.status, "faulty_parts": r.parts}

    def _returning(self, ctx: CommandContext, name: str, return_id: UUID, expected_version: int | None,
                   idempotency_key: str | None, payload: dict[str, Any], change: Any) -> CommandResult:
        return self._change(ctx, name, ReturnRequest, return_id, expected_version, idempotency_key, payload, change,
                            _not_found)

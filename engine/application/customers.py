"""Workflow 10, the customer file: registering a customer, updating their contact details
and the language they read, and erasing their personal data (their keys destroyed, the erasure recorded)."""

from __future__ import annotations

from uuid import UUID

from engine.application.context import CommandContext
from engine.application.handler import Handler
from engine.application.unit_of_work import CommandResult, Effects
from engine.domain.customers import Customer, customer_uuid
from engine.domain.errors import InvalidCommand, NotFound, RuleViolation
from engine.domain.privacy import PrivacyRecord, privacy_record_id
from engine.domain.values import text
from engine.store.personal import subject_of


class Customers(Handler):
    def register_customer(self, ctx: CommandContext, *, customer_id: str, name: str, phone: str, address: str,
                          idempotency_key: str | None = None) -> CommandResult:
        def act() -> Effects:
            if self.uow.find(Customer, customer_uuid(customer_id)) is not None:
                raise RuleViolation(f"customer {customer_id} is already registered: update their contact details")
            return Effects(Customer.register(customer_id=customer_id, name=name, phone=phone, address=address,
                                             meta=ctx.meta()))

        return self.uow.command(ctx, "register_customer", {"id": customer_id, "name": name, "phone": phone,
                                                           "address": address}, idempotency_key, act)

    def update_customer(self, ctx: CommandContext, customer_id: str, *, name: str | None = None,
                        phone: str | None = None, address: str | None = None, expected_version: int | None = None,
                        idempotency_key: str | None = None) -> CommandResult:
        def not_registered(_: UUID) -> NotFound:
            return NotFound(f"customer {customer_id} is not registered")

        return self.uow.change(ctx, "update_customer", Customer, customer_uuid(customer_id),
                               {"name": name, "phone": phone, "address": address},
                               lambda c: c.update_contact(name=name, phone=phone, address=address, meta=ctx.meta()),
                               expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=not_registered)

    def prefer_customer_language(self, ctx: CommandContext, customer_id: str, language: str, *,
                                 expected_version: int | None = None,
                                 idempotency_key: str | None = None) -> CommandResult:
        """Record the language the customer reads (summaries for readers who name none of ours)."""
        def not_registered(_: UUID) -> NotFound:
            return NotFound(f"customer {customer_id} is not registered")

        return self.uow.change(ctx, "prefer_customer_language", Customer, customer_uuid(customer_id),
                               {"language": language}, lambda c: c.prefer_language(language, meta=ctx.meta()),
                               expected_version=expected_version, idempotency_key=idempotency_key,
                               not_found=not_registered)

    def erase_personal_data(self, ctx: CommandContext, customer_id: str) -> CommandResult:
        """Destroy the customer's keys, so their name, phone, addresses and site locations read
        as erased everywhere, and record who did it and why (PrivacyRecord)."""
        personal_data = self.uow.store.personal_data
        if personal_data is None:
            raise RuleViolation("personal data is not sealed in this store, so it cannot be erased")
        if not ctx.reason:
            raise InvalidCommand("an erasure needs a reason (the customer's request, its reference)")
        customer_id = text(customer_id, "customer_id", limit=100)

        def act() -> Effects:
            # Keys first: if recording fails the command is retried, and destroying is idempotent.
            destroyed = personal_data.keys.erase(subject_of(customer_id, None), by=ctx.principal.name)
            record = self.uow.find(PrivacyRecord, privacy_record_id(customer_id))
            if record is None:
                record = PrivacyRecord.erase(customer_id=customer_id, keys_destroyed=destroyed, meta=ctx.meta())
            else:
                record.erase_again(keys_destroyed=destroyed, meta=ctx.meta())
            return Effects(record, extra={"keys_destroyed": destroyed})

        return self.uow.command(ctx, "erase_personal_data", {"customer_id": customer_id}, None, act)

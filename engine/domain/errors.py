"""Domain exceptions. The HTTP layer maps each family to one problem+json status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the engine raises on purpose."""

    title = "Domain error"

    def __init__(self, detail: str, *, rule: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        # The named rule that refused the command (``visit-time-bounded``...), shown to clients
        # beside the detail so they can act on it without parsing prose.
        self.rule = rule


class RuleViolation(DomainError):
    """A command is well formed but the workflow forbids it in the current state."""

    title = "Workflow rule violated"


class InvalidCommand(DomainError):
    """A command's values are out of range or inconsistent with each other."""

    title = "Invalid command"


class NotFound(DomainError):
    title = "Not found"


class OrderNotFound(NotFound):
    def __init__(self, order_id: object) -> None:
        super().__init__(f"order {order_id} does not exist")
        self.order_id = order_id


class StaleVersion(DomainError):
    """The caller's expected version (If-Match) is not the aggregate's current one."""

    title = "Precondition failed"

    def __init__(self, aggregate_id: object, expected: int, actual: int) -> None:
        super().__init__(
            f"{aggregate_id} is at version {actual}, not the expected version {expected}; "
            "reload it and retry"
        )
        self.expected = expected
        self.actual = actual


class ConcurrencyConflict(DomainError):
    """Another writer saved the same aggregate between our load and our save."""

    title = "Concurrent modification"


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key was sent again with a different request."""

    title = "Idempotency key reused"


class NotPermitted(DomainError):
    """The principal may not take this decision (a department vote without its approver role)."""

    title = "Forbidden"

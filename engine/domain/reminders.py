"""The ConsumableReminder aggregate: filters and other consumables due for replacement.

Installing a product with consumables starts a reminder cycle, due some days later (90 by
default, set per product on the order item). When it falls due the customer is contacted:
they accept (a replacement job is opened) or decline (the reminder repeats later).

Each consumable keeps its own due date: a replacement of some filters renews only those;
the ones the customer kept are due again as if declined (30 days on), and one not yet due
keeps its date. The reminder falls due at the earliest of them, for those due then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand, RuleViolation

DEFAULT_INTERVAL_DAYS = 90
DECLINED_REPEAT_DAYS = 30


class ConsumableReminder(Aggregate):
    """Category ``reminders`` on the event backbone."""

    @classmethod
    def start(cls, *, customer_id: str, installation_job_id: str, product: dict[str, str], consumables: list[str],
              interval_days: int, site_address: str, site_location: dict[str, float] | None, now: datetime,
              meta: dict[str, str]) -> ConsumableReminder:
        if not consumables:
            raise InvalidCommand("a reminder needs consumables")
        if not 1 <= interval_days <= 3650:
            raise InvalidCommand("the replacement interval is 1 to 3650 days")
        return cls(customer_id=customer_id, installation_job_id=installation_job_id, product=product,
                   consumables=consumables, interval_days=interval_days, site_address=site_address,
                   site_location=site_location, due_at=now + timedelta(days=interval_days), meta=meta)

    @event("ReminderScheduled")
    def __init__(self, customer_id: str, installation_job_id: str, product: dict[str, str], consumables: list[str],
                 interval_days: int, site_address: str, site_location: dict[str, float] | None, due_at: datetime,
                 meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.installation_job_id = installation_job_id
        self.product = product
        self.consumables = consumables
        self.interval_days = interval_days
        self.site_address = site_address
        self.site_location = site_location
        self.due_at = due_at
        self.status = "scheduled"
        self.round = 1
        self.replacement_job_id: str | None = None
        self.due = {c: due_at for c in consumables}

    def fall_due(self, *, now: datetime, meta: dict[str, str]) -> bool:
        if self.status != "scheduled" or now < self.due_at:
            return False
        self._fell_due(round=self.round, meta=meta)
        return True

    def decline(self, *, now: datetime, repeat_after_days: int, meta: dict[str, str]) -> None:
        if self.status != "due":
            raise RuleViolation(f"the reminder is {self.status}: only a due reminder is declined")
        if not 1 <= repeat_after_days <= 365:
            raise InvalidCommand("repeat_after_days is 1 to 365")
        postponed = now + timedelta(days=repeat_after_days)
        # What was due is postponed; a consumable due later keeps its date.
        due = {c: max(self.due_of(c), postponed) for c in self.consumables}
        self._declined(next_due_at=postponed, due_at=min(due.values()), consumables=due, meta=meta)

    def accept(self, *, replacement_job_id: str, meta: dict[str, str]) -> None:
        if self.status != "due":
            raise RuleViolation(f"the reminder is {self.status}: only a due reminder is accepted")
        self._accepted(replacement_job_id=replacement_job_id, meta=meta)

    @property
    def due_consumables(self) -> list[str]:
        """The consumables due when the reminder falls due (the earliest due date)."""
        return [c for c in self.consumables if self.due_of(c) <= self.due_at]

    def due_of(self, consumable: str) -> datetime:
        # Snapshots and histories from before per-consumable dates had one date for all.
        due: dict[str, datetime] = getattr(self, "due", {})
        return due.get(consumable, self.due_at)

    def renew(self, *, now: datetime, meta: dict[str, str], after_days: int | None = None,
              replaced: list[str] | None = None) -> None:
        """After its replacement job, the replaced consumables start their next cycle on the day
        of the work; the others, if due, come back as if declined. When the customer cancelled
        at the door, everything is due again after ``after_days``."""
        if self.status != "accepted":
            raise RuleViolation("a reminder renews after its replacement job")
        if after_days is not None:
            due = {c: now + timedelta(days=after_days) for c in self.consumables}
        else:
            renewed = set(self.consumables if replaced is None else replaced)
            declined = now + timedelta(days=DECLINED_REPEAT_DAYS)
            due = {c: now + timedelta(days=self.interval_days) if c in renewed else
                   (declined if self.due_of(c) <= now else self.due_of(c)) for c in self.consumables}
        self._renewed(due_at=min(due.values()), consumables=due, meta=meta)

    @event("ReminderDue")
    def _fell_due(self, round: int, meta: dict[str, str]) -> None:  # noqa: A002 - event field name
        self.status = "due"

    @event("ReminderDeclined")
    def _declined(self, next_due_at: datetime, due_at: datetime | None, consumables: dict[str, datetime] | None,
                  meta: dict[str, str]) -> None:
        self.status = "scheduled"
        # Version 1 said only the postponed date, which the rule in ``decline`` applied to.
        self.due = dict(consumables) if consumables else {
            c: max(self.due_of(c), next_due_at) for c in self.consumables}
        self.due_at = due_at or min(self.due.values())
        self.round += 1

    @event("ReminderAccepted")
    def _accepted(self, replacement_job_id: str, meta: dict[str, str]) -> None:
        self.status = "accepted"
        self.replacement_job_id = replacement_job_id

    @event("ReminderRenewed")
    def _renewed(self, due_at: datetime, consumables: dict[str, datetime] | None, meta: dict[str, str]) -> None:
        self.status = "scheduled"
        self.due_at = due_at
        self.due = dict(consumables) if consumables else {c: due_at for c in self.consumables}
        self.round += 1
        self.replacement_job_id = None


def reminder_interval(item: dict[str, Any]) -> int:
    return int(item.get("consumable_interval_days") or DEFAULT_INTERVAL_DAYS)


# Version 2 of ReminderRenewed added each consumable's next due date (``consumables``);
# version 1 renewed every consumable to ``due_at`` (None reads that way).
def _reminder_renewed_v1_v2(state: dict[str, Any]) -> None:
    state["consumables"] = None


# Version 2 of ReminderDeclined added what the decline made of each consumable (``consumables``)
# and the earliest of them (``due_at``); version 1 events read as null for both.
def _reminder_declined_v1_v2(state: dict[str, Any]) -> None:
    state["due_at"] = None
    state["consumables"] = None


ConsumableReminder.ReminderDeclined.class_version = 2  # type: ignore[attr-defined]
ConsumableReminder.ReminderDeclined.upcast_v1_v2 = staticmethod(_reminder_declined_v1_v2)  # type: ignore[attr-defined]
ConsumableReminder.ReminderRenewed.class_version = 2  # type: ignore[attr-defined]
ConsumableReminder.ReminderRenewed.upcast_v1_v2 = staticmethod(_reminder_renewed_v1_v2)  # type: ignore[attr-defined]

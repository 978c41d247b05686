"""The Customer aggregate: who the customer is and how to reach them (workflow 10).

Products bought, installers and service history are gathered by the customer-file view
from the order, job and reminder streams; this aggregate holds only the contact record.
The aggregate id derives from the business customer id that orders and jobs carry.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.errors import InvalidCommand
from engine.domain.values import text

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:customer")
# The languages the service writes to customers in (summaries, pages): English and Chinese.
LANGUAGES = ("en", "zh")


def customer_uuid(customer_id: str) -> UUID:
    return uuid5(_NAMESPACE, customer_id)


class Customer(Aggregate):
    """Category ``customers`` on the event backbone."""

    @staticmethod
    def create_id(customer_id: str, **_: Any) -> UUID:
        return customer_uuid(customer_id)

    @classmethod
    def register(cls, *, customer_id: str, name: str, phone: str, address: str, meta: dict[str, str]) -> Customer:
        return cls(customer_id=text(customer_id, "customer_id", limit=100), name=text(name, "name", limit=200),
                   phone=text(phone, "phone", limit=40), address=text(address, "address", limit=500), meta=meta)

    @event("CustomerRegistered")
    def __init__(self, customer_id: str, name: str, phone: str, address: str, meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.name = name
        self.phone = phone
        self.address = address
        self.language: str | None = None

    def update_contact(self, *, name: str | None, phone: str | None, address: str | None,
                       meta: dict[str, str]) -> None:
        self._contact_updated(
            name=text(name, "name", required=False, limit=200) or self.name,
            phone=text(phone, "phone", required=False, limit=40) or self.phone,
            address=text(address, "address", required=False, limit=500) or self.address,
            customer_id=self.customer_id,
            meta=meta,
        )

    @event("ContactDetailsUpdated")
    def _contact_updated(self, name: str, phone: str, address: str, customer_id: str, meta: dict[str, str]) -> None:
        self.name, self.phone, self.address = name, phone, address

    def prefer_language(self, language: str, *, meta: dict[str, str]) -> None:
        """Record the language the customer reads (for readers who do not say theirs)."""
        if language not in LANGUAGES:
            raise InvalidCommand(f"language must be one of {', '.join(LANGUAGES)}")
        self._language_preferred(language=language, customer_id=self.customer_id, meta=meta)

    @event("LanguagePreferred")
    def _language_preferred(self, language: str, customer_id: str, meta: dict[str, str]) -> None:
        self.language = language

"""The PrivacyRecord aggregate: the lasting record that a customer's personal data was
erased (who asked, why, how many keys were destroyed), itself free of personal data.

Category ``privacy`` on the event backbone: views holding personal data scrub that
customer's rows when they read it (projections/privacy.py). One record per customer; a
customer who comes back and asks again is erased again on the same record.
"""

from __future__ import annotations

from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from engine.domain.values import text

_NAMESPACE = uuid5(NAMESPACE_URL, "urn:serviceorder:privacy")


def privacy_record_id(customer_id: str) -> UUID:
    return uuid5(_NAMESPACE, customer_id)


class PrivacyRecord(Aggregate):
    """Category ``privacy``."""

    @staticmethod
    def create_id(customer_id: str, **_: Any) -> UUID:
        return privacy_record_id(customer_id)

    @classmethod
    def erase(cls, *, customer_id: str, keys_destroyed: int, meta: dict[str, str]) -> PrivacyRecord:
        return cls(customer_id=text(customer_id, "customer_id", limit=100), keys_destroyed=keys_destroyed, meta=meta)

    @event("PersonalDataErased")
    def __init__(self, customer_id: str, keys_destroyed: int, meta: dict[str, str]) -> None:
        self.customer_id = customer_id
        self.erasures = 1
        self.keys_destroyed = keys_destroyed

    def erase_again(self, *, keys_destroyed: int, meta: dict[str, str]) -> None:
        self._erased_again(customer_id=self.customer_id, keys_destroyed=keys_destroyed, meta=meta)

    @event("PersonalDataErasedAgain")
    def _erased_again(self, customer_id: str, keys_destroyed: int, meta: dict[str, str]) -> None:
        self.erasures += 1
        self.keys_destroyed += keys_destroyed

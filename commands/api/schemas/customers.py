"""Bodies of the customers workflow: registering and updating a customer, their language, their timeline."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from commands.api.schemas.common import Strict
from engine.domain.customers import LANGUAGES


class TimelineOut(BaseModel):
    customer_id: str
    entries: list[dict[str, Any]]
    next_after: int | None
    next_before: int | None = None


class RegisterCustomerIn(Strict):
    customer_id: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    phone: str = Field(min_length=3, max_length=40)
    address: str = Field(min_length=1, max_length=500)


class UpdateCustomerIn(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    phone: str | None = Field(default=None, min_length=3, max_length=40)
    address: str | None = Field(default=None, min_length=1, max_length=500)


class LanguageIn(Strict):
    language: Literal[LANGUAGES]  # type: ignore[valid-type]

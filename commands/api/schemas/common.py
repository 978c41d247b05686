"""What every workflow's bodies are built from: the strict base model, amounts of money, free text,
a position, a reason, and the one reply shape of commands. Unknown fields are refused rather than
silently dropped."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, get_args, get_type_hints

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine.domain.values import MAX_AMOUNT


def _at_most_max_amount(value: str) -> str:
    if Decimal(value) > MAX_AMOUNT:
        raise ValueError(f"an amount is at most {MAX_AMOUNT}")
    return value


# Every amount of money in a command: a decimal string with up to two places, 0 to MAX_AMOUNT
# (engine.domain.values, the one limit the domain also applies).
AmountText = Annotated[str, Field(pattern=r"^\d{1,7}(\.\d{1,2})?$", examples=["120.00"],
                                  description=f"a decimal amount from 0 to {MAX_AMOUNT}"),
                       AfterValidator(_at_most_max_amount)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _FreeTextMarker:
    """Marks a field as free text: the one place tabs and line breaks are accepted."""


# Free text (descriptions, notes, reasons...): may hold tabs and line breaks, which every
# other text field refuses (commands/api/input_guard.py reads the names from here).
FreeText = Annotated[str, _FreeTextMarker()]


def free_text_fields() -> frozenset[str]:
    """The names of the free-text fields of every request body (every subclass of `Strict` loaded:
    importing `commands.api.schemas` loads them all)."""
    def mentions(hint: Any) -> bool:
        return any(isinstance(a, _FreeTextMarker) or mentions(a) for a in get_args(hint))

    names: set[str] = set()
    models: list[type[BaseModel]] = [Strict]
    while models:
        model = models.pop()
        models.extend(model.__subclasses__())
        names.update(name for name, hint in get_type_hints(model, include_extras=True).items() if mentions(hint))
    return frozenset(names)


class PositionIn(Strict):
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class ReasonIn(Strict):
    reason: FreeText = Field(min_length=1, max_length=2000)


class ResultOut(BaseModel):
    """A command's result: the id of what it changed, its version and store position."""

    model_config = ConfigDict(extra="allow")
    id: str
    version: int
    position: int | None
    replayed: bool
    positions: dict[str, int] = Field(
        default_factory=dict,
        description="the store position of each aggregate this write saved, by id: the one it answers for "
                    "and what its policies opened (a follow-up, a deadline...), each the wait_for_position "
                    "that reads that aggregate's view; empty on an idempotent replay")

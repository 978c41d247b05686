"""A facade's method that is a handler's method: same name, same signature (for callers
and for mypy), no hand-written forwarding body."""

from __future__ import annotations

from typing import Any, Callable, Concatenate, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")
H = TypeVar("H")


class Delegated(Generic[H, P, R]):
    """``place_order = handled_by("orders", Orders.place_order)`` in a facade class makes
    ``facade.place_order(...)`` call ``facade.orders.place_order(...)``."""

    def __init__(self, handler: str, method: Callable[Concatenate[H, P], R]) -> None:
        self.handler = handler
        self.method = method
        self.__doc__ = method.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        if name != self.method.__name__:
            raise TypeError(f"{owner.__name__}.{name} delegates to a method named {self.method.__name__}")

    @overload
    def __get__(self, instance: None, owner: type) -> Delegated[H, P, R]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> Callable[P, R]: ...

    def __get__(self, instance: object | None, owner: type) -> Any:
        if instance is None:
            return self
        bound: Callable[P, R] = getattr(getattr(instance, self.handler), self.method.__name__)
        return bound


def handled_by(handler: str, method: Callable[Concatenate[H, P], R]) -> Delegated[H, P, R]:
    return Delegated(handler, method)

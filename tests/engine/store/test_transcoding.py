"""The orjson encoder writes the library's format: what it stores reads back as the library's
own bytes do."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import (DatetimeAsISO, DecimalAsStr, JSONTranscoder, TranscodingNotRegisteredError,
                                       UUIDAsHex)
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.store.transcoding import OrjsonTranscoder


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY, FAST = registered(JSONTranscoder()), registered(OrjsonTranscoder())

scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text() | st.uuids()
           | st.decimals(allow_nan=False, allow_infinity=False)
           | st.datetimes(timezones=st.just(timezone.utc)))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=8), inner, max_size=4), max_leaves=20)


def same(a: object, b: object) -> bool:
    """Equality that counts NaN as equal to NaN (the library reads NaN back as NaN)."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=6))
def test_what_it_stores_reads_back_as_the_librarys_bytes_do(state: dict) -> None:
    assert same(LIBRARY.decode(FAST.encode(state)), LIBRARY.decode(LIBRARY.encode(state)))


def test_custom_types_are_written_in_the_librarys_form() -> None:
    state = {"when": datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc), "fee": Decimal("120.50"),
             "job": UUID(int=7), "where": {"lat": 30.25, "lng": 120.16}, "note": "签收"}
    assert FAST.encode(state) == LIBRARY.encode(state)
    assert FAST.decode(FAST.encode(state)) == state


def test_what_the_library_refuses_is_refused() -> None:
    for value in ({1, 2}, {"day": datetime(2026, 1, 1).date()}, object()):
        with pytest.raises(TranscodingNotRegisteredError):
            FAST.encode({"x": value})

"""Cursor paging: a cursor round-trips the key it was made from, and anything else is refused."""

from __future__ import annotations

import pytest

from projections.paging import BadCursor, Keyset, decode, encode


def test_a_cursor_round_trips_its_key_and_bounds_the_next_page() -> None:
    keyset = Keyset(("b.due_at", "b.id"))
    cursor = encode(["2026-12-01T09:00:00+00:00", "王芳-1"])
    assert decode(cursor, 2) == ["2026-12-01T09:00:00+00:00", "王芳-1"]
    assert keyset.after(cursor) == (" AND (b.due_at, b.id) > (%s, %s)", ["2026-12-01T09:00:00+00:00", "王芳-1"])
    assert keyset.after(None) == ("", [])
    assert Keyset(("b.at", "b.id"), descending=True).order_by() == " ORDER BY b.at DESC, b.id DESC"
    rows = [("a", 1, "x"), ("b", 2, "y"), ("c", 3, "z")]
    assert Keyset(("k", "id")).page(rows, 2) == (rows[:2], encode(["b", 2]))
    assert Keyset(("k", "id")).page(rows, 3) == (rows, None)


@pytest.mark.parametrize("cursor", ["not base64!", encode(["only-one"]), encode([1, 2, 3]), encode([True, "x"]),
                                    encode([{"sql": 1}, "x"]), "e30", ""])
def test_a_cursor_this_list_did_not_issue_is_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode(cursor, 2)

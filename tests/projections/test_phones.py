"""Phone search keys: one number however it is written (issue 17, case 10)."""

from __future__ import annotations

import pytest

from projections.phones import search_key, split_query, stored_key

STORED = stored_key("138 0004 0827")


@pytest.mark.parametrize("written", ["+8613800040827", "0086 138 0004 0827", "(+86) 138-0004-0827", "13800040827",
                                     "138 0004 0827", "0827"])
def test_every_way_of_writing_a_number_finds_it(written: str) -> None:
    (key,) = split_query(written)
    assert key in STORED


def test_keys_name_the_country_code_when_the_search_does() -> None:
    assert STORED == "tel:8613800040827"
    assert stored_key("+86 571 5550 1234") == stored_key("0571 5550 1234") == "tel:8657155501234"
    assert search_key("+8613800040827") == "tel:8613800040827"
    assert search_key("13800040827") == "13800040827"
    assert search_key("+1 138 0004 0827") not in STORED  # the same digits in another country
    assert stored_key("not a phone") is None
    assert stored_key("2025550100", "US") == "tel:12025550100"


def test_words_and_numbers_mix_in_one_search() -> None:
    assert split_query("Chen +86 138 0004 0827 lake") == ["tel:8613800040827", "chen", "lake"]

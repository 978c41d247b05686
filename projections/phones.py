"""Phone numbers as search keys: one number however a customer or operator writes it.

``+86 138 0004 0827``, ``0086 13800040827``, ``(+86) 138-0004-0827`` and ``13800040827``
are one number in China. The customer file stores each phone as ``tel:`` and its E.164
digits (country code and national number) in its search text; a search for a number with
its country code (``+86``, ``0086``) looks for ``tel:`` and those digits, so the country code
must match, and one without a country code for its national significant number, which
those digits end with. Parsing is Google's libphonenumber
(``phonenumbers``), with the configured default region for numbers written without a
country code (its country code applies to them).
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import CountryCodeSource, NumberParseException, PhoneNumberFormat

DEFAULT_REGION = "CN"
# A run of digits with the separators people write inside phone numbers, 5+ digits long.
PHONE_LIKE = re.compile(r"(?:\+|\(\+)?\d[\d\s().\-]{3,}\d")
_WITH_COUNTRY_CODE = (CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN, CountryCodeSource.FROM_NUMBER_WITH_IDD)


def _parse(text: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(text, region, keep_raw_input=True)
    except NumberParseException:
        return None
    return number if phonenumbers.is_possible_number(number) else None


def stored_key(phone: str | None, region: str = DEFAULT_REGION) -> str | None:
    """``tel:`` and the E.164 digits of a stored phone, or None if it is not a possible number."""
    number = _parse(phone, region) if phone else None
    return None if number is None else "tel:" + phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]


def search_key(written: str, region: str = DEFAULT_REGION) -> str:
    """What a phone written in a search must be found in: ``tel:`` and the E.164 digits when it
    names its country code, else the national number; bare digits when it is part of a number."""
    number = _parse(written, region)
    if number is None:
        return re.sub(r"\D", "", written)
    if number.country_code_source in _WITH_COUNTRY_CODE:
        return "tel:" + phonenumbers.format_number(number, PhoneNumberFormat.E164)[1:]
    return phonenumbers.national_significant_number(number)


def split_query(query: str, region: str = DEFAULT_REGION) -> list[str]:
    """A search's words, with each phone-like run (spaces and all) turned into one key."""
    keys: list[str] = []

    def take(match: re.Match[str]) -> str:
        keys.append(search_key(match.group(0), region))
        return " "

    rest = PHONE_LIKE.sub(take, query.lower())
    return [*keys, *(w for w in rest.split() if w)]

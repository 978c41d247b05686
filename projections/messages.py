"""Rendering stored summaries in the reader's language, from gettext message catalogues.

The catalogues are ``projections/locale/<language>/LC_MESSAGES/summaries.po``, compiled to
``.mo`` when the package is built or installed (setup.py); the message ids are the English
source text of ``projections.summaries``, so English needs no catalogue. The language comes
from the request's ``Accept-Language`` or, for a customer, from the language recorded for
them; anything else reads English.
"""

from __future__ import annotations

import gettext
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

from projections.summaries import LABELS, N_

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "summaries"
DEFAULT = "en"
# Language tag (lower case, as Accept-Language sends it) -> catalogue.
LANGUAGES = {"en": "en", "zh": "zh_CN"}
LIST_SEPARATOR = N_(", ")
# Parameters that are times, by name, and how each shows (in the service's time zone).
TIME_PARAMETERS = {"at": "%Y-%m-%d %H:%M %Z", "start": "%Y-%m-%d %H:%M %Z", "due": "%Y-%m-%d %H:%M %Z",
                   "end": "%H:%M", "day": "%Y-%m-%d"}


@lru_cache(maxsize=None)
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of one of LANGUAGES (English: the message ids themselves)."""
    if language == DEFAULT:
        return gettext.NullTranslations()
    # fallback=False: a catalogue missing from an installed package is a packaging bug
    # that must show at once, not as English text in a Chinese page.
    return gettext.translation(DOMAIN, localedir=str(LOCALE_DIR), languages=[LANGUAGES[language]])


def negotiate(accept_language: str | None, recorded: str | None = None) -> str:
    """The language to answer in: the first of Accept-Language's ranges we have (by q
    weight), else the customer's recorded language, else English."""
    ranked: list[tuple[float, int, str]] = []
    for n, item in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, n, tag.strip().lower()))
    for negative_quality, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if negative_quality < 0 and primary in LANGUAGES:
            return primary
    if recorded and recorded.lower().split("-")[0] in LANGUAGES:
        return recorded.lower().split("-")[0]
    return DEFAULT


def render(parts: Iterable[Sequence[Any]], language: str = DEFAULT, zone: tzinfo = timezone.utc) -> str:
    """The text of stored message parts [(message id, parameters), ...] in ``language``, times
    in ``zone``."""
    catalogue = translations(language)
    return "".join(catalogue.gettext(message).format(**_localised(params, catalogue, zone))
                   for message, params in parts)


def _time(value: Any, shape: str, zone: tzinfo) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(zone).strftime(shape)
    except ValueError:
        return str(value) or "?"


def _localised(params: dict[str, Any], catalogue: gettext.NullTranslations, zone: tzinfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in params.items():
        if name in TIME_PARAMETERS:
            out[name] = _time(value, TIME_PARAMETERS[name], zone)
            continue
        labels = LABELS.get(name, {})

        def word(code: Any, labels: dict[str, str] = labels) -> Any:
            if code in labels:
                return catalogue.gettext(labels[code])
            return code.replace("_", " ") if labels and isinstance(code, str) else code

        if isinstance(value, list):
            out[name] = catalogue.gettext(LIST_SEPARATOR).join(str(word(v)) for v in value)
        else:
            out[name] = word(value)
    return out

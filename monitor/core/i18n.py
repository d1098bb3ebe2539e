"""Gettext catalogues and Babel formats for everything a person reads: web pages, Slack, CLI summaries.

Earshot's first users are Polish teams, so every string a person reads exists in Polish and English. The
English text is the message id (what the code says is what an English reader sees), and Polish lives in
one gettext catalogue per *domain* under ``monitor/core/locale/pl/LC_MESSAGES/<domain>.po``:

- ``web``: the web pages and their errors;
- ``slack``: Slack messages, modals, App Home and ``/earshot``;
- ``cli``: summaries the console prints;
- ``replies``: suggested-reply wording shown to agents.

Why domains: each surface is written and reviewed by a different person, and separate files keep their
edits apart. Why ``.po`` read at run time: the catalogues are text a translator can diff and review, there
is no compiled ``.mo`` to forget to rebuild, and compiling a few hundred messages in memory takes
milliseconds, once per process (cached). This module is on the ground floor so ``alerts`` (Slack) and the
top floor (web, CLI) share one copy of the rule.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Final, Literal, cast
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date as _babel_date
from babel.dates import format_datetime as _babel_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal as _babel_decimal
from babel.support import NullTranslations, Translations

__all__ = [
    "DOMAINS",
    "LANGUAGES",
    "LOCALE_DIR",
    "Language",
    "as_language",
    "catalogue_path",
    "format_date",
    "format_datetime",
    "format_number",
    "gettext",
    "negotiate",
    "ngettext",
    "translations",
]

Language = Literal["pl", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("pl", "en")
DOMAINS: Final[tuple[str, ...]] = ("web", "slack", "cli", "replies")
LOCALE_DIR: Final[Path] = Path(__file__).with_name("locale")

# Babel patterns that always show the zone: a time without its zone is a guess for whoever reads it.
_DATETIME_PATTERN: Final[dict[str, str]] = {"pl": "d MMM y, HH:mm", "en": "MMM d, y, HH:mm"}
# Whose short zone names to show: plain ``en`` has none for Europe's zones (Babel writes ``+0100``), while
# British English says ``CET``/``CEST`` (and ``UTC``) as a reader in Poland or the UK expects.
_ZONE_LOCALE: Final[dict[str, str]] = {"pl": "pl", "en": "en_GB"}


def as_language(value: str | None, default: Language = "en") -> Language:
    """``pl``/``pl-PL``/``PL`` → ``pl``; anything else that is not English → ``default``."""
    code = (value or "").strip().lower().replace("_", "-").split("-")[0]
    return cast(Language, code) if code in LANGUAGES else default


def catalogue_path(domain: str, language: Language = "pl") -> Path:
    """Where the ``.po`` source of ``domain`` in ``language`` lives (English needs none: ids are English)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown message domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po"


@cache
def translations(language: str, domain: str) -> NullTranslations:
    """The compiled catalogue of ``domain`` in ``language``; English (or a missing file) translates nothing.

    Fuzzy entries are left out by Babel's compiler, so a half-reviewed translation falls back to English
    instead of showing a guess.
    """
    lang = as_language(language)
    path = catalogue_path(domain, lang)
    if lang == "en" or not path.is_file():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=domain)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(fp=buffer, domain=domain)


def gettext(language: str, domain: str, message: str, **values: object) -> str:
    """``message`` in ``language``; ``values`` fill ``%(name)s`` placeholders after translation."""
    text = translations(language, domain).gettext(message)
    return text % values if values else text


def ngettext(language: str, domain: str, singular: str, plural: str, n: int, **values: object) -> str:
    """Plural-aware: Polish has three forms (1 wzmianka, 2 wzmianki, 5 wzmianek); ``n`` is always a value."""
    text = translations(language, domain).ngettext(singular, plural, n)
    return text % {"n": n, **values}


def negotiate(accept_language: str | None, default: Language = "en") -> Language:
    """The best of our languages for an ``Accept-Language`` header, honouring q-values; else ``default``."""
    if not accept_language:
        return default
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            ranked.append((-quality, position, tag.strip()))
    for negative_quality, _, tag in sorted(ranked):
        if -negative_quality <= 0:
            continue
        try:
            code = Locale.parse(tag.replace("-", "_")).language
        except (ValueError, UnknownLocaleError):
            continue
        if code in LANGUAGES:
            return cast(Language, code)
    return default


def _zone(timezone: str | tzinfo) -> tzinfo:
    return ZoneInfo(timezone) if isinstance(timezone, str) else timezone


def format_datetime(moment: datetime, language: str, timezone: str | tzinfo = "UTC") -> str:
    """``7 gru 2026, 09:36 CET`` / ``Dec 7, 2026, 09:36 CET``: local to ``timezone``, zone always shown."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    lang = as_language(language)
    zone = _zone(timezone)
    local = _babel_datetime(aware, _DATETIME_PATTERN[lang], tzinfo=zone, locale=lang)
    return f"{local} {_babel_datetime(aware, 'zzz', tzinfo=zone, locale=_ZONE_LOCALE[lang])}"


def format_date(moment: datetime, language: str, timezone: str | tzinfo = "UTC") -> str:
    """The local calendar day of ``moment`` in ``timezone``, in the reader's order (``7 gru 2026``)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return _babel_date(aware.astimezone(_zone(timezone)), "medium", locale=as_language(language))


def format_number(value: float | int, language: str, digits: int = 0) -> str:
    """``12 345,6`` in Polish, ``12,345.6`` in English."""
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    return _babel_decimal(value, format=pattern, locale=as_language(language))

"""Every gettext catalogue is one a translator and Babel both accept, and the formats read as a Pole expects.

What a person would notice: a ``.po`` file Babel cannot read (every page falls back to English), a
missing Plural-Forms line (``1 alertów``), an empty or fuzzy translation (English in the middle of a
Polish page), a placeholder renamed in the Polish text (a ``KeyError`` on the page instead of the page),
the wrong language picked from ``Accept-Language``, a time without its zone, ``12,345.6`` for a Pole.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from monitor.core.i18n import (
    DOMAINS,
    LOCALE_DIR,
    format_date,
    format_datetime,
    format_number,
    gettext,
    negotiate,
    ngettext,
)

PLURAL_FORMS = "nplurals=3; plural=(n==1 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);"
CATALOGUES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po"))
_PLACEHOLDER = re.compile(r"%\((\w+)\)[sdrf]|%%")


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(LOCALE_DIR)) for p in paths]


def _read(path: Path) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, abort_invalid=True)


def _header(path: Path) -> dict[str, str]:
    """The header entry's fields as the file writes them (Babel rewrites Plural-Forms when it reads)."""
    text = path.read_text(encoding="utf-8")
    block = text.split('msgid ""\nmsgstr ""\n', 1)[1].split("\n\n", 1)[0]
    joined = "".join(re.findall(r'^"(.*)"$', block, re.M)).replace("\\n", "\n")
    return dict(line.split(": ", 1) for line in joined.splitlines() if ": " in line)


def _translations(message: Message) -> list[str]:
    strings = message.string if isinstance(message.string, tuple | list) else [message.string]
    return [text or "" for text in strings]


def _placeholders(text: str) -> list[str]:
    return sorted(_PLACEHOLDER.findall(text))


def test_the_web_and_cli_catalogues_exist() -> None:
    names = {p.name for p in CATALOGUES}
    assert {"web.po", "cli.po"} <= names, names


@pytest.mark.parametrize("path", CATALOGUES, ids=_ids(CATALOGUES))
def test_a_catalogue_parses_and_has_a_valid_polish_header(path: Path) -> None:
    assert path.parent.parent.name == "pl" and path.stem in DOMAINS, path
    catalog = _read(path)
    header = _header(path)
    assert header["Language"] == "pl"
    assert header["Plural-Forms"] == PLURAL_FORMS
    assert header["Content-Type"].lower() == "text/plain; charset=utf-8"
    assert catalog.num_plurals == 3
    assert len(catalog) > 0


def test_the_plural_rule_gives_polish_forms() -> None:
    rule = stdlib_gettext.c2py(PLURAL_FORMS.split("plural=", 1)[1].rstrip(";"))
    forms = {n: rule(n) for n in (0, 1, 2, 4, 5, 11, 12, 14, 21, 22, 25, 102, 112, 122)}
    # 1 alert, 2/4/22/102/122 alerty, 0/5/11/12/14/21/25/112 alertów
    assert forms == {
        0: 2,
        1: 0,
        2: 1,
        4: 1,
        5: 2,
        11: 2,
        12: 2,
        14: 2,
        21: 2,
        22: 1,
        25: 2,
        102: 1,
        112: 2,
        122: 1,
    }


@pytest.mark.parametrize("path", CATALOGUES, ids=_ids(CATALOGUES))
def test_every_message_is_translated_and_keeps_its_placeholders(path: Path) -> None:
    problems: list[str] = []
    for message in _read(path):
        if not message.id:
            continue  # the header
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = _translations(message)
        if message.fuzzy:
            problems.append(f"fuzzy: {ids[0]!r}")
        if message.pluralizable and len(strings) != 3:
            problems.append(f"{len(strings)} plural forms, Polish needs 3: {ids[0]!r}")
        for string in strings:
            if not string.strip():
                problems.append(f"empty msgstr: {ids[0]!r}")
                continue
            wanted = _placeholders(ids[-1])
            if _placeholders(string) != wanted:
                problems.append(f"placeholders {wanted} vs {_placeholders(string)}: {ids[0]!r}")
            names = {name for name in _PLACEHOLDER.findall(string) if name}
            if names:
                string % dict.fromkeys(names, "x")  # a stray % would raise here, as on the page
    assert problems == [], "\n".join(problems)


def test_gettext_fills_polish_placeholders_and_ngettext_picks_the_polish_form() -> None:
    assert gettext("pl", "web", "Page %(number)s", number=3) == "Strona 3"
    assert gettext("en", "web", "Page %(number)s", number=3) == "Page 3"
    assert gettext("pl-PL", "web", "Mark handled") == "Oznacz jako obsłużone"
    message = "requeued %(n)s failed alert(s); `earshot alerts send` or `earshot run` posts them"
    assert ngettext("pl", "cli", message, message, 1).startswith("ponownie w kolejce: 1 alert;")
    assert ngettext("pl", "cli", message, message, 3).startswith("ponownie w kolejce: 3 alerty;")
    assert ngettext("pl", "cli", message, message, 12).startswith("ponownie w kolejce: 12 alertów;")
    assert ngettext("en", "cli", message, message, 12).startswith("requeued 12 failed alert(s);")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("pl-PL,pl;q=0.9,en-US;q=0.8,en;q=0.7", "pl"),
        ("en-US,en;q=0.9,pl;q=0.8", "en"),
        ("en;q=0.5, pl;q=0.9", "pl"),  # order in the header does not matter, quality does
        ("pl;q=0, en", "en"),  # q=0 means "not this one"
        ("de-DE, fr;q=0.8", "de"),  # neither of ours: the default given
        ("*", "de"),
        ("", "de"),
        ("pl;q=abc, en;q=0.1", "en"),  # a malformed quality counts as 0
        ("PL", "pl"),
    ],
)
def test_negotiate_honours_q_values(header: str, expected: str) -> None:
    default = "de" if expected == "de" else "en"
    got = negotiate(header, default=default)  # type: ignore[arg-type]
    assert got == expected


def test_format_datetime_always_shows_the_zone() -> None:
    winter = datetime(2026, 12, 7, 8, 36, tzinfo=UTC)
    summer = datetime(2026, 7, 7, 8, 36, tzinfo=UTC)
    assert format_datetime(winter, "pl", "Europe/Warsaw") == "7 gru 2026, 09:36 CET"
    assert format_datetime(winter, "en", "Europe/Warsaw") == "Dec 7, 2026, 09:36 CET"
    assert format_datetime(summer, "pl", "Europe/Warsaw") == "7 lip 2026, 10:36 CEST"
    assert format_datetime(summer, "en", "Europe/Warsaw") == "Jul 7, 2026, 10:36 CEST"
    assert format_datetime(winter, "en") == "Dec 7, 2026, 08:36 UTC"
    assert format_datetime(winter.replace(tzinfo=None), "pl") == "7 gru 2026, 08:36 UTC"  # naive = UTC
    # A zone without a short name still says where it is (its offset), never nothing.
    assert format_datetime(winter, "pl", "Asia/Tokyo") == "7 gru 2026, 17:36 +0900"
    # The local day can differ from the UTC day: 23:30 UTC is already tomorrow in Warsaw.
    late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert format_date(late, "pl", "Europe/Warsaw") == "1 sty 2027"
    assert format_date(late, "en", "UTC") == "Dec 31, 2026"


def test_format_number_uses_polish_separators() -> None:
    assert format_number(12345.6, "pl", 1) == "12\xa0345,6"  # a no-break space groups thousands
    assert format_number(12345.6, "en", 1) == "12,345.6"
    assert format_number(1234567, "pl") == "1\xa0234\xa0567"
    assert format_number(0.5, "pl", 2) == "0,50"

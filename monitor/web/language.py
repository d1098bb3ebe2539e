"""Which language a page is in, and the two template environments that speak it.

The order, first match wins: the signed-in user's own choice (the PL / EN buttons in the header, kept in
``web_preferences`` so it follows them to another browser and outlives logout), else the browser's
``Accept-Language`` (q-values honoured, :func:`monitor.core.i18n.negotiate`), else ``web.language``.

Why one Jinja2 environment per language and not ``install_gettext_callables`` on one shared environment
per request: the environment is shared by every request thread, so swapping its ``gettext`` for each
request would let two readers' pages race for one language; two environments, each bound once to its
catalogue, are the same thing without the race (and each keeps its own compiled-template cache).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as DbSession
from sqlmodel import select

from monitor.core.i18n import LANGUAGES, Language, as_language, gettext, negotiate, translations
from monitor.core.models import WebPreference

__all__ = [
    "DOMAIN",
    "LANGUAGE_NAMES",
    "make_environment",
    "pick_language",
    "save_language",
    "saved_language",
    "translate",
]

DOMAIN: Final = "web"
# Each language's name in itself: what the header's buttons say whatever the page's language.
LANGUAGE_NAMES: Final[dict[Language, str]] = {"pl": "Polski", "en": "English"}


def translate(language: str, message: str, values: dict[str, Any] | None = None) -> str:
    """``message`` (English, the msgid) in ``language``, ``%(name)s`` filled from ``values``."""
    return gettext(language, DOMAIN, message, **(values or {}))


def make_environment(templates: Any, language: Language) -> Environment:
    """A template environment whose ``_``/``gettext``/``ngettext`` and ``{% trans %}`` speak ``language``.

    ``templates`` is the folder of the templates. New-style gettext: ``_("Page %(n)s", n=2)`` fills the
    placeholders after translating and escapes the values (autoescape is on).
    """
    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language, DOMAIN), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    env.globals["language_names"] = LANGUAGE_NAMES
    return env


def saved_language(engine: Engine, username: str) -> Language | None:
    """The language ``username`` chose on the pages, or None when they never chose one."""
    with DbSession(engine) as db:
        row = db.exec(select(WebPreference).where(WebPreference.username == username)).first()
    if row is None or row.language not in LANGUAGES:
        return None
    return as_language(row.language)


def save_language(engine: Engine, username: str, language: Language, now: datetime) -> None:
    """Keep ``username``'s choice (insert or update; two tabs choosing at once leave the later one)."""
    for _attempt in range(2):
        with DbSession(engine) as db:
            row = db.exec(select(WebPreference).where(WebPreference.username == username)).first()
            if row is None:
                row = WebPreference(username=username, language=language, updated_at=now)
            else:
                row.language = language
                row.updated_at = now
            db.add(row)
            try:
                db.commit()
                return
            except IntegrityError:  # another request inserted the row first: update it on the next try
                db.rollback()
    raise RuntimeError(f"could not save the language of {username!r}: the row kept changing")


def pick_language(request: Request, engine: Engine, username: str | None, default: Language) -> Language:
    """The page's language for this request (see the module docstring); read once per request."""
    cached = getattr(request.state, "language", None)
    if cached in LANGUAGES:
        return as_language(cached)
    chosen = saved_language(engine, username) if username else None
    language = chosen or negotiate(request.headers.get("accept-language"), default=default)
    request.state.language = language
    return language

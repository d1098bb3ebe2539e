"""Reply templates the team saved per target, aspect and language, and how one becomes a reply.

Why: a team answers the same late-delivery complaint many times a week in words it has agreed on (its
policy, its tone, its sign-off). Agents save that text once in the web pages, for one target or for all
("" target), for one aspect or for any complaint ("" aspect), or for praise (:data:`POSITIVE_ASPECT`), in
Polish or English; the suggested reply is then that text, filled in for the item. The most specific
template wins: the target's own before the all-targets one, the complained-of aspect before "any".

A template holds only the team's words and these placeholders, filled per item and source:

* ``{greeting}``: the channel's greeting ("Szanowna Pani," when the text says the writer's gender,
  "Dzień dobry," otherwise; nothing on social sites);
* ``{author}``: the customer's name as the source shows it (cleaned, one line);
* ``{contact}``: the contact sentence for a route that exists on the source (configured e-mail, phone or
  page; a private message only where the platform has them);
* ``{brand}``: the target's name; ``{signature}``: the configured sign-off (nothing on social sites).

Any other ``{...}`` is refused when the template is saved, so a typo cannot reach a customer as "{kontakt}";
write ``{{`` and ``}}`` for literal braces.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from alerts.reply_templates import ASPECT_ORDER
from monitor.core.models import ReplyTemplate

__all__ = [
    "ANY",
    "LANGUAGES",
    "MAX_TEMPLATE_CHARS",
    "PLACEHOLDERS",
    "POSITIVE_ASPECT",
    "TemplateError",
    "TemplateKey",
    "check_template",
    "delete_template",
    "fill_template",
    "list_templates",
    "save_template",
    "template_aspects",
    "templates_for",
]

TemplateKey = tuple[str, str]  # (aspect, language)
ANY: Final = ""  # any target / any complaint
POSITIVE_ASPECT: Final = "positive"  # praise: items the customer is pleased with
LANGUAGES: Final[tuple[str, ...]] = ("pl", "en")
PLACEHOLDERS: Final[tuple[str, ...]] = ("greeting", "author", "contact", "brand", "signature")
MAX_TEMPLATE_CHARS: Final = 5_000
_AUTHOR_CHARS: Final = 80
_SPACES = re.compile(r"[ \t]+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.!?;:])")
_ONLY_PUNCT = re.compile(r"^[\s,.;:–-]*$")
_DANGLING_COMMA = re.compile(r",\s*(?=[!?.,;:])")  # "Dzień dobry, {author}!" with no name


class TemplateError(ValueError):
    """A template that cannot be saved; the message says what to change.

    ``message`` is the English msgid (``replies`` catalogue) and ``values`` fill its ``%(name)s``
    placeholders, so a page can show it in its reader's language; ``str()`` is the English text.
    """

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message % values if values else message)
        self.message = message
        self.values = values


def template_aspects() -> tuple[str, ...]:
    """The aspect keys a template may have: any complaint, each aspect, praise."""
    return (ANY, *ASPECT_ORDER, POSITIVE_ASPECT)


def _one_line(value: str, limit: int) -> str:
    """``value`` without control or format characters, on one line, cut to ``limit`` characters."""
    kept = "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Cs"} else ch for ch in value)
    return " ".join(kept.split())[:limit]


def check_template(text: str) -> str:
    """The template as it will be stored (newlines normalised, trimmed); :class:`TemplateError` when it
    is empty, too long, or has a placeholder other than :data:`PLACEHOLDERS`."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in {"Cc", "Cs"}).strip()
    if not text:
        raise TemplateError("The template is empty; write the reply text.")
    if len(text) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            "The template has %(count)s characters; at most %(limit)s are kept.",
            count=len(text),
            limit=MAX_TEMPLATE_CHARS,
        )
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(
            "The template has an unmatched brace (%(detail)s); write {{ and }} for a literal brace.",
            detail=str(exc),
        ) from None
    for _literal, name, spec, conversion in fields:
        if name is None:
            continue
        if name not in PLACEHOLDERS or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise TemplateError("Unknown placeholder %(shown)s; use %(known)s.", shown=shown, known=known)
    return text


def fill_template(
    template: str, *, greeting: str, author: str, contact: str, brand: str, signature: str
) -> str:
    """``template`` with its placeholders replaced; lines left empty by an empty value are dropped.

    The template is checked first (one stored before a rule changed is refused the same way), and values
    are inserted as plain text: a ``{`` in a customer's name is never read as a placeholder.
    """
    values = {
        "greeting": greeting.strip(),
        "author": _one_line(author, _AUTHOR_CHARS),
        "contact": contact.strip(),
        "brand": _one_line(brand, 200),
        "signature": signature.strip(),
    }
    pieces: list[str] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(check_template(template)):
        pieces.append(literal)
        if name is not None:
            pieces.append(values[name])
    lines = []
    for line in "".join(pieces).split("\n"):
        line = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", line)).strip()
        line = _DANGLING_COMMA.sub("", line)
        if line and _ONLY_PUNCT.match(line):
            continue  # "{greeting}" alone on a social site, or ", {author}" without a name
        lines.append(line)
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _check_key(target: str, aspect: str, lang: str) -> tuple[str, str, str]:
    target = _one_line(target, 200)
    aspect = aspect.strip().lower()
    lang = lang.strip().lower()
    if aspect not in template_aspects():
        choices = ", ".join(a for a in template_aspects() if a)
        raise TemplateError(
            "Unknown aspect %(aspect)s; pick one of %(choices)s, or none for any complaint.",
            aspect=repr(aspect[:64]),
            choices=choices,
        )
    if lang not in LANGUAGES:
        raise TemplateError("Unknown language %(lang)s; pick pl or en.", lang=repr(lang[:16]))
    return target, aspect, lang


def list_templates(session: Session) -> Sequence[ReplyTemplate]:
    """Every saved template: by target (all targets first), aspect, language."""
    statement = select(ReplyTemplate).order_by(
        col(ReplyTemplate.target), col(ReplyTemplate.aspect), col(ReplyTemplate.lang)
    )
    return session.exec(statement).all()


def save_template(
    session: Session,
    *,
    template_id: int | None,
    target: str,
    aspect: str,
    lang: str,
    text: str,
    user: str,
    now: datetime,
) -> ReplyTemplate:
    """Create a template (``template_id`` None) or replace one; flushed, committing is the caller's.

    :class:`TemplateError` for bad input, an unknown id, or a key another template already has.
    """
    target, aspect, lang = _check_key(target, aspect, lang)
    text = check_template(text)
    if template_id is None:
        row = ReplyTemplate(
            target=target, aspect=aspect, lang=lang, text=text, updated_by=_one_line(user, 200)
        )
        row.created_at = row.updated_at = now
    else:
        found = session.get(ReplyTemplate, template_id)
        if found is None:
            raise TemplateError(
                "There is no template %(id)s; it may have been deleted. Reload the page.", id=template_id
            )
        row = found
        row.target, row.aspect, row.lang, row.text = target, aspect, lang, text
        row.updated_by, row.updated_at = _one_line(user, 200), now
    clash = session.exec(
        select(ReplyTemplate.id).where(
            ReplyTemplate.target == target, ReplyTemplate.aspect == aspect, ReplyTemplate.lang == lang
        )
    ).first()
    if clash is not None and clash != row.id:
        raise TemplateError(
            "A template for this target, aspect and language exists already (#%(id)s); edit that one.",
            id=clash,
        )
    session.add(row)
    try:
        session.flush()
    except IntegrityError:  # saved by someone else between the look and the write
        session.rollback()
        raise TemplateError(
            "A template for this target, aspect and language was saved meanwhile; reload the page and edit it."
        ) from None
    return row


def delete_template(session: Session, template_id: int) -> bool:
    """Delete one template; False when there was none (already deleted)."""
    row = session.get(ReplyTemplate, template_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def templates_for(session: Session, target: str | None) -> dict[TemplateKey, str]:
    """The templates a reply for ``target`` may use, by (aspect, language); the target's own win."""
    names = [ANY] if not target else [ANY, target]
    rows = session.exec(select(ReplyTemplate).where(col(ReplyTemplate.target).in_(names))).all()
    found: dict[TemplateKey, str] = {}
    for row in sorted(rows, key=lambda r: r.target != ANY):  # all-targets first, the target's own over them
        found[(row.aspect, row.lang)] = row.text
    return found

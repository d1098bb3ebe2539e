"""Saved reply templates: ``GET /reply-templates`` lists them with a form; agents create, edit and delete.

``POST /reply-templates`` creates one, ``POST /reply-templates/{id}`` replaces one, ``POST
/reply-templates/{id}/delete`` removes one; each answers 303 back to the list with a one-time message (CSRF
checked before the handler runs, like every form). A template is the suggested reply for its target,
aspect and language from then on (:mod:`alerts.reply_template_store` says which one wins and what the
placeholders become). The page's words are in the ``replies`` catalogue, the domain of reply wording.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session as DbSession

from alerts.reply_template_store import (
    LANGUAGES,
    PLACEHOLDERS,
    TemplateError,
    delete_template,
    list_templates,
    save_template,
    template_aspects,
)
from monitor.core.db import write_session
from monitor.core.i18n import gettext
from monitor.core.models import ReplyTemplate
from monitor.web.context import WebContext
from monitor.web.deps import CsrfChecked, CurrentUser, SessionDep, SettingsDep, WebDep
from monitor.web.openapi import html

__all__ = ["DOMAIN", "router"]

DOMAIN: Final = "replies"
PATH: Final = "/reply-templates"
_MAX_ID: Final = 2**31 - 1  # PostgreSQL's integer: a larger id would fail to bind
_ID: Final = Path(description="A saved template's id.", json_schema_extra={"minimum": 1, "maximum": _MAX_ID})
_EDIT: Final = Query(description="Open this template in the form to edit it.", ge=1, le=_MAX_ID)
_TARGET: Final = Form(description="A target's name; empty: every target.")
_ASPECT: Final = Form(
    description="An aspect, 'positive' (praise) or empty (any complaint).",
    json_schema_extra={"enum": list(template_aspects())},
)
_LANG: Final = Form(description="pl or en.", json_schema_extra={"enum": list(LANGUAGES)})
_TEXT: Final = Form(description="The reply, with {greeting}, {author}, {contact}, {brand}, {signature}.")
_ANSWERS: Final[dict[int | str, dict[str, Any]]] = {
    303: {"description": "Back to the list, which shows the outcome as a one-time message."},
    401: html("The session ended: sign in again."),
    403: html("Refused: the form's CSRF token is not this session's, or it came from another site."),
}

router = APIRouter(prefix=PATH, tags=["reply templates"])

# Aspect names as agents read them (the keys are what sentiment.aspects reports).
ASPECT_LABELS: Final[dict[str, str]] = {
    "": "Any complaint",
    "delivery": "Delivery",
    "returns": "Returns and complaints",
    "customer_service": "Customer service",
    "product_quality": "Product quality",
    "price": "Price",
    "payment": "Payment",
    "website": "Website and app",
    "positive": "Praise",
}
LANGUAGE_LABELS: Final[dict[str, str]] = {"pl": "Polish", "en": "English"}


def _translator(web: WebContext, request: Request, session: SessionDep) -> Callable[..., str]:
    """``r_("msgid", name=value)`` in the reader's language, from the ``replies`` catalogue."""
    language = web.language(request, session)

    def r_(message: str, **values: object) -> str:
        return gettext(language, DOMAIN, message, **values)

    return r_


def _back(web: WebContext, message: str, kind: str = "ok", edit: int | None = None) -> RedirectResponse:
    """303 to the list with ``message`` (already in the reader's language; see the module doc)."""
    response = RedirectResponse(f"{PATH}?edit={edit}" if edit else PATH, status_code=303)
    web.flash(response, message, kind)
    return response


@router.get("", response_class=HTMLResponse)
def templates_page(
    request: Request,
    web: WebDep,
    session: SessionDep,
    settings: SettingsDep,
    edit: Annotated[int | None, _EDIT] = None,
) -> Response:
    with DbSession(web.engine) as db:
        rows = list(list_templates(db))
        editing = db.get(ReplyTemplate, edit) if edit is not None else None
        db.expunge_all()
    r_ = _translator(web, request, session)
    return web.render(
        request,
        session,
        "reply_templates.html",
        r_=r_,
        templates=rows,
        editing=editing,
        targets=[t.name for t in settings.targets],
        aspects=template_aspects(),
        aspect_labels={key: r_(label) for key, label in ASPECT_LABELS.items()},
        languages=LANGUAGES,
        language_labels={key: r_(label) for key, label in LANGUAGE_LABELS.items()},
        placeholders=["{" + p + "}" for p in PLACEHOLDERS],
    )


def _save(
    web: WebContext,
    request: Request,
    session: SessionDep,
    user: str,
    template_id: int | None,
    fields: tuple[str, str, str, str],
) -> Response:
    r_ = _translator(web, request, session)
    target, aspect, lang, text = fields
    try:
        with write_session(web.engine) as db:
            save_template(
                db,
                template_id=template_id,
                target=target,
                aspect=aspect,
                lang=lang,
                text=text,
                user=f"web:{user}",
                now=web.clock(),
            )
    except TemplateError as exc:
        reason = r_(exc.message, **exc.values)
        return _back(web, r_("Not saved: %(reason)s", reason=reason), "error", edit=template_id)
    return _back(web, r_("Template saved."))


@router.post("", response_class=RedirectResponse, status_code=303, responses=_ANSWERS)
def create_template(
    _: CsrfChecked,
    request: Request,
    web: WebDep,
    session: SessionDep,
    user: CurrentUser,
    target: Annotated[str, _TARGET] = "",
    aspect: Annotated[str, _ASPECT] = "",
    lang: Annotated[str, _LANG] = "pl",
    text: Annotated[str, _TEXT] = "",
) -> Response:
    return _save(web, request, session, user, None, (target, aspect, lang, text))


@router.post("/{template_id}", response_class=RedirectResponse, status_code=303, responses=_ANSWERS)
def update_template(
    _: CsrfChecked,
    request: Request,
    template_id: Annotated[int, _ID],
    web: WebDep,
    session: SessionDep,
    user: CurrentUser,
    target: Annotated[str, _TARGET] = "",
    aspect: Annotated[str, _ASPECT] = "",
    lang: Annotated[str, _LANG] = "pl",
    text: Annotated[str, _TEXT] = "",
) -> Response:
    if not 1 <= template_id <= _MAX_ID:
        r_ = _translator(web, request, session)
        return _back(web, r_("There is no such template; it may have been deleted."), "error")
    return _save(web, request, session, user, template_id, (target, aspect, lang, text))


@router.post("/{template_id}/delete", response_class=RedirectResponse, status_code=303, responses=_ANSWERS)
def remove_template(
    _: CsrfChecked,
    request: Request,
    template_id: Annotated[int, _ID],
    web: WebDep,
    session: SessionDep,
    user: CurrentUser,
) -> Response:
    r_ = _translator(web, request, session)
    deleted = False
    if 1 <= template_id <= _MAX_ID:
        with write_session(web.engine) as db:
            deleted = delete_template(db, template_id)
    if not deleted:
        return _back(web, r_("There is no such template; it may have been deleted."), "error")
    return _back(web, r_("Template deleted."))

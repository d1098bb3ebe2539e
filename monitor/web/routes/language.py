"""``POST /language``: the signed-in user picks the pages' language (the PL / EN buttons in the header).

The choice is kept per user (:func:`monitor.web.language.save_language`), so it beats the browser's
``Accept-Language`` on every page, in every browser they sign in from, until they choose again.
"""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from monitor.core.i18n import LANGUAGES, as_language
from monitor.web.deps import CsrfChecked, CurrentUser, WebDep
from monitor.web.language import save_language
from monitor.web.openapi import html
from monitor.web.routes.login import safe_next

__all__ = ["router"]

router = APIRouter()

_LANGUAGE: Final = Form(
    description="pl or en; anything else leaves the choice as it was.",
    json_schema_extra={"enum": list(LANGUAGES)},
)
_NEXT: Final = Form(description="The page to go back to: a path on this site (anything else: /inbox).")


@router.post(
    "/language",
    response_class=RedirectResponse,
    status_code=303,
    tags=["sign-in"],
    responses={
        303: {"description": "Back to ``next``, now in the chosen language."},
        401: html("The session ended: sign in again."),
        403: html("Refused: the form's CSRF token is not this session's, or it came from another site."),
    },
)
def choose_language(
    _: CsrfChecked,
    web: WebDep,
    user: CurrentUser,
    language: Annotated[str, _LANGUAGE] = "",
    next: Annotated[str, _NEXT] = "/inbox",
) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if language not in LANGUAGES:
        web.flash(response, "Choose Polski or English.", "error")
        return response
    save_language(web.engine, user, as_language(language), web.clock())
    return response

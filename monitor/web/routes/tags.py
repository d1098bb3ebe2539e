"""``POST /items/{id}/tags`` and ``POST /items/{id}/tags/remove``: one item's tags, from its page.

Tags are normalised and checked by :mod:`monitor.web.tags` (a name it refuses comes back as the item
page's error message); adding a tag the item has, or removing one it has not, changes nothing and says so.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Form
from fastapi.responses import RedirectResponse, Response

from monitor.web.deps import CsrfChecked, CurrentUser, EngineDep, KnownItem, WebDep
from monitor.web.openapi import ACTION_RESPONSES
from monitor.web.routes.items import recorded_as
from monitor.web.tags import MAX_TAG, TagError, add_tag, normalise_tag, remove_tag

__all__ = ["router"]

router = APIRouter(prefix="/items/{mention_id}/tags", tags=["items"])
_ACTION: Final[dict[str, Any]] = {
    "response_class": RedirectResponse,
    "status_code": 303,
    "responses": ACTION_RESPONSES,
}
_TAG = Form(description=f"The tag: letters, digits, spaces, '-' and '_', at most {MAX_TAG} characters.")


@router.post("", **_ACTION)
def add(
    _: CsrfChecked,
    mention_id: KnownItem,
    web: WebDep,
    engine: EngineDep,
    user: CurrentUser,
    tag: Annotated[str, _TAG] = "",
) -> Response:
    try:
        name = normalise_tag(tag)
        added = add_tag(engine, [mention_id], name, recorded_as(user), web.clock())
    except TagError as exc:
        return web.back_to_item(mention_id, "Not saved: %(reason)s", "error", reason=str(exc))
    message = "Tagged %(tag)s." if added else "It already has the tag %(tag)s."
    return web.back_to_item(mention_id, message, tag=name)


@router.post("/remove", **_ACTION)
def remove(
    _: CsrfChecked,
    mention_id: KnownItem,
    web: WebDep,
    engine: EngineDep,
    tag: Annotated[str, _TAG] = "",
) -> Response:
    try:
        name = normalise_tag(tag)
        removed = remove_tag(engine, [mention_id], name)
    except TagError as exc:
        return web.back_to_item(mention_id, "Not saved: %(reason)s", "error", reason=str(exc))
    message = "Tag %(tag)s removed." if removed else "It did not have the tag %(tag)s."
    return web.back_to_item(mention_id, message, tag=name)

"""``POST /inbox/bulk``: the inbox's selection, marked handled, assigned, tagged or untagged in one request.

Why through the per-item path: each selected item's alert changes by the same compare-and-set the item
page and Slack use (:mod:`alerts.alert_state`), so its ``state_version`` moves and its Slack message is
re-rendered after the response exactly as for one click (:meth:`~monitor.web.context.WebContext.
sync_slack`); an item already in the asked state is counted as such and changes nothing, so repeating
the request is harmless. The answer is a 303 back to the same inbox view (filters, order, page) with the
counts as a one-time message.
"""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, BackgroundTasks, Form
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from alerts.alert_state import assign, mark_handled
from monitor.core.models import Alert, AlertKind
from monitor.web.context import WebContext
from monitor.web.deps import CsrfChecked, CurrentUser, EngineDep, WebDep
from monitor.web.item import storable_id
from monitor.web.openapi import ITEM_ID_BOUNDS, html
from monitor.web.routes.items import recorded_as
from monitor.web.tags import MAX_TAG, TagError, add_tag, existing_mentions, normalise_tag, remove_tag

__all__ = ["ACTIONS", "MAX_SELECTED", "router"]

router = APIRouter(tags=["inbox"])

ACTIONS: Final = ("handle", "assign", "tag", "untag")
MAX_SELECTED: Final = 500
"""Items one request may change (a page holds far fewer; the cap bounds one transaction's work)."""
_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    303: {
        "description": "Back to the same inbox view, which shows the counts as a one-time message.",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    401: html("The session ended: sign in again."),
    403: html("Refused: the form's CSRF token is not this session's, or it came from another site."),
}
_IDS = Form(
    description=f"The selected items' ids (at most {MAX_SELECTED}).",
    json_schema_extra={"items": {"type": "integer", **ITEM_ID_BOUNDS}},
)


def _back(web: WebContext, query: str, message: str, kind: str = "ok", **values: str) -> RedirectResponse:
    """303 to the inbox view the form was on: its query string re-encoded, so it can only name /inbox."""
    params = parse_qsl(query, keep_blank_values=False)[:20]
    response = RedirectResponse("/inbox" + ("?" + urlencode(params) if params else ""), status_code=303)
    web.flash(response, message, kind, **values)
    return response


def _item_ids(raw: list[str], engine: Engine) -> list[int] | None:
    """The selected ids, or None when one is not an item id at all (a forged or broken form, or an id
    the database could not even hold: on PostgreSQL one past 2**31 - 1 would fail to bind)."""
    ids: list[int] = []
    for text in raw:
        if not (text.isascii() and text.isdecimal() and len(text) <= 18) or not storable_id(
            engine, int(text)
        ):
            return None
        ids.append(int(text))
    return sorted(set(ids))


def _own_alerts(engine: Engine, mention_ids: list[int]) -> list[int]:
    """Each item's own alert (its newest item alert: what the item page's buttons act on)."""
    if not mention_ids:
        return []
    stmt = (
        select(func.max(col(Alert.id)))
        .where(col(Alert.mention_id).in_(mention_ids), col(Alert.kind).in_(AlertKind.ITEM_KINDS))
        .group_by(col(Alert.mention_id))
    )
    with Session(engine) as session:
        return sorted(session.execute(stmt).scalars())


def _sync_all(web: WebContext, alert_ids: list[int]) -> None:
    for alert_id in alert_ids:
        web.sync_slack(alert_id)


@router.post("/inbox/bulk", response_class=RedirectResponse, status_code=303, responses=_RESPONSES)
def bulk(
    _: CsrfChecked,
    web: WebDep,
    engine: EngineDep,
    user: CurrentUser,
    tasks: BackgroundTasks,
    action: Annotated[str, Form(description="What to do.", json_schema_extra={"enum": list(ACTIONS)})] = "",
    ids: Annotated[list[str], _IDS] = [],  # noqa: B006 (FastAPI copies the default)
    assignee: Annotated[str, Form(description="assign: who takes them (empty: nobody).")] = "",
    tag: Annotated[str, Form(description=f"tag / untag: the tag (at most {MAX_TAG} characters).")] = "",
    back: Annotated[str, Form(description="The inbox view's query string to return to.")] = "",
) -> Response:
    if action not in ACTIONS:
        return _back(web, back, "Pick what to do with the selected items.", "error")
    selected = _item_ids(ids, engine)
    if selected is None:
        return _back(web, back, "The selection holds something that is not an item.", "error")
    if not selected:
        return _back(web, back, "Select at least one item first.", "error")
    if len(selected) > MAX_SELECTED:
        return _back(web, back, "Select at most %(limit)s items at once.", "error", limit=str(MAX_SELECTED))
    who = recorded_as(user)
    now = web.clock()
    if action in ("tag", "untag"):
        with Session(engine) as session:
            known = existing_mentions(session, selected)
        try:
            name = normalise_tag(tag)
            if action == "tag":
                done = add_tag(engine, known, tag, who, now)
                message = "Tagged %(tag)s: %(done)s. Already tagged: %(unchanged)s."
            else:
                done = remove_tag(engine, known, tag)
                message = "Tag %(tag)s removed: %(done)s. Did not have it: %(unchanged)s."
        except TagError as exc:
            return _back(web, back, "Not saved: %(reason)s", "error", reason=str(exc))
        return _back(web, back, message, tag=name, done=str(done), unchanged=str(len(known) - done))
    alerts = _own_alerts(engine, selected)
    assigned = "".join(ch for ch in assignee if ch.isprintable()).strip()[:200] or None
    changed: list[int] = []
    for alert_id in alerts:
        if action == "handle":
            moved = mark_handled(engine, alert_id, who, now)
        else:
            moved = assign(engine, alert_id, assigned, who, now)
        if moved:
            changed.append(alert_id)
    if changed:
        tasks.add_task(_sync_all, web, changed)
    counts = {"done": str(len(changed)), "unchanged": str(len(alerts) - len(changed))}
    counts["skipped"] = str(len(selected) - len(alerts))
    if action == "handle":
        message = "Marked handled: %(done)s. Already handled: %(unchanged)s. Without an alert: %(skipped)s."
    elif assigned:
        counts["name"] = assigned
        message = (
            "Assigned to %(name)s: %(done)s. Already theirs: %(unchanged)s. Without an alert: %(skipped)s."
        )
    else:
        message = "Unassigned: %(done)s. Already unassigned: %(unchanged)s. Without an alert: %(skipped)s."
    return _back(web, back, message, **counts)

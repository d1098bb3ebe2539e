"""The item page and its actions: ``GET /items/{id}`` and ``POST /items/{id}/reply|handle|reopen|assign|correct``.

Actions reuse :mod:`alerts.actions`, so a click here and a click in Slack change an alert the same way;
each answers 303 back to the item with a flash message, and the alert's Slack message is re-rendered after
the response (best effort, :meth:`~monitor.web.context.WebContext.sync_slack`). An id with no mention
behind it (unknown, zero, negative, or too large for the database) answers 404 on the page and on every
action, before the database is asked anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Final

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerts.action_ids import SENTIMENT_LABELS
from alerts.alert_state import ActionError, assign, correct_sentiment, mark_handled, reopen
from alerts.reply_actions import reply_to_item
from monitor.core.corrections import CorrectionError, record_correction
from monitor.core.db import write_session
from monitor.web.context import WebContext
from monitor.web.deps import (
    CsrfChecked,
    CurrentUser,
    EngineDep,
    KnownItem,
    SessionDep,
    SettingsDep,
    UnknownItem,
    WebDep,
)
from monitor.web.item import load_item
from monitor.web.openapi import ACTION_RESPONSES, html
from monitor.web.tags import item_tags

__all__ = ["router"]

router = APIRouter(prefix="/items/{mention_id}", tags=["items"])
# What every action's OpenAPI says: 303 back to the item (403 / 404 before it runs); the labels a
# correction takes (described, not enforced: another label gets the item page's own error message).
ACTION: Final[dict[str, Any]] = {
    "response_class": RedirectResponse,
    "status_code": 303,
    "responses": ACTION_RESPONSES,
}
_LABELS: Final = {"enum": list(SENTIMENT_LABELS)}


def recorded_as(user: str) -> str:
    """How the signed-in person is recorded on alerts: ``web:<username>``."""
    return f"web:{user}"


@router.get("", response_class=HTMLResponse, responses={404: html("No mention has this id.")})
def item_page(
    request: Request, mention_id: KnownItem, web: WebDep, session: SessionDep, settings: SettingsDep
) -> Response:
    item = load_item(web.engine, settings, mention_id, web.language(request, session))
    if item is None:  # deleted between the check and the read
        raise UnknownItem(mention_id)
    tags = item_tags(web.engine, mention_id)
    return web.render(request, session, "item.html", item=item, sentiments=SENTIMENT_LABELS, tags=tags)


def _change_alert(
    web: WebContext,
    mention_id: int,
    user: str,
    tasks: BackgroundTasks,
    change: Callable[[int, str], bool],
    messages: tuple[str, str],
    **values: str,
) -> Response:
    """The item's alert, one state change, a Slack sync after the response, a flash (CSRF checked before).

    ``messages`` (done, unchanged) are English msgids the next page translates, ``values`` filled in.
    """
    alert = web.main_alert(mention_id)
    if alert is None or alert.id is None:
        return web.back_to_item(mention_id, "This item has no alert to act on.", "error")
    done, unchanged = messages
    if not change(alert.id, recorded_as(user)):
        return web.back_to_item(mention_id, unchanged, **values)
    tasks.add_task(web.sync_slack, alert.id)
    return web.back_to_item(mention_id, done, **values)


@router.post("/handle", **ACTION)
def handle(
    _: CsrfChecked,
    mention_id: KnownItem,
    web: WebDep,
    engine: EngineDep,
    user: CurrentUser,
    tasks: BackgroundTasks,
) -> Response:

    def change(alert_id: int, who: str) -> bool:
        return mark_handled(engine, alert_id, who, web.clock())

    return _change_alert(web, mention_id, user, tasks, change, ("Marked handled.", "Already handled."))


@router.post("/reopen", **ACTION)
def reopen_item(
    _: CsrfChecked,
    mention_id: KnownItem,
    web: WebDep,
    engine: EngineDep,
    user: CurrentUser,
    tasks: BackgroundTasks,
) -> Response:

    def change(alert_id: int, who: str) -> bool:
        return reopen(engine, alert_id, who)

    return _change_alert(web, mention_id, user, tasks, change, ("Reopened.", "It was already open."))


@router.post("/assign", **ACTION)
def assign_item(
    _: CsrfChecked,
    mention_id: KnownItem,
    web: WebDep,
    engine: EngineDep,
    user: CurrentUser,
    tasks: BackgroundTasks,
    assignee: Annotated[str, Form(description="Who takes it (empty: nobody); cut to 200 characters.")] = "",
) -> Response:
    assigned = "".join(ch for ch in assignee if ch.isprintable()).strip()[:200] or None

    def change(alert_id: int, who: str) -> bool:
        return assign(engine, alert_id, assigned, who, web.clock())

    if assigned:
        # The name is a placeholder value, so the next page translates the sentence around it.
        return _change_alert(
            web, mention_id, user, tasks, change, ("Assigned to %(name)s.", "Nothing changed."), name=assigned
        )
    return _change_alert(web, mention_id, user, tasks, change, ("Unassigned.", "Nothing changed."))


@router.post("/correct", **ACTION)
def correct(
    request: Request,
    _: CsrfChecked,
    mention_id: KnownItem,
    web: WebDep,
    session: SessionDep,
    engine: EngineDep,
    user: CurrentUser,
    tasks: BackgroundTasks,
    label: Annotated[str, Form(description="The right label.", json_schema_extra=_LABELS)] = "",
) -> Response:
    if label not in SENTIMENT_LABELS:
        return web.back_to_item(
            mention_id, "Pick one of: %(labels)s.", "error", labels=", ".join(SENTIMENT_LABELS)
        )
    who = recorded_as(user)
    alert = web.main_alert(mention_id)
    try:
        if alert is not None and alert.id is not None:
            if correct_sentiment(engine, alert.id, label, who, via="web"):
                tasks.add_task(web.sync_slack, alert.id)
        else:
            with write_session(engine) as db:
                record_correction(db, mention_id, label, corrected_by=who, via="web")
    except (ActionError, CorrectionError) as exc:
        return web.back_to_item(mention_id, "Not saved: %(reason)s", "error", reason=str(exc))
    shown = web.t(request, session, label)  # the label in the words of whoever corrected it
    return web.back_to_item(mention_id, "Sentiment recorded as %(label)s. Thank you.", label=shown)


# The sources' generic refusals (alerts.reply_http) are English sentences; the item page re-reads their
# shapes into whole msgids, so the flash is translated when the next page shows it. Other details (a
# source's own words) stay inside the general sentence.
_REFUSALS: Final = (
    (
        re.compile(r"^token rejected by (?P<name>[^\n]+?) \(HTTP (?P<status>\d+)\): (?P<fix>.*)$", re.DOTALL),
        "Reply not posted: %(name)s rejected the token (HTTP %(status)s): %(fix)s. Your text is saved in Earshot.",
    ),
    (
        re.compile(r"^rate-limited by (?P<name>[^\n]+), try again in (?P<seconds>\d+) s$"),
        "Reply not posted: %(name)s limits replies; try again in %(seconds)s s. Your text is saved in Earshot.",
    ),
    (
        re.compile(r"^rate-limited by (?P<name>[^\n]+), try again later$"),
        "Reply not posted: %(name)s limits replies; try again later. Your text is saved in Earshot.",
    ),
    (
        re.compile(r"^(?P<thing>\w+) gone: (?P<name>[^\n]+) no longer has this (?P=thing) \(HTTP 404\)$"),
        "Reply not posted: %(name)s no longer has this item (HTTP 404). Your text is saved in Earshot.",
    ),
    (
        re.compile(r"^(?P<name>[^\n]+) unavailable \((?P<status>HTTP \d+)\), try again$"),
        "Reply not posted: %(name)s is unavailable (%(status)s); try again. Your text is saved in Earshot.",
    ),
)


def _refusal(detail: str) -> tuple[str, dict[str, str]]:
    """The flash msgid and values for a reply the source refused."""
    for shape, message in _REFUSALS:
        if match := shape.match(detail):
            return message, {k: v for k, v in match.groupdict().items() if k != "thing"}
    return "Reply not posted: %(detail)s. Your text is saved in Earshot.", {"detail": detail}


@router.post("/reply", **ACTION)
def reply(
    _: CsrfChecked,
    mention_id: KnownItem,
    web: WebDep,
    settings: SettingsDep,
    engine: EngineDep,
    user: CurrentUser,
    tasks: BackgroundTasks,
    text: Annotated[str, Form(description="The reply, posted on the source where it has a reply API.")] = "",
) -> Response:
    alert = web.main_alert(mention_id)
    alert_id = alert.id if alert is not None else None
    try:
        outcome = reply_to_item(
            engine,
            settings,
            alert_id=alert_id,
            mention_id=mention_id,
            text=text.strip(),
            user=recorded_as(user),
            via="web",
            now=web.clock(),
        )
    except ActionError as exc:
        return web.back_to_item(mention_id, str(exc), "error")  # translated when the catalogue has it
    if outcome.status == "failed":
        message, values = _refusal(str(outcome.detail))
        return web.back_to_item(mention_id, message, "error", **values)
    if alert_id is not None:
        tasks.add_task(web.sync_slack, alert_id)
    if outcome.status == "posted":
        return web.back_to_item(mention_id, "Reply posted.")
    return web.back_to_item(mention_id, "Reply recorded: %(detail)s.", detail=str(outcome.detail))

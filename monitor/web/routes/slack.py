"""``POST /slack/interactivity``, ``/slack/events`` and ``/slack/commands``: Slack, over HTTP.

Button clicks and modal submissions (interactivity), ``app_home_opened`` (the Home tab, published after
the answer) and ``/earshot`` (its ephemeral list, in the answer); see :mod:`alerts.slack_events`.

Only the HTTP part is here: the body is read with a cap (a huge body is refused before it is read to the
end), and the request is answered with what :func:`alerts.interactivity.receive` decided after verifying,
storing and queueing it. That work blocks on the database, so it runs in a thread, off the event loop.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.interactivity import (
    INTERACTIVITY_PATH,
    MAX_BODY_BYTES,
    Answer,
    not_configured,
    receive,
    too_large,
)
from alerts.slack_events import COMMANDS_PATH, EVENTS_PATH, receive_command, receive_event
from monitor.web.deps import SlackDep
from monitor.web.openapi import PUBLIC, SLACK_BODY, SLACK_PARAMETERS, SLACK_RESPONSES

__all__ = ["router"]

router = APIRouter()


class _TooLarge(Exception):
    """The body is over the cap."""


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _response(answer: Answer) -> Response:
    if answer.text is not None:
        return PlainTextResponse(answer.text, status_code=answer.status)
    if answer.body is not None:
        return JSONResponse(answer.body, status_code=answer.status)
    return Response(status_code=answer.status)


@router.post(
    INTERACTIVITY_PATH,
    tags=["slack"],
    response_class=Response,
    responses=SLACK_RESPONSES,
    openapi_extra={"security": PUBLIC, "parameters": SLACK_PARAMETERS, "requestBody": SLACK_BODY},
)
async def interactivity(request: Request, slack: SlackDep) -> Response:
    remote = request.client.host if request.client else "?"
    if slack.verifier is None:
        return _response(not_configured(remote))
    try:
        body = await _read_capped(request, MAX_BODY_BYTES)
    except _TooLarge:
        return _response(too_large(remote))
    answer = await run_in_threadpool(
        receive,
        slack.engine,
        slack.verifier,
        slack.worker,
        request.headers.get("x-slack-request-timestamp"),
        request.headers.get("x-slack-signature"),
        body,
        remote,
    )
    return _response(answer)


_EVENT_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "description": "Slack's event JSON."}}},
}
_COMMAND_BODY: Final[dict[str, Any]] = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "command": {"type": "string"},
                    "text": {"type": "string"},
                    "user_id": {"type": "string"},
                },
            }
        }
    },
}


@router.post(
    EVENTS_PATH,
    tags=["slack"],
    response_class=Response,
    responses=SLACK_RESPONSES,
    openapi_extra={"security": PUBLIC, "parameters": SLACK_PARAMETERS, "requestBody": _EVENT_BODY},
)
async def events(request: Request, slack: SlackDep, background: BackgroundTasks) -> Response:
    """Slack's Events API: the Request URL check, and ``app_home_opened`` (the Home tab, drawn afterwards)."""
    remote = request.client.host if request.client else "?"
    if slack.verifier is None:
        return _response(not_configured(remote))
    try:
        body = await _read_capped(request, MAX_BODY_BYTES)
    except _TooLarge:
        return _response(too_large(remote))
    received = await run_in_threadpool(
        receive_event,
        slack.engine,
        slack.settings,
        slack.verifier,
        slack.worker.sender,
        request.headers.get("x-slack-request-timestamp"),
        request.headers.get("x-slack-signature"),
        body,
        remote,
    )
    if received.after is not None:
        background.add_task(run_in_threadpool, received.after)
    return _response(received.answer)


@router.post(
    COMMANDS_PATH,
    tags=["slack"],
    response_class=Response,
    responses=SLACK_RESPONSES,
    openapi_extra={"security": PUBLIC, "parameters": SLACK_PARAMETERS, "requestBody": _COMMAND_BODY},
)
async def commands(request: Request, slack: SlackDep) -> Response:
    """``/earshot``: the caller's open alerts, answered to the caller alone (ephemeral)."""
    remote = request.client.host if request.client else "?"
    if slack.verifier is None:
        return _response(not_configured(remote))
    try:
        body = await _read_capped(request, MAX_BODY_BYTES)
    except _TooLarge:
        return _response(too_large(remote))
    answer = await run_in_threadpool(
        receive_command,
        slack.engine,
        slack.settings,
        slack.verifier,
        request.headers.get("x-slack-request-timestamp"),
        request.headers.get("x-slack-signature"),
        body,
        remote,
    )
    return _response(answer)

"""``GET /healthz``: liveness for a load balancer, with no sign-in.

Two answers, one per app flavour: the pages answer ``{"status": "ok"}``; the Slack-only app
(``earshot slack serve``) also says whether its worker thread runs and a signing secret is set.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from monitor.web.deps import SlackDep
from monitor.web.openapi import PUBLIC

__all__ = ["router", "slack_router"]

router = APIRouter()
slack_router = APIRouter()


@router.get("/healthz", tags=["health"], openapi_extra={"security": PUBLIC})
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@slack_router.get("/healthz", tags=["health"], openapi_extra={"security": PUBLIC})
def slack_healthz(slack: SlackDep) -> dict[str, Any]:
    """The endpoint answers and the worker thread runs."""
    worker = slack.worker
    secret = slack.settings.slack.signing_secret
    return {
        "ok": worker.alive,
        "worker": "running" if worker.alive else "stopped",
        "signing_secret": bool(secret and secret.get_secret_value()),
    }

"""``GET /status``: is the pipeline healthy? The `earshot status` view for a signed-in user, in the browser.

In the distributed mode (``distributed.broker_url`` set): the workers that answer a ping, the queue depths
the broker reports, the oldest unprocessed item per stage (flagged when stalled) and the active scheduler,
read where each is true (:func:`monitor.distributed.status.collect_status`). On one machine there is no
broker to ask: the page says so and shows the stage backlog from the database. Both show the latest stage
runs (score and alert passes, source health, stall checks), failed ones first to the eye.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session, col, select

from monitor.core.models import StageRun
from monitor.web.deps import EngineDep, SessionDep, SettingsDep, WebDep

__all__ = ["router"]

router = APIRouter()
RECENT_RUNS = 30


@router.get("/status", response_class=HTMLResponse, tags=["status"])
def status_page(
    request: Request, web: WebDep, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> Response:
    from monitor.distributed.status import backlog, collect_status

    distributed = settings.distributed.broker_url is not None
    context: dict[str, Any] = {"distributed": distributed, "cluster": None}
    if distributed:
        context["cluster"] = collect_status(settings, timeout=1.0, engine=engine)
        context["backlog"] = context["cluster"].backlog
    else:
        context["backlog"] = backlog(engine, settings)
    with Session(engine) as db:
        context["runs"] = list(
            db.exec(select(StageRun).order_by(col(StageRun.id).desc()).limit(RECENT_RUNS)).all()
        )
    return web.render(request, session, "status.html", **context)

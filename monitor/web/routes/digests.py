"""The digest pages: ``GET /digests`` lists the saved weekly reports, ``GET /digests/{slug}/{week}`` serves one.

A report is served with its own Content-Security-Policy (inline styles and ``data:`` images, no scripts),
which the guard leaves in place. A URL the file system cannot even look up (a name too long) or a report
that cannot be read is answered like a report that was never made: 404.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from monitor.web.deps import SessionDep, SettingsDep, WebDep
from monitor.web.digests import DigestLink, digest_file, digest_links
from monitor.web.guard import REPORT_CSP
from monitor.web.openapi import html

__all__ = ["router"]

router = APIRouter()


@router.get("/digests", response_class=HTMLResponse, tags=["digests"])
def digests(request: Request, web: WebDep, session: SessionDep, settings: SettingsDep) -> Response:
    links: list[DigestLink] = digest_links(settings)
    return web.render(request, session, "digests.html", links=links)


@router.get(
    "/digests/{slug}/{week}",
    response_class=HTMLResponse,
    tags=["digests"],
    responses={404: html("No such report (unknown target or week, or a name no file can have).")},
)
def digest_page(
    request: Request,
    slug: Annotated[str, Path(description="The target's slug, as the digest list links it.")],
    week: Annotated[str, Path(description="An ISO week, e.g. 2026-W47.")],
    web: WebDep,
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    try:
        path = digest_file(settings, slug, week)
        report = path.read_text(encoding="utf-8") if path is not None else None
    except OSError:
        report = None
    if report is None:
        return web.error_page(request, session, 404, "No such digest", "That report has not been made.")
    response = HTMLResponse(report)
    response.headers["Content-Security-Policy"] = REPORT_CSP
    return response

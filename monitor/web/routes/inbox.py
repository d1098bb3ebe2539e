"""The inbox: ``GET /`` (to the inbox) and ``GET /inbox``, the filtered, paged list of mentions."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from monitor.web.deps import EngineDep, SessionDep, SettingsDep, WebDep
from monitor.web.inbox_sort import SORTS
from monitor.web.openapi import FILTER_PARAMETERS, html
from monitor.web.queries import SENTIMENTS, STATUSES, URGENCIES, FilterError, inbox_page, parse_filters

__all__ = ["router"]

router = APIRouter()


@router.get("/", response_class=RedirectResponse, status_code=303, tags=["inbox"])
def root() -> RedirectResponse:
    return RedirectResponse("/inbox", status_code=303)


@router.get(
    "/inbox",
    response_class=HTMLResponse,
    tags=["inbox"],
    responses={400: html("A filter value no filter accepts; the page names it.")},
    openapi_extra={"parameters": FILTER_PARAMETERS},
)
def inbox(
    request: Request, web: WebDep, session: SessionDep, settings: SettingsDep, engine: EngineDep
) -> Response:
    try:
        filters = parse_filters(request.query_params)
    except FilterError as exc:
        values = dict(exc.values)
        if "reason" in values:  # a search query's problem, itself a message of the catalogue
            values["reason"] = web.t(request, session, values["reason"])
        return web.error_page(request, session, 400, "Bad filter", exc.template, **values)
    sla = settings.alerts.sla.minutes_for
    page = inbox_page(engine, filters, settings.web.page_size, settings.web.timezone, sla)
    params = filters.params()
    query = urlencode(params)

    def page_link(number: int) -> str:
        return "/inbox?" + urlencode({**params, "page": str(number)})

    return web.render(
        request,
        session,
        "inbox.html",
        page=page,
        filters=filters,
        query=query,
        prev_link=page_link(page.page - 1) if page.page > 1 else None,
        next_link=page_link(page.page + 1) if page.has_next else None,
        sentiments=SENTIMENTS,
        urgencies=URGENCIES,
        statuses=STATUSES,
        sorts=SORTS,
        here=urlencode({**params, "page": str(page.page)}),
    )

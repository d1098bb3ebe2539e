"""Demo Google Alerts feeds: ``/alerts/feeds/{user}/{alert}`` answers Atom as Google Alerts writes it.

Entry ids are per alert (``tag:google.com,2013:googlealerts/feed:N``), links go through Google's
``/url?url=`` redirect, titles and content are escaped HTML with the query in ``<b>``; the server sends
``Last-Modified`` and answers ``If-Modified-Since`` with 304 when nothing changed since, as feed hosts do.
Data: rss_alerts.json.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from monitor.demo_data.site import DemoRequest, DemoSite, Reply, Route, shift_delta

_FEED = re.compile(r"/alerts/feeds/(?P<user>\d+)/(?P<alert>\d+)")
ATOM = "application/atom+xml; charset=UTF-8"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def google_redirect(url: str, n: int) -> str:
    """A link as Google Alerts writes it: through google.com/url, the target URL-encoded."""
    return (
        f"https://www.google.com/url?rct=j&sa=t&url={quote(url, safe='')}&ct=ga"
        f"&cd=CAIyGjE5ZGQ3MmQ0YjNjZmE1Njg6cGw6cGw6UEw&usg=AOvVaw{n:010d}"
    )


class RssSite(DemoSite):
    name = "rss"
    label = "Google Alerts feeds (Atom)"
    data_file = "rss_alerts.json"

    def __init__(self, data: dict[str, Any], *, token: str, shift_to_now: bool) -> None:
        super().__init__(data, token=token, shift_to_now=shift_to_now)
        self.user_id = str(data["user_id"])
        self.alerts: dict[str, dict[str, Any]] = {}
        for alert in data["alerts"]:
            entries = [dict(e, published=_parse(e["published"])) for e in alert["entries"]]
            self.alerts[str(alert["alert_id"])] = {"query": alert["query"], "entries": entries}
        if shift_to_now:
            delta = shift_delta(max(e["published"] for a in self.alerts.values() for e in a["entries"]))
            for alert in self.alerts.values():
                for entry in alert["entries"]:
                    entry["published"] += delta

    def feed_paths(self) -> list[str]:
        return [f"/alerts/feeds/{self.user_id}/{alert_id}" for alert_id in self.alerts]

    def routes(self) -> list[Route]:
        return [(_FEED, self._feed)]

    def target_fields(self, base_url: str) -> dict[str, Any]:
        return {"feeds": [base_url + path for path in self.feed_paths()]}

    def describe(self) -> str:
        count = sum(len(a["entries"]) for a in self.alerts.values())
        return f"{count} entries in {len(self.alerts)} feeds"

    def _feed(self, request: DemoRequest, match: re.Match[str]) -> Reply:
        alert = self.alerts.get(match["alert"]) if match["user"] == self.user_id else None
        if alert is None:
            return Reply(404, b"<html><body>Not Found</body></html>", "text/html; charset=UTF-8")
        updated = max(e["published"] for e in alert["entries"])
        headers = (("Last-Modified", format_datetime(updated, usegmt=True)),)
        since = request.header("if-modified-since")
        if since:
            try:
                if updated.replace(microsecond=0) <= parsedate_to_datetime(since):
                    return Reply(304, b"", ATOM, headers)
            except (TypeError, ValueError):
                pass  # an unreadable date is ignored, as HTTP says: answer in full
        return Reply(200, self.atom(match["alert"], alert, updated).encode("utf-8"), ATOM, headers)

    def atom(self, alert_id: str, alert: dict[str, Any], updated: datetime) -> str:
        """The feed document, newest entry first."""
        self_url = f"https://www.google.com/alerts/feeds/{self.user_id}/{alert_id}"
        parts = [
            '<?xml version="1.0" encoding="utf-8"?>',
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">',
            f"<id>tag:google.com,2005:reference-feeds-alert-000/{self.user_id}/{alert_id}</id>",
            f"<title>{escape('Alert Google – „' + alert['query'] + '”')}</title>",
            f'<link href="{self_url}" rel="self"></link>',
            f"<updated>{_iso(updated)}</updated>",
        ]
        for entry in sorted(alert["entries"], key=lambda e: e["published"], reverse=True):
            n = int(entry["entry_id"][-6:])
            when = _iso(entry["published"])
            parts += [
                "<entry>",
                f"<id>tag:google.com,2013:googlealerts/feed:{entry['entry_id']}</id>",
                f'<title type="html">{escape(entry["title"])}</title>',
                f"<link href={quoteattr(google_redirect(entry['url'], n))}></link>",
                f"<published>{when}</published><updated>{when}</updated>",
                f'<content type="html">{escape(entry["content"])}</content>',
                "<author><name></name></author>",
                "</entry>",
            ]
        parts.append("</feed>")
        return "".join(parts)


SITE = RssSite

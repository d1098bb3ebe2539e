"""Bulk actions on the inbox's selection through HTTP, on SQLite and PostgreSQL: one POST with the CSRF
token, the same state change as the item page (state_version bumped once, so Slack is re-rendered), counts
in the flash, and a repeat that changes nothing."""

from __future__ import annotations

import html
import re

from sqlmodel import Session, col, select

from monitor.core.models import Alert, AlertKind
from tests.web.conftest import Client, Site

_FLASH = re.compile(r'<div id="flash"[^>]*>(.*?)</div>', re.S)
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def _own_alerts(site: Site) -> dict[int, Alert]:
    """Each mention's own alert (its newest item alert), by mention id."""
    with Session(site.engine) as db:
        rows = db.exec(
            select(Alert).where(col(Alert.kind).in_(AlertKind.ITEM_KINDS)).order_by(col(Alert.id))
        ).all()
    return {a.mention_id: a for a in rows if a.mention_id is not None}


def _bulk(client: Client, ids: list[int], action: str, back: str = "sort=sla", **form: str) -> str:
    """POST the inbox's bulk form as the page carries it; the flash of the page it lands on."""
    token = _CSRF.search(client.get("/inbox").text)
    assert token
    body = [("csrf_token", token.group(1)), ("action", action), ("back", back), *form.items()]
    body += [("ids", str(i)) for i in ids]
    from urllib.parse import urlencode

    reply = client.request(
        "POST",
        "/inbox/bulk",
        urlencode(body).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "Origin": client.origin},
    )
    assert reply.status == 303, reply.text[:300]
    assert reply.location == f"/inbox?{back}" if back else "/inbox"
    page = client.get(reply.location or "/inbox")
    found = _FLASH.search(page.text)
    assert found, page.text[:500]
    return html.unescape(found.group(1)).strip()


def test_bulk_mark_handled_counts_what_changed_and_repeats_harmlessly(site: Site) -> None:
    client = site.logged_in()
    m = site.seed.mentions
    open_ones = [m["gbp_pl_negative"], m["gbp_en_negative"], m["gbp_pl_critical"]]
    chosen = [*open_ones, m["tp_en_negative"], m["tp_pl_neutral"]]  # + handled already, + no alert
    before = _own_alerts(site)
    flash = _bulk(client, chosen, "handle")
    assert flash == "Marked handled: 3. Already handled: 1. Without an alert: 1."
    after = _own_alerts(site)
    for mention_id in open_ones:
        assert after[mention_id].handled_by == "web:agnieszka" and after[mention_id].handled_at is not None
        assert after[mention_id].state_version == before[mention_id].state_version + 1  # Slack re-renders
    assert after[m["tp_en_negative"]].handled_by == before[m["tp_en_negative"]].handled_by  # untouched
    again = _bulk(client, chosen, "handle")
    assert again == "Marked handled: 0. Already handled: 4. Without an alert: 1."
    assert {k: a.state_version for k, a in _own_alerts(site).items()} == {
        k: a.state_version for k, a in after.items()
    }
    unhandled = client.get("/inbox?status=unhandled").text
    assert all(f'data-id="{i}"' not in unhandled for i in open_ones)


def test_bulk_assign_and_unassign(site: Site) -> None:
    client = site.logged_in()
    m = site.seed.mentions
    chosen = [m["gbp_en_negative"], m["mastodon_hostile"], m["ceneo_pl_negative"]]
    flash = _bulk(client, chosen, "assign", assignee=" Ola Żak ")
    assert flash == "Assigned to Ola Żak: 3. Already theirs: 0. Without an alert: 0."
    assert {_own_alerts(site)[i].assignee for i in chosen} == {"Ola Żak"}
    assert _bulk(client, chosen, "assign", assignee="Ola Żak").startswith(
        "Assigned to Ola Żak: 0. Already theirs: 3."
    )
    listed = client.get("/inbox?assignee=Ola+%C5%BBak").text
    assert all(f'data-id="{i}"' in listed for i in chosen)
    assert _bulk(client, chosen, "assign") == "Unassigned: 3. Already unassigned: 0. Without an alert: 0."


def test_bulk_needs_the_sessions_csrf_token_and_this_origin(site: Site) -> None:
    client = site.logged_in()
    target = site.seed.mentions["gbp_pl_negative"]
    before = _own_alerts(site)[target]
    form = {"action": "handle", "ids": str(target)}
    assert client.post("/inbox/bulk", form).status == 403  # no token
    assert client.post("/inbox/bulk", {**form, "csrf_token": "forged"}).status == 403
    token = client.csrf_from("/inbox")
    assert (
        client.post("/inbox/bulk", {**form, "csrf_token": token}, origin="http://evil.example").status == 403
    )
    after = _own_alerts(site)[target]
    assert after.handled_at is None and after.state_version == before.state_version
    signed_out = site.client()
    assert signed_out.post("/inbox/bulk", {**form, "csrf_token": token}).status in (303, 401, 403)
    assert _own_alerts(site)[target].handled_at is None


def test_bulk_refuses_an_empty_or_broken_selection_and_returns_only_to_the_inbox(site: Site) -> None:
    client = site.logged_in()
    assert _bulk(client, [], "handle") == "Select at least one item first."
    token = client.csrf_from("/inbox")
    reply = client.post(
        "/inbox/bulk", {"csrf_token": token, "action": "handle", "ids": "12abc", "back": "x=1"}
    )
    assert reply.status == 303 and reply.location == "/inbox?x=1"
    evil = client.post(
        "/inbox/bulk", {"csrf_token": token, "action": "nuke", "ids": "1", "back": "//evil.example/?a=b"}
    )
    assert evil.status == 303 and (evil.location or "").startswith("/inbox")
    assert "Pick what to do" in client.get(evil.location or "/inbox").text


def test_bulk_refuses_an_id_the_database_cannot_hold_instead_of_failing(site: Site) -> None:
    """Found by the OpenAPI fuzz run: 2**31 failed to bind on PostgreSQL's integer column (a 500)."""
    client = site.logged_in()
    flash = _bulk(client, [2**31, 2**63 - 1], "handle")
    assert flash == "The selection holds something that is not an item."


def test_bulk_tags_filter_and_untag(site: Site) -> None:
    client = site.logged_in()
    m = site.seed.mentions
    chosen = [m["gbp_pl_negative"], m["ceneo_pl_negative"], m["tp_pl_neutral"]]
    assert _bulk(client, chosen, "tag", tag="  Zwrot   PIENIĘDZY ") == (
        "Tagged zwrot pieniędzy: 3. Already tagged: 0."
    )
    assert (
        _bulk(client, chosen[:1], "tag", tag="zwrot pieniędzy")
        == "Tagged zwrot pieniędzy: 0. Already tagged: 1."
    )
    page = client.get("/inbox?tag=Zwrot+Pieni%C4%99dzy").text
    assert sorted(int(x) for x in re.findall(r'data-id="(\d+)"', page)) == sorted(chosen)
    assert '<a class="tag" href="/inbox?tag=zwrot+pieni%C4%99dzy">zwrot pieniędzy</a>' in page
    assert _bulk(client, chosen[1:], "untag", tag="ZWROT pieniędzy") == (
        "Tag zwrot pieniędzy removed: 2. Did not have it: 0."
    )
    page = client.get("/inbox?tag=zwrot+pieni%C4%99dzy").text
    assert re.findall(r'data-id="(\d+)"', page) == [str(chosen[0])]
    refused = _bulk(client, chosen, "tag", tag="<script>x")
    assert (
        refused.startswith("Not saved: a tag holds only letters")
        and "<script>" not in client.get("/inbox").text
    )
    assert client.get("/inbox?tag=%3Cb%3E").status == 400

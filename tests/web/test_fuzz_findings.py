"""What fuzzing the web app found, each pinned on SQLite and PostgreSQL (the ``site`` fixture runs both).

A NUL character (``%00`` in a URL, a form field) is something no browser types but any script sends.
SQLite stores and compares it like any other character; PostgreSQL refuses it in a text value, so on
PostgreSQL it was a 500: in any text filter of the inbox and the exports, and in the user name of a
sign-in (the throttle stores a key per account). Now a filter with one is a 400 that names the filter,
and such a sign-in is a wrong sign-in that the throttle counts like any other.
"""

from __future__ import annotations

import json

import pytest

from monitor.web.throttle import ACCOUNT_LIMIT
from tests.web.conftest import Site

TEXT_FILTERS = ("q", "target", "source", "assignee")


@pytest.mark.parametrize("name", TEXT_FILTERS)
def test_a_nul_in_a_text_filter_is_a_bad_filter_not_a_server_error(site: Site, name: str) -> None:
    client = site.logged_in()
    inbox = client.get(f"/inbox?{name}=Kowal%00ski")
    assert inbox.status == 400, (name, inbox.status)
    assert "Bad filter" in inbox.text and name in inbox.text
    for path in ("/export.csv", "/export.json"):
        reply = client.get(f"{path}?{name}=%00")
        assert reply.status == 400, (path, name, reply.status)
        assert name in json.loads(reply.body)["error"]


def test_the_filters_still_work_beside_the_nul_check(site: Site) -> None:
    client = site.logged_in()
    found = json.loads(client.get("/export.json?q=KURIER").body)
    assert [row["id"] for row in found] == [site.seed.mentions["gbp_pl_negative"]]


def test_a_nul_in_the_user_name_is_a_wrong_sign_in_and_is_throttled(site: Site) -> None:
    client = site.client()
    for attempt in range(ACCOUNT_LIMIT):
        reply = client.login("agnieszka\x00", "whatever")
        assert reply.status == 401, (attempt, reply.status)
        assert "Wrong user name" in reply.text
    locked = client.login("agnieszka\x00", "whatever")
    assert locked.status == 429 and locked.headers.get("Retry-After")
    assert client.login().status == 303  # the real account is another key: not locked out

"""Logout ends the session on the server: a copy of the cookie taken before stops working at once."""

from __future__ import annotations

from tests.web.conftest import Client, Site


def _logout(client: Client) -> None:
    token = client.csrf_from("/inbox")
    reply = client.post("/logout", {"csrf_token": token})
    assert reply.status == 303 and reply.location == "/login"


def test_a_cookie_copied_before_logout_is_sent_to_the_login_page_after_it(sqlite_site: Site) -> None:
    client, laptop = sqlite_site.logged_in(), sqlite_site.logged_in()
    copy = Client(sqlite_site.port, cookies=dict(client.cookies))
    assert copy.get("/inbox").status == 200
    _logout(client)
    reply = copy.get("/inbox")
    assert reply.status == 303 and reply.location is not None and reply.location.startswith("/login")
    assert copy.get("/export.csv").status == 401
    assert laptop.get("/inbox").status == 200  # the same user's other session goes on
    assert client.login().status == 303 and client.get("/inbox").status == 200  # and signing in again works

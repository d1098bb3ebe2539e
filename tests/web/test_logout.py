"""Logout, a changed password or a new shared token end a session on the server: a copied cookie stops working."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from tests.web.conftest import (
    OTHER_PASSWORD,
    OTHER_USER,
    PASSWORD,
    SHARED_TOKEN,
    USER,
    Client,
    Site,
    SiteFactory,
    password_hash,
)


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


def _login_token(client: Client, token: str, name: str = "dyżurny") -> int:
    csrf = client.csrf_from("/login")
    return client.post("/login", {"csrf_token": csrf, "username": name, "token": token}).status


def test_a_changed_password_ends_the_sessions_it_signed_in(
    make_site: SiteFactory, sqlite_engine: Engine
) -> None:
    """A password changed in [[web.users]] (and the app restarted) ends that user's old sessions at once."""
    before = make_site(sqlite_engine)
    changed, unchanged = before.logged_in(), before.logged_in(OTHER_USER, OTHER_PASSWORD)
    new_password = "nowe hasło po wycieku 7"
    users = [
        {"username": USER, "password_hash": password_hash(new_password)},
        {"username": OTHER_USER, "password_hash": password_hash(OTHER_PASSWORD)},
    ]
    after = make_site(sqlite_engine, seed=False, web={"users": users})
    old = Client(after.port, cookies=dict(changed.cookies))
    reply = old.get("/inbox")
    assert reply.status == 303 and reply.location is not None and reply.location.startswith("/login")
    assert Client(after.port, cookies=dict(unchanged.cookies)).get("/inbox").status == 200
    assert after.client().login(USER, PASSWORD).status == 401  # the old password is refused
    fresh = after.logged_in(USER, new_password)
    assert fresh.get("/inbox").status == 200


def test_a_new_shared_token_ends_the_sessions_the_old_one_signed_in(
    make_site: SiteFactory, sqlite_engine: Engine
) -> None:
    before = make_site(sqlite_engine, web={"shared_token": SHARED_TOKEN})
    client = before.client()
    assert _login_token(client, SHARED_TOKEN) == 303 and client.get("/inbox").status == 200
    same = make_site(sqlite_engine, seed=False, web={"shared_token": SHARED_TOKEN})  # a plain restart
    assert Client(same.port, cookies=dict(client.cookies)).get("/inbox").status == 200
    rotated = make_site(sqlite_engine, seed=False, web={"shared_token": "a-new-token-after-a-leak"})
    assert Client(rotated.port, cookies=dict(client.cookies)).get("/inbox").status == 303

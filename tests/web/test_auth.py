"""Sign-in, sessions and CSRF, through real HTTP: who gets in, for how long, and which forms are refused."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.models import Alert
from monitor.web.app import create_app
from monitor.web.auth import WebConfigError, hash_password, verify_password
from tests.web.conftest import (
    OTHER_PASSWORD,
    OTHER_USER,
    PASSWORD,
    SHARED_TOKEN,
    USER,
    Client,
    Site,
    SiteFactory,
    make_web_settings,
)


def _alert(engine: Engine, alert_id: int) -> Alert:
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        return alert


def _cookie_header(reply_cookies: list[str], name: str) -> str:
    found = [c for c in reply_cookies if c.startswith(f"{name}=")]
    assert found, f"no Set-Cookie for {name}: {reply_cookies}"
    return found[0]


# ------------------------------------------------------------------------------------------ passwords


def test_password_hash_is_salted_scrypt_and_verifies_only_the_right_password() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$16384$8$1$") and len(first.split("$")) == 6
    assert first != second  # salted
    assert PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password("Zazolc-gesla-jazn 42", first)  # diacritics matter
    assert not verify_password("", first)
    for broken in ("", "plain", "scrypt$1$8$1$AA$AA", "bcrypt$x$y$z$a$b", first[:-4] + "!!!!"):
        assert not verify_password(PASSWORD, broken)


def test_app_refuses_to_start_when_nobody_could_sign_in(tmp_path: Path, sqlite_engine: Engine) -> None:
    settings = make_web_settings(tmp_path, web={"users": [], "shared_token": None})
    with pytest.raises(WebConfigError) as info:
        create_app(settings, sqlite_engine)
    assert "EARSHOT_WEB__SHARED_TOKEN" in str(info.value) and "[[web.users]]" in str(info.value)


# ---------------------------------------------------------------------------------------------- login


def test_login_with_password_lands_on_next_page_with_a_safe_cookie(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    item = sqlite_site.seed.mentions["tp_en_negative"]
    reply = client.login(next_url=f"/items/{item}")
    assert reply.status == 303 and reply.location == f"/items/{item}"
    cookie = _cookie_header(reply.set_cookies(), "earshot_session").lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # public_url is http here
    assert f"max-age={12 * 3600}" in cookie  # web.session_hours default
    page = client.get(f"/items/{item}")
    assert page.status == 200 and USER in page.text


def test_login_form_has_the_contract_fields(sqlite_site: Site) -> None:
    page = sqlite_site.client().get("/login")
    assert page.status == 200
    for needle in (
        'id="login-form"',
        'name="username"',
        'name="password"',
        'id="login-submit"',
        'name="csrf_token"',
    ):
        assert needle in page.text
    assert 'name="token"' not in page.text  # no shared token configured


def test_secure_cookie_when_public_url_is_https(make_site: SiteFactory, sqlite_engine: Engine) -> None:
    site = make_site(sqlite_engine, public_url="https://earshot.example.com")
    reply = site.client().login()
    assert reply.status == 303
    assert "secure" in _cookie_header(reply.set_cookies(), "earshot_session").lower()


@pytest.mark.parametrize(
    ("username", "password"),
    [(USER, "wrong"), (USER, OTHER_PASSWORD), ("nobody", PASSWORD), (USER.upper(), PASSWORD), ("", "")],
)
def test_wrong_credentials_get_401_and_no_session(sqlite_site: Site, username: str, password: str) -> None:
    client = sqlite_site.client()
    reply = client.login(username, password)
    assert reply.status == 401
    assert 'id="login-error"' in reply.text
    assert client.get("/inbox").status == 303  # still signed out


def test_second_user_signs_in_too(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    assert client.login(OTHER_USER, OTHER_PASSWORD).status == 303
    assert OTHER_USER in client.get("/inbox").text


def test_shared_token_signs_in_under_the_given_name(make_site: SiteFactory, sqlite_engine: Engine) -> None:
    site = make_site(sqlite_engine, web={"users": [], "shared_token": SHARED_TOKEN})
    client = site.client()
    form_page = client.get("/login").text
    assert 'name="token"' in form_page and 'name="password"' not in form_page
    token = client.csrf_from("/login")
    bad = client.post("/login", {"csrf_token": token, "username": "Ola", "token": SHARED_TOKEN + "x"})
    assert bad.status == 401 and 'id="login-error"' in bad.text
    assert SHARED_TOKEN not in bad.text
    good = client.post("/login", {"csrf_token": token, "username": "Ola Świątek", "token": SHARED_TOKEN})
    assert good.status == 303 and good.location == "/inbox"
    alert_id = site.seed.alerts["gbp_en_negative"]
    assert client.act(site.seed.mentions["gbp_en_negative"], "handle").status == 303
    assert _alert(sqlite_engine, alert_id).handled_by == "web:Ola Świątek"


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_never_redirects_off_site(sqlite_site: Site, target: str) -> None:
    reply = sqlite_site.client().login(next_url=target)
    assert reply.status == 303 and reply.location == "/inbox"


# ------------------------------------------------------------------------------------ unauthenticated


def test_every_page_redirects_to_login_and_exports_are_401(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    item = sqlite_site.seed.mentions["gbp_pl_negative"]
    for path in (
        "/",
        "/inbox",
        "/inbox?sentiment=negative",
        f"/items/{item}",
        "/digests",
        "/digests/sklep-kowalski/2026-W47",
    ):
        reply = client.get(path)
        assert reply.status == 303, path
        assert reply.location is not None
        if path != "/":
            assert reply.location.startswith("/login?next=%2F"), (path, reply.location)
        assert "Kurier" not in reply.text
    for path in ("/export.csv", "/export.json", "/export.csv?sentiment=negative"):
        reply = client.get(path)
        assert reply.status == 401, path
        assert "Kurier" not in reply.text
    assert client.get("/healthz").status == 200
    assert client.get("/static/app.css").status == 200


def test_login_page_returns_to_the_page_asked_for(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    first = client.get("/inbox?sentiment=negative&q=kurier")
    assert first.location == "/login?next=%2Finbox%3Fsentiment%3Dnegative%26q%3Dkurier"
    assert (
        client.login(next_url="/inbox?sentiment=negative&q=kurier").location
        == "/inbox?sentiment=negative&q=kurier"
    )


def test_posts_without_a_session_change_nothing(sqlite_site: Site) -> None:
    seed = sqlite_site.seed
    item = seed.mentions["gbp_pl_negative"]
    client = sqlite_site.client()
    token = client.csrf_from("/login")  # a signed-out session's token must not open the actions
    for action, form in (
        ("handle", {}),
        ("assign", {"assignee": "x"}),
        ("correct", {"label": "positive"}),
        ("reply", {"text": "hi"}),
    ):
        reply = client.post(f"/items/{item}/{action}", {"csrf_token": token, **form})
        assert reply.status == 401, action
    alert = _alert(sqlite_site.engine, seed.alerts["gbp_pl_negative"])
    assert alert.handled_at is None and alert.assignee is None and alert.corrected_label is None


# ------------------------------------------------------------------------------------------- sessions


def test_session_expires_after_session_hours(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    assert client.get("/inbox").status == 200
    sqlite_site.clock.advance(hours=11, minutes=59)
    assert client.get("/inbox").status == 200
    sqlite_site.clock.advance(minutes=2)
    reply = client.get("/inbox")
    assert reply.status == 303 and reply.location is not None and reply.location.startswith("/login")


def test_tampered_cookie_is_refused(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    body, mac = client.cookies["earshot_session"].rsplit(".", 1)
    client.cookies["earshot_session"] = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    assert client.get("/inbox").status == 303
    client.cookies["earshot_session"] = body + "." + "0" * 64
    assert client.get("/inbox").status == 303


def test_logout_ends_the_session(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    token = client.csrf_from("/inbox")
    assert client.post("/logout", {"csrf_token": "wrong"}).status == 403
    reply = client.post("/logout", {"csrf_token": token})
    assert reply.status == 303 and reply.location == "/login"
    assert "earshot_session" not in client.cookies
    assert client.get("/inbox").status == 303


def test_session_key_file_is_private_and_survives_a_restart(
    make_site: SiteFactory, sqlite_engine: Engine, tmp_path: Path
) -> None:
    site = make_site(sqlite_engine, web={"session_secret": None})
    key_file = tmp_path / "web-session.key"
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    client = site.logged_in()
    again = make_site(sqlite_engine, seed=False, web={"session_secret": None})
    restarted = Client(again.port, dict(client.cookies))
    assert restarted.get("/inbox").status == 200  # same key: the sign-in still holds


# ----------------------------------------------------------------------------------------------- CSRF


def test_csrf_missing_wrong_or_foreign_token_is_refused(sqlite_site: Site) -> None:
    seed = sqlite_site.seed
    item = seed.mentions["gbp_pl_negative"]
    client = sqlite_site.logged_in()
    other = sqlite_site.logged_in(OTHER_USER, OTHER_PASSWORD)
    foreign_token = other.csrf_from("/inbox")
    own_token = client.csrf_from("/inbox")
    attempts = [
        ({}, ""),
        ({"csrf_token": ""}, ""),
        ({"csrf_token": "0" * 64}, ""),
        ({"csrf_token": foreign_token}, ""),  # another session's token
        ({"csrf_token": own_token}, "http://evil.example"),  # right token, another site's form
        ({"csrf_token": own_token}, "null"),
    ]
    for form, origin in attempts:
        reply = client.post(f"/items/{item}/handle", form, origin=origin)
        assert reply.status == 403, (form, origin)
        assert "cannot be accepted" in reply.text
    referer = client.post(
        f"/items/{item}/handle",
        {"csrf_token": own_token},
        origin=None,
        headers={"Referer": "http://evil.example/x"},
    )
    assert referer.status == 403
    assert _alert(sqlite_site.engine, seed.alerts["gbp_pl_negative"]).handled_at is None
    # Without Origin and Referer (stripped by a privacy setting) the token alone decides.
    ok = client.post(f"/items/{item}/handle", {"csrf_token": own_token}, origin=None)
    assert ok.status == 303
    assert _alert(sqlite_site.engine, seed.alerts["gbp_pl_negative"]).handled_at is not None


def test_login_form_needs_its_csrf_token(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    client.get("/login")
    reply = client.post("/login", {"username": USER, "password": PASSWORD})
    assert reply.status == 403
    assert client.get("/inbox").status == 303


def test_pages_send_protective_headers(sqlite_site: Site) -> None:
    client = sqlite_site.logged_in()
    reply = client.get("/inbox")
    csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["Cache-Control"] == "no-store"

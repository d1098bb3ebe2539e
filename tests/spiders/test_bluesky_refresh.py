"""The bluesky spider keeps its session: refreshSession mid-crawl and between runs, against a loopback PDS.

createSession allows 30 logins per 5 minutes and 300 a day, so the session's refreshJwt is stored
encrypted and the next run refreshes it instead of logging in; an accessJwt that expires mid-crawl is
refreshed and the refused search sent again; a refused refresh falls back to the app password, and
without one ends the run ``auth_failed`` naming ``earshot auth bluesky``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from monitor.core.config import EarshotSettings, Target
from monitor.core.credentials import CredentialStore
from monitor.core.db import make_engine
from spiders.spiders.bluesky import BlueskySpider
from tests.spiders.conftest import TARGET, crawl, mentions
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import Recorded, ReplayServer, Reply

KEY = Fernet.generate_key().decode()
IDENTIFIER = "earshot-monitor.bsky.social"
PASSWORD = "TEST-app-pass-k3v9-q2x7"
ACCESS = "TEST-bluesky-access-jwt-55aa"  # the accessJwt of session.json ends with it
REFRESH = "TEST-bluesky-refresh-jwt-77bb"  # and its refreshJwt
RENEWED_ACCESS = "TEST-bluesky-access-renewed-66cc"  # session_refreshed.json
ROTATED = "TEST-bluesky-refresh-rotated-88dd"
STORED = "TEST-bluesky-refresh-stored-99ee"  # what an earlier run or `earshot auth bluesky` stored
SECRETS = (PASSWORD, ACCESS, REFRESH, RENEWED_ACCESS, ROTATED, STORED)
CREATE = "/xrpc/com.atproto.server.createSession"
REFRESH_PATH = "/xrpc/com.atproto.server.refreshSession"
SEARCH = "/xrpc/app.bsky.feed.searchPosts"


def settings_for(db_url: str, base_url: str, *, password: bool = True) -> EarshotSettings:
    section: dict[str, Any] = {"base_url": base_url}
    if password:
        section |= {"identifier": IDENTIFIER, "app_password": PASSWORD}
    return EarshotSettings(
        database_url=db_url,
        secret_key=KEY,
        targets=[Target(name=TARGET, keywords=["Sklep Testowy"])],
        sources={"bluesky": section},
    )


def store_of(db_url: str) -> CredentialStore:
    return CredentialStore(make_engine(db_url), KEY)


def served(name: str, status: int = 200) -> Reply:
    return Reply.recorded("bluesky", name, status)


def auth_header(request: Recorded) -> str:
    return {k.lower(): v for k, v in request.headers.items()}.get("authorization", "")


def stored_ciphertext(db_url: str) -> str:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return " ".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM source_credentials"))
    finally:
        engine.dispose()


def test_an_expired_session_mid_crawl_is_refreshed_and_the_next_run_refreshes_instead_of_logging_in(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = settings_for(db_url, replay.base_url)
    replay.route(CREATE, served("session.json"))
    replay.route(REFRESH_PATH, served("session_refreshed.json"))
    replay.route(SEARCH, served("search_sklep_page1.json"), q="Sklep Testowy", cursor=None)
    replay.route(
        SEARCH,
        served("error_400_expired.json", 400),  # the accessJwt expired between two pages
        served("search_sklep_page2.json"),
        q="Sklep Testowy",
        cursor="3",
    )

    first = crawl(settings, tmp_path, spider="bluesky")

    s = first.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 5, 0)
    assert [r.path for r in replay.posts] == [CREATE, REFRESH_PATH]
    assert auth_header(replay.requests_for(REFRESH_PATH)[0]).endswith(REFRESH)  # Bearer <refreshJwt>
    pages = replay.requests_for(SEARCH)
    assert [(r.query.get("cursor"), auth_header(r).rsplit(".", 1)[-1]) for r in pages] == [
        (None, ACCESS),
        (["3"], ACCESS),
        (["3"], RENEWED_ACCESS),  # the refused page again, once, with the refreshed session
    ]
    assert first.stats["earshot/bluesky/session_expired"] == 1
    assert (
        first.stats["earshot/bluesky/logins"] == 1 and first.stats["earshot/bluesky/session_refreshes"] == 1
    )
    stored = store_of(db_url).load("bluesky")
    assert stored["refresh_jwt"].endswith(ROTATED) and stored["identifier"] == IDENTIFIER
    assert "app_password" not in stored
    assert not any(secret in stored_ciphertext(db_url) for secret in SECRETS)

    # The next run opens its session with the stored refreshJwt: createSession is not called.
    replay.reset()
    replay.route(CREATE, served("session.json"))
    replay.route(REFRESH_PATH, served("session.json"))  # rotates again
    replay.route(SEARCH, served("search_empty.json"))

    second = crawl(settings, tmp_path, spider="bluesky")

    assert second.summary.finish_reason == "finished" and second.summary.errors == 0
    assert replay.requests_for(CREATE) == []
    [refresh] = replay.requests_for(REFRESH_PATH)
    assert auth_header(refresh).endswith(ROTATED) and refresh.body == b""
    assert auth_header(replay.requests_for(SEARCH)[0]).endswith(ACCESS)
    assert store_of(db_url).load("bluesky")["refresh_jwt"].endswith(REFRESH)
    assert len(mentions(db_url)) == 5
    assert_no_leak(db_url, SECRETS, first.log, second.log)


def test_a_revoked_stored_session_falls_back_to_the_app_password(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    store_of(sqlite_url).save("bluesky", {"refresh_jwt": STORED, "identifier": IDENTIFIER})
    settings = settings_for(sqlite_url, replay.base_url)
    replay.route(REFRESH_PATH, served("error_400_refresh_revoked.json", 400))
    replay.route(CREATE, served("session.json"))
    replay.route(SEARCH, served("search_sklep_page2.json"))

    result = crawl(settings, tmp_path, spider="bluesky")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 2, 0)
    assert [r.path for r in replay.posts] == [REFRESH_PATH, CREATE]
    assert auth_header(replay.posts[0]).endswith(STORED)
    assert json.loads(replay.posts[1].body) == {"identifier": IDENTIFIER, "password": PASSWORD}
    assert result.stats["earshot/bluesky/refresh_refused"] == 1
    assert store_of(sqlite_url).load("bluesky")["refresh_jwt"].endswith(REFRESH)  # the new login's
    assert (
        "Bluesky refused the session refresh (ExpiredToken); logging in with the app password" in result.log
    )
    assert_no_leak(sqlite_url, SECRETS, result.log)


def test_a_revoked_stored_session_without_an_app_password_ends_auth_failed_naming_the_command(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    store_of(sqlite_url).save("bluesky", {"refresh_jwt": STORED, "identifier": IDENTIFIER})
    settings = settings_for(sqlite_url, replay.base_url, password=False)
    assert BlueskySpider.skip_reason(settings) is None  # the stored session is enough to run
    replay.route(REFRESH_PATH, served("error_400_refresh_revoked.json", 400))

    result = crawl(settings, tmp_path, spider="bluesky")

    s = result.summary
    assert (s.finish_reason, s.requests) == ("auth_failed", 1)
    assert [r.path for r in replay.requests] == [REFRESH_PATH]
    [message] = result.stats["earshot/error_messages"]
    assert "HTTP 400 ExpiredToken: Token has been revoked" in message
    assert "run `earshot auth bluesky`" in message
    assert "Traceback" not in result.log
    assert_no_leak(sqlite_url, SECRETS, result.log)


def test_nothing_configured_nor_stored_names_the_variables_and_the_command(sqlite_url: str) -> None:
    settings = settings_for(sqlite_url, "http://127.0.0.1:9", password=False)
    assert BlueskySpider.skip_reason(settings) == (
        "not configured: set EARSHOT_SOURCES__BLUESKY__IDENTIFIER, EARSHOT_SOURCES__BLUESKY__APP_PASSWORD "
        "(or run `earshot auth bluesky`)"
    )

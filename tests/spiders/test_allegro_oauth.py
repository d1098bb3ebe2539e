"""The allegro spider renews its 12-hour token itself: crawls against a loopback Allegro API and token endpoint.

The seller authorised Earshot once (``earshot auth allegro`` stored a refresh token, encrypted); the spider
renews the access token before it expires and once on a 401, stores the rotated refresh token at once
(the old one stops working), and ends the run ``auth_failed`` naming ``earshot auth allegro`` when the
refresh token is refused.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from cryptography.fernet import Fernet

from monitor.core.config import EarshotSettings, Target
from monitor.core.credentials import CredentialStore
from monitor.core.db import make_engine
from monitor.core.timeutil import utcnow
from spiders.allegro_oauth import parse_device_code, parse_oauth_error, parse_token
from spiders.errors import MalformedResponse
from spiders.spiders.allegro import AllegroRatingsSpider
from tests.spiders.conftest import TARGET, crawl, mentions
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import Recorded, ReplayServer, Reply

KEY = Fernet.generate_key().decode()
CLIENT_ID = "allegro-TEST-client-id-3f8a"
CLIENT_SECRET = "allegro-TEST-client-secret-b71e"
STORED_ACCESS = "allegro-TEST-access-stored-a4d0"
STORED_REFRESH = "allegro-TEST-refresh-stored-5c3b"
RENEWED_ACCESS = "eyJhbGciOiJSUzI1NiJ9.eyJ1c2VyX25hbWUiOiI0ODIxMzk3NyJ9.allegro-TEST-access-renewed-7c1d"
ROTATED_REFRESH = "eyJhbGciOiJSUzI1NiJ9.eyJhdGkiOiJyb3RhdGVkIn0.allegro-TEST-refresh-rotated-2e9f"
SECRETS = (CLIENT_SECRET, STORED_ACCESS, STORED_REFRESH, RENEWED_ACCESS, ROTATED_REFRESH)
SELLER_A, SELLER_B = "48213977", "51230088"
RATINGS, TOKEN = "/sale/user-ratings", "/auth/oauth/token"


def settings_for(db_url: str, base_url: str, sellers: list[str]) -> EarshotSettings:
    """Client credentials only: the tokens come from the store; API and token endpoint on loopback."""
    return EarshotSettings(
        database_url=db_url,
        secret_key=KEY,
        targets=[Target(name=TARGET, allegro_user_ids=sellers)],
        sources={
            "allegro": {
                "base_url": base_url,
                "auth_url": base_url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "page_size": 3,
            }
        },
    )


def store_of(db_url: str) -> CredentialStore:
    return CredentialStore(make_engine(db_url), KEY)


def authorised(db_url: str, expires_in: timedelta) -> None:
    """What ``earshot auth allegro`` leaves behind: an access token expiring in ``expires_in``, a refresh token."""
    expires = (utcnow() + expires_in).isoformat()
    store_of(db_url).save(
        "allegro",
        {"access_token": STORED_ACCESS, "refresh_token": STORED_REFRESH, "expires_at": expires},
    )


def served(name: str, status: int = 200) -> Reply:
    return Reply.recorded("allegro", name, status, {"Content-Type": "application/json"})


def ratings(replay: ReplayServer, seller: str, offset: int, *replies: Reply) -> None:
    replay.route(RATINGS, *replies, **{"user.id": seller, "offset": str(offset)})


def bearer(request: Recorded) -> str:
    return {k.lower(): v for k, v in request.headers.items()}["authorization"]


def stored_ciphertext(db_url: str) -> str:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return " ".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM source_credentials"))
    finally:
        engine.dispose()


def test_a_token_expiring_mid_crawl_is_renewed_once_and_the_rotated_refresh_token_is_stored(
    db_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    authorised(db_url, timedelta(hours=6))
    settings = settings_for(db_url, replay.base_url, [SELLER_A])
    ratings(replay, SELLER_A, 0, served("ratings_seller_a_offset0.json"))
    ratings(
        replay,
        SELLER_A,
        3,
        served("error_401_invalid_token.json", 401),  # revoked on Allegro's side before its expiry
        served("ratings_seller_a_offset3.json"),
    )
    ratings(replay, SELLER_A, 6, served("ratings_empty.json"))
    replay.route(TOKEN, served("token_refreshed.json"))

    result = crawl(settings, tmp_path, spider="allegro")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.items_rejected, s.errors) == ("finished", 5, 1, 0)
    pages = replay.requests_for(RATINGS)
    assert [(r.query["offset"], bearer(r)) for r in pages] == [
        (["0"], f"Bearer {STORED_ACCESS}"),
        (["3"], f"Bearer {STORED_ACCESS}"),
        (["3"], f"Bearer {RENEWED_ACCESS}"),  # the refused page again, with the renewed token
        (["6"], f"Bearer {RENEWED_ACCESS}"),
    ]
    [refresh] = replay.requests_for(TOKEN)
    assert refresh.method == "POST" and refresh.query == {}  # no token in a URL
    assert parse_qs(refresh.body.decode()) == {
        "grant_type": ["refresh_token"],
        "refresh_token": [STORED_REFRESH],
    }
    expected_basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert bearer(refresh) == f"Basic {expected_basic}"
    assert result.stats["earshot/allegro/token_expired"] == 1
    assert result.stats["earshot/allegro/token_refreshes"] == 1
    # The rotation is stored, encrypted: the old refresh token no longer works on Allegro's side.
    stored = store_of(db_url).load("allegro")
    assert (stored["refresh_token"], stored["access_token"]) == (ROTATED_REFRESH, RENEWED_ACCESS)
    assert (
        utcnow() + timedelta(hours=11)
        < datetime.fromisoformat(stored["expires_at"])
        < utcnow() + timedelta(hours=13)
    )
    assert not any(secret in stored_ciphertext(db_url) for secret in SECRETS)
    assert_no_leak(db_url, SECRETS, result.log)

    # The next run uses the renewed token as it is: no refresh while it is valid.
    replay.reset()
    ratings(replay, SELLER_A, 0, served("ratings_empty.json"))
    again = crawl(settings, tmp_path, spider="allegro")
    assert again.summary.finish_reason == "finished" and replay.requests_for(TOKEN) == []
    assert [bearer(r) for r in replay.requests_for(RATINGS)] == [f"Bearer {RENEWED_ACCESS}"]
    assert len(mentions(db_url)) == 5


def test_a_token_about_to_expire_is_renewed_before_the_first_page_once_for_all_sellers(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    authorised(sqlite_url, timedelta(minutes=2))  # inside the 5-minute margin
    settings = settings_for(sqlite_url, replay.base_url, [SELLER_A, SELLER_B])
    ratings(replay, SELLER_A, 0, served("ratings_empty.json"))
    ratings(replay, SELLER_B, 0, served("ratings_seller_b_offset0.json"))
    replay.route(TOKEN, served("token_refreshed.json"))

    result = crawl(settings, tmp_path, spider="allegro")

    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", 2, 0)
    assert replay.requests[0].path == TOKEN and len(replay.requests_for(TOKEN)) == 1
    assert {bearer(r) for r in replay.requests_for(RATINGS)} == {f"Bearer {RENEWED_ACCESS}"}
    assert len(replay.requests_for(RATINGS)) == 2 and "earshot/allegro/token_expired" not in result.stats
    assert store_of(sqlite_url).load("allegro")["refresh_token"] == ROTATED_REFRESH
    assert_no_leak(sqlite_url, SECRETS, result.log)


def test_a_revoked_refresh_token_ends_the_run_auth_failed_naming_the_command(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    authorised(sqlite_url, timedelta(hours=-1))  # expired: the run must renew first
    settings = settings_for(sqlite_url, replay.base_url, [SELLER_A, SELLER_B])
    ratings(replay, SELLER_A, 0, served("ratings_empty.json"))
    ratings(replay, SELLER_B, 0, served("ratings_empty.json"))
    replay.route(TOKEN, served("error_400_invalid_grant.json", 400))

    result = crawl(settings, tmp_path, spider="allegro", CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.requests) == ("auth_failed", 0, 1)
    assert replay.requests_for(RATINGS) == []  # the refused authorisation is not followed by pages
    [message] = result.stats["earshot/error_messages"]
    assert "HTTP 400 invalid_grant: token renewal refused: Invalid refresh token" in message
    assert "run `earshot auth allegro`" in message
    assert store_of(sqlite_url).load("allegro")["refresh_token"] == STORED_REFRESH  # untouched
    assert "Traceback" not in result.log
    assert_no_leak(sqlite_url, SECRETS, result.log)


def test_a_token_refused_right_after_its_renewal_is_not_renewed_again(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    authorised(sqlite_url, timedelta(hours=6))
    settings = settings_for(sqlite_url, replay.base_url, [SELLER_A])
    ratings(replay, SELLER_A, 0, served("error_401_invalid_token.json", 401))
    replay.route(TOKEN, served("token_refreshed.json"))

    result = crawl(settings, tmp_path, spider="allegro")

    assert result.summary.finish_reason == "auth_failed"
    assert len(replay.requests_for(RATINGS)) == 2 and len(replay.requests_for(TOKEN)) == 1
    [message] = result.stats["earshot/error_messages"]
    assert "the renewed access token was refused too: run `earshot auth allegro`" in message
    assert_no_leak(sqlite_url, SECRETS, result.log)


def test_client_credentials_without_a_stored_authorisation_say_which_command_to_run(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = settings_for(sqlite_url, replay.base_url, [SELLER_A])
    assert AllegroRatingsSpider.skip_reason(settings) == "not authorised yet: run `earshot auth allegro`"

    result = crawl(settings, tmp_path, spider="allegro")  # named explicitly, it runs and says why not

    assert (result.summary.finish_reason, replay.requests) == ("missing_credentials", [])
    [message] = result.stats["earshot/error_messages"]
    assert message.endswith("no seller authorised it yet; run `earshot auth allegro`")
    authorised(sqlite_url, timedelta(hours=6))
    assert AllegroRatingsSpider.skip_reason(settings) is None
    half = EarshotSettings(
        database_url=sqlite_url,
        targets=[Target(name=TARGET, allegro_user_ids=[SELLER_A])],
        sources={"allegro": {"client_id": CLIENT_ID}},
    )
    assert (
        AllegroRatingsSpider.skip_reason(half)
        == "not configured: set EARSHOT_SOURCES__ALLEGRO__CLIENT_SECRET"
    )


def test_token_and_device_answers_are_read_as_allegro_sends_them() -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures" / "spiders" / "allegro"
    now = utcnow()
    grant = parse_token((fixtures / "token_refreshed.json").read_bytes(), now)
    assert (grant.access_token, grant.refresh_token) == (RENEWED_ACCESS, ROTATED_REFRESH)
    assert grant.expires_at == now + timedelta(seconds=43199)
    # A renewal that does not rotate keeps the refresh token it used; a grant without one is refused.
    body = b'{"access_token": "a-new-one", "expires_in": "60"}'
    assert parse_token(body, now, keep_refresh=STORED_REFRESH).refresh_token == STORED_REFRESH
    with pytest.raises(
        MalformedResponse, match=r"no refresh_token in the token answer \(access_token, expires_in\)"
    ):
        parse_token(body, now)
    device = parse_device_code((fixtures / "device_code.json").read_bytes())
    assert (device.user_code, device.interval, device.expires_in) == ("cbt3zdu4g", 1.0, 3600.0)
    assert device.verification_uri_complete == "https://allegro.pl/skojarz-aplikacje?code=cbt3zdu4g"
    error = parse_oauth_error((fixtures / "error_400_invalid_grant.json").read_bytes())
    assert (error.error, error.description) == ("invalid_grant", "Invalid refresh token")
    assert parse_oauth_error(b"<html>502 Bad Gateway</html>").description == "<html>502 Bad Gateway</html>"

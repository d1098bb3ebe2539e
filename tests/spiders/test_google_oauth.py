"""google_business with renewable OAuth credentials, against a loopback fake of Google's token endpoint and API.

Access tokens expiring mid-crawl, a token the API refuses (401: one refresh, one retry), a rotated refresh
token stored encrypted, a revoked refresh token (``auth_failed``, the reason names ``earshot auth google``,
and so do the source-health alert and ``earshot sources``). Every crawl is a real isolated crawl.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from monitor.core.config import EarshotSettings, Target
from monitor.core.credentials import CredentialStore, generate_key
from monitor.core.db import make_engine
from monitor.source_health import assess, problems
from monitor.source_status import source_statuses
from monitor.sources_table import render_sources
from spiders.catalogue import source_catalogue
from tests.spiders.conftest import ACCOUNT, LOC1, LOC2, TARGET, crawl, mentions
from tests.spiders.fake_google import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeGoogle
from tests.spiders.leak_check import assert_no_leak
from tests.spiders.replay_server import reviews_path

PAGE2_TOKEN = "CiAKGAoUMTExMjIyMzMzLzkwMDEvcGFnZTIQAQ"
KEY = generate_key()
ALL_REVIEWS = 7  # loc1 (two pages) + loc2


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        fake.pages = {
            (reviews_path(ACCOUNT, LOC1), None): "loc1_page1.json",
            (reviews_path(ACCOUNT, LOC1), PAGE2_TOKEN): "loc1_page2.json",
            (reviews_path(ACCOUNT, LOC2), None): "loc2_page1.json",
        }
        yield fake


def oauth_settings(db_url: str, fake: FakeGoogle, *, in_env: bool = True, **extra: Any) -> EarshotSettings:
    """One target with two locations; the OAuth client in the settings (env) or only in the store."""
    section: dict[str, Any] = {"base_url": fake.base_url, "token_uri": fake.token_uri, "page_size": 3}
    if in_env:
        section.update(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN)
    return EarshotSettings(
        database_url=db_url,
        secret_key=KEY,
        targets=[Target(name=TARGET, google_account_id=ACCOUNT, google_location_ids=[LOC1, LOC2])],
        sources={"google_business": section},
        **extra,
    )


def secrets_of(fake: FakeGoogle) -> list[str]:
    return [CLIENT_SECRET, REFRESH_TOKEN, *fake.refresh_tokens, *fake.issued]


def test_an_access_token_expiring_mid_crawl_is_renewed_and_the_crawl_reads_everything(
    sqlite_url: str, google: FakeGoogle, tmp_path: Path
) -> None:
    # Tokens live 2 s and each page takes 1.2 s, one request at a time: the token runs out mid-crawl.
    google.expires_in, google.delay = 2, 1.2
    result = crawl(oauth_settings(sqlite_url, google), tmp_path, CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", ALL_REVIEWS, 0)
    assert len(mentions(sqlite_url)) == ALL_REVIEWS
    grants = google.grants()
    assert grants[0].at < google.api_calls()[0].at  # a fresh token before the first request
    assert result.stats["earshot/oauth/refreshed_at_start"] == 1
    # renewed while the first one still worked (half its life left), not after a refusal
    assert result.stats["earshot/oauth/refreshed_before_expiry"] == 1 and len(grants) == 2
    # The third page waited in the queue with the first token until it had run out: refused once and
    # sent again with the token renewed meanwhile, without asking for another one.
    assert [c.status for c in google.api_calls()] == [200, 200, 401, 200]
    assert result.stats["earshot/oauth/retried_after_401"] == 1
    assert "earshot/oauth/refreshed_after_401" not in result.stats
    last = google.api_calls()[-1].headers["Authorization"]
    assert last != google.api_calls()[0].headers["Authorization"]
    assert_no_leak(sqlite_url, secrets_of(google), result.log)


def test_a_refused_token_is_renewed_once_and_the_request_sent_again(
    sqlite_url: str, google: FakeGoogle, tmp_path: Path
) -> None:
    google.first_token_uses = 1  # Google refuses a token the client still believes valid (an hour left)
    result = crawl(oauth_settings(sqlite_url, google), tmp_path, CONCURRENT_REQUESTS=1)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.errors) == ("finished", ALL_REVIEWS, 0)
    calls = google.api_calls()
    refused = [c for c in calls if c.status == 401]
    assert refused and all(c.status == 200 for c in calls if c not in refused)
    assert result.stats["earshot/oauth/retried_after_401"] == len(refused)
    # both pages that went out with the refused token waited for one refresh, not one each
    assert len(refused) == 2 and len(google.grants()) == 2
    assert s.requests == len(calls)
    assert_no_leak(sqlite_url, secrets_of(google), result.log)


def test_a_rotated_refresh_token_is_stored_encrypted_and_used_next(
    sqlite_url: str, google: FakeGoogle, tmp_path: Path
) -> None:
    google.rotate, google.first_token_uses = True, 2
    engine = make_engine(sqlite_url)
    store = CredentialStore(engine, KEY)  # what `earshot auth google` stored; nothing in the environment
    store.save(
        "google_business",
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN},
    )

    result = crawl(oauth_settings(sqlite_url, google, in_env=False), tmp_path)

    assert (result.summary.finish_reason, result.summary.items_new, result.summary.errors) == (
        "finished",
        ALL_REVIEWS,
        0,
    )
    grants = google.grants()
    assert len(grants) >= 2
    # each refresh presented the refresh token the previous one handed out (the old one no longer works)
    assert grants[0].form["refresh_token"] == REFRESH_TOKEN
    assert grants[1].form["refresh_token"] != REFRESH_TOKEN
    newest = google.refresh_tokens[-1]
    assert store.load("google_business")["refresh_token"] == newest
    assert store.load("google_business")["client_secret"] == CLIENT_SECRET
    assert result.stats["earshot/oauth/rotations_stored"] == len(grants)
    with engine.connect() as conn:
        raw = " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM source_credentials"))
    assert newest not in raw and CLIENT_SECRET not in raw and "refresh" not in raw
    engine.dispose()
    assert_no_leak(sqlite_url, secrets_of(google), result.log)

    # The next run starts from the stored, rotated token.
    google.seen.clear()
    again = crawl(oauth_settings(sqlite_url, google, in_env=False), tmp_path)
    assert again.summary.finish_reason == "finished" and again.summary.errors == 0
    assert google.grants()[0].form["refresh_token"] == newest


def test_a_revoked_refresh_token_ends_the_run_as_auth_failed_naming_the_command(
    sqlite_url: str, google: FakeGoogle, tmp_path: Path
) -> None:
    google.revoked.add(REFRESH_TOKEN)
    settings = oauth_settings(sqlite_url, google, source_health={"failed_runs": 1})
    result = crawl(settings, tmp_path)

    s = result.summary
    assert (s.finish_reason, s.items_new, s.exit_code) == ("auth_failed", 0, 0)
    assert google.api_calls() == []  # no token: nothing was sent to the API
    messages = result.stats["earshot/error_messages"]
    assert len(messages) == 1
    assert "invalid_grant (Token has been expired or revoked.)" in messages[0]
    assert "run `earshot auth google`" in messages[0]
    assert "Traceback" not in result.log
    assert_no_leak(sqlite_url, secrets_of(google), result.log)

    engine = make_engine(sqlite_url)
    try:
        with Session(engine) as session:
            health = assess(session, "google_business", settings.source_health)
        [problem] = problems(health, settings.source_health)
        assert problem.reason.endswith("; run `earshot auth google` to authorise again")
        statuses = source_statuses(
            engine, settings, [i for i in source_catalogue(settings) if i.name == "google_business"]
        )
    finally:
        engine.dispose()
    table = render_sources(statuses)
    assert "run `earshot auth google`" in table.splitlines()[1]


def test_a_refresh_refused_mid_crawl_ends_the_run_after_the_401(
    sqlite_url: str, google: FakeGoogle, tmp_path: Path
) -> None:
    google.first_token_uses = 1
    google.rotate = True  # the first grant rotates; then the consent is revoked
    settings = oauth_settings(sqlite_url, google)

    def revoke_after_first_grant() -> None:
        google.revoked.update(google.refresh_tokens)

    google.expires_in = 3600
    original = google.token

    def token(form: dict[str, str]) -> Any:
        answer = original(form)
        revoke_after_first_grant()
        return answer

    google.token = token  # type: ignore[method-assign]
    result = crawl(settings, tmp_path, CONCURRENT_REQUESTS=1)

    s = result.summary
    assert s.finish_reason == "auth_failed"
    assert [c.status for c in google.api_calls()][:2] == [200, 401]
    assert any(
        "could not be renewed" in m and "run `earshot auth google`" in m
        for m in result.stats["earshot/error_messages"]
    )
    assert_no_leak(sqlite_url, secrets_of(google), result.log)


def test_stored_credentials_count_as_configured_in_earshot_sources(
    sqlite_url: str, google: FakeGoogle
) -> None:
    settings = oauth_settings(sqlite_url, google, in_env=False)
    [before] = [i for i in source_catalogue(settings) if i.name == "google_business"]
    assert not before.configured and before.skip_reason is not None
    assert "earshot auth google" in before.skip_reason

    engine = make_engine(sqlite_url)
    CredentialStore(engine, KEY).save(
        "google_business",
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN},
    )
    engine.dispose()
    [after] = [i for i in source_catalogue(settings) if i.name == "google_business"]
    assert after.configured and after.runnable

"""Answering an Allegro rating (PUT /sale/user-ratings/{ratingId}/answer) against the loopback FakeSocialApi,
with the token from the settings or the one ``earshot auth allegro`` (and every crawl) keeps stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from alerts.reply_http import ReplyOutcome
from alerts.source_replies import post_source_reply
from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore, generate_key
from monitor.core.timeutil import utcnow
from tests.alerts.fake_social import ALLEGRO_TOKEN, FakeSocialApi
from tests.alerts.fake_sources import fixture
from tests.alerts.social_items import stored_item, view

RATING = "6731f0c2a5e4b1001f3e9a11"
TEXT = "Dziękujemy za ocenę i zakupy! Zespół Sklepu Kowalski"
PATH = f"/sale/user-ratings/{RATING}/answer"


@pytest.fixture
def api() -> Iterator[FakeSocialApi]:
    with FakeSocialApi() as fake:
        fake.state.allegro_ratings[RATING] = None
        yield fake


def _settings(tmp_path: Path, api: FakeSocialApi, key: str | None = None, **allegro: Any) -> EarshotSettings:
    values = {**api.sources()["allegro"], **allegro}
    return EarshotSettings(data_dir=tmp_path, sources={"allegro": values}, secret_key=key)


def _post(settings: EarshotSettings, engine: Engine | None = None) -> ReplyOutcome:
    return post_source_reply(settings, view("allegro"), stored_item("allegro")["raw"], TEXT, engine=engine)


def test_answer_is_put_on_the_rating_as_documented(tmp_path: Path, api: FakeSocialApi) -> None:
    assert _post(_settings(tmp_path, api)) == ReplyOutcome("posted", "posted on Allegro")
    [request] = api.requests
    assert (request.method, request.path) == ("PUT", PATH)
    assert request.headers["Authorization"] == f"Bearer {ALLEGRO_TOKEN}"
    assert request.headers["Content-Type"] == "application/vnd.allegro.public.v1+json"
    assert request.headers["Accept"] == "application/vnd.allegro.public.v1+json"
    assert request.body == {"message": TEXT}
    assert api.state.allegro_ratings[RATING] == TEXT


def _store(engine: Engine, key: str, token: str, expires_in: timedelta) -> None:
    values = {
        "access_token": token,
        "refresh_token": "allegro-refresh",
        "expires_at": (utcnow() + expires_in).isoformat(),
    }
    CredentialStore(engine, key).save("allegro", values)


def test_the_stored_token_wins_while_valid(tmp_path: Path, api: FakeSocialApi, sqlite_engine: Engine) -> None:
    key = generate_key()
    _store(sqlite_engine, key, ALLEGRO_TOKEN, timedelta(hours=11))
    settings = _settings(tmp_path, api, access_token=None, key=key)
    assert _post(settings, sqlite_engine).status == "posted"
    assert api.requests[0].headers["Authorization"] == f"Bearer {ALLEGRO_TOKEN}"


def test_an_expired_stored_token_is_not_sent(
    tmp_path: Path, api: FakeSocialApi, sqlite_engine: Engine
) -> None:
    key = generate_key()
    _store(sqlite_engine, key, "stale-token-DO-NOT-LEAK", timedelta(seconds=30))
    assert _post(_settings(tmp_path, api, key=key), sqlite_engine).status == "posted"  # the configured one
    assert api.requests[-1].headers["Authorization"] == f"Bearer {ALLEGRO_TOKEN}"
    outcome = _post(_settings(tmp_path, api, access_token=None, key=key), sqlite_engine)
    assert outcome == ReplyOutcome(
        "failed",
        "the stored Allegro token has expired: the next Allegro crawl renews it, or run `earshot auth allegro`",
    )
    assert len(api.requests) == 1


def test_no_token_at_all(tmp_path: Path, api: FakeSocialApi) -> None:
    outcome = _post(_settings(tmp_path, api, access_token=None))
    assert outcome == ReplyOutcome(
        "failed", "no Allegro token: run `earshot auth allegro` or set EARSHOT_SOURCES__ALLEGRO__ACCESS_TOKEN"
    )
    assert api.requests == []


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (
            401,
            "401",
            None,
            "token rejected by Allegro (HTTP 401): run `earshot auth allegro` or set "
            "EARSHOT_SOURCES__ALLEGRO__ACCESS_TOKEN (invalid_token)",
        ),
        (404, "404", None, "rating gone: Allegro no longer has this rating (HTTP 404)"),
        (429, "429", {"Retry-After": "42"}, "rate-limited by Allegro, try again in 42 s"),
        (422, "422", None, "Allegro refused the reply (HTTP 422) (Odpowiedź nie może być pusta.)"),
        (503, None, None, "Allegro unavailable (HTTP 503), try again"),
    ],
)
def test_refusals_in_words(
    tmp_path: Path,
    api: FakeSocialApi,
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: str | None,
    headers: dict[str, str] | None,
    expected: str,
) -> None:
    api.fail_next(status, PATH, body=fixture("allegro")["errors"][body] if body else None, headers=headers)
    outcome = _post(_settings(tmp_path, api))
    assert outcome == ReplyOutcome("failed", expected)
    assert ALLEGRO_TOKEN not in outcome.detail and ALLEGRO_TOKEN not in caplog.text
    assert api.state.allegro_ratings[RATING] is None

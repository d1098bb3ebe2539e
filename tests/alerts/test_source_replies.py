"""Posting replies on Google Business Profile and Trustpilot, against the loopback FakeReplyApi."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from alerts.rules import MentionView
from alerts.source_replies import ReplyOutcome, post_source_reply, reply_supported
from monitor.core.config import EarshotSettings
from tests.alerts.fake_sources import FakeReplyApi

REVIEW = "accounts/1234567890/locations/9876543210/reviews/AbFvOqnXyZ_1"
TP_REVIEW = "5e3de1b45fb06f0001790b51"
PL_TEXT = (
    "Szanowna Pani / Szanowny Panie,\nprzepraszamy za opóźnienie dostawy. Prosimy o kontakt: pomoc@sklep.pl."
)


def _mention(source: str = "google_business", **kw: Any) -> MentionView:
    values: dict[str, Any] = {
        "id": 7,
        "source": source,
        "target": "Sklep Kowalski",
        "text": "Paczka nie dotarła",
        "author": "Jan",
        "url": None,
        "rating": 1.0,
        "lang": "pl",
        "created_at": None,
        "version": 1,
        "external_id": "AbFvOqnXyZ_1" if source == "google_business" else TP_REVIEW,
    }
    values.update(kw)
    return MentionView(**values)


def _settings(tmp_path: Path, api: FakeReplyApi, **sources: dict[str, Any]) -> EarshotSettings:
    cfg: dict[str, Any] = {
        "google_business": {"base_url": api.url, "access_token": api.google_token},
        "trustpilot": {
            "base_url": api.url,
            "access_token": api.trustpilot_token,
            "business_user_id": api.business_user_id,
        },
    }
    for name, values in sources.items():
        cfg[name] = {**cfg.get(name, {}), **values}
    return EarshotSettings(data_dir=tmp_path, sources=cfg)


@pytest.fixture
def api() -> Iterator[FakeReplyApi]:
    with FakeReplyApi() as fake:
        fake.add_google_review(REVIEW)
        fake.add_trustpilot_review(TP_REVIEW)
        yield fake


def _no_secret(outcome: ReplyOutcome, api: FakeReplyApi, caplog: pytest.LogCaptureFixture) -> None:
    for secret in (api.google_token, api.trustpilot_token):
        assert secret not in outcome.detail
        assert secret not in caplog.text


# --- Google Business Profile ----------------------------------------------------------------------------


def test_google_reply_is_put_as_documented(tmp_path: Path, api: FakeReplyApi) -> None:
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, PL_TEXT)

    assert outcome.status == "posted"
    [request] = api.requests
    assert request.method == "PUT"
    assert request.path == f"/v4/{REVIEW}/reply"
    assert request.headers["Authorization"] == f"Bearer {api.google_token}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.body == {"comment": PL_TEXT}
    stored = api.google_reply(REVIEW)
    assert stored is not None and stored["comment"] == PL_TEXT  # Polish letters arrive intact


def test_google_review_name_falls_back_to_the_stored_link(tmp_path: Path, api: FakeReplyApi) -> None:
    mention = _mention(url=f"{api.url}/v4/{REVIEW}")
    outcome = post_source_reply(_settings(tmp_path, api), mention, {"reviewId": "AbFvOqnXyZ_1"}, "Thanks!")
    assert outcome.status == "posted"
    assert api.requests[0].path == f"/v4/{REVIEW}/reply"


@pytest.mark.parametrize(
    "raw", [None, {}, {"name": "accounts/1/locations/2"}, {"name": "accounts/1/locations/2/reviews/../../x"}]
)
def test_google_without_a_usable_review_name_fails_before_any_request(
    tmp_path: Path, api: FakeReplyApi, raw: dict[str, Any] | None
) -> None:
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), raw, "Thanks!")
    assert outcome.status == "failed"
    assert "resource name" in outcome.detail
    assert api.requests == []


def test_google_missing_token_names_the_env_var(tmp_path: Path, api: FakeReplyApi) -> None:
    settings = _settings(tmp_path, api, google_business={"access_token": None})
    outcome = post_source_reply(settings, _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome == ReplyOutcome(
        "failed", "no Google access token: set EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN"
    )
    assert api.requests == []


def test_google_rejected_token(tmp_path: Path, api: FakeReplyApi, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "ya29.expired-token-SECRET"
    settings = _settings(tmp_path, api, google_business={"access_token": wrong})
    outcome = post_source_reply(settings, _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome.status == "failed"
    assert outcome.detail.startswith(
        "token rejected by Google (HTTP 401): set EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN"
    )
    assert wrong not in outcome.detail and wrong not in caplog.text
    assert api.google_reply(REVIEW) is None


def test_google_forbidden_location(tmp_path: Path, api: FakeReplyApi) -> None:
    api.fail_next(403)
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome.status == "failed"
    assert "token rejected" in outcome.detail and "The caller does not have permission" in outcome.detail


def test_google_review_gone(tmp_path: Path, api: FakeReplyApi) -> None:
    gone = "accounts/1234567890/locations/9876543210/reviews/deleted"
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": gone}, "Thanks!")
    assert outcome == ReplyOutcome("failed", "review gone: Google no longer has this review (HTTP 404)")


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [("30", "try again in 30 s"), (None, "try again later"), ("soon", "try again later")],
)
def test_google_rate_limited(
    tmp_path: Path, api: FakeReplyApi, retry_after: str | None, expected: str
) -> None:
    api.fail_next(429, retry_after=retry_after)
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome == ReplyOutcome("failed", f"rate-limited by Google, {expected}")


def test_rate_limit_retry_after_as_http_date(tmp_path: Path, api: FakeReplyApi) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    api.fail_next(429, retry_after=format_datetime(when, usegmt=True))
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, "Thanks!")
    seconds = int(outcome.detail.rsplit("in ", 1)[1].split(" ")[0])
    assert 100 <= seconds <= 121


@pytest.mark.parametrize("status", [500, 503])
def test_google_unavailable(tmp_path: Path, api: FakeReplyApi, status: int) -> None:
    api.fail_next(status)
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome == ReplyOutcome("failed", f"Google unavailable (HTTP {status}), try again")


def test_google_bad_request_shows_googles_message(tmp_path: Path, api: FakeReplyApi) -> None:
    api.fail_next(400)
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome == ReplyOutcome(
        "failed", "Google refused the reply (HTTP 400) (Request contains an invalid argument.)"
    )


def test_timeout_is_a_failure_not_an_exception(tmp_path: Path, api: FakeReplyApi) -> None:
    api.delay_next(3.0)
    outcome = post_source_reply(
        _settings(tmp_path, api), _mention(), {"name": REVIEW}, "Thanks!", timeout=0.3
    )
    assert outcome == ReplyOutcome("failed", "Google unavailable (timed out), try again")


def test_network_error_is_a_failure(tmp_path: Path, api: FakeReplyApi) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = _settings(tmp_path, api, google_business={"base_url": f"http://127.0.0.1:{port}"})
    outcome = post_source_reply(settings, _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome.status == "failed"
    assert outcome.detail.startswith("Google unavailable (") and outcome.detail.endswith("try again")


def test_google_limit_counts_bytes_and_is_checked_before_sending(tmp_path: Path, api: FakeReplyApi) -> None:
    settings = _settings(tmp_path, api)
    too_long = "ż" * 2049  # 4098 bytes in UTF-8, though only 2049 characters
    outcome = post_source_reply(settings, _mention(), {"name": REVIEW}, too_long)
    assert outcome == ReplyOutcome("failed", "the reply is 4098 bytes; Google accepts at most 4096")
    assert api.requests == []

    just_fits = "ż" * 2048
    assert post_source_reply(settings, _mention(), {"name": REVIEW}, just_fits).status == "posted"


def test_empty_reply_is_refused(tmp_path: Path, api: FakeReplyApi) -> None:
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, "  \n ")
    assert outcome == ReplyOutcome("failed", "the reply is empty")
    assert api.requests == []


def test_token_echoed_in_an_error_body_is_masked(
    tmp_path: Path, api: FakeReplyApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = {
        "error": {
            "code": 400,
            "message": f"bad header Bearer {api.google_token}",
            "status": "INVALID_ARGUMENT",
        }
    }
    api.fail_next(400, body=body)
    outcome = post_source_reply(_settings(tmp_path, api), _mention(), {"name": REVIEW}, "Thanks!")
    assert outcome.status == "failed"
    assert "***" in outcome.detail
    _no_secret(outcome, api, caplog)


# --- Trustpilot -----------------------------------------------------------------------------------------


def test_trustpilot_reply_is_posted_as_documented(tmp_path: Path, api: FakeReplyApi) -> None:
    text = "Dear customer, we are sorry about the delay with your delivery."
    outcome = post_source_reply(_settings(tmp_path, api), _mention("trustpilot"), {"id": TP_REVIEW}, text)

    assert outcome == ReplyOutcome("posted", "posted on Trustpilot")
    [request] = api.requests
    assert request.method == "POST"
    assert request.path == f"/v1/private/reviews/{TP_REVIEW}/reply"
    assert request.headers["Authorization"] == f"Bearer {api.trustpilot_token}"
    assert request.body == {"authorBusinessUserId": api.business_user_id, "message": text}
    assert api.trustpilot_reply(TP_REVIEW) == text


def test_trustpilot_review_id_falls_back_to_external_id(tmp_path: Path, api: FakeReplyApi) -> None:
    outcome = post_source_reply(_settings(tmp_path, api), _mention("trustpilot"), None, "Thanks!")
    assert outcome.status == "posted"


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ({"access_token": None}, "EARSHOT_SOURCES__TRUSTPILOT__ACCESS_TOKEN"),
        ({"business_user_id": None}, "EARSHOT_SOURCES__TRUSTPILOT__BUSINESS_USER_ID"),
        (
            {"access_token": None, "business_user_id": " "},
            "EARSHOT_SOURCES__TRUSTPILOT__ACCESS_TOKEN and EARSHOT_SOURCES__TRUSTPILOT__BUSINESS_USER_ID",
        ),
    ],
)
def test_trustpilot_missing_credentials_name_the_env_vars(
    tmp_path: Path, api: FakeReplyApi, missing: dict[str, Any], expected: str
) -> None:
    settings = _settings(tmp_path, api, trustpilot=missing)
    outcome = post_source_reply(settings, _mention("trustpilot"), {"id": TP_REVIEW}, "Thanks!")
    assert outcome == ReplyOutcome("failed", f"Trustpilot replies need a business user: set {expected}")
    assert api.requests == []


def test_trustpilot_rejected_token(
    tmp_path: Path, api: FakeReplyApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = _settings(tmp_path, api, trustpilot={"access_token": "expired-SECRET-token"})
    outcome = post_source_reply(settings, _mention("trustpilot"), {"id": TP_REVIEW}, "Thanks!")
    assert outcome == ReplyOutcome(
        "failed",
        "token rejected by Trustpilot (HTTP 401): set EARSHOT_SOURCES__TRUSTPILOT__ACCESS_TOKEN (Invalid access token)",
    )
    assert "expired-SECRET-token" not in caplog.text


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (404, None, "review gone: Trustpilot no longer has this review (HTTP 404)"),
        (429, "12", "rate-limited by Trustpilot, try again in 12 s"),
        (500, None, "Trustpilot unavailable (HTTP 500), try again"),
        (400, None, "Trustpilot refused the reply (HTTP 400) (The request was malformed)"),
    ],
)
def test_trustpilot_errors(
    tmp_path: Path, api: FakeReplyApi, status: int, retry_after: str | None, expected: str
) -> None:
    api.fail_next(status, source="trustpilot", retry_after=retry_after)
    outcome = post_source_reply(
        _settings(tmp_path, api), _mention("trustpilot"), {"id": TP_REVIEW}, "Thanks!"
    )
    assert outcome == ReplyOutcome("failed", expected)


def test_trustpilot_unknown_review_is_gone(tmp_path: Path, api: FakeReplyApi) -> None:
    outcome = post_source_reply(_settings(tmp_path, api), _mention("trustpilot"), {"id": "nope"}, "Thanks!")
    assert outcome.detail.startswith("review gone")


# --- sources without a reply API ------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["ceneo", "hackernews", "rss", "google_places"])
def test_other_sources_are_recorded_for_posting_by_hand(
    tmp_path: Path, api: FakeReplyApi, source: str
) -> None:
    url = "https://www.ceneo.pl/142071337#tab=reviews"
    outcome = post_source_reply(_settings(tmp_path, api), _mention(source, url=url), None, "Dziękujemy!")
    assert outcome == ReplyOutcome("recorded", f"{source} has no reply API; post it yourself at {url}")
    assert not reply_supported(source)
    assert api.requests == []


def test_supported_sources() -> None:
    assert reply_supported("google_business") and reply_supported("trustpilot")
    assert all(reply_supported(s) for s in ("allegro", "mastodon", "bluesky", "youtube", "reddit"))


# --- any text survives the trip -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_api() -> Iterator[FakeReplyApi]:
    with FakeReplyApi() as fake:
        fake.add_google_review(REVIEW)
        yield fake


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"),
        min_size=1,
        max_size=300,
    ).filter(lambda t: t.strip())
)
def test_any_reply_text_arrives_unchanged(tmp_path: Path, shared_api: FakeReplyApi, text: str) -> None:
    outcome = post_source_reply(_settings(tmp_path, shared_api), _mention(), {"name": REVIEW}, text)
    assert outcome.status == "posted"
    stored = shared_api.google_reply(REVIEW)
    assert stored is not None and stored["comment"] == text.strip()

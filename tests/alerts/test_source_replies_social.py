"""Replies on Mastodon, Bluesky, YouTube and Reddit, against the loopback FakeSocialApi.

Each test posts to an item stored exactly as its spider stores it (:mod:`tests.alerts.social_items`) and
checks the documented request (method, path, auth header, body with the threading fields) and what the
agent is told.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from alerts.reply_http import ReplyOutcome
from alerts.source_replies import post_source_reply, reply_supported
from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore, generate_key
from tests.alerts.fake_social import BSKY_DID, MASTODON_TOKEN, FakeSocialApi
from tests.alerts.fake_sources import RecordedRequest, fixture
from tests.alerts.social_items import stored_item, view

PL = "Dzień dobry, przepraszamy za kłopot z zamówieniem. Prosimy o numer zamówienia w wiadomości prywatnej."


@pytest.fixture
def api() -> Iterator[FakeSocialApi]:
    with FakeSocialApi() as fake:
        state = fake.state
        state.mastodon_statuses.add(str(stored_item("mastodon")["raw"]["id"]))
        for kind in ("bluesky", "bluesky_reply"):
            raw = stored_item(kind)["raw"]
            state.bsky_posts[raw["uri"]] = raw["cid"]
            root = raw["record"].get("reply", {}).get("root")
            if root:
                state.bsky_posts[root["uri"]] = root["cid"]
        state.youtube_threads.add(str(stored_item("youtube")["external_id"]))
        state.reddit_things[str(stored_item("reddit")["external_id"])] = "open"
        yield fake


def _settings(
    tmp_path: Path, api: FakeSocialApi, secret_key: str | None = None, **over: Any
) -> EarshotSettings:
    sources = api.sources()
    for name, values in over.items():
        sources[name] = {**sources[name], **values}
    return EarshotSettings(data_dir=tmp_path, sources=sources, secret_key=secret_key)


def _post(settings: EarshotSettings, kind: str, text: str = PL, engine: Engine | None = None) -> ReplyOutcome:
    item = stored_item(kind)
    return post_source_reply(settings, view(kind), item["raw"], text, engine=engine)


def _writes(api: FakeSocialApi, path: str) -> list[RecordedRequest]:
    return [r for r in api.requests if r.path.split("?")[0] == path]


def _clean(outcome: ReplyOutcome, api: FakeSocialApi, caplog: pytest.LogCaptureFixture) -> None:
    for secret in api.secrets():
        assert secret not in outcome.detail and secret not in caplog.text


def test_every_social_source_takes_replies() -> None:
    assert all(reply_supported(s) for s in ("mastodon", "bluesky", "youtube", "reddit", "allegro"))
    assert not any(reply_supported(s) for s in ("ceneo", "hackernews", "rss", "google_places"))


# --- Mastodon -----------------------------------------------------------------------------------------


def test_mastodon_reply_is_a_status_in_reply_to_the_stored_one(tmp_path: Path, api: FakeSocialApi) -> None:
    raw = stored_item("mastodon")["raw"]
    outcome = _post(_settings(tmp_path, api), "mastodon")
    assert outcome == ReplyOutcome("posted", "posted on Mastodon")
    [request] = _writes(api, "/api/v1/statuses")
    assert request.method == "POST"
    assert request.headers["Authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.body == {
        "status": f"@kuba@101010.pl {PL}",  # the author is mentioned, so Mastodon notifies them
        "in_reply_to_id": raw["id"],  # the status's id on the configured instance, not its uri
        "visibility": "public",
        "language": "pl",
    }
    assert len(request.headers["Idempotency-Key"]) == 64


def test_mastodon_same_reply_twice_is_one_status(tmp_path: Path, api: FakeSocialApi) -> None:
    settings = _settings(tmp_path, api)
    assert _post(settings, "mastodon").status == "posted"
    assert _post(settings, "mastodon").status == "posted"
    keys = {r.headers["Idempotency-Key"] for r in _writes(api, "/api/v1/statuses")}
    assert len(keys) == 1 and len(api.state.mastodon_posted) == 1


def test_mastodon_limit_counts_the_mention(tmp_path: Path, api: FakeSocialApi) -> None:
    settings = _settings(tmp_path, api)
    assert _post(settings, "mastodon", "x" * 494).status == "posted"  # "@kuba " + 494 = 500
    outcome = _post(settings, "mastodon", "y" * 495)
    assert outcome == ReplyOutcome(
        "failed", "the reply with the @kuba@101010.pl mention is 501 characters; Mastodon accepts at most 500"
    )
    assert (
        _post(settings, "mastodon", "z" * 501).detail
        == "the reply is 501 characters; Mastodon accepts at most 500"
    )
    assert len(_writes(api, "/api/v1/statuses")) == 1


def test_mastodon_read_token_without_write_scope(
    tmp_path: Path, api: FakeSocialApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.fail_next(403, "/api/v1/statuses", body=fixture("mastodon")["errors"]["403"])
    outcome = _post(_settings(tmp_path, api), "mastodon")
    assert outcome == ReplyOutcome(
        "failed",
        "token rejected by Mastodon (HTTP 403): set EARSHOT_SOURCES__MASTODON__REPLY_ACCESS_TOKEN "
        "(write:statuses scope) (This action is outside the authorized scopes)",
    )
    _clean(outcome, api, caplog)


def test_mastodon_uses_the_crawl_token_when_no_reply_token(tmp_path: Path, api: FakeSocialApi) -> None:
    settings = _settings(tmp_path, api, mastodon={"reply_access_token": None, "access_token": MASTODON_TOKEN})
    assert _post(settings, "mastodon").status == "posted"
    none = _settings(tmp_path, api, mastodon={"reply_access_token": None})
    outcome = _post(none, "mastodon")
    assert outcome.status == "failed" and "EARSHOT_SOURCES__MASTODON__REPLY_ACCESS_TOKEN" in outcome.detail


def test_mastodon_status_deleted_meanwhile(tmp_path: Path, api: FakeSocialApi) -> None:
    api.state.mastodon_statuses.clear()
    outcome = _post(_settings(tmp_path, api), "mastodon")
    assert outcome == ReplyOutcome("failed", "status gone: Mastodon no longer has this status (HTTP 404)")


# --- Bluesky ------------------------------------------------------------------------------------------


def test_bluesky_reply_uses_the_stored_session_and_stores_the_rotated_one(
    tmp_path: Path, api: FakeSocialApi, sqlite_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    key = generate_key()
    store = CredentialStore(sqlite_engine, key)
    first = api.issue_bluesky_refresh()
    store.save("bluesky", {"refresh_jwt": first, "did": BSKY_DID})
    settings = _settings(tmp_path, api, key, bluesky={"identifier": None, "app_password": None})
    raw = stored_item("bluesky")["raw"]
    caplog.set_level(logging.DEBUG)
    outcome = _post(settings, "bluesky", engine=sqlite_engine)
    assert outcome == ReplyOutcome("posted", "posted on Bluesky")
    [refresh] = _writes(api, "/xrpc/com.atproto.server.refreshSession")
    assert refresh.headers["Authorization"] == f"Bearer {first}" and refresh.body is None
    [create] = _writes(api, "/xrpc/com.atproto.repo.createRecord")
    assert create.headers["Authorization"].startswith("Bearer bsky-access-")
    body = create.body
    assert body["repo"] == BSKY_DID and body["collection"] == "app.bsky.feed.post"
    record = body["record"]
    ref = {"uri": raw["uri"], "cid": raw["cid"]}
    assert record["reply"] == {"root": ref, "parent": ref}  # a top-level post is its own thread's root
    assert record["$type"] == "app.bsky.feed.post" and record["text"] == PL and record["langs"] == ["pl"]
    assert record["createdAt"].endswith("Z")
    rotated = store.load("bluesky")["refresh_jwt"]
    assert rotated != first and rotated in api.state.bsky_refresh  # the spent one is replaced
    assert _writes(api, "/xrpc/com.atproto.server.createSession") == []
    _clean(outcome, api, caplog)


def test_bluesky_reply_in_a_thread_keeps_the_root(tmp_path: Path, api: FakeSocialApi) -> None:
    raw = stored_item("bluesky_reply")["raw"]
    outcome = _post(_settings(tmp_path, api), "bluesky_reply", "Dziękujemy!")
    assert outcome.status == "posted"
    [login] = _writes(api, "/xrpc/com.atproto.server.createSession")
    assert login.body == {"identifier": "sklep-kowalski.bsky.social", "password": "abcd-efgh-ijkl-mnop"}
    [create] = _writes(api, "/xrpc/com.atproto.repo.createRecord")
    reply = create.body["record"]["reply"]
    assert reply["root"] == raw["record"]["reply"]["root"]
    assert reply["parent"] == {"uri": raw["uri"], "cid": raw["cid"]}
    assert create.body["record"]["langs"] == ["en"]


def test_bluesky_spent_session_falls_back_to_login(
    tmp_path: Path, api: FakeSocialApi, sqlite_engine: Engine
) -> None:
    key = generate_key()
    CredentialStore(sqlite_engine, key).save("bluesky", {"refresh_jwt": "bsky-refresh-revoked"})
    outcome = _post(_settings(tmp_path, api, key), "bluesky", engine=sqlite_engine)
    assert outcome.status == "posted"
    assert [r.path for r in api.requests] == [
        "/xrpc/com.atproto.server.refreshSession",
        "/xrpc/com.atproto.server.createSession",
        "/xrpc/com.atproto.repo.createRecord",
    ]


def test_bluesky_without_any_session_names_the_command(tmp_path: Path, api: FakeSocialApi) -> None:
    settings = _settings(tmp_path, api, bluesky={"identifier": None, "app_password": None})
    outcome = _post(settings, "bluesky")
    assert outcome.status == "failed"
    assert (
        "`earshot auth bluesky`" in outcome.detail
        and "EARSHOT_SOURCES__BLUESKY__APP_PASSWORD" in outcome.detail
    )
    assert api.requests == []
    wrong = _settings(tmp_path, api, bluesky={"app_password": "wrong-password-DO-NOT-LEAK"})
    refused = _post(wrong, "bluesky")
    assert refused.detail.startswith("Bluesky refused the login (HTTP 401): run `earshot auth bluesky`")
    assert "wrong-password-DO-NOT-LEAK" not in refused.detail


def test_bluesky_limit_and_rate_limit(tmp_path: Path, api: FakeSocialApi) -> None:
    settings = _settings(tmp_path, api)
    assert _post(settings, "bluesky", "ż" * 301) == ReplyOutcome(
        "failed", "the reply is 301 characters; Bluesky accepts at most 300"
    )
    assert api.requests == []
    reset = str(int(time.time()) + 90)
    api.fail_next(
        429, "createRecord", body=fixture("bluesky")["errors"]["429"], headers={"RateLimit-Reset": reset}
    )
    outcome = _post(settings, "bluesky")
    seconds = int(outcome.detail.removeprefix("rate-limited by Bluesky, try again in ").split(" ")[0])
    assert 85 <= seconds <= 91


# --- YouTube ------------------------------------------------------------------------------------------


def test_youtube_reply_renews_the_token_and_inserts_a_comment(
    tmp_path: Path, api: FakeSocialApi, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = _post(_settings(tmp_path, api), "youtube")
    assert outcome == ReplyOutcome("posted", "posted on YouTube")
    [token] = _writes(api, "/token")
    assert token.body == {
        "grant_type": "refresh_token",
        "client_id": "yt-client-id.apps.googleusercontent.com",
        "client_secret": "yt-client-secret-DO-NOT-LEAK",
        "refresh_token": "1//yt-refresh-token-DO-NOT-LEAK",
    }
    [insert] = _writes(api, "/youtube/v3/comments")
    assert insert.method == "POST" and insert.path == "/youtube/v3/comments?part=snippet"
    assert insert.headers["Authorization"].startswith("Bearer ya29.yt-access-")
    thread = stored_item("youtube")["external_id"]
    assert insert.body == {"snippet": {"parentId": thread, "textOriginal": PL}}
    _clean(outcome, api, caplog)


def test_youtube_reply_to_a_reply_goes_to_the_top_level_comment(tmp_path: Path, api: FakeSocialApi) -> None:
    assert _post(_settings(tmp_path, api), "youtube_reply").status == "posted"
    [insert] = _writes(api, "/youtube/v3/comments")
    assert insert.body["snippet"]["parentId"] == stored_item("youtube")["external_id"]


def test_youtube_quota_refused_renewal_and_api_key_only(tmp_path: Path, api: FakeSocialApi) -> None:
    api.fail_next(403, "/youtube/v3/comments", body=fixture("youtube")["errors"]["403_quota"])
    outcome = _post(_settings(tmp_path, api), "youtube")
    assert outcome.detail.startswith("YouTube's daily quota is spent (a reply costs 50 units)")
    expired = _settings(tmp_path, api, youtube={"reply_refresh_token": "1//revoked"})
    assert _post(expired, "youtube").detail == (
        "Google refused to renew the reply token (HTTP 400 invalid_grant): set "
        "EARSHOT_SOURCES__YOUTUBE__REPLY_REFRESH_TOKEN (youtube.force-ssl scope)"
    )
    key_only = {"reply_refresh_token": None, "client_id": None, "client_secret": None, "api_key": "AIza-key"}
    before = len(api.requests)
    outcome = _post(_settings(tmp_path, api, youtube=key_only), "youtube")
    assert outcome.status == "failed" and "an API key cannot post" in outcome.detail
    assert len(api.requests) == before


# --- Reddit -------------------------------------------------------------------------------------------


def test_reddit_reply_is_a_comment_on_the_fullname(
    tmp_path: Path, api: FakeSocialApi, caplog: pytest.LogCaptureFixture
) -> None:
    outcome = _post(_settings(tmp_path, api), "reddit")
    assert outcome == ReplyOutcome("posted", "posted on Reddit")
    [token] = _writes(api, "/api/v1/access_token")
    assert token.headers["Authorization"].startswith("Basic ")
    assert token.body == {"grant_type": "refresh_token", "refresh_token": "reddit-refresh-token-DO-NOT-LEAK"}
    [comment] = _writes(api, "/api/comment")
    assert comment.headers["Authorization"].startswith("bearer reddit-user-")
    assert comment.headers["User-Agent"] == "earshot-test/1.0 (by u/sklep)"
    assert comment.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert comment.body == {"api_type": "json", "thing_id": "t1_m0a0005", "text": PL}
    assert api.state.reddit_comments == [{"thing_id": "t1_m0a0005", "text": PL}]
    _clean(outcome, api, caplog)


def test_reddit_refusals_in_a_200_answer(tmp_path: Path, api: FakeSocialApi) -> None:
    settings = _settings(tmp_path, api)
    api.state.reddit_things["t1_m0a0005"] = "locked"
    assert _post(settings, "reddit") == ReplyOutcome(
        "failed", "Reddit refused the reply (THREAD_LOCKED: Comments are locked.)"
    )
    api.fail_next(200, "/api/comment", body=fixture("reddit")["errors"]["200_ratelimit"])
    assert _post(settings, "reddit") == ReplyOutcome("failed", "rate-limited by Reddit, try again in 300 s")
    assert api.state.reddit_comments == []


def test_reddit_fixed_token_and_none(tmp_path: Path, api: FakeSocialApi) -> None:
    api.state.reddit_access.add("fixed-user-token-DO-NOT-LEAK")
    fixed = {"reply_refresh_token": None, "reply_access_token": "fixed-user-token-DO-NOT-LEAK"}
    assert _post(_settings(tmp_path, api, reddit=fixed), "reddit").status == "posted"
    assert _writes(api, "/api/v1/access_token") == []
    none = _settings(tmp_path, api, reddit={"reply_refresh_token": None})
    outcome = _post(none, "reddit")
    assert outcome.status == "failed" and "EARSHOT_SOURCES__REDDIT__REPLY_REFRESH_TOKEN" in outcome.detail
    api.fail_next(401, "/api/comment", body=fixture("reddit")["errors"]["401"])
    refused = _post(_settings(tmp_path, api, reddit=fixed), "reddit")
    assert refused.detail.startswith(
        "token rejected by Reddit (HTTP 401): set EARSHOT_SOURCES__REDDIT__REPLY_REFRESH_TOKEN"
    )
    assert "fixed-user-token-DO-NOT-LEAK" not in refused.detail


@pytest.mark.parametrize(
    ("source", "urls"),
    [
        ("mastodon", {"base_url"}),
        ("bluesky", {"base_url"}),
        ("youtube", {"base_url", "token_uri"}),
        ("reddit", {"base_url", "auth_url"}),
    ],
)
def test_network_failure_is_an_outcome_not_an_exception(
    tmp_path: Path, api: FakeSocialApi, source: str, urls: set[str]
) -> None:
    closed = "http://127.0.0.1:9"  # the discard port: nothing listens
    sources = api.sources()
    sources[source] = {**sources[source], **dict.fromkeys(urls, closed)}
    settings = EarshotSettings(data_dir=tmp_path, sources=sources)
    outcome = _post(settings, source)
    assert outcome.status == "failed" and outcome.detail.endswith("try again"), outcome

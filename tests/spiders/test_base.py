"""What every source spider inherits from spiders.base: request budget, credentials, skip reasons, errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from scrapy.settings import Settings
from scrapy.spiderloader import get_spider_loader

from monitor.core.config import EarshotSettings, Target
from monitor.core.credentials import auth_command
from monitor.core.source_settings import GooglePlacesSettings, RssSettings, source_env_var
from spiders.base import ScopeState, SourceError, SourceSpider
from spiders.runner import available_spiders
from spiders.spiders.google_business import GoogleBusinessReviewsSpider
from spiders.spiders.google_places import GooglePlacesReviewsSpider
from spiders.spiders.rss import RssFeedSpider
from tests.spiders.conftest import LOC1, crawl, gbp_settings, mentions, scope, source_watermark
from tests.spiders.replay_server import ReplayServer, Reply, reviews_path
from tests.spiders.test_google_places_crawl import (
    KEY,
    PLACE_A,
    PLACE_B,
    PLACE_C,
    path,
    places_settings,
    served,
)
from tests.spiders.test_youtube_crawl import CHANNEL_A, yt_settings

PAGE2_TOKEN = "CiAKGAoUMTExMjIyMzMzLzkwMDEvcGFnZTIQAQ"


def test_request_budget_truncates_the_remaining_scopes_and_keeps_their_watermark(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    places = [PLACE_A, PLACE_B, PLACE_C]
    replay.add(path(PLACE_A), served("place_a.json"))
    replay.add(path(PLACE_B), served("place_b.json"))
    replay.add(path(PLACE_C), served("place_no_reviews.json"))

    tight = crawl(
        places_settings(sqlite_url, replay.base_url, places, max_requests=2), tmp_path, "google_places"
    )

    s = tight.summary
    assert (s.finish_reason, s.requests, s.items_new, s.errors) == ("finished", 2, 7, 0)
    assert [r.path for r in replay.requests] == [path(PLACE_A), path(PLACE_B)]  # scopes in config order
    assert tight.stats["earshot/scopes_truncated"] == 1 and tight.stats["earshot/budget_exhausted"] == 1
    assert "request budget of this run spent (sources.google_places.max_requests=2)" in tight.log
    assert "1 truncated" in tight.log
    assert source_watermark(sqlite_url, "google_places", f"places/{PLACE_A}") is not None
    assert source_watermark(sqlite_url, "google_places", f"places/{PLACE_C}") is None

    replay.reset()
    replay.add(path(PLACE_C), served("place_no_reviews.json"))
    roomy = crawl(
        places_settings(sqlite_url, replay.base_url, [PLACE_C], max_requests=5), tmp_path, "google_places"
    )

    assert (roomy.summary.requests, roomy.summary.errors) == (1, 0)
    assert roomy.stats["earshot/scopes_completed"] == 1 and "earshot/scopes_truncated" not in roomy.stats


def test_request_budget_stops_paging_mid_scope_without_moving_the_watermark(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    settings = gbp_settings(sqlite_url, replay.base_url, [LOC1])
    settings.sources.google_business.max_requests = 1
    replay.add(reviews_path("111222333", LOC1), Reply.fixture("loc1_page1.json"))
    replay.add(reviews_path("111222333", LOC1), Reply.fixture("loc1_page2.json"), page_token=PAGE2_TOKEN)

    cut = crawl(settings, tmp_path)

    assert (cut.summary.finish_reason, cut.summary.requests, cut.summary.items_new) == ("finished", 1, 3)
    assert cut.stats["earshot/scopes_truncated"] == 1
    assert source_watermark(sqlite_url, "google_business", scope(LOC1)) is None  # page 2 is still unread

    settings.sources.google_business.max_requests = 10
    whole = crawl(settings, tmp_path)

    assert (whole.summary.requests, whole.summary.items_new, whole.summary.items_unchanged) == (2, 2, 3)
    assert len(mentions(sqlite_url)) == 5
    assert source_watermark(sqlite_url, "google_business", scope(LOC1)) == datetime(
        2026, 11, 10, 9, 30, 12, 123456, tzinfo=UTC
    )


def test_a_credential_echoed_in_an_error_body_is_redacted(
    sqlite_url: str, replay: ReplayServer, tmp_path: Path
) -> None:
    body = {
        "error": {
            "code": 400,
            "message": f"API key not valid: {KEY}",  # some proxies and gateways echo what they got
            "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
        }
    }
    replay.add(path(PLACE_A), Reply(400, json.dumps(body).encode()))

    result = crawl(places_settings(sqlite_url, replay.base_url, [PLACE_A]), tmp_path, "google_places")

    assert result.summary.finish_reason == "auth_failed"
    assert KEY not in result.log and KEY not in json.dumps(result.stats)
    assert "API key not valid: [redacted]" in result.stats["earshot/error_messages"][0]


@pytest.mark.parametrize(
    ("spider", "settings_without_credential", "variable"),
    [
        (
            "google_business",
            lambda db_url, base_url: gbp_settings(db_url, base_url, [LOC1], token=None),
            "EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN",
        ),
        (
            "google_places",
            lambda db_url, base_url: places_settings(db_url, base_url, [PLACE_A], key="  "),
            "EARSHOT_SOURCES__GOOGLE_PLACES__API_KEY",
        ),
        (
            "youtube",
            lambda db_url, base_url: yt_settings(db_url, base_url, [CHANNEL_A], key=None),
            "EARSHOT_SOURCES__YOUTUBE__API_KEY",
        ),
    ],
)
def test_a_missing_credential_ends_the_run_before_any_request_naming_the_variable(
    spider: str,
    settings_without_credential: Callable[[str, str], EarshotSettings],
    variable: str,
    sqlite_url: str,
    replay: ReplayServer,
    tmp_path: Path,
) -> None:
    result = crawl(settings_without_credential(sqlite_url, replay.base_url), tmp_path, spider)

    s = result.summary
    assert (s.finish_reason, s.requests, s.items_new, s.errors, s.exit_code) == (
        "missing_credentials",
        0,
        0,
        1,
        0,
    )
    assert replay.requests == []
    assert variable in result.log
    assert variable in result.stats["earshot/error_messages"][0]


def test_every_source_section_has_a_spider_of_that_name() -> None:
    assert sorted(EarshotSettings().sources.by_name()) == available_spiders()


@pytest.mark.parametrize(
    ("spider", "config", "reason"),
    [
        (GooglePlacesReviewsSpider, {}, "not configured: set EARSHOT_SOURCES__GOOGLE_PLACES__API_KEY"),
        (
            GooglePlacesReviewsSpider,
            {"sources": {"google_places": {"api_key": "k"}}},
            "no target has place_ids",
        ),
        (
            GooglePlacesReviewsSpider,
            {"sources": {"google_places": {"api_key": "k"}}, "targets": [{"name": "T", "place_ids": ["p"]}]},
            None,
        ),
        (RssFeedSpider, {}, "no target has feeds"),
        (RssFeedSpider, {"targets": [{"name": "T", "feeds": ["https://blog.example.pl/feed"]}]}, None),
        (
            GoogleBusinessReviewsSpider,
            {"targets": [{"name": "T", "google_location_ids": ["1"]}]},
            "not configured: set EARSHOT_SOURCES__GOOGLE_BUSINESS__ACCESS_TOKEN (or run `earshot auth google`)",
        ),
        (
            GoogleBusinessReviewsSpider,
            {
                "sources": {"google_business": {"access_token": "t"}},
                "targets": [{"name": "T", "google_location_ids": ["1"]}],
            },
            "no target has google_account_id",
        ),
    ],
)
def test_skip_reason_says_why_a_run_would_do_nothing(
    spider: type[SourceSpider[Any]], config: dict[str, Any], reason: str | None
) -> None:
    assert spider.skip_reason(EarshotSettings(**config)) == reason


# One example value per target field, each valid for its field's validation.
WATCHED: dict[str, list[str]] = {
    "google_location_ids": ["9001"],
    "place_ids": ["ChIJtestPlace"],
    "keywords": ["Sklep Testowy"],
    "feeds": ["https://blog.example.pl/feed"],
    "ceneo_urls": ["/142071337"],
    "allegro_user_ids": ["48213977"],
    "trustpilot_business_unit_ids": ["5f8a1c2d3e4b5a0001c9d8e7"],
    "subreddits": ["Polska"],
    "hashtags": ["#SklepTestowy"],
    "youtube_channel_ids": ["UCxKomTestChannel00000AA"],
}


def _spider_classes() -> list[type[SourceSpider[Any]]]:
    loader = get_spider_loader(Settings({"SPIDER_MODULES": ["spiders.spiders"]}))
    classes = [loader.load(name) for name in available_spiders()]
    sources = [c for c in classes if issubclass(c, SourceSpider)]
    assert len(sources) == len(classes)  # every source is built on spiders.base
    return sources


@pytest.mark.parametrize("spider", _spider_classes(), ids=lambda spider: spider.name)
def test_every_source_says_what_it_lacks_and_runs_once_it_has_it(spider: type[SourceSpider[Any]]) -> None:
    section = spider.settings_section
    settings = EarshotSettings().sources.by_name()[section]
    fields = settings.credential_fields
    if fields:
        plain = "not configured: set " + ", ".join(
            source_env_var(section, field) for field in settings.missing_credentials()
        )
        # a source that `earshot auth <source>` can set up may say so
        assert spider.skip_reason(EarshotSettings()) in (plain, f"{plain} (or run `{auth_command(section)}`)")
    credentials = {section: dict.fromkeys(fields, "TEST-credential")}
    assert spider.target_fields and set(spider.target_fields) <= set(WATCHED)
    assert spider.skip_reason(EarshotSettings(sources=credentials)) == (
        f"no target has {' or '.join(spider.target_fields)}"
    )
    for field in spider.target_fields:
        target = Target(name="T", google_account_id="111222333", **{field: WATCHED[field]})
        assert spider.skip_reason(EarshotSettings(sources=credentials, targets=[target])) is None


def test_credentials_decide_whether_a_source_is_configured() -> None:
    assert RssSettings().is_configured and RssSettings().missing_credentials() == []
    assert not GooglePlacesSettings().is_configured
    assert GooglePlacesSettings(api_key="   ").missing_credentials() == ["api_key"]  # blank is unset
    configured = GooglePlacesSettings(api_key=" AIza-key ")
    assert configured.is_configured and configured.credential("api_key") == "AIza-key"
    assert "AIza-key" not in repr(configured)


def test_environment_sets_source_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARSHOT_SOURCES__GOOGLE_PLACES__API_KEY", "AIza-from-env")
    monkeypatch.setenv("EARSHOT_SOURCES__RSS__MAX_ITEMS_PER_FEED", "7")
    settings = EarshotSettings()
    assert settings.sources.google_places.credential("api_key") == "AIza-from-env"
    assert settings.sources.rss.max_items_per_feed == 7
    configured = {name for name, s in settings.sources.by_name().items() if s.is_configured}
    # The places key from the environment, and the sources that need no credential at all.
    assert configured == {"google_places", "rss", "ceneo", "hackernews"}
    assert set(settings.sources.by_name()) == set(available_spiders())


@pytest.mark.parametrize("feed", ["ftp://example.pl/feed.xml", "  ", "javascript:alert(1)"])
def test_a_feed_that_is_not_a_web_url_is_a_config_error(feed: str) -> None:
    with pytest.raises(ValidationError, match="feeds"):
        Target(name="T", feeds=[feed])


def test_scope_state_newness_and_error_descriptions() -> None:
    state = ScopeState(scope="s", target="t", watermark=datetime(2026, 11, 1, tzinfo=UTC))
    assert state.is_new(datetime(2026, 11, 1, 0, 0, 1, tzinfo=UTC))
    assert not state.is_new(datetime(2026, 11, 1, tzinfo=UTC))
    assert state.is_new(None)  # undated records cannot be placed, so they are read
    assert ScopeState(scope="s", target="t").is_new(datetime(2000, 1, 1, tzinfo=UTC))
    assert (
        SourceError(403, "PERMISSION_DENIED", "no", hint="ask").describe()
        == "HTTP 403 PERMISSION_DENIED: no (ask)"
    )
    assert SourceError(502, "", "Bad Gateway").describe() == "HTTP 502: Bad Gateway"

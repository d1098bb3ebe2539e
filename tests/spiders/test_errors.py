"""Every source's parser reports an unreadable answer as the one MalformedResponse, naming its source."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from spiders.errors import MalformedResponse
from spiders.feeds import FeedError, parse_feed
from spiders.google_business_reviews import parse_batch_page, parse_reviews_page
from spiders.spiders.allegro import parse_ratings_page
from spiders.spiders.bluesky import parse_search_page as parse_bluesky_page
from spiders.spiders.bluesky import parse_session
from spiders.spiders.ceneo import parse_opinions_page
from spiders.spiders.google_places import parse_place
from spiders.spiders.hackernews import parse_search_page as parse_hackernews_page
from spiders.spiders.mastodon import parse_search, parse_statuses
from spiders.spiders.reddit import parse_access_token, parse_listing
from spiders.spiders.trustpilot import parse_reviews_page as parse_trustpilot_page
from spiders.spiders.youtube import parse_threads_page

NOT_JSON = b"<html><title>Just a moment...</title></html>"


@pytest.mark.parametrize(
    ("source", "parse", "message"),
    [
        ("allegro", lambda: parse_ratings_page(NOT_JSON), "body is not JSON"),
        ("bluesky", lambda: parse_session(b"{}"), "no accessJwt"),
        ("bluesky", lambda: parse_bluesky_page(NOT_JSON), "body is not JSON"),
        (
            "ceneo",
            lambda: parse_opinions_page("<html></html>", "https://x.test/1", first_page=False),
            "later",
        ),
        ("google_business", lambda: parse_reviews_page(NOT_JSON, first_page=True), "body is not JSON"),
        ("google_business", lambda: parse_batch_page(b'{"nextPageToken": "t"}'), "locationReviews"),
        ("google_places", lambda: parse_place(b"{}"), "no place 'id'"),
        ("hackernews", lambda: parse_hackernews_page(b"[]"), "expected a JSON object"),
        ("mastodon", lambda: parse_statuses(b"{}"), "expected a JSON array"),
        ("mastodon", lambda: parse_search(b"[]"), "expected a search result object"),
        ("reddit", lambda: parse_access_token(b"{}"), "no access_token"),
        ("reddit", lambda: parse_listing(NOT_JSON), "body is not JSON"),
        ("rss", lambda: parse_feed(NOT_JSON, "https://x.test/feed"), "not an Atom or RSS feed"),
        ("trustpilot", lambda: parse_trustpilot_page(b"{}"), "no 'reviews' list"),
        ("youtube", lambda: parse_threads_page(b'{"kind": "youtube#videoListResponse"}'), "kind is"),
    ],
)
def test_every_parser_raises_the_one_malformed_response(
    source: str, parse: Callable[[], Any], message: str
) -> None:
    with pytest.raises(MalformedResponse, match=message) as caught:
        parse()
    assert caught.value.source == source
    assert isinstance(caught.value, ValueError)
    assert "watermark" in caught.value.hint  # what it means for the user, kept out of the message


def test_a_feed_error_is_a_malformed_response_with_its_reason() -> None:
    with pytest.raises(FeedError) as caught:
        parse_feed(b"<rss><channel>", "https://x.test/feed")
    assert isinstance(caught.value, MalformedResponse)
    assert (caught.value.source, caught.value.reason) == ("rss", "not_xml")

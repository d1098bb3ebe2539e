"""The replay server every crawl test relies on: routing, POST bodies, filled-in headers, request lookups."""

from __future__ import annotations

import json
import time
import urllib.request
from urllib.error import HTTPError
from urllib.parse import quote, urlencode

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.spiders.replay_server import ReplayServer, Reply

_text = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=20)  # no lone surrogates


def _fetch(url: str, data: bytes | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url, data=data)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read(), dict(response.headers.items())
    except HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers.items())


def test_routes_by_query_parameters_with_absent_ones_and_falls_back_to_paths() -> None:
    with ReplayServer() as replay:
        replay.route("/search", Reply.json({"page": 1}), q="sklep", after=None)
        replay.route("/search", Reply.json({"page": 2}), q="sklep", after="t3_x")
        replay.add("/plain", Reply.json({"plain": True}))

        assert json.loads(_fetch(f"{replay.base_url}/search?q=sklep")[1]) == {"page": 1}
        assert json.loads(_fetch(f"{replay.base_url}/search?q=sklep&after=t3_x")[1]) == {"page": 2}
        status, body, _ = _fetch(f"{replay.base_url}/search?q=other")
        assert status == 404 and json.loads(body)["error"]["status"] == "NOT_FOUND"
        assert json.loads(_fetch(f"{replay.base_url}/plain?q=anything")[1]) == {"plain": True}
        assert [r.path for r in replay.requests] == ["/search", "/search", "/search", "/plain"]
        assert [r.query["q"] for r in replay.requests_for("/search", after=None)] == [["sklep"], ["other"]]


def test_the_route_with_most_parameters_wins_and_queues_repeat_their_last_reply() -> None:
    with ReplayServer() as replay:
        replay.route("/r", Reply.json("any page"), q="x")
        replay.route("/r", Reply.json("first"), Reply.json("again"), q="x", page="2")

        answers = [json.loads(_fetch(f"{replay.base_url}/r?q=x&page=2")[1]) for _ in range(3)]
        assert answers == ["first", "again", "again"]
        assert json.loads(_fetch(f"{replay.base_url}/r?q=x&page=3")[1]) == "any page"
        assert _fetch(f"{replay.base_url}/elsewhere")[0] == 404


def test_posts_are_answered_and_kept_and_headers_are_filled_in_when_served() -> None:
    with ReplayServer() as replay:
        replay.route(
            "/token", Reply(200, b"{}", {"Link": "<{base}/next>", "Reset": "{epoch+5}", "At": "{iso}"})
        )

        before = int(time.time())
        status, _, headers = _fetch(f"{replay.base_url}/token", data=b"grant_type=client_credentials")

        assert status == 200
        assert [(p.path, p.body) for p in replay.posts] == [("/token", b"grant_type=client_credentials")]
        assert replay.gets == [] and replay.posts[0].page_token is None  # a form body has no page token
        assert headers["Link"] == f"<{replay.base_url}/next>"
        assert before + 5 <= int(headers["Reset"]) <= int(time.time()) + 5
        assert headers["At"].endswith("Z") and headers["At"][:4].isdigit()


def test_a_posts_page_token_comes_from_its_json_body() -> None:
    with ReplayServer() as replay:
        replay.add("/batch", Reply.json({"page": 1}))
        replay.add("/batch", Reply.json({"page": 2}), page_token="P2")

        first = _fetch(f"{replay.base_url}/batch", data=json.dumps({"names": ["a"]}).encode())
        second = _fetch(f"{replay.base_url}/batch", data=json.dumps({"pageToken": "P2"}).encode())

        assert [json.loads(first[1]), json.loads(second[1])] == [{"page": 1}, {"page": 2}]
        assert [p.page_token for p in replay.posts] == [None, "P2"]
        assert replay.posts[0].json_body == {"names": ["a"]}


@settings(max_examples=40, deadline=None)
@given(keyword=_text, offset=st.integers(0, 10_000))
def test_any_query_value_is_routed_and_looked_up_as_it_was_sent(keyword: str, offset: int) -> None:
    with ReplayServer() as replay:
        replay.route("/s", Reply.json({"hit": True}), **{"user.id": keyword, "offset": str(offset)})
        query = urlencode({"user.id": keyword, "offset": offset}, quote_via=quote)

        status, body, _ = _fetch(f"{replay.base_url}/s?{query}")

        assert (status, json.loads(body)) == (200, {"hit": True})
        [request] = replay.requests_for("/s", **{"user.id": keyword})
        assert request.query["offset"] == [str(offset)]

"""The item page's reply area per source: a source with a reply API (Mastodon) posts through the same
``reply_to_item`` path as Slack, against the loopback FakeSocialApi; a source without one (Ceneo) says so,
in English and Polish, and offers "Copy reply and open source"."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from monitor.core.models import ReplyRecord
from tests.alerts.fake_social import MASTODON_TOKEN, FakeSocialApi
from tests.alerts.social_items import store_mention, stored_item
from tests.web.conftest import USER, Site, SiteFactory

TEXT = "Dzień dobry, przepraszamy za opóźnienie. Napiszemy do Pana w wiadomości prywatnej."


@pytest.fixture
def social() -> Iterator[FakeSocialApi]:
    with FakeSocialApi() as fake:
        fake.state.mastodon_statuses.add(str(stored_item("mastodon")["raw"]["id"]))
        yield fake


@pytest.fixture
def social_site(make_site: SiteFactory, engine: Engine, social: FakeSocialApi) -> Site:
    return make_site(engine, sources=social.sources())


def _reply_area(page: str) -> str:
    return page[page.index('id="reply-form"') : page.index("</form>", page.index('id="reply-form"'))]


def test_ceneo_item_says_it_has_no_reply_api_and_offers_copy_and_open(site: Site) -> None:
    item = site.seed.mentions["ceneo_pl_negative"]
    client = site.logged_in()
    area = html.unescape(_reply_area(client.get(f"/items/{item}", headers={"Accept-Language": "en"}).text))
    assert "Ceneo has no reply API: post it yourself on the source, then record it here." in area
    assert 'id="post-reply">Record reply<' in area
    copy = area[area.index('id="copy-reply"') - 3 : area.index("</a>", area.index('id="copy-reply"'))]
    assert copy.startswith("<a ") and "data-copy-reply" in copy
    assert 'href="https://www.ceneo.pl/142071337#opinia-1"' in copy
    assert 'target="_blank"' in copy and "noopener" in copy
    assert copy.endswith(">Copy reply and open source")
    polish = html.unescape(_reply_area(client.get(f"/items/{item}", headers={"Accept-Language": "pl"}).text))
    assert "Ceneo nie ma API odpowiedzi" in polish and 'id="copy-reply"' in polish
    script = client.get("/static/app.js").text
    assert "data-copy-reply" in script and "clipboard.writeText" in script


def test_an_item_without_a_link_offers_copy_only(site: Site) -> None:
    item = site.seed.mentions["mastodon_hostile"]  # has no safe link, but Mastodon takes replies now
    area = _reply_area(site.logged_in().get(f"/items/{item}").text)
    assert 'id="post-reply">Post reply on Mastodon<' in area and 'id="copy-reply"' not in area


def test_reply_from_the_item_page_is_posted_on_mastodon(social_site: Site, social: FakeSocialApi) -> None:
    mention_id = store_mention(social_site.engine, "mastodon")
    client = social_site.logged_in()
    area = _reply_area(client.get(f"/items/{mention_id}").text)
    assert 'id="post-reply">Post reply on Mastodon<' in area and 'id="copy-reply"' not in area
    assert "Earshot posts it on the source for you." in area
    assert client.act(mention_id, "reply", text=TEXT).status == 303
    [status] = [r for r in social.requests if r.path == "/api/v1/statuses"]
    assert status.headers["Authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert status.body["in_reply_to_id"] == stored_item("mastodon")["raw"]["id"]
    assert status.body["status"] == f"@kuba@101010.pl {TEXT}"
    with Session(social_site.engine) as session:
        records = session.exec(select(ReplyRecord).where(col(ReplyRecord.mention_id) == mention_id)).all()
    assert [(r.status, r.via, r.author, r.text) for r in records] == [("posted", "web", f"web:{USER}", TEXT)]
    page = client.get(f"/items/{mention_id}").text
    assert "Reply posted." in page

"""Tags: the name rule (hypothesis), the item page's add / remove through HTTP, escaping, and revision 0010
upgrading a database of revision 0008 (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime

import pytest
from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import inspect, text
from sqlmodel import Session

from monitor.core.db import open_engine
from monitor.core.migrations import alembic_config, ensure_schema
from monitor.core.models import Mention
from monitor.web.tags import MAX_TAG, TagError, add_tag, normalise_tag, remove_tag, tags_of
from tests.monitor.core.schema_helpers import build_at, schema_diffs
from tests.web.conftest import Site

_ALLOWED = re.compile(r"^[\w \-]+$")


@given(st.text(alphabet=string.ascii_letters + "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ -_\t\n<>&\"'#é1", max_size=60))
def test_a_normalised_tag_is_trimmed_lower_case_bounded_and_stable(raw: str) -> None:
    try:
        tag = normalise_tag(raw)
    except TagError as exc:
        assert str(exc)  # says why
        assert (
            any(c in raw for c in "<>&\"'#")
            or len(" ".join(raw.split())) > MAX_TAG
            or not raw.strip(" -_\t\n")
        )
        return
    assert tag == tag.strip() and tag == tag.lower() and "  " not in tag and 0 < len(tag) <= MAX_TAG
    assert _ALLOWED.match(tag)
    assert normalise_tag(tag) == tag  # idempotent: the stored form is its own normal form
    assert normalise_tag(tag.upper()) == tag


@given(st.text(max_size=80))
def test_any_text_is_a_tag_or_a_reason(raw: str) -> None:
    try:
        tag = normalise_tag(raw)
    except TagError:
        return
    assert normalise_tag(tag) == tag and len(tag) <= MAX_TAG and "<" not in tag and "&" not in tag


def test_polish_letters_stay_and_case_folds() -> None:
    assert normalise_tag("  ŻÓŁTA   Kartka ") == "żółta kartka"
    assert normalise_tag("Za\u0328") == "zą"  # a + combining ogonek is the ą of the filter (NFC)
    with pytest.raises(TagError, match="at most 40"):
        normalise_tag("x" * 41)
    with pytest.raises(TagError, match="letter or digit"):
        normalise_tag(" - ")


def test_item_page_adds_shows_and_removes_tags(site: Site) -> None:
    client = site.logged_in()
    item = site.seed.mentions["mastodon_hostile"]
    reply = client.act(item, "tags", tag="VIP Klient")
    assert reply.status == 303 and reply.location == f"/items/{item}"
    page = client.get(f"/items/{item}").text
    assert "Tagged vip klient." in page
    assert re.search(r'<a class="tag" href="/inbox\?tag=vip\+klient">vip klient</a>', page)
    assert (
        "It already has the tag vip klient."
        in client.get(client.act(item, "tags", tag="vip klient").location or "").text
    )
    refused = client.get(client.act(item, "tags", tag="<img src=x onerror=alert(1)>").location or "").text
    assert "Not saved: a tag holds only letters" in refused and "<img src=x" not in refused
    assert "&#39;&lt;&#39;" in refused or "&lt;" in refused
    assert client.act(item, "tags/remove", tag="VIP klient").status == 303
    page = client.get(f"/items/{item}").text
    assert "Tag vip klient removed." in page and 'class="tag"' not in page
    assert client.post(f"/items/{item}/tags", {"tag": "x"}).status == 403  # no CSRF token
    token = client.csrf_from("/inbox")
    assert client.post("/items/999999999/tags", {"csrf_token": token, "tag": "x"}).status == 404


def test_tag_store_is_idempotent(site: Site) -> None:
    m = site.seed.mentions
    ids = [m["gbp_pl_negative"], m["tp_en_neutral"], 10**9]  # one id has no mention: skipped
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert add_tag(site.engine, ids, "Kurier", "web:t", now) == 2
    assert add_tag(site.engine, ids, "kurier ", "web:t", now) == 0
    with Session(site.engine) as s:
        assert tags_of(s, ids) == {ids[0]: ("kurier",), ids[1]: ("kurier",)}
    assert remove_tag(site.engine, ids, "KURIER") == 2
    assert remove_tag(site.engine, ids, "kurier") == 0


def test_revision_0010_upgrades_a_0008_database(db_url: str) -> None:
    build_at(db_url, "0008")
    engine = open_engine(db_url)
    with Session(engine) as s:
        now = datetime(2026, 12, 1, tzinfo=UTC)
        s.add(Mention(source="rss", external_id="a", text="x", first_seen_at=now, last_seen_at=now))
        s.commit()
    change = ensure_schema(engine)
    assert change.before == "0008" and "0010" in change.applied
    mine = [d for d in schema_diffs(engine) if "mention_tags" in str(d)]
    assert mine == []
    names = {ix["name"] for ix in inspect(engine).get_indexes("mentions")}
    names |= {ix["name"] for ix in inspect(engine).get_indexes("alerts")}
    assert {"ix_inbox_reach", "ix_inbox_alert_severity", "ix_inbox_alert_open"} <= names
    assert add_tag(engine, [1], "zwrot", "web:t", now) == 1
    with engine.connect() as conn:
        command.downgrade(alembic_config(connection=conn), "0009")
        conn.commit()
        assert "mention_tags" not in inspect(conn).get_table_names()
        assert "ix_inbox_reach" not in {ix["name"] for ix in inspect(conn).get_indexes("mentions")}
        command.upgrade(alembic_config(connection=conn), "0010")
        conn.commit()
        assert conn.execute(text("SELECT count(*) FROM mention_tags")).scalar_one() == 0
    engine.dispose()

"""The Slack message: what it shows, that untrusted text stays inert, that it always fits Slack's limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.rules import MentionView, ScoreView
from alerts.slack_blocks import SlackLimits, SlackMessage, build_message, limit_violations, stars, truncate
from monitor.config import EarshotSettings
from monitor.models import Alert
from tests.alerts.helpers import PUBLIC_URL, make_settings, review

_DATE_TOKEN = re.compile(r"<!date\^\d+\^\{date_short_pretty\} \{time\}\|[0-9: -]+UTC>")


def view(key: str = "pl_negative", **overrides: Any) -> MentionView:
    r = review(key)
    fields: dict[str, Any] = {
        "id": 42,
        "source": r["source"],
        "target": r["target"],
        "text": r["text"],
        "author": r["author"],
        "url": r["url"],
        "rating": r["rating"],
        "lang": r["lang"],
        "created_at": datetime(2024, 5, 1, 14, 3, tzinfo=UTC),
        "version": 1,
    }
    fields.update(overrides)
    return MentionView(**fields)


def alert(kind: str = "low_rating", reason: str = "rated 1★; sentiment negative (-0.91)") -> Alert:
    return Alert(id=9, dedupe_key="mention:42:alert", mention_id=42, kind=kind, reason=reason, channel="#c")


SCORE = ScoreView(label="negative", score=-0.91, confidence=0.95)


def the_settings(tmp_path: Path, excerpt_chars: int = 600) -> EarshotSettings:
    s = make_settings(tmp_path)
    return s.model_copy(update={"alerts": s.alerts.model_copy(update={"excerpt_chars": excerpt_chars})})


def mrkdwn_texts(message: SlackMessage) -> list[str]:
    texts = [message.text]
    for block in message.blocks:
        if block.get("text", {}).get("type") == "mrkdwn":
            texts.append(block["text"]["text"])
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return texts


def test_polish_negative_review_message(tmp_path: Path) -> None:
    msg = build_message(alert(), view(), SCORE, the_settings(tmp_path))
    header, why, excerpt, actions, context = msg.blocks
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Low rating: Sklep Zielony", "emoji": False},
    }
    assert why["text"]["text"] == "*Why:* rated 1★; sentiment negative (-0.91)"
    fields = {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in why["fields"]}
    assert fields["*Source*"] == "google_business"
    assert fields["*Target*"] == "Sklep Zielony"
    assert fields["*Rating*"] == "★☆☆☆☆ 1/5"
    assert fields["*Sentiment*"] == "negative (-0.91, confidence 95%)"
    assert fields["*Author*"] == "Łukasz Żółć"
    assert fields["*Posted*"] == "<!date^1714572180^{date_short_pretty} {time}|2024-05-01 14:03 UTC>"
    assert excerpt["text"]["text"] == review("pl_negative")["text"]  # short enough: whole, Polish intact
    buttons = {b["action_id"]: b for b in actions["elements"]}
    assert buttons["earshot_open_review"]["url"] == review("pl_negative")["url"]
    assert buttons["earshot_open_item"]["url"] == f"{PUBLIC_URL}/items/42"
    assert all(b["text"]["emoji"] is False for b in buttons.values())
    assert context["elements"][0]["text"] == "Alert #9 · mention #42 v1 · lang pl"
    assert msg.text.startswith(
        "Low rating: Sklep Zielony: rated 1★; sentiment negative (-0.91) — “Zamówienie przyszło"
    )
    assert "Łukasz Żółć" in msg.plain and "https://maps.google.com/" in msg.plain
    assert limit_violations(msg) == []


def test_hostile_review_cannot_ping_or_link(tmp_path: Path) -> None:
    msg = build_message(
        alert("negative", "sentiment negative (-0.97)"), view("hostile"), SCORE, the_settings(tmp_path)
    )
    for text in mrkdwn_texts(msg):
        inert = _DATE_TOKEN.sub("", text)  # our own date token is the one control sequence we send
        assert "<" not in inert and ">" not in inert, text
    assert "zażółć gęślą jaźń" in msg.blocks[2]["text"]["text"]
    assert "pogrubione" in msg.blocks[2]["text"]["text"] and "alert(1)" not in msg.blocks[2]["text"]["text"]
    # javascript: links never become buttons; the Earshot link remains.
    assert [b["action_id"] for b in msg.blocks[3]["elements"]] == ["earshot_open_item"]
    assert (
        msg.blocks[0]["text"]["text"] == "Negative mention: Sklep <!channel>"
    )  # plain_text: shown, not parsed


def test_long_text_is_cut_to_excerpt_chars_with_an_ellipsis(tmp_path: Path) -> None:
    text = "Bardzo źle. " * 200
    msg = build_message(alert(), view(text=text), SCORE, the_settings(tmp_path, excerpt_chars=100))
    excerpt = msg.blocks[2]["text"]["text"]
    assert excerpt.endswith("…") and len(excerpt) <= 100
    assert excerpt.startswith("Bardzo źle. Bardzo źle.")


def test_escaping_expansion_still_fits_the_section_limit(tmp_path: Path) -> None:
    msg = build_message(alert(), view(text="&<>" * 2000), SCORE, the_settings(tmp_path, excerpt_chars=2900))
    assert len(msg.blocks[2]["text"]["text"]) <= SlackLimits.SECTION_TEXT
    assert limit_violations(msg) == []


def test_missing_fields_render_placeholders(tmp_path: Path) -> None:
    m = view(author=None, target=None, rating=None, url=None, lang=None, created_at=None, text="")
    msg = build_message(alert("negative", ""), m, None, the_settings(tmp_path))
    texts = " ".join(f["text"] for f in msg.blocks[1]["fields"])
    assert "_no rating_" in texts and "not scored" in texts and "_unknown_" in texts
    assert msg.blocks[2]["text"]["text"] == "_(no text)_"
    assert msg.blocks[0]["text"]["text"] == "Negative mention: google_business"
    assert msg.text and limit_violations(msg) == []


def test_stars_and_truncate() -> None:
    assert stars(1) == "★☆☆☆☆ 1/5"
    assert stars(2.5) == "★★★☆☆ 2.5/5"
    assert stars(7) == "★★★★★ 7/5"
    assert truncate("abc", 3) == "abc"
    assert truncate("ala ma kota", 8) == "ala ma…"
    assert truncate("😀" * 10, 5) == "😀😀…"  # emoji count as two UTF-16 units


urls = st.one_of(
    st.none(),
    st.text(max_size=50),
    st.just("javascript:alert(1)"),
    st.just("https://x.pl/" + "a" * 3100),
    st.builds(lambda p: f"https://example.com/{p}", st.text(max_size=200)),
)


@settings(max_examples=150, deadline=None)
@given(
    text=st.text(max_size=4000) | st.just("&" * 4000),
    author=st.none() | st.text(max_size=3000),
    target=st.none() | st.text(max_size=500),
    source=st.text(max_size=300),
    url=urls,
    rating=st.none() | st.floats(min_value=0, max_value=5),
    value=st.floats(min_value=-1, max_value=1),
    reason=st.text(max_size=2000),
    excerpt_chars=st.integers(min_value=50, max_value=2900),
)
def test_built_messages_never_exceed_slack_limits(
    text: str,
    author: str | None,
    target: str | None,
    source: str,
    url: str | None,
    rating: float | None,
    value: float,
    reason: str,
    excerpt_chars: int,
) -> None:
    base = make_settings(Path("/tmp/unused"))
    s = base.model_copy(update={"alerts": base.alerts.model_copy(update={"excerpt_chars": excerpt_chars})})
    m = view(text=text, author=author, target=target, source=source, url=url, rating=rating)
    msg = build_message(alert(reason=reason), m, ScoreView("negative", value, 0.5), s)
    assert limit_violations(msg) == []
    for t in mrkdwn_texts(msg):
        assert "<!channel>" not in t and "<@" not in t and "<#" not in t

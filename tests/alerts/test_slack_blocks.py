"""The Slack message: what it shows, that untrusted text stays inert, that it always fits Slack's limits."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts import action_ids
from alerts.mention_message import build_message
from alerts.message_limits import limit_violations
from alerts.rules import AspectView, MentionView, ScoreView, UrgencyReasonView
from alerts.slack_format import URGENCY_REASON_LABELS, SlackLimits, SlackMessage, stars, truncate
from monitor.core.config import EarshotSettings, ReplySettings, Target
from monitor.core.models import Alert
from sentiment.vocabulary import ASPECT_KEYS, aspect_label
from tests.alerts.helpers import PUBLIC_URL, make_settings, review

ROOT = Path(__file__).resolve().parents[2]
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
        "reach": 12345,
    }
    fields.update(overrides)
    return MentionView(**fields)


def alert(
    kind: str = "low_rating", reason: str = "rated 1★; sentiment negative (-0.91)", **extra: Any
) -> Alert:
    fields: dict[str, Any] = {"rule": "negatywne", "severity": "negative"}
    fields.update(extra)
    return Alert(
        id=9, dedupe_key="mention:42:alert", mention_id=42, kind=kind, reason=reason, channel="#c", **fields
    )


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


def by_type(msg: SlackMessage) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for block in msg.blocks:
        out.setdefault(block["type"], []).append(block)
    return out


def fields_of(msg: SlackMessage) -> dict[str, str]:
    why = next(b for b in msg.blocks if "fields" in b)
    return {f["text"].split("\n")[0]: f["text"].split("\n", 1)[1] for f in why["fields"]}


def excerpt_of(msg: SlackMessage) -> str:
    """The excerpt section: the section right before the links block."""
    i = next(i for i, b in enumerate(msg.blocks) if b.get("block_id", "").startswith("earshot_links_"))
    j = i - 1
    while msg.blocks[j]["type"] != "section" or msg.blocks[j]["text"]["text"].startswith("*Suggested reply*"):
        j -= 1
    return str(msg.blocks[j]["text"]["text"])


def actions_of(msg: SlackMessage) -> dict[str, Any]:
    return next(b for b in msg.blocks if b.get("block_id", "").startswith(action_ids.ACTIONS_BLOCK_PREFIX))


def test_polish_negative_review_message(tmp_path: Path) -> None:
    msg = build_message(alert(), view(), SCORE, the_settings(tmp_path))
    header = msg.blocks[0]
    assert header == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Low rating: Sklep Zielony", "emoji": False},
    }
    why = next(b for b in msg.blocks if "fields" in b)
    assert why["text"]["text"] == "*Why:* rated 1★; sentiment negative (-0.91)"
    assert msg.blocks[1]["text"]["text"] == (
        "🔴 *negative* (-0.91, confidence 95%)  ·  severity *negative*  ·  rule *negatywne*"
    )
    fields = fields_of(msg)
    assert fields["*Source*"] == "google_business"
    assert fields["*Target*"] == "Sklep Zielony"
    assert fields["*Rating*"] == "★☆☆☆☆ 1/5"
    assert fields["*Author*"] == "Łukasz Żółć"
    assert fields["*Reach*"] == "12,345"
    assert fields["*Language*"] == "pl"
    assert fields["*Posted*"] == "May 1, 2024, 14:03 UTC"  # Babel, in slack.timezone, zone shown
    assert excerpt_of(msg) == review("pl_negative")["text"]  # short enough: whole, Polish intact
    links = next(b for b in msg.blocks if b.get("block_id") == "earshot_links_42")
    buttons = {b["action_id"]: b for b in links["elements"]}
    assert buttons["earshot_open_review"]["url"] == review("pl_negative")["url"]
    assert buttons["earshot_open_item"]["url"] == f"{PUBLIC_URL}/items/42"
    assert all(b["text"]["emoji"] is False for b in buttons.values())
    assert msg.blocks[-1]["elements"][0]["text"] == "Alert #9 · mention #42 v1 · rule negatywne"
    assert msg.text.startswith(
        "Low rating: Sklep Zielony: rated 1★; sentiment negative (-0.91) — “Zamówienie przyszło"
    )
    assert "Łukasz Żółć" in msg.plain and "https://maps.google.com/" in msg.plain
    assert "Reach: 12,345" in msg.plain
    assert limit_violations(msg) == []


def test_hostile_review_cannot_ping_or_link(tmp_path: Path) -> None:
    msg = build_message(
        alert("negative", "sentiment negative (-0.97)"), view("hostile"), SCORE, the_settings(tmp_path)
    )
    for text in mrkdwn_texts(msg):
        inert = _DATE_TOKEN.sub("", text)  # our own date token is the one control sequence we send
        assert "<" not in inert and ">" not in inert, text
    excerpt = excerpt_of(msg)
    assert "zażółć gęślą jaźń" in excerpt
    assert "pogrubione" in excerpt and "alert(1)" not in excerpt
    # javascript: links never become buttons; the Earshot link remains.
    links = next(b for b in msg.blocks if b.get("block_id") == "earshot_links_42")
    assert [b["action_id"] for b in links["elements"]] == ["earshot_open_item"]
    assert (
        msg.blocks[0]["text"]["text"] == "Negative mention: Sklep <!channel>"
    )  # plain_text: shown, not parsed


def test_long_text_is_cut_to_excerpt_chars_with_an_ellipsis(tmp_path: Path) -> None:
    text = "Bardzo źle. " * 200
    msg = build_message(alert(), view(text=text), SCORE, the_settings(tmp_path, excerpt_chars=100))
    excerpt = excerpt_of(msg)
    assert excerpt.endswith("…") and len(excerpt) <= 100
    assert excerpt.startswith("Bardzo źle. Bardzo źle.")


def test_escaping_expansion_still_fits_the_section_limit(tmp_path: Path) -> None:
    msg = build_message(alert(), view(text="&<>" * 2000), SCORE, the_settings(tmp_path, excerpt_chars=2900))
    assert len(excerpt_of(msg)) <= SlackLimits.SECTION_TEXT
    assert limit_violations(msg) == []


def test_missing_fields_render_placeholders(tmp_path: Path) -> None:
    m = view(author=None, target=None, rating=None, url=None, lang=None, created_at=None, text="")
    msg = build_message(alert("negative", "", rule=None), m, None, the_settings(tmp_path))
    fields = fields_of(msg)
    assert fields["*Rating*"] == "_no rating_" and fields["*Author*"] == "_unknown_"
    assert fields["*Language*"] == "_unknown_" and fields["*Posted*"] == "_unknown_"
    assert msg.blocks[1]["text"]["text"] == "❔ not scored  ·  severity *negative*"
    assert excerpt_of(msg) == "_(no text)_"
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


# ------------------------------------------------------------------------ badges, fields, aspects, reply


def test_english_low_rating_with_neutral_sentiment(tmp_path: Path) -> None:
    score = ScoreView(label="neutral", score=-0.1, confidence=0.7, lang="en")
    msg = build_message(
        alert(reason="rated 2★"), view("en_low_rating", reach=None), score, the_settings(tmp_path)
    )
    assert msg.blocks[0]["text"]["text"] == "Low rating: Green Shop"
    assert msg.blocks[1]["text"]["text"].startswith("⚪ *neutral* (-0.10, confidence 70%)")
    assert excerpt_of(msg) == "Delivery was late &amp; the box was damaged. Support answered after a week."
    assert fields_of(msg)["*Rating*"] == "★★☆☆☆ 2/5" and fields_of(msg)["*Reach*"] == "_unknown_"
    assert "Delivery was late & the box" in msg.plain  # the console shows the text itself


def test_polish_text_without_diacritics_passes_unchanged(tmp_path: Path) -> None:
    m = view(text="Zamowienie nie dotarlo, zadam zwrotu pieniedzy", author="Lukasz Zolc")
    msg = build_message(alert(), m, SCORE, the_settings(tmp_path))
    assert excerpt_of(msg) == "Zamowienie nie dotarlo, zadam zwrotu pieniedzy"
    assert fields_of(msg)["*Author*"] == "Lukasz Zolc"


def test_urgent_alert_shows_urgency_reasons_and_aspects_readably(tmp_path: Path) -> None:
    score = ScoreView(
        label="negative",
        score=-0.95,
        confidence=0.9,
        urgency="critical",
        urgency_reasons=(
            UrgencyReasonView("legal_threat", "pozew", "critical"),
            UrgencyReasonView("health_safety", "zatrucie", "critical"),
            UrgencyReasonView("legal_threat", "prawnik", "elevated"),
        ),
        aspects=(
            AspectView("delivery", "negative"),
            AspectView("price", "neutral"),
            AspectView("customer_service", "positive"),
            AspectView("gift_wrap <!here>", None),
        ),
        lang="pl",
    )
    msg = build_message(
        alert("urgent", "urgency critical", severity="urgent", rule="urgent"),
        view(),
        score,
        the_settings(tmp_path),
    )
    assert msg.blocks[0]["text"]["text"] == "🚨 Urgent: Sklep Zielony"
    assert msg.blocks[1]["text"]["text"] == (
        "🔴 *negative* (-0.95, confidence 90%)  ·  🚨 critical: legal threat, health/safety"
        "  ·  severity *urgent*  ·  rule *urgent*"
    )
    aspects = next(b for b in msg.blocks if b["type"] == "context" and "Aspects" in b["elements"][0]["text"])
    assert aspects["elements"][0]["text"] == (
        "*Aspects:* Delivery 🔴 · Price ⚪ · Customer service 🟢 · Gift wrap &lt;!here&gt;"
    )
    assert "Aspects: Delivery (negative), Price (neutral)" in msg.plain


def test_elevated_urgency_and_keyword_kind(tmp_path: Path) -> None:
    score = ScoreView(
        "negative",
        -0.6,
        0.8,
        urgency="elevated",
        urgency_reasons=(UrgencyReasonView("high_reach", "", "elevated"),),
    )
    msg = build_message(alert("keyword", "keyword “zwrot”"), view(), score, the_settings(tmp_path))
    assert msg.blocks[0]["text"]["text"] == "Keyword match: Sklep Zielony"
    assert "⚠️ elevated: high reach" in msg.blocks[1]["text"]["text"]


def reply_settings(tmp_path: Path, formal: bool) -> EarshotSettings:
    s = the_settings(tmp_path)
    target = Target(name="Sklep Zielony", reply=ReplySettings(formal=formal))
    return s.model_copy(update={"targets": [target]})


def suggested_section(msg: SlackMessage) -> str:
    return next(
        b["text"]["text"]
        for b in msg.blocks
        if b["type"] == "section" and b["text"]["text"].startswith("*Suggested")
    )


def test_suggested_reply_says_language_and_form_and_is_escaped_and_cut(tmp_path: Path) -> None:
    reply = "Dzień dobry, przepraszamy <!channel> & dziękujemy. " + "Bardzo nam przykro. " * 200
    similar = [
        {"text": "Przepraszamy za opóźnienie dostawy. " * 20, "similarity": 0.87},
        {"text": "Sorry <@U123> for the delay", "similarity": 74},
        {"text": "third one is not shown", "similarity": 0.99},
    ]
    a = alert(suggested_reply=reply, payload={"similar_replies": similar})
    msg = build_message(a, view(), SCORE, the_settings(tmp_path))
    text = suggested_section(msg)
    head, body = text.split("\n", 1)
    assert head == "*Suggested reply* (pl, formal) — edit it in Reply"
    assert body.startswith("Dzień dobry, przepraszamy &lt;!channel&gt; &amp; dziękujemy.")
    assert (
        body.endswith("…")
        and len(body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")) <= 1500
    )
    i = msg.blocks.index(next(b for b in msg.blocks if b["type"] == "section" and b["text"]["text"] == text))
    shown = [e["text"] for e in msg.blocks[i + 1]["elements"]]
    assert len(shown) == 2
    assert shown[0].startswith("↪ 87% similar item: “Przepraszamy za opóźnienie dostawy.")
    assert len(shown[0]) <= 200 + len("↪ 87% similar item: “”")
    assert shown[1] == "↪ 74% similar item: “Sorry &lt;@U123&gt; for the delay”"
    assert (
        "Suggested reply (pl, formal):" in msg.plain
        and "74% similar item: “Sorry <@U123> for the delay”" in msg.plain
    )
    assert limit_violations(msg) == []


def test_suggested_reply_tone_follows_the_target_and_language(tmp_path: Path) -> None:
    informal = build_message(
        alert(suggested_reply="Hej, sorki!"), view(), SCORE, reply_settings(tmp_path, False)
    )
    assert suggested_section(informal).startswith("*Suggested reply* (pl, informal)")
    english = build_message(
        alert(suggested_reply="Hello, sorry."), view("en_low_rating"), SCORE, the_settings(tmp_path)
    )
    assert suggested_section(english).startswith("*Suggested reply* (en) — edit it in Reply\nHello, sorry.")
    none = build_message(alert(), view(), SCORE, the_settings(tmp_path))
    assert not any(b["type"] == "section" and b["text"]["text"].startswith("*Suggested") for b in none.blocks)


# ------------------------------------------------------------------------------------ handling state


HANDLED_AT = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)


def state_texts(msg: SlackMessage) -> list[str]:
    """The handling-state context, right under the header."""
    block = msg.blocks[1]
    return [e["text"] for e in block["elements"]] if block["type"] == "context" else []


def test_unhandled_alert_offers_handle_assign_reply_and_wrong_sentiment(tmp_path: Path) -> None:
    msg = build_message(alert(), view(), SCORE, the_settings(tmp_path))
    assert state_texts(msg) == []
    block = actions_of(msg)
    assert block["block_id"] == "earshot_actions_9"
    handle, assign, reply, wrong = block["elements"]
    assert handle == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Mark handled", "emoji": False},
        "action_id": action_ids.MARK_HANDLED,
        "value": "9",
        "style": "primary",
    }
    assert assign["type"] == "users_select" and assign["action_id"] == action_ids.ASSIGN
    assert assign["placeholder"]["text"] == "Assign…" and "initial_user" not in assign
    assert reply["action_id"] == action_ids.REPLY and reply["value"] == "9"
    assert wrong["type"] == "static_select" and wrong["action_id"] == action_ids.WRONG_SENTIMENT
    assert wrong["placeholder"]["text"] == "Wrong sentiment…"
    assert [o["value"] for o in wrong["options"]] == ["negative", "neutral", "positive"]
    assert "initial_option" not in wrong


def test_handled_alert_shows_who_and_when_and_offers_reopen(tmp_path: Path) -> None:
    before = build_message(alert(), view(), SCORE, the_settings(tmp_path))
    msg = build_message(
        alert(handled_at=HANDLED_AT, handled_by="U0AGENT", handled_action="handled"),
        view(),
        SCORE,
        the_settings(tmp_path),
    )
    assert msg.blocks[0] == before.blocks[0]  # the header keeps its text
    assert state_texts(msg) == ["✅ Handled by <@U0AGENT> at May 1, 2024, 15:00 UTC"]
    assert [e["action_id"] for e in actions_of(msg)["elements"]] == [action_ids.REOPEN, action_ids.ASSIGN]
    assert actions_of(msg)["elements"][0]["value"] == "9"
    assert "✅ Handled by @U0AGENT at May 1, 2024, 15:00 UTC" in msg.plain
    assert "Handled by @U0AGENT" in msg.text and "<@" not in msg.text  # the notification pings nobody
    assert limit_violations(msg) == []


def test_replied_alert_says_replied(tmp_path: Path) -> None:
    msg = build_message(
        alert(handled_at=HANDLED_AT, handled_by="W0ENTERPRISE", handled_action="replied"),
        view(),
        SCORE,
        the_settings(tmp_path),
    )
    assert state_texts(msg)[0] == "💬 Replied by <@W0ENTERPRISE> at May 1, 2024, 15:00 UTC"


def test_web_user_names_and_forged_ids_are_text_never_mentions(tmp_path: Path) -> None:
    a = alert(
        handled_at=HANDLED_AT,
        handled_by="anna <!channel>",
        assignee="<@U123>",
        assigned_by="u0lowercase",
        corrected_label="positive",
        corrected_by="Zofia Gęślarz",
    )
    msg = build_message(a, view(), SCORE, the_settings(tmp_path))
    texts = state_texts(msg)
    assert texts[0] == "✅ Handled by anna &lt;!channel&gt; at May 1, 2024, 15:00 UTC"
    assert texts[1] == "👤 Assigned to &lt;@U123&gt; by u0lowercase"
    assert texts[2] == "🏷 Sentiment corrected to positive by Zofia Gęślarz"
    assert "initial_user" not in actions_of(msg)["elements"][1]
    assert all("<@" not in t for t in mrkdwn_texts(msg))


def test_assignment_correction_and_escalation_lines(tmp_path: Path) -> None:
    a = alert(
        assignee="U0BOB",
        assigned_by="U0ALICE",
        corrected_label="positive",
        corrected_by="U0ALICE",
        escalated_at=HANDLED_AT,
    )
    msg = build_message(a, view(), SCORE, the_settings(tmp_path))
    assert state_texts(msg) == [
        "👤 Assigned to <@U0BOB> by <@U0ALICE>",
        "🏷 Sentiment corrected to positive by <@U0ALICE>",
        "⏰ Past its response target (SLA) — escalated",
    ]
    handle, assign, _reply, wrong = actions_of(msg)["elements"]
    assert handle["action_id"] == action_ids.MARK_HANDLED  # assigned is not handled
    assert assign["initial_user"] == "U0BOB"
    assert wrong["initial_option"]["value"] == "positive"
    assert "👤 Assigned to @U0BOB by @U0ALICE" in msg.plain
    assert limit_violations(msg) == []


# ------------------------------------------------------------------------------------------ the checker


def _with(msg: SlackMessage, path: tuple[Any, ...], value: Any) -> SlackMessage:
    blocks = copy.deepcopy(msg.blocks)
    node: Any = blocks
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return SlackMessage(text=msg.text, blocks=blocks)


def test_limit_violations_catches_what_slack_would_reject(tmp_path: Path) -> None:
    msg = build_message(alert(), view(), SCORE, the_settings(tmp_path))
    assert limit_violations(msg) == []
    i = msg.blocks.index(actions_of(msg))
    broken = [
        _with(msg, (i, "elements", 3, "options", 0, "text", "text"), "x" * 76),
        _with(msg, (i, "elements", 3, "options", 0, "value"), "v" * 151),
        _with(msg, (i, "elements", 1, "placeholder", "text"), "p" * 151),
        _with(msg, (i, "elements", 1, "initial_user"), "<!channel>"),
        _with(msg, (i, "elements", 3, "options"), []),
        _with(msg, (i, "elements", 0, "value"), "9" * 2001),
        _with(msg, (i, "elements", 2, "action_id"), action_ids.MARK_HANDLED),
        _with(msg, (i, "block_id"), "earshot_links_42"),
        _with(msg, (0, "text", "emoji"), True),
        _with(msg, (0, "text", "text"), " "),
        _with(msg, (i, "elements", 0, "style"), "fancy"),
    ]
    for b in broken:
        assert limit_violations(b) != [], b.blocks


def test_every_aspect_is_shown_by_its_vocabulary_name(tmp_path: Path) -> None:
    aspects = tuple(AspectView(aspect=code, sentiment="negative") for code in ASPECT_KEYS)
    score = ScoreView(label="negative", score=-0.91, confidence=0.95, aspects=aspects)
    msg = build_message(alert(), view(), score, the_settings(tmp_path))
    [line] = [t for t in mrkdwn_texts(msg) if t.startswith("*Aspects:*")]
    for code in ASPECT_KEYS:
        assert f"{aspect_label(code, 'en')} 🔴" in line
        assert f"{aspect_label(code, 'en')} (negative)" in msg.plain


def test_label_copies_match_the_sentiment_package() -> None:
    from sentiment.urgency import REASONS

    assert set(REASONS) == set(URGENCY_REASON_LABELS)


def test_rendering_does_not_import_the_model_stack() -> None:
    code = "import sys, alerts.render; print(sorted(m for m in ('torch', 'numpy', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"

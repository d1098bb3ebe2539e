"""Every alert kind renders to a message people can act on, with its handling state, safe and in limits."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts import action_ids
from alerts.message_limits import limit_violations
from alerts.render import render
from alerts.rules import AspectView, MentionView, ScoreView, UrgencyReasonView
from alerts.slack_format import SlackMessage, is_slack_user_id, user_ref
from alerts.source_message import KIND_FAILING, build_source_message
from monitor.core.models import Alert, AlertKind
from tests.alerts.helpers import PUBLIC_URL, make_settings
from tests.alerts.test_escaping import INJECTIONS, POLISH

SETTINGS = make_settings(Path("/tmp/unused"))
POSTED = datetime(2024, 5, 1, 14, 3, tzinfo=UTC)
HANDLED = datetime(2024, 5, 1, 15, 0, tzinfo=UTC)

# The only control sequences a message may carry: our date tokens and mentions of validated user ids.
_DATE_TOKEN = re.compile(r"<!date\^\d+\^\{(?:date_short_pretty\} \{time|time)\}\|[0-9: -]+UTC>")
_USER_TOKEN = re.compile(r"<@([UW][A-Z0-9]{2,31})>")
_BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")


def mention(**overrides: Any) -> MentionView:
    fields: dict[str, Any] = {
        "id": 42,
        "source": "allegro",
        "target": "Sklep Zielony",
        "text": "Paczka zgubiona, żądam zwrotu pieniędzy!",
        "author": "Grażyna Kołodziej",
        "url": "https://allegro.pl/opinie/42",
        "rating": 1.0,
        "lang": "pl",
        "created_at": POSTED,
        "version": 2,
    }
    fields.update(overrides)
    return MentionView(**fields)


def alert(kind: str, **overrides: Any) -> Alert:
    fields: dict[str, Any] = {
        "id": 11,
        "dedupe_key": f"k:{kind}",
        "mention_id": 42,
        "kind": kind,
        "reason": "rated 1★",
        "channel": "#opinie",
        "target": "Sklep Zielony",
        "parent_id": 9,
    }
    fields.update(overrides)
    return Alert(**fields)


PARENT = Alert(id=9, dedupe_key="p", mention_id=42, kind="negative", rule="negatywne", channel="#opinie")
SCORE = ScoreView("negative", -0.9, 0.93, lang="pl")


def mrkdwn_texts(message: SlackMessage) -> list[str]:
    """Every string Slack parses as mrkdwn: the fallback text, section texts and fields, context elements."""
    texts = [message.text]
    for block in message.blocks:
        if block.get("text", {}).get("type") == "mrkdwn":
            texts.append(block["text"]["text"])
        texts += [f["text"] for f in block.get("fields", [])]
        texts += [e["text"] for e in block.get("elements", []) if e.get("type") == "mrkdwn"]
    return texts


def assert_inert(message: SlackMessage, trusted_users: set[str]) -> None:
    """No raw < > or bare & except our own tokens; a <@…> mention only for an id we were given as a user."""
    for text in mrkdwn_texts(message):
        for user in _USER_TOKEN.findall(text):
            assert user in trusted_users, (user, text)
        inert = _USER_TOKEN.sub("", _DATE_TOKEN.sub("", text))
        assert "<" not in inert and ">" not in inert, text
        assert not _BARE_AMPERSAND.search(inert), text


def blocks_of(message: SlackMessage, kind: str) -> list[dict[str, Any]]:
    return [b for b in message.blocks if b["type"] == kind]


def actions(message: SlackMessage) -> dict[str, Any] | None:
    return next(
        (b for b in message.blocks if b.get("block_id", "").startswith(action_ids.ACTIONS_BLOCK_PREFIX)), None
    )


def all_text(message: SlackMessage) -> str:
    return "\n".join(mrkdwn_texts(message))


# ------------------------------------------------------------------------------------------ dispatching


@pytest.mark.parametrize("kind", AlertKind.MENTION_KINDS)
def test_mention_kinds_get_the_full_alert(kind: str) -> None:
    msg = render(alert(kind, parent_id=None), mention(), SCORE, SETTINGS)
    titles = {
        "negative": "Negative mention",
        "low_rating": "Low rating",
        "urgent": "🚨 Urgent",
        "keyword": "Keyword match",
    }
    assert msg.blocks[0]["text"]["text"] == f"{titles[kind]}: Sklep Zielony"
    assert actions(msg) is not None and limit_violations(msg) == []


def test_a_mention_alert_whose_mention_is_gone_still_renders_its_reason() -> None:
    msg = render(alert("negative", reason="sentiment <!here> negative"), None, None, SETTINGS)
    assert "sentiment &lt;!here&gt; negative" in all_text(msg)
    assert msg.blocks[0]["text"]["text"] == "Earshot negative: Sklep Zielony"
    assert limit_violations(msg) == []


def test_source_health_kinds_use_the_source_message() -> None:
    a = alert(KIND_FAILING, mention_id=None, source="ceneo", reason="3 runs failed")
    assert render(a, None, None, SETTINGS) == build_source_message(a)


def test_an_unknown_kind_gets_a_safe_generic_message() -> None:
    msg = render(alert("brand_new_kind <!channel>", reason="coś nowego"), None, None, SETTINGS)
    assert msg.blocks[0]["text"]["text"] == "Earshot brand new kind <!channel>: Sklep Zielony"  # plain_text
    assert "coś nowego" in msg.text and limit_violations(msg) == []
    assert_inert(msg, set())


# -------------------------------------------------------------------------------------------- follow-ups


def test_edited_review_shows_versions_rating_change_and_both_texts() -> None:
    payload = {"previous_version": 1, "version": 2, "previous_rating": 3, "previous_text": "Było OK. " * 60}
    msg = render(alert(AlertKind.EDITED, payload=payload), mention(), SCORE, SETTINGS, parent=PARENT)
    head = msg.blocks[0]["text"]["text"]
    assert head.startswith("✏️ Review edited (v1 → v2) by *Grażyna Kołodziej* on allegro")
    assert "Rating: ★★★☆☆ 3/5 → ★☆☆☆☆ 1/5" in head
    before = re.search(r"\*Before:\* “(.*)”", head)
    assert before and before.group(1).startswith("Było OK.") and len(before.group(1)) <= 200
    assert before.group(1).endswith("…")
    assert msg.blocks[1]["text"]["text"] == "*Now:* “Paczka zgubiona, żądam zwrotu pieniędzy!”"
    assert actions(msg) is None  # the parent alert carries the buttons
    assert "Alert #11 · follow-up to alert #9 · mention #42 v2" in all_text(msg)
    assert "Before: “Było OK." in msg.plain and "Now: “Paczka zgubiona" in msg.plain
    assert limit_violations(msg) == []


def test_edit_without_rating_change_does_not_claim_one() -> None:
    payload = {"previous_version": 1, "version": 2, "previous_rating": 1, "previous_text": "stary"}
    msg = render(alert(AlertKind.EDITED, payload=payload), mention(), SCORE, SETTINGS, parent=PARENT)
    assert "Rating:" not in all_text(msg)


def test_thread_reply_is_compact_with_links_and_no_buttons() -> None:
    m = mention(text="I agree, same thing happened to me", author="Jane", rating=None, lang="en")
    msg = render(alert(AlertKind.THREAD_REPLY, payload={"in_reply_to_mention_id": 40}), m, None, SETTINGS)
    assert msg.blocks[0]["text"]["text"] == "↩️ New reply in the thread by *Jane* on allegro"
    links = next(b for b in msg.blocks if b.get("block_id") == "earshot_links_42")
    assert [e["url"] for e in links["elements"]] == ["https://allegro.pl/opinie/42", f"{PUBLIC_URL}/items/42"]
    assert actions(msg) is None and limit_violations(msg) == []


@pytest.mark.parametrize(
    ("kind", "payload", "heading"),
    [
        (AlertKind.REPEAT, {"previous_mention_id": 7}, "🔁 Same author complains again"),
        (AlertKind.COOLDOWN, {"rule": "dostawa"}, "➕ Another match for rule *dostawa*"),
    ],
)
def test_new_items_in_a_thread_get_the_handling_buttons(
    kind: str, payload: dict[str, Any], heading: str
) -> None:
    msg = render(alert(kind, payload=payload), mention(), SCORE, SETTINGS, parent=PARENT)
    assert msg.blocks[0]["text"]["text"].startswith(heading)
    block = actions(msg)
    assert block is not None and block["block_id"] == "earshot_actions_11"
    assert [e["action_id"] for e in block["elements"]] == [
        action_ids.MARK_HANDLED,
        action_ids.ASSIGN,
        action_ids.REPLY,
        action_ids.WRONG_SENTIMENT,
    ]
    handled = render(
        alert(kind, payload=payload, handled_at=HANDLED, handled_by="U0AGENT"), mention(), SCORE, SETTINGS
    )
    assert "✅ Handled by <@U0AGENT>" in all_text(handled)
    reopen = actions(handled)
    assert reopen is not None and [e["action_id"] for e in reopen["elements"]] == [
        action_ids.REOPEN,
        action_ids.ASSIGN,
    ]
    assert limit_violations(msg) == [] and limit_violations(handled) == []


def test_cooldown_without_payload_rule_names_the_parent_rule() -> None:
    msg = render(alert(AlertKind.COOLDOWN, rule=None), mention(), SCORE, SETTINGS, parent=PARENT)
    assert "➕ Another match for rule *negatywne*" in msg.blocks[0]["text"]["text"]


# ------------------------------------------------------------------------------------------------ storms


def storm_payload(**extra: Any) -> dict[str, Any]:
    examples = [
        {
            "mention_id": 100 + i,
            "source": "google_business",
            "author": f"Klient {i} <!here>",
            "text": f"Przesyłka {i} nie dotarła. " + "Skandal! " * 60,
            "url": f"https://maps.google.com/?r={i}",
            "rating": 1,
        }
        for i in range(5)
    ]
    payload = {
        "storm_id": 3,
        "target": "Sklep Zielony",
        "window_minutes": 60,
        "count": 14,
        "baseline": 1.25,
        "opened_at": "2024-05-01T13:05:00+00:00",
        "themes": [{"aspect": "delivery", "count": 9}, {"aspect": "customer_service", "count": 4}],
        "sources": {"allegro": 6, "google_business": 8},
        "examples": examples,
    }
    payload.update(extra)
    return payload


def test_open_storm_says_how_far_above_usual_about_what_and_where() -> None:
    msg = render(alert(AlertKind.STORM, parent_id=None, payload=storm_payload()), None, None, SETTINGS)
    assert msg.blocks[0]["text"]["text"] == "🌪 Negative storm: Sklep Zielony"
    text = all_text(msg)
    assert "*14 negative mentions in 60 min* (usual 1.2)" in text
    assert "since May 1, 2024, 13:05 UTC" in text
    assert "*Top themes:* Delivery (9) · Customer service (4)" in text
    assert "*Sources:* google_business 8 · allegro 6" in text  # busiest first
    assert "Individual alerts for Sklep Zielony are folded into this storm until it subsides." in text
    example_links = [b for b in msg.blocks if b.get("block_id", "").startswith("earshot_storm_3_example_")]
    assert len(example_links) == 3
    assert [b["elements"][-1]["url"] for b in example_links] == [
        f"{PUBLIC_URL}/items/{i}" for i in (100, 101, 102)
    ]
    excerpts = re.findall(r"“(.*?)”", text, re.S)
    assert len(excerpts) >= 3 and all(len(e) <= 200 for e in excerpts)
    assert "*Klient 0 &lt;!here&gt;* on google_business" in text
    assert "14 negative mentions in 60 min (usual 1.2)" in msg.plain and "Klient 0 <!here>" in msg.plain
    assert limit_violations(msg) == []


def test_closed_storm_rerenders_as_over_with_the_span_and_total() -> None:
    payload = storm_payload(closed_at="2024-05-01T15:40:00+00:00", total=23)
    msg = render(alert(AlertKind.STORM, parent_id=None, payload=payload), None, None, SETTINGS)
    assert msg.blocks[0]["text"]["text"] == "✅ Storm over: Sklep Zielony"
    text = all_text(msg)
    assert "*from May 1, 2024, 13:05 UTC to May 1, 2024, 15:40 UTC, 23 negative mentions*" in text
    assert "folded" not in text
    assert "from May 1, 2024, 13:05 UTC to May 1, 2024, 15:40 UTC, 23 negative mentions" in msg.plain


def test_storm_subsided_reply_takes_the_target_from_the_storm_alert() -> None:
    storm = alert(AlertKind.STORM, id=30, parent_id=None, payload=storm_payload())
    payload = {
        "storm_id": 3,
        "opened_at": "2024-05-01T13:05:00+00:00",
        "closed_at": "2024-05-02T01:10:00+00:00",
        "total": 23,
        "peak_count": 14,
    }
    reply = alert(AlertKind.STORM_SUBSIDED, target=None, parent_id=30, broadcast=True, payload=payload)
    msg = render(reply, None, None, SETTINGS, parent=storm)
    first = msg.blocks[0]["text"]["text"]
    assert first == (
        "✅ The storm for *Sklep Zielony* has subsided: 23 negative mentions"
        " from May 1, 2024, 13:05 UTC to May 2, 2024, 01:10 UTC."
    )
    assert "peak 14 in the window" in all_text(msg)
    assert msg.plain.startswith("[Earshot] ✅ The storm for Sklep Zielony has subsided: 23 negative mentions")
    assert limit_violations(msg) == []


def test_storm_with_broken_payload_still_renders() -> None:
    payload = {
        "count": "many",
        "baseline": float("nan"),
        "opened_at": "yesterday",
        "themes": "x",
        "examples": [1],
    }
    msg = render(alert(AlertKind.STORM, target=None, payload=payload), None, None, SETTINGS)
    assert msg.blocks[0]["text"]["text"] == "🌪 Negative storm: unknown target"
    assert "an unknown number of negative mentions in ?" in all_text(msg) and limit_violations(msg) == []


# ---------------------------------------------------------------------------------------- SLA escalation


def escalation(**overrides: Any) -> Alert:
    payload = {
        "alert_id": 9,
        "severity": "urgent",
        "sla_minutes": 60,
        "overdue_minutes": 75.0,
        "original_channel": "#opinie",
    }
    return alert(AlertKind.SLA_ESCALATION, parent_id=None, payload=payload, **overrides)


def test_escalation_says_what_is_overdue_and_acts_on_the_overdue_alert() -> None:
    overdue = Alert(id=9, dedupe_key="o", mention_id=42, kind="urgent", channel="#opinie", severity="urgent")
    msg = render(escalation(), mention(), SCORE, SETTINGS, parent=overdue)
    assert msg.blocks[0]["text"]["text"] == "⏰ SLA escalation: Sklep Zielony"
    text = all_text(msg)
    assert "⏰ *Unhandled past its response target:* urgent alert #9, target 60 min, now 75 min" in text
    assert "first posted in #opinie" in text and "Paczka zgubiona" in text
    block = actions(msg)
    assert block is not None and block["block_id"] == "earshot_actions_9"
    assert {e.get("value") for e in block["elements"]} == {"9", None}
    assert limit_violations(msg) == []


def test_escalation_shows_the_overdue_alerts_state_once_handled() -> None:
    overdue = Alert(
        id=9,
        dedupe_key="o",
        kind="urgent",
        channel="#c",
        handled_at=HANDLED,
        handled_by="U0AGENT",
        handled_action="replied",
    )
    msg = render(escalation(), mention(), SCORE, SETTINGS, parent=overdue)
    assert "💬 Replied by <@U0AGENT> at May 1, 2024, 15:00 UTC" in all_text(msg)
    block = actions(msg)
    assert block is not None and block["elements"][0] == {
        "type": "button",
        "text": {"type": "plain_text", "text": "Reopen", "emoji": False},
        "action_id": action_ids.REOPEN,
        "value": "9",
    }
    assert "💬 Replied by @U0AGENT at May 1, 2024, 15:00 UTC" in msg.plain


def test_escalation_ignores_a_parent_that_is_not_the_overdue_alert() -> None:
    stranger = Alert(id=5, dedupe_key="s", kind="urgent", channel="#c", handled_at=HANDLED)
    msg = render(escalation(), mention(), SCORE, SETTINGS, parent=stranger)
    block = actions(msg)
    assert block is not None and block["block_id"] == "earshot_actions_11"
    assert "Handled" not in all_text(msg)


# ----------------------------------------------------------------------------------- every kind, hostile

KINDS = [
    *AlertKind.MENTION_KINDS,
    *AlertKind.FOLLOW_UP_KINDS,
    AlertKind.STORM,
    AlertKind.STORM_SUBSIDED,
    AlertKind.SLA_ESCALATION,
    KIND_FAILING,
    "something_else",
]

hostile = st.lists(
    st.one_of(
        st.sampled_from([*INJECTIONS, "&lt;!everyone&gt;", "<!chan\u200bnel>", "U0ABCDEF", "<@W0ABC>"]),
        st.text(max_size=30),
        st.text(alphabet=POLISH + " <>&!@#|^:*_~`", max_size=30),
    ),
    max_size=8,
).map("".join)
long_hostile = st.one_of(hostile, hostile.map(lambda s: (s + " ") * 400), st.just("&<>" * 3000))
json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), hostile),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile, inner, max_size=3),
    max_leaves=10,
)
user = st.one_of(st.none(), st.sampled_from(["U0AGENT", "W12345", "U1"]), hostile)
example = st.fixed_dictionaries(
    {
        "mention_id": st.one_of(st.integers(min_value=1, max_value=10**12), json_value),
        "source": hostile,
        "author": hostile,
        "text": long_hostile,
        "url": st.one_of(hostile, st.just("javascript:alert(1)"), st.just("https://ok.example/x")),
        "rating": st.one_of(st.floats(), json_value),
    }
)
payload = st.fixed_dictionaries(
    {},
    optional={
        "storm_id": json_value,
        "target": hostile,
        "window_minutes": st.one_of(st.floats(), json_value),
        "count": json_value,
        "baseline": st.one_of(st.floats(), json_value),
        "opened_at": st.one_of(st.just("2024-05-01T13:05:00+00:00"), hostile),
        "closed_at": st.one_of(st.just("2024-05-01T15:40:00"), hostile),
        "total": json_value,
        "peak_count": json_value,
        "themes": st.lists(st.fixed_dictionaries({"aspect": hostile, "count": json_value}), max_size=8),
        "sources": st.dictionaries(hostile, json_value, max_size=12),
        "examples": st.lists(example, max_size=5),
        "previous_version": json_value,
        "version": json_value,
        "previous_text": long_hostile,
        "previous_rating": json_value,
        "rule": hostile,
        "alert_id": json_value,
        "severity": hostile,
        "sla_minutes": json_value,
        "overdue_minutes": json_value,
        "original_channel": hostile,
        "reply_lang": json_value,
        "similar_replies": st.lists(
            st.fixed_dictionaries({"text": long_hostile, "similarity": json_value}) | json_value, max_size=4
        ),
    },
)
moment = st.one_of(st.none(), st.datetimes(timezones=st.just(UTC), min_value=datetime(2000, 1, 1)))


@st.composite
def hostile_alerts(draw: st.DrawFn) -> tuple[Alert, MentionView | None, ScoreView | None, Alert | None]:
    kind = draw(st.sampled_from(KINDS))
    a = Alert(
        id=draw(st.integers(min_value=1, max_value=10**9)),
        dedupe_key="k",
        mention_id=42,
        kind=kind,
        reason=draw(long_hostile),
        channel="#c",
        target=draw(st.none() | hostile),
        source=draw(st.none() | hostile),
        rule=draw(st.none() | hostile),
        severity=draw(hostile),
        parent_id=9,
        payload=draw(payload),
        suggested_reply=draw(st.none() | long_hostile),
        handled_at=draw(moment),
        handled_by=draw(user),
        handled_action=draw(st.sampled_from([None, "handled", "replied"])),
        assignee=draw(user),
        assigned_by=draw(user),
        corrected_label=draw(st.one_of(st.none(), st.sampled_from(action_ids.SENTIMENT_LABELS), hostile)),
        corrected_by=draw(user),
        escalated_at=draw(moment),
    )
    m = draw(
        st.none()
        | st.builds(
            MentionView,
            id=st.integers(min_value=1, max_value=10**9),
            source=hostile,
            target=st.none() | hostile,
            text=long_hostile,
            author=st.none() | long_hostile,
            url=st.none() | hostile | st.just("https://allegro.pl/x"),
            rating=st.none() | st.floats(),
            lang=st.none() | hostile,
            created_at=moment,
            version=st.integers(min_value=1, max_value=1000),
            reach=st.none() | st.integers(),
        )
    )
    score = draw(
        st.none()
        | st.builds(
            ScoreView,
            label=hostile,
            score=st.floats(),
            confidence=st.floats(),
            urgency=st.sampled_from(["none", "elevated", "critical"]) | hostile,
            urgency_reasons=st.lists(
                st.builds(UrgencyReasonView, code=hostile, evidence=hostile, severity=hostile), max_size=4
            ).map(tuple),
            aspects=st.lists(
                st.builds(AspectView, aspect=hostile, sentiment=st.none() | hostile), max_size=12
            ).map(tuple),
            lang=st.none() | hostile,
        )
    )
    parent = draw(
        st.none()
        | st.builds(
            lambda pid, t, p, h: Alert(
                id=pid,
                dedupe_key="p",
                kind="storm",
                channel="#c",
                target=t,
                payload=p,
                handled_at=h,
                handled_by="U0AGENT",
            ),
            st.integers(min_value=1, max_value=10**9) | st.just(9),
            st.none() | hostile,
            payload,
            moment,
        )
    )
    return a, m, score, parent


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(hostile_alerts())
def test_no_kind_ever_lets_untrusted_text_ping_link_or_break_limits(
    case: tuple[Alert, MentionView | None, ScoreView | None, Alert | None],
) -> None:
    a, m, score, parent = case
    msg = render(a, m, score, SETTINGS, parent=parent)
    assert limit_violations(msg) == []
    people = [a.handled_by, a.assignee, a.assigned_by, a.corrected_by]
    if parent is not None:
        people += [parent.handled_by]
    assert_inert(msg, {p for p in people if p is not None and is_slack_user_id(p)})
    assert msg.plain.strip()
    for obj in _plain_text_objects(msg.blocks):
        assert obj["emoji"] is False


def _plain_text_objects(node: object) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found = [node] if node.get("type") == "plain_text" else []
        return found + [o for v in node.values() for o in _plain_text_objects(v)]
    if isinstance(node, list):
        return [o for v in node for o in _plain_text_objects(v)]
    return []


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_a_readable_console_rendering_with_its_state(kind: str) -> None:
    payload = storm_payload(
        alert_id=11, severity="urgent", sla_minutes=60, overdue_minutes=75, rule="dostawa"
    )
    a = alert(kind, payload=payload, handled_at=HANDLED, handled_by="jan.kowalski", escalated_at=HANDLED)
    msg = render(a, mention(text="Zamowienie nie dotarlo <!channel>"), SCORE, SETTINGS, parent=PARENT)
    assert msg.plain.startswith("[Earshot] ")
    assert "&lt;" not in msg.plain and "&amp;" not in msg.plain  # the console shows text, not entities
    if kind in (
        *AlertKind.MENTION_KINDS,
        AlertKind.REPEAT,
        AlertKind.COOLDOWN,
        AlertKind.SLA_ESCALATION,
        AlertKind.STORM,
    ):
        assert "✅ Handled by jan.kowalski at May 1, 2024, 15:00 UTC" in msg.plain
    if kind in (*AlertKind.MENTION_KINDS, *AlertKind.FOLLOW_UP_KINDS, AlertKind.SLA_ESCALATION):
        assert "Zamowienie nie dotarlo <!channel>" in msg.plain
    assert limit_violations(msg) == []


@settings(max_examples=300, deadline=None)
@given(st.one_of(hostile, st.from_regex(r"[UW][A-Z0-9]{2,12}", fullmatch=True)))
def test_a_user_reference_is_a_mention_only_for_a_user_id_shape(value: str) -> None:
    md, plain = user_ref(value)
    if is_slack_user_id(value):
        assert md == f"<@{value}>" and plain == f"@{value}"
    else:
        assert "<" not in md and ">" not in md and not _BARE_AMPERSAND.search(md), md

"""The reply modal's prefilled text against Slack's limit as Slack counts it: UTF-16 code units, so an
emoji (outside the Basic Multilingual Plane) is two and a cut may never split its surrogate pair."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.escaping import slack_len
from alerts.reply_modal import INPUT_MAX_CHARS, fit_utf16, reply_modal
from monitor.core.models import Alert


def _input(view: dict[str, Any]) -> dict[str, Any]:
    element: dict[str, Any] = next(b for b in view["blocks"] if b["type"] == "input")["element"]
    return element


def _units(text: str) -> int:
    """UTF-16 code units, a lone surrogate (which hypothesis generates) counting as one."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _alert(suggested: str) -> Alert:
    return Alert(id=7, dedupe_key="k", channel="#c", slack_channel_id="C0ALERTS01", suggested_reply=suggested)


def test_an_emoji_reply_is_cut_to_slacks_limit_in_utf16_units() -> None:
    suggested = "Dziękujemy 🙏😀 " * 300  # 4,800 characters, 6,600 UTF-16 units
    element = _input(reply_modal(_alert(suggested), "tekst", "google_business", []))
    value = element["initial_value"]
    assert slack_len(value) <= element["max_length"] == INPUT_MAX_CHARS
    assert slack_len(value) >= INPUT_MAX_CHARS - 1 and suggested.startswith(value)


def test_only_emoji_fills_the_input_without_splitting_a_pair() -> None:
    value = _input(reply_modal(_alert("😀" * 1630), "tekst", "google_business", []))["initial_value"]
    assert value == "😀" * 1500


def test_a_reply_that_fits_is_left_whole() -> None:
    assert fit_utf16("abc😀", 5) == "abc😀"
    assert fit_utf16("abc😀", 4) == "abc"
    assert fit_utf16("", 0) == ""


_TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.sampled_from(["😀", "🙏", "𝔸", "ą", "a"])), max_size=80
)


@settings(max_examples=300, deadline=None)
@given(text=_TEXT, limit=st.integers(min_value=0, max_value=120))
def test_the_cut_is_the_longest_prefix_within_the_limit(text: str, limit: int) -> None:
    cut = fit_utf16(text, limit)
    assert text.startswith(cut)
    assert _units(cut) <= limit
    assert cut == text or _units(text[: len(cut) + 1]) > limit  # one more character would not fit


_PIECE = st.text(alphabet=st.sampled_from(["😀", "a", "ż", " ", "🙏", "\n"]), max_size=60)


@settings(max_examples=60, deadline=None)
@given(head=_PIECE, emoji=st.integers(min_value=0, max_value=3200), tail=_PIECE)
def test_the_modal_initial_value_never_exceeds_max_length_in_utf16(head: str, emoji: int, tail: str) -> None:
    suggested = head + "🙏" * emoji + tail
    element = _input(reply_modal(_alert(suggested), "tekst", "google_business", []))
    value = element.get("initial_value", "")
    assert slack_len(value) <= element["max_length"]
    assert suggested.strip().startswith(value)

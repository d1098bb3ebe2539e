"""The reply memory comes first: similar past replies sit above the reply the agent edits (Slack modal)."""

from __future__ import annotations

from alerts.action_ids import REPLY_BLOCK
from alerts.reply_library import PastReply
from alerts.reply_modal import reply_modal
from monitor.core.models import Alert

SIMILAR = [
    PastReply(text="Przepraszamy za opóźnienie, paczka jest już w drodze.", similarity=0.93, mention_id=7),
    PastReply(text="Dziękujemy za cierpliwość, sprawdziliśmy przesyłkę.", similarity=0.86, mention_id=9),
]


def _alert() -> Alert:
    return Alert(
        id=5, dedupe_key="mention:1:alert", mention_id=1, kind="negative", reason="r", channel="#c",
        suggested_reply="Dzień dobry,\nprzepraszamy.",
    )  # fmt: skip


def _texts(block: dict[str, object]) -> str:
    elements = block.get("elements")
    return " ".join(e["text"] for e in elements if isinstance(e, dict)) if isinstance(elements, list) else ""


def test_similar_past_replies_come_before_the_reply_input_most_similar_first() -> None:
    blocks = reply_modal(_alert(), "Paczka nie dotarła", "google_business", SIMILAR)["blocks"]
    input_at = next(i for i, b in enumerate(blocks) if b.get("block_id") == REPLY_BLOCK)
    memory = [i for i, b in enumerate(blocks) if "paczka jest już w drodze" in _texts(b)]
    second = [i for i, b in enumerate(blocks) if "sprawdziliśmy przesyłkę" in _texts(b)]
    assert memory and second and memory[0] < second[0] < input_at
    heading = next(i for i, b in enumerate(blocks) if "Similar past replies" in _texts(b))
    assert heading < memory[0]


def test_without_past_replies_the_input_follows_the_item() -> None:
    blocks = reply_modal(_alert(), "Paczka nie dotarła", "google_business", [])["blocks"]
    assert [b["type"] for b in blocks] == ["context", "context", "input"]

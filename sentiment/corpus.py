"""Earshot's own labelled shop-text corpus (``sentiment/data/corpus``): loading, validation, splits, coverage.

Why a module of its own: the corpus is the product's in-domain ground truth (sentiment, urgency, aspects),
written in independent slices by different writers under ``GUIDELINES.md``. Whole slices are held out as the
development split, so a dev score measures a writer the model never saw rather than memorised phrasing; the
split is decided here, once, and every trainer, evaluator and test imports it. Standard library only, so a
writer can validate a slice without the model stack installed: ``python3 -m sentiment.corpus check FILE``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from sentiment.urgency import REASONS
from sentiment.vocabulary import ASPECT_KEYS

CORPUS_DIR: Final = Path(__file__).resolve().parent / "data" / "corpus"
DEV_SLICES: Final[frozenset[str]] = frozenset({"slice-07", "slice-08", "slice-15"})
"""Whole slices held out of training (07 and 08 chosen before any slice was written, 15 before it was)."""

LANGS: Final = ("pl", "en")
SOURCES: Final = (
    "google",
    "ceneo",
    "allegro",
    "trustpilot",
    "reddit",
    "mastodon",
    "bluesky",
    "youtube",
    "hackernews",
    "rss",
)
REVIEW_SOURCES: Final = ("google", "ceneo", "allegro", "trustpilot")
KINDS: Final = ("review", "social", "feed", "announcement", "question")
SENTIMENT_VALUES: Final = ("negative", "neutral", "positive")
URGENCY_LEVELS: Final = ("none", "elevated", "critical")
REASON_CODES: Final = REASONS  # the urgency module's list (standard library only, like this module)
STYLES: Final = (
    "no_diacritics",
    "typos",
    "sarcasm",
    "emoji",
    "emoji_only",
    "code_switch",
    "pros_cons",
    "mixed",
    "star_mismatch",
    "slang",
    "long",
)
CRITICAL_REASONS: Final = frozenset({"legal_threat", "health_safety", "data_leak"})


class CorpusError(ValueError):
    """A corpus line breaks the format in GUIDELINES.md; the message names file, line and field."""


@dataclass(frozen=True)
class CorpusItem:
    """One labelled text of the corpus."""

    id: str
    slice: str
    lang: str
    source: str
    kind: str
    rating: float | None
    text: str
    sentiment: str
    urgency: str
    reasons: tuple[str, ...]
    aspects: dict[str, str | None] = field(hash=False)
    style: tuple[str, ...]
    reach: int | None

    @property
    def label(self) -> int:
        """0/1/2 as the classifier's classes (negative/neutral/positive)."""
        return SENTIMENT_VALUES.index(self.sentiment)

    @property
    def is_dev(self) -> bool:
        return self.slice in DEV_SLICES


def _need(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise CorpusError(f"{where}: {message}")


def parse_item(raw: object, slice_name: str, where: str) -> CorpusItem:
    """One JSON object checked against the format; raises CorpusError saying what to fix."""
    _need(isinstance(raw, dict), where, "expected a JSON object")
    assert isinstance(raw, dict)
    for key in ("id", "lang", "source", "kind", "text", "sentiment", "urgency", "reasons", "aspects"):
        _need(key in raw, where, f"missing field {key!r}")
    _need(isinstance(raw["id"], str) and raw["id"] != "", where, "'id' must be a non-empty string")
    _need(raw["lang"] in LANGS, where, f"'lang' must be one of {LANGS}")
    _need(raw["source"] in SOURCES, where, f"'source' must be one of {SOURCES}")
    _need(raw["kind"] in KINDS, where, f"'kind' must be one of {KINDS}")
    _need(isinstance(raw["text"], str) and raw["text"].strip() != "", where, "'text' must be non-empty")
    _need(raw["sentiment"] in SENTIMENT_VALUES, where, f"'sentiment' must be one of {SENTIMENT_VALUES}")
    _need(raw["urgency"] in URGENCY_LEVELS, where, f"'urgency' must be one of {URGENCY_LEVELS}")
    reasons = raw["reasons"]
    _need(isinstance(reasons, list) and all(r in REASON_CODES for r in reasons), where, "bad 'reasons'")
    _need(
        (raw["urgency"] == "none") == (not reasons),
        where,
        "'reasons' must be [] exactly when urgency is none",
    )
    _need(
        raw["urgency"] == "critical" or not (set(reasons) & CRITICAL_REASONS or len(set(reasons)) >= 2),
        where,
        "a legal, health or data-leak reason, or two different reasons, make the urgency 'critical'",
    )
    aspects = raw["aspects"]
    _need(isinstance(aspects, dict), where, "'aspects' must be an object")
    for key, value in aspects.items():
        _need(key in ASPECT_KEYS, where, f"unknown aspect {key!r}; one of {ASPECT_KEYS}")
        _need(value is None or value in SENTIMENT_VALUES, where, f"aspect {key!r}: bad value {value!r}")
    rating = raw.get("rating")
    if raw["kind"] == "review":
        _need(raw["source"] in REVIEW_SOURCES, where, f"a review comes from {REVIEW_SOURCES}")
        _need(
            isinstance(rating, int | float) and not isinstance(rating, bool) and 1 <= rating <= 5,
            where,
            "a review needs 'rating' 1-5",
        )
    else:
        _need(rating is None, where, "'rating' must be null unless kind is review")
    style = raw.get("style") or []
    _need(isinstance(style, list) and all(s in STYLES for s in style), where, f"'style' items from {STYLES}")
    reach = raw.get("reach")
    _need(reach is None or (isinstance(reach, int) and reach >= 0), where, "'reach' must be null or an int")
    return CorpusItem(
        id=raw["id"],
        slice=slice_name,
        lang=raw["lang"],
        source=raw["source"],
        kind=raw["kind"],
        rating=None if rating is None else float(rating),
        text=raw["text"],
        sentiment=raw["sentiment"],
        urgency=raw["urgency"],
        reasons=tuple(reasons),
        aspects=dict(aspects),
        style=tuple(style),
        reach=reach,
    )


def load_slice(path: Path) -> list[CorpusItem]:
    """Every line of one slice file, validated; ids must be unique within it."""
    items: list[CorpusItem] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise CorpusError(f"{where}: invalid JSON ({exc})") from None
            item = parse_item(raw, path.stem, where)
            _need(item.id not in seen, where, f"duplicate id {item.id!r}")
            seen.add(item.id)
            items.append(item)
    return items


def load_corpus(folder: Path = CORPUS_DIR) -> list[CorpusItem]:
    """All slices (``slice-*.jsonl``), in file order."""
    items: list[CorpusItem] = []
    for path in sorted(folder.glob("slice-*.jsonl")):
        items += load_slice(path)
    return items


def split(items: Iterable[CorpusItem]) -> tuple[list[CorpusItem], list[CorpusItem]]:
    """(train, dev): dev is every item of a held-out slice."""
    train: list[CorpusItem] = []
    dev: list[CorpusItem] = []
    for item in items:
        (dev if item.is_dev else train).append(item)
    return train, dev


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


def coverage_table(items: Sequence[CorpusItem]) -> str:
    """Markdown coverage of the corpus: per slice, per source kind, aspects, urgency reasons and styles."""
    lines = [
        "| slice | texts | pl | negative | neutral | positive | split |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in sorted({i.slice for i in items}):
        part = [i for i in items if i.slice == name]
        c = Counter(i.sentiment for i in part)
        pl = sum(i.lang == "pl" for i in part)
        lines.append(
            f"| {name} | {len(part)} | {_pct(pl, len(part))} | {c['negative']} | {c['neutral']} | "
            f"{c['positive']} | {'dev' if name in DEV_SLICES else 'train'} |"
        )
    c = Counter(i.sentiment for i in items)
    pl = sum(i.lang == "pl" for i in items)
    lines.append(
        f"| **all** | {len(items)} | {_pct(pl, len(items))} | {c['negative']} | {c['neutral']} | {c['positive']} | |"
    )
    lines += ["", "| source / kind | texts | pl | en |", "|---|---|---|---|"]
    for key, n in sorted(Counter(f"{i.source} / {i.kind}" for i in items).items()):
        pl_n = sum(1 for i in items if f"{i.source} / {i.kind}" == key and i.lang == "pl")
        lines.append(f"| {key} | {n} | {pl_n} | {n - pl_n} |")
    lines += ["", "| aspect | negative | neutral | positive | null |", "|---|---|---|---|---|"]
    for aspect in ASPECT_KEYS:
        values = Counter(str(i.aspects[aspect]) for i in items if aspect in i.aspects)
        lines.append(
            f"| {aspect} | {values['negative']} | {values['neutral']} | {values['positive']} | {values['None']} |"
        )
    lines += ["", "| urgency | texts |", "|---|---|"]
    for level, n in sorted(Counter(i.urgency for i in items).items()):
        lines.append(f"| level {level} | {n} |")
    for reason, n in sorted(Counter(r for i in items for r in i.reasons).items()):
        lines.append(f"| reason {reason} | {n} |")
    lines += ["", "| style | texts |", "|---|---|"]
    for style, n in sorted(Counter(s for i in items for s in i.style).items()):
        lines.append(f"| {style} | {n} |")
    return "\n".join(lines)


def check(paths: Sequence[Path]) -> int:
    """Validate slice files and print their coverage; returns a process exit code."""
    items: list[CorpusItem] = []
    for path in paths:
        try:
            items += load_slice(path)
        except (CorpusError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    texts = Counter(" ".join(i.text.casefold().split()) for i in items)
    dupes = [t for t, n in texts.items() if n > 1]
    print(coverage_table(items))
    if dupes:
        print(f"\nwarning: {len(dupes)} duplicated text(s), e.g. {dupes[0][:80]!r}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] != "check":
        print("usage: python3 -m sentiment.corpus check FILE.jsonl [FILE ...]", file=sys.stderr)
        raise SystemExit(2)
    raise SystemExit(check([Path(p) for p in args[1:]] or sorted(CORPUS_DIR.glob("slice-*.jsonl"))))

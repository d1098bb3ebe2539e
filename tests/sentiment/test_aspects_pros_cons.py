"""Pros/cons sections ("Zalety: … Wady: …", "Plusy/Minusy", "Pros/Cons"): each part judged by its own header.

Ceneo (and many shops) ask for pros and cons apart; "Wady: opóźnienie dostawy" is a delivery complaint, not
a product-quality one ("wady" also means "defects"), and "Zalety: cena" is praise of the price however flat
the bare word "cena" reads to the scorer.
"""

from __future__ import annotations

import numpy as np
import pytest

from sentiment.aspects import AspectDetector, AspectMention
from sentiment.embeddings import E5Embedder
from sentiment.scorer import Scorer
from sentiment.sentences import split_clauses, split_sentences


class FlatSentiment:
    """A scorer that reads every clause as neutral: whatever polarity comes out, the header put there."""

    def __call__(self, texts: list[str]) -> np.ndarray:
        return np.tile([0.2, 0.6, 0.2], (len(texts), 1))


@pytest.fixture(scope="module")
def flat_detector() -> AspectDetector:
    return AspectDetector(E5Embedder(threads=1), sentiment_fn=FlatSentiment())


@pytest.fixture(scope="module")
def scored_detector(bundled_scorer: Scorer) -> AspectDetector:
    return AspectDetector(E5Embedder(threads=1), sentiment_fn=bundled_scorer.probabilities)


def by_aspect(mentions: list[AspectMention]) -> dict[str, str | None]:
    return {m.aspect: m.sentiment for m in mentions}


# ------------------------------------------------------------------------------------------------ clauses


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Wszystko w porządku.\n\nZalety: cena\nWady: opóźnienie dostawy",
            [("Wszystko w porządku.", None), ("cena", "positive"), ("opóźnienie dostawy", "negative")],
        ),
        ("Plusy: cena Minusy: głośny, ciężki", [("cena", "positive"), ("głośny, ciężki", "negative")]),
        ("Pros: cheap. Cons: late courier", [("cheap.", "positive"), ("late courier", "negative")]),
        (
            "Wady: karton trochę pognieciony, ale dysk cały.",  # the contrast leaves the cons section
            [("karton trochę pognieciony", "negative"), ("ale dysk cały.", None)],
        ),
        (
            "Cons:\n- late courier\n* no invoice\nOverall fine.",  # a header alone covers its bullets
            [
                ("", "negative"),
                ("late courier", "negative"),
                ("no invoice", "negative"),
                ("Overall fine.", None),
            ],
        ),
        ("Nie ma wady: wszystko gra", [("Nie ma wady: wszystko gra", None)]),  # no header at the start
    ],
)
def test_clauses_carry_their_pros_cons_section(text: str, expected: list[tuple[str, str | None]]) -> None:
    assert [(c.body, c.section) for c in split_clauses(text)] == expected
    assert split_sentences(text) == [c.text for c in split_clauses(text)]  # headers stay in the text


# ------------------------------------------------------------------------------------------------ aspects


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Wady: opóźnienie dostawy", {"delivery": "negative"}),
        ("Zalety: szybka wysyłka", {"delivery": "positive"}),
        ("Zalety: cena\nWady: opóźnienie dostawy", {"price": "positive", "delivery": "negative"}),
        ("Plusy: szybka wysyłka\nMinusy: wysoka cena", {"delivery": "positive", "price": "negative"}),
        ("Pros: fast shipping\nCons: expensive", {"delivery": "positive", "price": "negative"}),
        ("Pros: low price. Cons: the courier was a week late", {"price": "positive", "delivery": "negative"}),
    ],
)
def test_each_section_is_attributed_by_its_own_aspect_and_header(
    flat_detector: AspectDetector, text: str, expected: dict[str, str]
) -> None:
    """The scorer says neutral to everything here: the aspect comes from the words after the header, the
    polarity from the header, and "Wady" ("defects") never files a delivery complaint under quality."""
    assert by_aspect(flat_detector.detect([text])[0]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zalety: ładny wygląd. Wady: skrzypi po miesiącu", {"product_quality": "negative"}),
        ("Pros: looks nice\nCons: none", {"product_quality": "positive"}),
        ("Zalety: szybka wysyłka. Wady: brak.", {"delivery": "positive"}),
        ("Zalety: cena\nWady: nie ma", {"price": "positive"}),
    ],
)
def test_an_item_naming_nothing_else_is_about_the_product(
    flat_detector: AspectDetector, text: str, expected: dict[str, str]
) -> None:
    """On a product's pros/cons list an item with no aspect words ("skrzypi": it creaks) judges the product;
    one saying there are none ("brak", "none") judges nothing."""
    assert by_aspect(flat_detector.detect([text])[0]) == expected


def test_the_evidence_shows_the_header(flat_detector: AspectDetector) -> None:
    (mention,) = flat_detector.detect(["Wady: opóźnienie dostawy"])[0]
    assert mention.evidence == "Wady: opóźnienie dostawy" and mention.score is not None and mention.score < 0


def test_demo_ceneo_review_with_the_real_scorer(scored_detector: AspectDetector) -> None:
    """The demo's own Ceneo opinion (text, pros and cons as the spider joins them)."""
    text = (
        "Wszystko w porządku, choć kurier przyjechał dzień później niż podano.\n\n"
        "Zalety: cena\nWady: opóźnienie dostawy"
    )
    assert by_aspect(scored_detector.detect([text])[0]) == {"delivery": "negative", "price": "positive"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Zalety: szybka wysyłka\nWady: słaba jakość",
            {"delivery": "positive", "product_quality": "negative"},
        ),
        ("Plusy: cena\nMinusy: opóźnienie dostawy", {"price": "positive", "delivery": "negative"}),
        (
            "Great pan.\n\nPros: cheap\nCons: shipping took two weeks",
            {"price": "positive", "delivery": "negative"},
        ),
    ],
)
def test_pros_and_cons_with_the_real_scorer(
    scored_detector: AspectDetector, text: str, expected: dict[str, str]
) -> None:
    found = by_aspect(scored_detector.detect([text])[0])
    assert {a: found.get(a) for a in expected} == expected

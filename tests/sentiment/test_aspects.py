"""Aspect detection with per-aspect sentiment: lexicon, encoder, aspect sentiment, hostile input."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.aspect_eval import evaluate_aspects, load_labelled
from sentiment.aspects import ASPECTS, EVIDENCE_CHARS, AspectDetector, AspectMention, fold_in_place
from sentiment.embeddings import E5Embedder
from sentiment.scorer import Scorer
from sentiment.textfold import fold
from sentiment.vocabulary import ASPECT_LABELS

DEV_SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "sentiment" / "aspects_dev.jsonl"

_NEGATIVE_WORDS = re.compile(r"spóźni|słab|fataln|poor|terrible|late|nie działa")
_POSITIVE_WORDS = re.compile(r"szybk|świetn|fast|great|super")


class KeywordSentiment:
    """Deterministic stand-in for the scorer in logic tests: keyword rules, and a record of every call."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.tile([0.1, 0.8, 0.1], (len(texts), 1))
        for i, text in enumerate(texts):
            lowered = text.lower()
            if _NEGATIVE_WORDS.search(lowered):
                out[i] = [0.8, 0.1, 0.1]
            elif _POSITIVE_WORDS.search(lowered):
                out[i] = [0.1, 0.1, 0.8]
        return out


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder(threads=1)


@pytest.fixture(scope="module")
def detector(embedder: E5Embedder) -> AspectDetector:
    """Lexicon + real e5 encoder, no sentiment."""
    return AspectDetector(embedder)


@pytest.fixture(scope="session")
def scored_detector(bundled_scorer: Scorer) -> AspectDetector:
    return AspectDetector(E5Embedder(threads=1), sentiment_fn=bundled_scorer.probabilities)


def aspects_of(detector: AspectDetector, text: str) -> set[str]:
    return {m.aspect for m in detector.detect([text])[0]}


# ------------------------------------------------------------------------------------------------ lexicon


@pytest.mark.parametrize(
    ("aspect", "texts"),
    [
        (
            "returns",
            ["Zwrot bez problemu", "Czekam na zwrotu pieniędzy", "Ze zwrotem był kłopot", "Zwrócę to"],
        ),
        (
            "returns",
            ["Reklamacja odrzucona", "złożyłam reklamację", "Refund took ages", "I returned the shoes"],
        ),
        ("delivery", ["Przesyłka dotarła", "Brak przesyłki", "dostałem przesylke", "Kurierem DPD", "paczkę"]),
        ("delivery", ["It shipped fast", "Arrived broken", "The courier was late", "parcel lost"]),
        ("customer_service", ["Obsługa klienta fatalna", "Konsultantka pomogła", "infolinia milczy"]),
        ("customer_service", ["Customer service was great", "The agent was rude", "nobody at the helpline"]),
        ("product_quality", ["Jakość słaba", "Słaba jakości tkanina", "jakosc ok", "dobre wykonanie"]),
        ("product_quality", ["Poor quality", "The fabric is thin", "Faulty unit", "fell apart"]),
        ("price", ["Cena super", "ceny wysokie", "W tej cenie bomba", "cenowo ok", "Drogo", "tanio"]),
        ("price", ["Overpriced", "Great value for money", "too expensive", "cheap"]),
        ("payment", ["Płatność BLIKiem", "platnosc nie przeszla", "zapłaciłem przelewem", "PayU nie działa"]),
        ("payment", ["Payment failed", "I was charged twice", "paid by card", "PayPal error"]),
        ("website", ["Strona się zawiesza", "na stronie sklepu", "aplikacja crashuje", "koszyk się czyści"]),
        ("website", ["The website is slow", "The app crashes", "can't log in", "my cart emptied"]),
    ],
)
def test_lexicon_finds_inflected_and_unaccented_forms(
    detector: AspectDetector, aspect: str, texts: list[str]
) -> None:
    for text, mentions in zip(texts, detector.detect(texts), strict=True):
        found = {m.aspect: m.via for m in mentions}
        assert aspect in found, text
        assert found[aspect] in ("lexicon", "both"), text


@pytest.mark.parametrize(
    ("text", "not_aspect"),
    [
        ("Bardzo cenię ten sklep", "price"),
        ("Doceniam szybki kontakt", "price"),
        ("Brak kontaktu ze strony sklepu", "website"),
        ("Z jednej strony fajnie", "website"),
        ("Zwracam uwagę na detale", "returns"),
        ("Drogi sklepie, dziękuję", "price"),
        ("Napisałem drogą mailową", "price"),
        ("I will definitely return!", "returns"),
        ("Jakoś to przeżyję", "product_quality"),
        ("Pay attention to sizes", "payment"),
    ],
)
def test_idioms_that_only_look_like_an_aspect_are_ignored(
    detector: AspectDetector, text: str, not_aspect: str
) -> None:
    assert not_aspect not in aspects_of(detector, text)


def test_works_names_the_product_only_when_nothing_else_is_named(detector: AspectDetector) -> None:
    assert aspects_of(detector, "Nie działa po tygodniu.") == {"product_quality"}
    assert aspects_of(detector, "Strona nie działa.") == {"website"}


@pytest.mark.parametrize("text", ["ok", "👍", "😀😀😀", "Polecam!", "Love it!", "Dziękuję", "", "   "])
def test_generic_text_has_no_aspect(detector: AspectDetector, text: str) -> None:
    assert detector.detect([text]) == [[]]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_fold_in_place_keeps_offsets_and_otherwise_agrees_with_fold(text: str) -> None:
    """Lexicon spans are offsets into the clause, so the lexicon's fold maps one character to one."""
    folded = fold_in_place(text)
    assert len(folded) == len(text)
    assert all(f == fold(c) for c, f in zip(text, folded, strict=True) if len(fold(c)) == 1)


# ------------------------------------------------------------------------------------------------ encoder


def test_encoder_finds_aspects_without_aspect_words(detector: AspectDetector) -> None:
    mentions = detector.detect(["Still waiting for my order, two weeks now.", "Nobody picks up the phone."])
    assert [(m.aspect, m.via) for m in mentions[0]] == [("delivery", "encoder")]
    assert [(m.aspect, m.via) for m in mentions[1]] == [("customer_service", "encoder")]


def test_encoder_confirms_lexicon_hits(detector: AspectDetector) -> None:
    (mention,) = detector.detect(["The courier left the parcel at the wrong address."])[0]
    assert (mention.aspect, mention.via) == ("delivery", "both")


def test_development_sample_scores(detector: AspectDetector) -> None:
    """Guards the tuned lexicon and thresholds against regressions (the sample they were tuned on)."""
    items = load_labelled(DEV_SAMPLE)
    assert len(items) >= 80 and abs(sum(i.lang == "pl" for i in items) - len(items) / 2) <= 4
    report = evaluate_aspects(detector, items)
    assert report.micro.precision is not None and report.micro.precision >= 0.95
    assert report.micro.recall is not None and report.micro.recall >= 0.9
    assert report.by_via["encoder"][0] >= 1  # the encoder adds recall the lexicon misses


# ---------------------------------------------------------------------------------------- aspect sentiment


@pytest.mark.model
def test_mixed_polish_review_with_the_real_scorer(scored_detector: AspectDetector) -> None:
    mentions = {m.aspect: m for m in scored_detector.detect(["Szybka dostawa, ale jakość słaba"])[0]}
    assert set(mentions) == {"delivery", "product_quality"}
    assert mentions["delivery"].sentiment == "positive" and (mentions["delivery"].score or 0) > 0.3
    assert (
        mentions["product_quality"].sentiment == "negative"
        and (mentions["product_quality"].score or 0) < -0.3
    )
    assert mentions["delivery"].evidence == "Szybka dostawa"
    assert mentions["product_quality"].evidence == "ale jakość słaba"


@pytest.mark.model
def test_mixed_english_reviews_with_the_real_scorer(scored_detector: AspectDetector) -> None:
    first, second = scored_detector.detect(
        ["Fast delivery, but the quality is poor.", "Great price, terrible customer service."]
    )
    assert {m.aspect: m.sentiment for m in first} == {"delivery": "positive", "product_quality": "negative"}
    assert {m.aspect: m.sentiment for m in second} == {"price": "positive", "customer_service": "negative"}


def test_each_aspect_gets_the_sentiment_of_its_own_clause(embedder: E5Embedder) -> None:
    fake = KeywordSentiment()
    detector = AspectDetector(embedder, sentiment_fn=fake)
    texts = [
        "Szybka wysyłka, fatalna obsługa klienta.",
        "Płatność BLIKiem.",
        "Kurier się spóźnił. Cena super.",
    ]
    first, second, third = detector.detect(texts)
    assert [(m.aspect, m.sentiment, m.evidence) for m in first] == [
        ("delivery", "positive", "Szybka wysyłka"),
        ("customer_service", "negative", "fatalna obsługa klienta."),
    ]
    assert [(m.aspect, m.sentiment) for m in second] == [("payment", "neutral")]
    assert [(m.aspect, m.sentiment) for m in third] == [("delivery", "negative"), ("price", "positive")]
    assert third[0].score == pytest.approx(-0.7) and third[1].score == pytest.approx(0.7)
    assert len(fake.calls) == 1  # one batched call for every clause of every text


def test_sentiment_is_averaged_over_all_clauses_that_name_the_aspect(embedder: E5Embedder) -> None:
    detector = AspectDetector(embedder, sentiment_fn=KeywordSentiment())
    (mention,) = detector.detect(["Dostawa super. Dostawa spóźniona."])[0]
    assert mention.aspect == "delivery" and mention.score == pytest.approx(0.0)
    assert mention.evidence == "Dostawa super."  # the first mention is shown


def test_without_a_sentiment_function_sentiments_are_none(detector: AspectDetector) -> None:
    (mention,) = detector.detect(["Cena za wysoka."])[0]
    assert mention.sentiment is None and mention.score is None
    assert json.loads(json.dumps(mention.to_dict())) == {
        "aspect": "price",
        "sentiment": None,
        "score": None,
        "evidence": "Cena za wysoka.",
        "via": mention.via,
        "complaint": None,
    }


def test_a_sentiment_function_of_the_wrong_shape_is_reported(embedder: E5Embedder) -> None:
    detector = AspectDetector(embedder, sentiment_fn=lambda texts: np.zeros((len(texts), 2)))
    with pytest.raises(ValueError, match="shape"):
        detector.detect(["Cena za wysoka."])


def test_batches_equal_single_calls_and_keep_input_order(embedder: E5Embedder) -> None:
    detector = AspectDetector(embedder, sentiment_fn=KeywordSentiment())
    texts = [
        "Kurier się spóźnił.",
        "ok",
        "Great price, poor quality.",
        "Strona nie działa.",
        "Kurier się spóźnił.",
    ]
    together = detector.detect(texts)
    alone = [detector.detect([t])[0] for t in texts]
    assert together == alone
    assert together[0] == together[4]


def test_labels_cover_every_aspect_in_both_languages() -> None:
    assert set(ASPECT_LABELS) == set(ASPECTS)
    assert all(set(labels) == {"en", "pl"} and all(labels.values()) for labels in ASPECT_LABELS.values())


# ------------------------------------------------------------------------------------------ hostile input

HOSTILE = [
    "",
    "\x00\x01\x02",
    "😀" * 500,
    "<div><p>Przesyłka <b>szybka</b> &amp; tania</p><script>alert('x')</script></div>",
    "lone \ud800 surrogate in a delivery note \udfff",
    "." * 10_000,
    "\n" * 10_000,
    "a" * 200_000,
    "Dostawa szybka. " * 70_000,  # ~1 MB
    "İİİ ΣΣΣ ßßß ﬃ 𝕯𝖔𝖘𝖙𝖆𝖜𝖆",
]


def test_hostile_input_never_raises_and_stays_cheap(embedder: E5Embedder) -> None:
    detector = AspectDetector(embedder, sentiment_fn=KeywordSentiment())
    start = time.perf_counter()
    results = detector.detect(HOSTILE)
    assert time.perf_counter() - start < 60
    assert len(results) == len(HOSTILE)
    for mentions in results:
        assert all(m.aspect in ASPECTS and len(m.evidence) <= EVIDENCE_CHARS for m in mentions)
    html_mentions = {m.aspect: m.evidence for m in results[3]}
    assert set(html_mentions) == {"delivery", "price"}
    assert "<" not in html_mentions["delivery"] and "alert" not in html_mentions["delivery"]
    assert [m.aspect for m in results[4]] == ["delivery"]
    assert [m.aspect for m in results[8]] == ["delivery"]


def test_evidence_of_a_long_sentence_is_cut_around_the_aspect(detector: AspectDetector) -> None:
    text = "Na początku " + "bardzo " * 80 + "długo czekałem, bo kurier zgubił adres " + "i tak dalej " * 40
    (mention,) = detector.detect([text])[0]
    assert mention.aspect == "delivery" and len(mention.evidence) <= EVIDENCE_CHARS
    assert "kurier" in mention.evidence


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=400), min_size=1, max_size=4))
def test_detect_never_raises_and_names_only_known_aspects(detector: AspectDetector, texts: list[str]) -> None:
    results = detector.detect(texts)
    assert len(results) == len(texts)
    for mentions in results:
        assert all(isinstance(m, AspectMention) and m.aspect in ASPECTS for m in mentions)
        assert len({m.aspect for m in mentions}) == len(mentions)
        assert all(
            m.via in ("lexicon", "encoder", "both") and len(m.evidence) <= EVIDENCE_CHARS for m in mentions
        )

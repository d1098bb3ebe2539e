"""What a suggested reply apologises for: only what the text confidently complains about, at most two aspects.

The rule (:func:`sentiment.apology.complained_about`) is checked alone with small stand-ins, through the
detector with a complaint model that calls every aspect a complaint (so only the rule can hold the line), and
end to end with the bundled classifier and the shipped complaint model on Polish and English texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from sentiment.apology import MAX_COMPLAINTS, complained_about, is_complaint
from sentiment.aspects import AspectDetector, AspectMention
from sentiment.complaints import ComplaintModel
from sentiment.embeddings import E5Embedder
from sentiment.scorer import Scorer
from sentiment.vocabulary import ASPECT_KEYS

from .test_aspects import KeywordSentiment


@dataclass(frozen=True)
class _Named:
    aspect: str
    sentiment: str | None
    score: float | None


def _probabilities(**by_aspect: float) -> list[float]:
    return [by_aspect.get(a, 0.0) for a in ASPECT_KEYS]


def _file_threshold(_aspect: str) -> float:
    return 0.7


def _apologised_for(named: list[_Named], backed: set[str]) -> set[str]:
    return {n.aspect for n in named if is_complaint(n.sentiment, n.score, n.aspect in backed)}


def test_a_praised_or_neutral_aspect_is_never_apologised_for_however_sure_the_model_is() -> None:
    named = [
        _Named("delivery", "positive", 0.9),
        _Named("price", "neutral", -0.2),
        _Named("returns", "negative", -0.9),
    ]
    chosen = complained_about(named, _probabilities(delivery=0.99, price=0.99, returns=0.9), _file_threshold)
    assert _apologised_for(named, chosen) == {"returns"}


def test_one_text_gets_at_most_two_apologies_the_surest_ones() -> None:
    named = [_Named(a, "negative", -0.95) for a in ("delivery", "customer_service", "website", "payment")]
    probs = _probabilities(delivery=0.8, customer_service=0.95, website=0.85, payment=0.9)
    chosen = _apologised_for(named, complained_about(named, probs, _file_threshold))
    assert len(chosen) == MAX_COMPLAINTS == 2
    assert chosen == {"customer_service", "payment"}


def test_a_complaint_the_model_is_not_sure_of_gets_the_general_apology() -> None:
    named = [_Named("delivery", "negative", -0.95), _Named("website", "negative", -0.4)]
    # delivery: confidently negative, but the model is below its threshold; website: backed, but mildly negative
    backed = complained_about(named, _probabilities(delivery=0.69, website=0.99), _file_threshold)
    assert backed == {"website"} and _apologised_for(named, backed) == set()
    assert complained_about(named, _probabilities(delivery=0.99), lambda _a: 0.999) == set()


def _everything_is_a_complaint(dims: int = 384) -> ComplaintModel:
    """A complaint model that says every text complains about every aspect, the surest about delivery."""
    weights = np.zeros((dims + 1, len(ASPECT_KEYS)))
    weights[-1, :] = 3.0
    weights[-1, ASPECT_KEYS.index("delivery")] = 5.0
    return ComplaintModel(weights, np.zeros(dims), np.ones(dims), (0.7,) * len(ASPECT_KEYS))


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder(threads=1)


def _apologised(mentions: list[AspectMention]) -> set[str]:
    return {m.aspect for m in mentions if is_complaint(m.sentiment, m.score, m.complaint)}


@pytest.mark.parametrize(
    "text",
    [
        "Kurier spóźniony, strona nie działa, płatność fatalna, obsługa słaba.",
        "Courier late, website terrible, payment poor, support terrible.",
    ],
)
def test_one_sentence_naming_four_aspects_is_not_four_apologies(embedder: E5Embedder, text: str) -> None:
    detector = AspectDetector(embedder, KeywordSentiment(), complaints=_everything_is_a_complaint())
    [mentions] = detector.detect([text])
    assert len({m.aspect for m in mentions if m.sentiment == "negative"}) >= 4
    apologised = _apologised(mentions)
    assert len(apologised) == 2 and "delivery" in apologised


@pytest.mark.parametrize(
    "text",
    [
        "Kurier super szybki, ale strona fatalna.",
        "Delivery was super fast, but the website is terrible.",
    ],
)
def test_a_praised_aspect_is_not_apologised_for_even_by_a_model_that_says_so(
    embedder: E5Embedder, text: str
) -> None:
    detector = AspectDetector(embedder, KeywordSentiment(), complaints=_everything_is_a_complaint())
    [mentions] = detector.detect([text])
    by_aspect = {m.aspect: m for m in mentions}
    assert by_aspect["delivery"].sentiment == "positive"
    assert _apologised(mentions) == {"website"}


# ------------------------------------------------------------------ the bundled classifier and complaint model


@pytest.fixture(scope="module")
def shipped(bundled_scorer: Scorer, embedder: E5Embedder) -> AspectDetector:
    return AspectDetector(embedder, bundled_scorer.probabilities, complaints=ComplaintModel.load())


@pytest.mark.parametrize(
    "text",
    [
        "Punkt odbioru zamknięty… Telefon w punkcie nie działa.",
        "Punkt odbioru zamknięty o 17 mimo godzin na stronie. Telefon w punkcie nie działa.",
        "Pickup point closed at 5pm although the site says 7. Nobody answers the phone there.",
    ],
)
def test_a_closed_pickup_point_is_apologised_for_as_a_pickup_problem_only(
    shipped: AspectDetector, text: str
) -> None:
    [mentions] = shipped.detect([text])
    assert _apologised(mentions) <= {"delivery", "customer_service"}


@pytest.mark.parametrize(
    ("text", "praised"),
    [
        ("Kurier przyjechał błyskawicznie, ale obsługa od tygodnia nie odpisuje na maile.", "delivery"),
        ("Delivery was super fast, but support has ignored my emails for a week.", "delivery"),
        ("Cena świetna, ale paczka przyszła zgnieciona i kurier rzucił ją pod drzwi.", "price"),
        ("Great price, but the parcel arrived crushed and the courier threw it at the door.", "price"),
    ],
)
def test_the_shipped_models_never_apologise_for_a_praised_aspect(
    shipped: AspectDetector, text: str, praised: str
) -> None:
    [mentions] = shipped.detect([text])
    assert praised in {m.aspect for m in mentions}
    assert praised not in _apologised(mentions)


@pytest.mark.parametrize(
    "text",
    [
        "Punkt odbioru zamknięty, telefon w punkcie nie działa, strona kłamie, płatność przepadła, a zwrot "
        "pieniędzy nie doszedł.",
        "The pickup point was closed, the phone there is dead, the website lies, my payment vanished and the "
        "refund never came.",
    ],
)
def test_the_shipped_models_apologise_for_at_most_two_aspects_of_one_rant(
    shipped: AspectDetector, text: str
) -> None:
    [mentions] = shipped.detect([text])
    assert len([m for m in mentions if m.sentiment == "negative"]) >= 4
    assert len(_apologised(mentions)) <= MAX_COMPLAINTS

"""The demo's own items come out the way a customer-service lead reads them (issue 11's examples).

Each case failed with the v2 weights: a 1-star "never again" scored neutral, a 5-star story of a complaint
settled in three days scored negative and was posted to #cs-returns, two unanswered refund chases got no alert,
a satisfied 4-star review with a late courier counted as negative, an engineering post was negative, and the
reply to a closed pickup point apologised for the website, payment, delivery and product quality.
"""

from __future__ import annotations

import pytest

from alerts.replies import suggest_reply
from alerts.rules import MentionView
from alerts.views import score_view
from monitor.core.config import ReplySettings
from monitor.core.models import SentimentScore
from sentiment.analysis import Analysis, Analyzer, MentionText
from sentiment.apology import is_complaint
from sentiment.scorer import Scorer

pytestmark = pytest.mark.model

NEVER_AGAIN = (
    "Zamówiłam komplet garnków trzy tygodnie temu, a status od początku to „w przygotowaniu”. Infolinia nie "
    "odbiera, na dwa maile zero odpowiedzi. Termin dostawy 48h to fikcja. Nigdy więcej."
)
SETTLED = (
    "Reklamacja uszkodzonej pokrywki załatwiona w 3 dni, nowa pokrywka wysłana bez odsyłania starej. "
    "Tak się buduje zaufanie."
)
THIRD_WEEK = (
    "Trzeci tydzień czekam na zwrot za odesłany robot kuchenny z #DobraKuchnia. Na maile nikt nie odpisuje. "
    "Czy ktoś ma kontakt, który działa?"
)
NO_MONEY = (
    "Odesłałam blender 16 dni temu, sklep potwierdził odbiór paczki, a pieniędzy nadal nie ma. Infolinia odsyła "
    "do maila, mail do infolinii. Czy DobraKuchnia.pl w ogóle oddaje pieniądze?"
)
LATE_COURIER = "Wszystko w porządku, choć kurier przyjechał dzień później niż podano."
CHECKOUT_POST = "How we cut DobraKuchnia.pl's checkout from 7 steps to 2 with plain HTML forms"
PICKUP_POINT = (
    "Punkt odbioru zamknięty w godzinach podanych na stronie. Przyjechałem dwa razy na darmo, a zamówienie "
    "dalej „czeka na odbiór”. Telefon w punkcie nie działa."
)


@pytest.fixture(scope="module")
def analyzer(bundled_scorer: Scorer) -> Analyzer:
    """The production set-up: the shipped fusion, the aspect detector and the complaint model."""
    return Analyzer.with_defaults(bundled_scorer)


def _one(analyzer: Analyzer, text: str, rating: float | None = None) -> Analysis:
    return analyzer.analyze([MentionText(text, rating=rating)])[0]


def test_one_star_never_again_is_negative(analyzer: Analyzer) -> None:
    result = _one(analyzer, NEVER_AGAIN, rating=1)
    assert result.sentiment.label == "negative" and result.label_source == "fused"
    assert result.text_only.label == "negative"


def test_five_star_settled_complaint_is_positive(analyzer: Analyzer) -> None:
    result = _one(analyzer, SETTLED, rating=5)
    assert result.sentiment.label == "positive"
    assert result.text_only.label != "negative"


@pytest.mark.parametrize("text", [THIRD_WEEK, NO_MONEY])
def test_unanswered_refund_chases_are_negative(analyzer: Analyzer, text: str) -> None:
    assert _one(analyzer, text).sentiment.label == "negative"


def test_third_week_without_a_reply_is_urgent(analyzer: Analyzer) -> None:
    result = _one(analyzer, THIRD_WEEK)
    assert result.urgency.level == "elevated"
    assert [r.code for r in result.urgency.reasons] == ["repeated_complaint"]


def test_satisfied_four_stars_with_a_late_courier_is_not_negative(analyzer: Analyzer) -> None:
    result = _one(analyzer, LATE_COURIER, rating=4)
    assert result.sentiment.label == "positive"
    assert result.text_only.label != "negative"


@pytest.mark.xfail(
    strict=True,
    reason="still read as negative (-0.95): 'cut' in a title-only engineering post; no shop corpus text "
    "taught the model that a Hacker News title about the shop's own engineering is neutral or positive",
)
def test_engineering_post_is_not_negative(analyzer: Analyzer) -> None:
    assert _one(analyzer, CHECKOUT_POST).sentiment.label != "negative"


def test_closed_pickup_point_reply_apologises_only_for_what_went_wrong(analyzer: Analyzer) -> None:
    result = _one(analyzer, PICKUP_POINT, rating=1)
    complaints = {a.aspect for a in result.aspects if is_complaint(a.sentiment, a.score, a.complaint)}
    assert complaints <= {"delivery", "customer_service"}
    stored = SentimentScore(
        mention_id=1,
        mention_version=1,
        label=result.sentiment.label,
        score=result.sentiment.score,
        confidence=result.sentiment.confidence,
        lang="pl",
        model_name="m",
        model_version="v",
        aspects=[a.to_dict() for a in result.aspects],
    )
    mention = MentionView(
        id=1,
        source="google_business",
        target="DobraKuchnia",
        text=PICKUP_POINT,
        author="Jan",
        url="",
        rating=1.0,
        lang="pl",
        created_at=None,
        version=1,
    )
    reply = suggest_reply(
        mention, score_view(stored), ReplySettings(contact_email="pomoc@sklep.example")
    ).text
    for wrong in ("stron", "aplikacj", "płatnoś", "jakości", "jakość"):
        assert wrong not in reply.lower(), reply
    assert "Przepraszamy" in reply

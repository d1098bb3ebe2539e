"""A small, realistic demo data set for the web tests (HTTP and browser): two shops, twelve mentions.

Why a module of its own: the HTTP tests (tests/web/test_*.py) and the browser tests (test_e2e*.py) assert
against the same known rows, so both import :func:`seed_demo` and look rows up by key in :class:`SeedInfo`.

What is in it (all times in ISO week 2026-W47, Monday 16 – Sunday 22 November 2026, midday UTC):

========================  ===============  ================  ====  =========  ========  ==============================
key                       source           target            lang  sentiment  urgency   alert
========================  ===============  ================  ====  =========  ========  ==============================
gbp_pl_negative           google_business  Sklep Kowalski    pl    negative   elevated  open, suggested reply (Polish);
                                                                                        edited (revision 1 + follow-up)
gbp_en_positive           google_business  Sklep Kowalski    en    positive   none      –
tp_en_negative            trustpilot       Sklep Kowalski    en    negative   none      handled ("replied") by
                                                                                        U0AGENT01, with a ReplyRecord
tp_pl_neutral             trustpilot       Sklep Kowalski    pl    neutral    none      –
mastodon_hostile          mastodon         Sklep Kowalski    en    negative   none      assigned to U0AGENT02;
                                                                                        text ``<script>…`` ``<!channel>``,
                                                                                        url ``javascript:…``
gbp_en_negative           google_business  Sklep Kowalski    en    negative   none      open
mastodon_pl_positive      mastodon         Księgarnia Żuraw  pl    positive   none      –
ceneo_pl_negative         ceneo            Księgarnia Żuraw  pl    negative   none      open, SLA-escalated
ceneo_pl_positive         ceneo            Księgarnia Żuraw  pl    positive   none      –
gbp_pl_critical           google_business  Księgarnia Żuraw  pl    negative   critical  open, severity urgent (critical)
tp_en_neutral             trustpilot       Księgarnia Żuraw  en    neutral    none      –
mastodon_pl_neutral       mastodon         Księgarnia Żuraw  pl    neutral    none      –
========================  ===============  ================  ====  =========  ========  ==============================

Counts the tests rely on: 12 mentions; 6 per target; 4 google_business, 3 trustpilot, 3 mastodon,
2 ceneo; 6 negative, 3 neutral, 3 positive; urgency elevated 1, critical 1; handled 1 (tp_en_negative),
assigned 1 (mastodon_hostile, "U0AGENT02"). Search ``q=zażółć`` and ``q=zazolc`` find only mastodon_pl_positive
(diacritics optional, as for alert keywords); ``q=KURIER`` finds gbp_pl_negative (case-insensitive).
``gbp_pl_negative`` is the newest mention; it has a Google review name
(:data:`GOOGLE_REVIEW_NAME`) that tests/alerts/fake_sources.py FakeReplyApi can accept a reply for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.models import (
    Alert,
    AlertKind,
    AlertStatus,
    Mention,
    MentionRevision,
    ReplyRecord,
    SentimentScore,
    TargetRow,
)

__all__ = [
    "GOOGLE_REVIEW_NAME",
    "HOSTILE_TEXT",
    "SEED_WEEK",
    "TARGETS",
    "SeedInfo",
    "seed_demo",
]

SEED_WEEK: Final = "2026-W47"
WEEK_START: Final = datetime(2026, 11, 16, 12, 0, tzinfo=UTC)  # Monday of 2026-W47, midday UTC
TARGETS: Final = ("Sklep Kowalski", "Księgarnia Żuraw")
GOOGLE_REVIEW_NAME: Final = "accounts/1001/locations/2002/reviews/pl-neg-1"
HOSTILE_TEXT: Final = "<script>alert(1)</script> <!channel> Worst shop ever, they lost my order & ignored me"
MODEL: Final = ("earshot-sentiment-v1", "test")


@dataclass(frozen=True)
class SeedInfo:
    """Ids of what :func:`seed_demo` inserted, by the keys in the module docstring's table."""

    targets: dict[str, int]  # target name -> targets.id
    mentions: dict[str, int]  # key -> mentions.id
    alerts: dict[str, int]  # key of the alerted mention -> alerts.id (plus "gbp_pl_negative_edited")
    reply_id: int  # the ReplyRecord on tp_en_negative
    week: str = SEED_WEEK
    google_review_name: str = GOOGLE_REVIEW_NAME
    hostile_key: str = "mastodon_hostile"
    times: dict[str, datetime] = field(default_factory=dict)  # key -> mention created_at


@dataclass(frozen=True)
class _Row:
    key: str
    source: str
    target: str
    lang: str
    text: str
    label: str
    score: float
    confidence: float
    day: int  # days after Monday of the seed week
    hour: int = 0  # hours after midday
    rating: float | None = None
    author: str = "Anna Nowak"
    reach: int | None = None
    url: str | None = None
    urgency: str = "none"
    urgency_reasons: tuple[dict[str, Any], ...] = ()
    aspects: tuple[dict[str, Any], ...] = ()
    raw: dict[str, Any] | None = None


def _aspect(name: str, sentiment: str, evidence: str, score: float = 0.9) -> dict[str, Any]:
    return {"aspect": name, "sentiment": sentiment, "score": score, "evidence": evidence, "via": "lexicon"}


SKLEP, ZURAW = TARGETS

ROWS: Final[tuple[_Row, ...]] = (
    _Row(
        "gbp_pl_negative",
        "google_business",
        SKLEP,
        "pl",
        "Kurier zostawił paczkę pod drzwiami w deszczu, karton rozmókł, a obsługa od tygodnia nie "
        "odpowiada na maile. Żądam zwrotu pieniędzy!",
        "negative",
        -0.86,
        0.93,
        day=6,
        hour=3,
        rating=1,
        author="Zofia Wójcik",
        url="https://www.google.com/maps/reviews/pl-neg-1",
        urgency="elevated",
        urgency_reasons=(
            {"code": "public_escalation", "evidence": "Żądam zwrotu pieniędzy", "severity": "elevated"},
        ),
        aspects=(
            _aspect("delivery", "negative", "Kurier zostawił paczkę pod drzwiami"),
            _aspect("customer_service", "negative", "obsługa od tygodnia nie odpowiada"),
            _aspect("returns", "negative", "Żądam zwrotu pieniędzy"),
        ),
        raw={"name": GOOGLE_REVIEW_NAME, "starRating": "ONE"},
    ),
    _Row(
        "gbp_en_positive",
        "google_business",
        SKLEP,
        "en",
        "Fast delivery and friendly staff in the Kraków store. Will order again!",
        "positive",
        0.91,
        0.95,
        day=0,
        rating=5,
        author="John Smith",
        url="https://www.google.com/maps/reviews/en-pos-1",
        aspects=(_aspect("delivery", "positive", "Fast delivery"),),
        raw={"name": "accounts/1001/locations/2002/reviews/en-pos-1", "starRating": "FIVE"},
    ),
    _Row(
        "tp_en_negative",
        "trustpilot",
        SKLEP,
        "en",
        "My refund is still not processed after three weeks. Nobody answers the phone.",
        "negative",
        -0.78,
        0.89,
        day=1,
        rating=2,
        author="Mary Jones",
        url="https://www.trustpilot.com/reviews/tp-en-neg-1",
        aspects=(
            _aspect("returns", "negative", "refund is still not processed"),
            _aspect("customer_service", "negative", "Nobody answers the phone"),
        ),
        raw={"id": "tp-en-neg-1"},
    ),
    _Row(
        "tp_pl_neutral",
        "trustpilot",
        SKLEP,
        "pl",
        "Zamówienie doszło w terminie, ale opakowanie mogłoby być solidniejsze.",
        "neutral",
        0.02,
        0.61,
        day=1,
        hour=2,
        rating=3,
        author="Piotr Zieliński",
        url="https://www.trustpilot.com/reviews/tp-pl-neu-1",
        raw={"id": "tp-pl-neu-1"},
    ),
    _Row(
        "mastodon_hostile",
        "mastodon",
        SKLEP,
        "en",
        HOSTILE_TEXT,
        "negative",
        -0.95,
        0.97,
        day=2,
        author="<b>troll</b>@mastodon.example",
        reach=1200,
        url="javascript:alert(document.cookie)",
        aspects=(_aspect("delivery", "negative", "they lost my order"),),
    ),
    _Row(
        "gbp_en_negative",
        "google_business",
        SKLEP,
        "en",
        "Rude staff at the Warsaw pickup point, waited 40 minutes for my parcel.",
        "negative",
        -0.71,
        0.84,
        day=3,
        rating=2,
        author="Tom Brown",
        url="https://www.google.com/maps/reviews/en-neg-1",
        aspects=(
            _aspect("customer_service", "negative", "Rude staff"),
            _aspect("delivery", "negative", "waited 40 minutes for my parcel"),
        ),
        raw={"name": "accounts/1001/locations/2002/reviews/en-neg-1", "starRating": "TWO"},
    ),
    _Row(
        "mastodon_pl_positive",
        "mastodon",
        ZURAW,
        "pl",
        "Świetna księgarnia, polecam każdemu! Zażółć gęślą jaźń — nawet zakładka w prezencie.",
        "positive",
        0.88,
        0.9,
        day=0,
        hour=1,
        author="@czytelniczka@mastodon.social",
        reach=340,
        url="https://mastodon.social/@czytelniczka/111",
    ),
    _Row(
        "ceneo_pl_negative",
        "ceneo",
        ZURAW,
        "pl",
        "Książka przyszła z pogniecioną okładką, reklamacja bez odpowiedzi od tygodnia.",
        "negative",
        -0.74,
        0.87,
        day=2,
        hour=4,
        rating=1,
        author="Krzysztof Łęcki",
        url="https://www.ceneo.pl/142071337#opinia-1",
        aspects=(
            _aspect("product_quality", "negative", "pogniecioną okładką"),
            _aspect("returns", "negative", "reklamacja bez odpowiedzi"),
        ),
    ),
    _Row(
        "ceneo_pl_positive",
        "ceneo",
        ZURAW,
        "pl",
        "Szybka wysyłka, wszystko zgodnie z opisem. Polecam!",
        "positive",
        0.93,
        0.96,
        day=4,
        rating=5,
        author="Ewa Kamińska",
        url="https://www.ceneo.pl/142071337#opinia-2",
        aspects=(_aspect("delivery", "positive", "Szybka wysyłka"),),
    ),
    _Row(
        "gbp_pl_critical",
        "google_business",
        ZURAW,
        "pl",
        "Dziecko dostało wysypki od farby z kupionej u Was zabawki. Zgłaszam sprawę do sanepidu i "
        "do prawnika.",
        "negative",
        -0.92,
        0.95,
        day=5,
        rating=1,
        author="Magdalena Ślusarczyk",
        url="https://www.google.com/maps/reviews/pl-crit-1",
        urgency="critical",
        urgency_reasons=(
            {"code": "health_safety", "evidence": "dostało wysypki", "severity": "critical"},
            {"code": "legal_threat", "evidence": "do prawnika", "severity": "elevated"},
        ),
        aspects=(_aspect("product_quality", "negative", "wysypki od farby"),),
        raw={"name": "accounts/3003/locations/4004/reviews/pl-crit-1", "starRating": "ONE"},
    ),
    _Row(
        "tp_en_neutral",
        "trustpilot",
        ZURAW,
        "en",
        "Okay selection, prices a bit high for paperbacks.",
        "neutral",
        -0.05,
        0.58,
        day=3,
        hour=5,
        rating=3,
        author="Alex Green",
        url="https://www.trustpilot.com/reviews/tp-en-neu-1",
        aspects=(_aspect("price", "negative", "prices a bit high", 0.6),),
        raw={"id": "tp-en-neu-1"},
    ),
    _Row(
        "mastodon_pl_neutral",
        "mastodon",
        ZURAW,
        "pl",
        "Ktoś zamawiał w Księgarni Żuraw? Jak u nich z czasem dostawy?",
        "neutral",
        0.0,
        0.7,
        day=4,
        hour=3,
        author="@marek@101010.pl",
        reach=55,
        url="https://101010.pl/@marek/222",
    ),
)

# Alerts: key -> (severity, kind, rule, reason, extra columns)
_SUGGESTED_PL: Final = (
    "Dzień dobry, bardzo przepraszamy za uszkodzoną przesyłkę i brak odpowiedzi. Prosimy o kontakt "
    "z numerem zamówienia — zajmiemy się zwrotem. Zespół Sklepu Kowalski"
)


def _when(row: _Row) -> datetime:
    return WEEK_START + timedelta(days=row.day, hours=row.hour)


def _alert_rows(mentions: dict[str, int], when: dict[str, datetime]) -> dict[str, Alert]:
    """The alert loop's rows for the negative mentions, each in a different state."""

    def base(key: str, **values: Any) -> Alert:
        sent = when[key] + timedelta(minutes=5)
        fields: dict[str, Any] = {
            "dedupe_key": f"seed:{key}",
            "mention_id": mentions[key],
            "mention_version": 1,
            "kind": AlertKind.NEGATIVE,
            "rule": "negative",
            "severity": "negative",
            "reason": "sentiment −0.7 ≤ −0.5",
            "channel": "#cs-alerts",
            "status": AlertStatus.SENT,
            "attempts": 1,
            "slack_ts": f"1763{mentions[key]:06d}.000100",
            "slack_channel_id": "C0ALERTS",
            "created_at": sent - timedelta(minutes=1),
            "sent_at": sent,
        }
        fields.update(values)
        return Alert(**fields)

    return {
        "gbp_pl_negative": base(
            "gbp_pl_negative",
            mention_version=2,
            kind=AlertKind.URGENT,
            rule="urgent",
            severity="urgent",
            reason="urgency elevated (public_escalation)",
            suggested_reply=_SUGGESTED_PL,
        ),
        "tp_en_negative": base(
            "tp_en_negative",
            suggested_reply="Hello Mary, we are sorry about the delay with your refund.",
            handled_at=when["tp_en_negative"] + timedelta(hours=2),
            handled_by="U0AGENT01",
            handled_action="replied",
            state_version=1,
            synced_version=1,
        ),
        "mastodon_hostile": base(
            "mastodon_hostile",
            assignee="U0AGENT02",
            assigned_by="U0LEAD01",
            assigned_at=when["mastodon_hostile"] + timedelta(minutes=30),
            state_version=1,
            synced_version=1,
        ),
        "gbp_en_negative": base("gbp_en_negative", kind=AlertKind.LOW_RATING),
        "ceneo_pl_negative": base(
            "ceneo_pl_negative",
            escalated_at=when["ceneo_pl_negative"] + timedelta(hours=24, minutes=10),
        ),
        "gbp_pl_critical": base(
            "gbp_pl_critical",
            kind=AlertKind.URGENT,
            rule="urgent",
            severity="urgent",
            reason="urgency critical (health_safety, legal_threat)",
            channel="#cs-pilne",
        ),
    }


def seed_demo(engine: Engine) -> SeedInfo:
    """Insert the data set described in the module docstring (into an empty database) and return its ids."""
    with Session(engine) as session:
        targets: dict[str, int] = {}
        for name in TARGETS:
            row = TargetRow(name=name, created_at=WEEK_START - timedelta(days=30))
            session.add(row)
            session.flush()
            assert row.id is not None
            targets[name] = row.id

        mentions: dict[str, int] = {}
        when: dict[str, datetime] = {}
        for r in ROWS:
            created = _when(r)
            version = 2 if r.key == "gbp_pl_negative" else 1
            mention = Mention(
                source=r.source,
                external_id=f"seed-{r.key}",
                target_id=targets[r.target],
                url=r.url,
                author=r.author,
                text=r.text,
                lang=r.lang,
                rating=r.rating,
                reach=r.reach,
                created_at=created,
                updated_at=created,
                first_seen_at=created + timedelta(minutes=3),
                last_seen_at=created + timedelta(minutes=3),
                version=version,
                raw=r.raw,
            )
            session.add(mention)
            session.flush()
            assert mention.id is not None
            mentions[r.key] = mention.id
            when[r.key] = created
            session.add(
                SentimentScore(
                    mention_id=mention.id,
                    mention_version=version,
                    label=r.label,
                    score=r.score,
                    confidence=r.confidence,
                    probabilities=_probabilities(r.label, r.confidence),
                    lang=r.lang,
                    model_name=MODEL[0],
                    model_version=MODEL[1],
                    urgency=r.urgency,
                    urgency_reasons=list(r.urgency_reasons),
                    aspects=list(r.aspects),
                    scored_at=created + timedelta(minutes=4),
                )
            )

        # gbp_pl_negative was edited: version 1 was milder and one star higher.
        first_version = when["gbp_pl_negative"] - timedelta(hours=5)
        session.add(
            MentionRevision(
                mention_id=mentions["gbp_pl_negative"],
                version=1,
                text="Kurier zostawił paczkę pod drzwiami, karton trochę zamoknięty.",
                rating=2,
                updated_at=first_version,
                recorded_at=when["gbp_pl_negative"],
            )
        )

        alert_rows = _alert_rows(mentions, when)
        alerts: dict[str, int] = {}
        for key, alert in alert_rows.items():
            alert.target = _target_of(key)
            alert.source = next(r.source for r in ROWS if r.key == key)
            session.add(alert)
            session.flush()
            assert alert.id is not None
            alerts[key] = alert.id

        edited = Alert(
            dedupe_key="seed:gbp_pl_negative:edited:2",
            mention_id=mentions["gbp_pl_negative"],
            mention_version=2,
            source="google_business",
            target=SKLEP,
            kind=AlertKind.EDITED,
            rule="urgent",
            severity="urgent",
            reason="the review was edited: now 1★ (was 2★)",
            channel="#cs-alerts",
            parent_id=alerts["gbp_pl_negative"],
            status=AlertStatus.SENT,
            attempts=1,
            created_at=when["gbp_pl_negative"] + timedelta(minutes=6),
            sent_at=when["gbp_pl_negative"] + timedelta(minutes=7),
        )
        session.add(edited)
        session.flush()
        assert edited.id is not None
        alerts["gbp_pl_negative_edited"] = edited.id

        reply = ReplyRecord(
            mention_id=mentions["tp_en_negative"],
            alert_id=alerts["tp_en_negative"],
            text="Hello Mary, we are sorry about the delay with your refund. It was sent today.",
            lang="en",
            author="U0AGENT01",
            via="slack",
            status="posted",
            created_at=when["tp_en_negative"] + timedelta(hours=2),
        )
        session.add(reply)
        session.flush()
        assert reply.id is not None
        reply_id = reply.id
        session.commit()
    return SeedInfo(targets=targets, mentions=mentions, alerts=alerts, reply_id=reply_id, times=when)


def _target_of(key: str) -> str:
    return next(r.target for r in ROWS if r.key == key)


def _probabilities(label: str, confidence: float) -> dict[str, float]:
    """Class probabilities consistent with the label and its confidence."""
    rest = round((1.0 - confidence) / 2, 6)
    probs = {"negative": rest, "neutral": rest, "positive": rest}
    probs[label] = confidence
    return probs

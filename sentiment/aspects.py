"""Which parts of the shopping experience a review talks about, and how it feels about each of them.

Customer-service teams route and report by aspect (delivery, returns and complaints, customer service,
product quality, price, payment, website/app), so each text gets one :class:`AspectMention` per aspect it
mentions, with the sentiment of the sentences that mention it ("Szybka dostawa, ale jakość słaba" is
positive about delivery and negative about quality).

Detection combines two signals per sentence (or clause, see :func:`split_sentences`):

* a **lexicon** of Polish and English stems per aspect, matched on lower-cased text with Polish diacritics
  folded away (people type "przesylka", "platnosc"), with exclusions for idioms that only look like an
  aspect ("ze strony sklepu" is "on the shop's part", "cenię" is "I value", "I will return!"), and weak
  terms ("nie działa", "broke") that name the product only when nothing else is named; high precision;
* the **e5 encoder**: each clause is compared with short descriptions of every aspect in both languages,
  and with generic aspect-free texts ("Nie polecam", "kind regards"). e5's cosine similarities are
  compressed (unrelated texts ~0.8), so all vectors are first centred on the mean of the descriptions.
  An aspect is detected when its similarity beats the clause's mean similarity to all aspects by a margin,
  clears a floor and beats the generic texts; the thresholds were tuned on the development sample
  ``tests/fixtures/sentiment/aspects_dev.jsonl`` only. The encoder names one aspect per clause, so it adds
  aspects only to clauses where the lexicon found none ("Still waiting for my order, two weeks now") and
  otherwise just confirms the lexicon (``via="both"``).

Each text gets at most one mention per aspect, in order of first mention; its evidence is the first clause
(or, when a clause names several aspects, the comma-separated piece) that mentions it.

Aspect sentiment comes from the caller's ``sentiment_fn`` (production: ``Scorer.probabilities``), called
once per :meth:`AspectDetector.detect` batch on every evidence clause; an aspect's probabilities are the
mean over the clauses whose words name it (encoder-only clauses count only when there are none), its label
the arg-max. Without a ``sentiment_fn`` sentiments and scores are ``None``.

Hostile input never raises: HTML tags are dropped, lone surrogates replaced, and a huge text is cut to its
first ``HEAD_SENTENCES`` and last ``TAIL_SENTENCES`` sentences: reviews name their topics up front and end
with the verdict, and the cost of a 1 MB paste must stay that of a long review.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final, Literal, cast

import numpy as np
import numpy.typing as npt

from sentiment.complaints import EMBEDDED_CHARS, ComplaintModel
from sentiment.embeddings import E5Embedder, Embedder, safe_text
from sentiment.vocabulary import ASPECT_KEYS

Sentiment = Literal["negative", "neutral", "positive"]
Via = Literal["lexicon", "encoder", "both"]

ASPECTS: Final[tuple[str, ...]] = ASPECT_KEYS  # one list, in the corpus module (standard library only)
ASPECT_LABELS: Final[dict[str, dict[str, str]]] = {
    "delivery": {"en": "Delivery", "pl": "Dostawa"},
    "returns": {"en": "Returns and complaints", "pl": "Zwroty i reklamacje"},
    "customer_service": {"en": "Customer service", "pl": "Obsługa klienta"},
    "product_quality": {"en": "Product quality", "pl": "Jakość produktu"},
    "price": {"en": "Price", "pl": "Cena"},
    "payment": {"en": "Payment", "pl": "Płatność"},
    "website": {"en": "Website / app", "pl": "Strona / aplikacja"},
}
_SENTIMENTS: Final[tuple[Sentiment, Sentiment, Sentiment]] = ("negative", "neutral", "positive")

EVIDENCE_CHARS: Final = 200
HEAD_SENTENCES: Final = 30
TAIL_SENTENCES: Final = 10
# Characters kept before splitting (head + tail): 40 sentences never need more, and regex work stays bounded.
_MAX_TEXT_CHARS: Final = 40_000
# A clause longer than this is a run-on paste; its head says what it is about, and e5 cost grows with length.
_EMBEDDED_CHARS: Final = 600
# A sentence scored for sentiment is clipped: the scorer keeps head + tail anyway, this bounds tokenising.
_SCORED_CHARS: Final = 1000


# --------------------------------------------------------------------------------------------- output types


@dataclass(frozen=True)
class AspectMention:
    """One aspect a text mentions, with the sentiment of the clauses that mention it."""

    aspect: str
    sentiment: Sentiment | None
    score: float | None
    evidence: str
    via: Via
    complaint: bool | None = None
    """Whether the text complains about this aspect (:mod:`sentiment.complaints`); None without that model."""

    def to_dict(self) -> dict[str, object]:
        return {
            "aspect": self.aspect,
            "sentiment": self.sentiment,
            "score": None if self.score is None else round(self.score, 4),
            "evidence": self.evidence,
            "via": self.via,
            "complaint": self.complaint,
        }


# ----------------------------------------------------------------------------------------- text handling

_FOLD: Final = str.maketrans("ąćęłńóśźż", "acelnoszz")
_TAG: Final = re.compile(r"<[^<>]{0,400}>")
_SCRIPT: Final = re.compile(r"<(script|style)\b[^>]{0,400}>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _lower(text: str) -> str:
    """Lower-case without changing the length (``"İ".lower()`` has two characters), so offsets line up."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def fold(text: str) -> str:
    """Lower-case with Polish diacritics removed; same length as ``text``, so match offsets carry over."""
    return _lower(text).translate(_FOLD)


def clean_text(text: str) -> str:
    """Plain text out of whatever a spider delivered: surrogates fixed, HTML tags and entities resolved."""
    if len(text) > _MAX_TEXT_CHARS:
        text = text[: _MAX_TEXT_CHARS - _MAX_TEXT_CHARS // 4] + "\n" + text[-(_MAX_TEXT_CHARS // 4) :]
    text = safe_text(text, max_chars=_MAX_TEXT_CHARS + 1)
    if "<" in text:
        text = _TAG.sub(" ", _SCRIPT.sub(" ", text))
    if "&" in text:
        text = html.unescape(text)
    return _CONTROL.sub(" ", text)


# Abbreviations after which a full stop never ends a sentence.
_NEVER_FINAL: Final = frozenset(
    {"np", "tzn", "tj", "tzw", "m.in", "e.g", "i.e", "mr", "mrs", "ms", "dr", "prof", "nr", "ul", "al", "vs"}
    | {"approx", "wg", "przyp", "ds"}
)
# Abbreviations that may also end a sentence ("buty, kurtki itp. Polecam"): split only before a capital.
_MAYBE_FINAL: Final = frozenset(
    {"itp", "itd", "etc", "ok", "zł", "zl", "r", "godz", "min", "max", "tys", "mln", "gr", "szt", "st"}
    | {"jr", "sr", "inc", "ltd"}
)
_BOUNDARY: Final = re.compile(r"(?:[.!?…]+[\"'”’)\]]*(?=\s|$)|\n)\s*")
_CONTRAST: Final = re.compile(
    r"(?:,\s*|\s+|;\s*|\s+[-–—]\s+)(?=(?:ale|lecz|jednak|natomiast|chociaż|choć|but|however|although|though|"
    r"whereas)\b)|,\s+(?=a\s)|;\s+|\s+[-–—]\s+",
    re.IGNORECASE,
)
_WORDS: Final = re.compile(r"\w+")
_MIN_CLAUSE_WORDS: Final = 2


def _is_abbreviation_stop(text: str, dot: int, following: str) -> bool:
    """True when the full stop at ``dot`` belongs to an abbreviation and does not end the sentence."""
    start = dot
    while start > max(0, dot - 20) and not text[start - 1].isspace() and text[start - 1] not in "([\"'":
        start -= 1
    token = text[start:dot].lower().rstrip(".")
    if not token:
        return False
    if token in _NEVER_FINAL:
        return True
    if token in _MAYBE_FINAL:
        return not following[:1].isupper()
    # single-letter initials ("J. Kowalski", "p. Anna") never end a review sentence
    return len(token) == 1 and token.isalpha() and bool(following[:1].isalpha())


def _raw_sentences(text: str) -> list[str]:
    sentences: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        mark = match.group(0)
        single_stop = mark.rstrip().rstrip("\"'”’)]") == "."
        if single_stop and end < len(text) and _is_abbreviation_stop(text, match.start(), text[end:]):
            continue
        piece = text[start:end].strip()
        if piece:
            sentences.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def _word_count(text: str) -> int:
    return len(_WORDS.findall(text))


def _split_clauses(sentence: str) -> list[str]:
    """Split before "ale"/"but"/"; "/" - " when both sides keep >= 2 words, else keep the sentence whole."""
    if _word_count(sentence) < 2 * _MIN_CLAUSE_WORDS:
        return [sentence]
    clauses: list[str] = []
    start = 0
    for match in _CONTRAST.finditer(sentence):
        left = sentence[start : match.start()].strip()
        right = sentence[match.end() :]
        if _word_count(left) >= _MIN_CLAUSE_WORDS and _word_count(right) >= _MIN_CLAUSE_WORDS:
            clauses.append(left)
            start = match.end()
    clauses.append(sentence[start:].strip())
    return [c for c in clauses if c]


def split_sentences(text: str) -> list[str]:
    """Sentences of a Polish or English review, with contrasting clauses ("..., ale ...") split apart.

    Full stops after abbreviations ("np.", "itp.", "tzn.", "m.in.", "e.g.", "Mr.") and inside numbers
    ("3.5") do not end a sentence; newlines do. A clause introduced by "ale", "lecz", "jednak", "but",
    "however"..., or after "; " or a dash, becomes its own item when both parts have at least two words,
    because the two halves usually judge different aspects.
    """
    if not isinstance(text, str):
        return []
    return [clause for sentence in _raw_sentences(text) for clause in _split_clauses(sentence)]


def _examined(sentences: list[str]) -> list[str]:
    """The first HEAD_SENTENCES and last TAIL_SENTENCES: topics come first, the verdict last; cost is bounded."""
    if len(sentences) <= HEAD_SENTENCES + TAIL_SENTENCES:
        return sentences
    return sentences[:HEAD_SENTENCES] + sentences[-TAIL_SENTENCES:]


# ---------------------------------------------------------------------------------------------- lexicon
# Patterns match folded text (lower case, no Polish diacritics). More specific alternatives come first.
# ``_EXCLUDE`` patterns run on lower-cased text with diacritics; a hit inside an exclusion match is dropped.
# ``_WEAK`` patterns ("nie działa", "broke") name an aspect only when no other aspect is named in the clause:
# "strona nie działa" is about the website, "nie działa po tygodniu" about the product.

_LEXICON: Final[dict[str, tuple[str, ...]]] = {
    "delivery": (
        r"dostaw\w*",
        r"dostarcz\w*",
        r"przesyl\w*",
        r"wysylk\w*",
        r"wysylek",
        r"wyslan\w*",
        r"kurier\w*",
        r"paczk\w*",
        r"paczek",
        r"paczuszk\w*",
        r"paczkomat\w*",
        r"punkt\w*\s+(?:odbioru|odbior|odbiorczy\w*|nadania|partnersk\w*)",
        r"pick-?up\s+points?",
        r"inpost\w*",
        r"poczt\w*\s+polsk\w*",
        r"pocztex\w*",
        r"przyszl[ao]",
        r"przyszedl",
        r"doszl[ao]",
        r"doszedl",
        r"dotarl[aoy]?",
        r"dojechal[ao]?",
        r"dowoz\w*",
        r"transport\w*",
        r"delivery\w*",
        r"deliver\w*",
        r"shipping",
        r"shipped",
        r"ships?",
        r"shipment\w*",
        r"courier\w*",
        r"parcel\w*",
        r"packages?",
        r"arriv\w*",
        r"dispatch\w*",
        r"tracking",
        r"track(?:ing)?\s+number",
        r"postage",
        r"postman",
        r"mailman",
        r"post\s+office",
        r"in\s+transit",
        r"dhl|dpd|fedex|gls|royal\s+mail|usps|evri|hermes",
    ),
    "returns": (
        r"zwrot\w*",
        r"zwroc\w*",
        r"zwrac\w*",
        r"reklamac\w*",
        r"zareklamow\w*",
        r"reklamowal\w*",
        r"gwarancj\w*",
        r"rekojm\w*",
        r"wymian\w*",
        r"wymien\w*",
        r"odesl\w*",
        r"odsyl\w*",
        r"odstapien\w*\s+od\s+umowy",
        r"refund\w*",
        r"returns?",
        r"returned",
        r"returning",
        r"exchang\w*",
        r"complain\w*",
        r"rma",
        r"warrant(?:y|ies)",
        r"guarantee",
        r"money\s+back",
        r"sen[dt]\s+(?:it|them|this|these|everything)\s+back",
        r"replacement\w*",
    ),
    "customer_service": (
        r"obslug\w*\s+klient\w*",
        r"biur\w*\s+obslugi",
        r"obslu[gd]\w*",
        r"konsultant\w*",
        r"infolini\w*",
        r"telefon\w*\s+(?:w\s+punkcie|w\s+sklepie|do\s+sklepu|do\s+punktu|do\s+obsługi|kontaktow\w*)",
        r"kontakt\w*",
        r"sprzedawc\w*",
        r"sprzedajac\w*",
        r"odpowiedz\w*",
        r"odpowiedzi",
        r"odpisa\w*",
        r"odpisuj\w*",
        r"nie\s+odpowiada\w*",
        r"pomocn\w*",
        r"uprzejm\w*",
        r"czat\w*|czaci\w*",
        r"chat\w*",
        r"dodzwoni\w*",
        r"personel\w*",
        r"pracowni[kc]\w*",
        r"ekspedient\w*",
        r"doradc\w*|doradzi\w*",
        r"customer\s+(?:service|care|support)",
        r"support",
        r"service",
        r"agents?",
        r"helpline|hotline|call\s+cent(?:er|re)",
        r"staff",
        r"representatives?",
        r"repl(?:y|ied|ies)",
        r"respon(?:d|ded|ds|se|ses|sive|siveness)",
        r"contact\w*",
        r"sellers?",
    ),
    "product_quality": (
        r"jakosc\w*",
        r"wykonan\w*",
        r"material(?:u|em|y|ow|ami|ach|e)?",
        r"tkanin\w*",
        r"szew|szwy|szwach|szwow|szwami",
        r"wadliw\w*",
        r"wad[ayie]",
        r"defekt\w*",
        r"tandet\w*",
        r"badziew\w*",
        r"chinszczyzn\w*",
        r"trwal(?:y|e|osc\w*|ego|ej|ym)",
        r"wytrzymal\w*",
        r"solidn\w*",
        r"rozkleil\w*",
        r"rozpad\w*",
        r"rozlecial\w*",
        r"rozpruw\w*",
        r"(?:nie)?zgodn\w*\s+z\s+opisem",
        r"quality",
        r"well[- ]made|poorly\s+made|badly\s+made|cheaply\s+made",
        r"craftsmanship|build\s+quality|solid\s+build|(?:well|badly|poorly|solidly|cheaply)\s+built",
        r"materials?|fabric\w*|stitch\w*|seams?",
        r"defect\w*|faulty|flaw\w*",
        r"durab\w*|sturdy|flimsy",
        r"fell\s+apart|falls?\s+apart|falling\s+apart",
        r"as\s+described|as\s+advertised",
        r"battery|batteries",
    ),
    "price": (
        r"cen(?:a|y|ie|e|ach|ami|om)?",
        r"cenow\w*",
        r"przecen\w*",
        r"drog[iao]|drogie|drozej|drozsz\w*|drogawy",
        r"przeplac\w*|doplac\w*|doplat\w*",
        r"zdzierstw\w*",
        r"tani\w*|tanio|tansz\w*",
        r"(?:nie)?oplacaln\w*",
        r"koszt\w*",
        r"promocj\w*|promoc\w*",
        r"rabat\w*",
        r"znizk\w*",
        r"wyprzedaz\w*",
        r"price\w*|pricing|priced|overpriced",
        r"expensive|pricey|inexpensive",
        r"cheap\w*",
        r"afford\w*",
        r"value\s+for\s+money|good\s+value|great\s+value|poor\s+value",
        r"bargain\w*",
        r"costs?|costly",
        r"discount\w*|coupons?|promo\w*|sales?",
        r"rip[- ]?off",
    ),
    "payment": (
        r"platnos\w*",
        r"platnic\w*",
        r"(?:za|prze|wy|od)?plac(?:i|enie|on)\w*",
        r"zaplac\w*",
        r"zaplat\w*",
        r"oplac\w*",
        r"blik\w*",
        r"przelew(?:em|u|y|ow|ami|ach)?",
        r"payu|przelewy\s*24|p24|paypal|tpay|dotpay|klarna|google\s+pay|apple\s+pay",
        r"kart\w*\s+(?:platnicz|kredytow|debetow)\w*",
        r"kart[aeyo]",
        r"za\s+pobraniem|pobraniow\w*",
        r"na\s+raty|ratach|raty",
        r"faktur\w*",
        r"transakcj\w*",
        r"obciazon\w*",
        r"payments?",
        r"pay|paid|paying|pays",
        r"(?:double[- ])?charged|charges?",
        r"(?:credit|debit)\s+card|cards?",
        r"transactions?",
        r"invoices?",
        r"billing|billed",
        r"bank\s+transfer",
        r"cash\s+on\s+delivery",
        r"installments?|instalments?",
        r"unpaid",
    ),
    "website": (
        r"stron\w*\s+internetow\w*",
        r"stron(?:a|y|ie|e|ach|ami|om)?",
        r"witryn\w*",
        r"serwis\w*\s+internetow\w*",
        r"aplikacj\w*",
        r"apk[aiue]|apce",
        r"koszyk\w*",
        r"(?:za)?logowa\w*|zaloguj\w*|login\w*",
        r"(?:za)?rejestr(?:acj|owa)\w*",
        r"wyszukiwark\w*",
        r"filtr\w*\s+(?:rozmiar|cen|kolor|wyszukiw)\w*",
        r"formularz\w*",
        r"interfejs\w*",
        r"wersj\w*\s+mobiln\w*",
        r"website\w*|web\s*site\w*|web\s*page\w*|site",
        r"apps?|application",
        r"log\s*in|logging\s+in|sign\s*in|sign\s*up|password",
        r"checkout(?:\s+page)?|cart|basket",
        r"search\s+(?:bar|box|function|results?|engine)|(?:size|price|colou?r|search)\s+filters?",
        r"navigat\w*|interface|ui|ux|user[- ]friendly|layout",
        r"crash\w*|glitch\w*|bugs?|buggy|laggy",
        r"pages?",
    ),
}
_WEAK: Final[dict[str, tuple[str, ...]]] = {
    "customer_service": (
        r"e-?mail\w*|mail|maila|maile|maili|mailem",
        r"(?:un)?helpful|rude|polite\w*|friendly",
    ),
    "product_quality": (
        r"(?:nie\s+)?dziala\w*|przestal\w*\s+dzialac|zepsu\w*|psuj\w*|uszkodz\w*|popsul\w*|pekl\w*|pekni\w*",
        r"works?\s+(?:great|perfectly|fine|well|like\s+a\s+charm|as\s+(?:expected|described|advertised))",
        r"(?:stopped|stop|never|not|n[’']?t)\s+work(?:ing|s|ed)?|not\s+working",
        r"broke|broken|breaks",
        r"damaged",
    ),
}
_EXCLUDE: Final[dict[str, tuple[str, ...]]] = {
    "returns": (
        r"zwr[óoa]c\w*\s+(?:\w{1,3}\s+)?(?:na\s+)?uwag\w*|zwrot\w*\s+akcji",
        r"\b(?:will|would|'ll|definitely|gladly|happily|surely)\s+(?:\w+\s+)?return\b"
        r"(?!\s+(?:it|them|this|these|that|the|my|an?|items?|products?|orders?)\b)",
        r"return(?:ing)?\s+customers?|in\s+return",
    ),
    "customer_service": (
        r"(?:łatw|prost|intuicyjn|wygodn|trudn|skomplikowan)\w*\s+(?:\w+\s+)?obsług\w*",
        r"\bw\s+obsłudze\b(?!\s+klient)",
        r"obsług\w*\s+(?:aplikacj|stron|urządz|program|kart|płatnoś)\w*",
        r"(?:arch|lumbar|back|neck|ankle)\s+support",
        r"\b(?:to|i|we|they|you|will|would|not|n't)\s+support\b(?!\s+(?:team|staff|agent|desk|line|chat)\b)",
        r"odpowiedzialn\w*",
    ),
    "price": (
        r"\bcenię\b|\bceni(?:my|sz|ć|ą|ł\w*|on\w*)\b|\bdoceni\w*",
        r"drog[aą]\s+(?:mailow|elektroniczn|telefoniczn|poczt)\w*|\bdrogi\s+(?:sklepie|panie|pani|klienc)\w*",
        r"\bsales?\s+(?:team|assistant|rep\w*|person|staff)\b",
    ),
    "payment": (
        r"kart\w*\s+(?:gwarancyjn|graficzn|pamięci|pamieci|sim|podarunkow|rozmiar)\w*",
        r"\bpay\s+attention\b",
        r"\bin\s+charge\b",
        r"\bplac(?:ing|ed|es|e)\b",
        r"opłacaln\w*|oplacaln\w*",
    ),
    "website": (
        r"\b(?:podan|napisan|wskazan|widniejąc|opisan)\w*\s+na\s+stronie",
        r"\b(?:z|ze|po)\s+(?:\w+\s+)?stron\w*",
        r"\b(?:obie|obu|dwie|obydwie|każdej|jednej|drugiej)\s+stron\w*|\bw\s+(?:\w+\s+)?stronę\b",
        r"\bsite\s+(?:visit|manager)\b",
        r"\bapplication\s+of\b",
    ),
    "delivery": (
        r"\bships?\s+(?:in|with)\s+(?:a|the)?\s*(?:box|bag)\b",
        r"doszło\s+do\b(?!\s+(?:mnie|nas)\b)",
    ),
}


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\b")


_LEXICON_RE: Final = {aspect: _compile(patterns) for aspect, patterns in _LEXICON.items()}
_WEAK_RE: Final = {aspect: _compile(patterns) for aspect, patterns in _WEAK.items()}
_EXCLUDE_RE: Final = {
    aspect: re.compile("|".join(f"(?:{p})" for p in patterns)) for aspect, patterns in _EXCLUDE.items()
}


def _kept_spans(pattern: re.Pattern[str], folded: str, lowered: str, aspect: str) -> list[tuple[int, int]]:
    spans = [m.span() for m in pattern.finditer(folded)]
    exclusion = _EXCLUDE_RE.get(aspect)
    if not spans or exclusion is None:
        return spans
    blocked = [m.span() for m in exclusion.finditer(lowered)]
    return [(s, e) for s, e in spans if not any(bs <= s and e <= be for bs, be in blocked)]


def lexicon_hits(clause: str) -> dict[str, list[tuple[int, int]]]:
    """Aspect -> character spans of its lexicon terms in ``clause`` (weak terms only when nothing else hit)."""
    lowered = _lower(clause)
    folded = lowered.translate(_FOLD)
    hits: dict[str, list[tuple[int, int]]] = {}
    for aspect in ASPECTS:
        spans = _kept_spans(_LEXICON_RE[aspect], folded, lowered, aspect)
        if spans:
            hits[aspect] = spans
    for aspect, pattern in _WEAK_RE.items():
        if aspect in hits or any(other != aspect for other in hits):
            continue
        spans = _kept_spans(pattern, folded, lowered, aspect)
        if spans:
            hits[aspect] = spans
    return hits


# ---------------------------------------------------------------------------------------------- encoder
# Short descriptions of each aspect in both languages and polarities; a clause near one of them is about it.

_PROTOTYPES: Final[dict[str, tuple[str, ...]]] = {
    "delivery": (
        "the parcel was delivered by the courier late",
        "fast delivery, the package arrived the next day",
        "still waiting for my order to arrive, the shipment is stuck",
        "the courier left the package at the door",
        "paczka dotarła szybko, kurier dostarczył na czas",
        "przesyłka się spóźnia, czekam na zamówienie od tygodnia",
        "kurier zostawił paczkę pod drzwiami",
        "wysyłka trwała bardzo długo",
        "zamówienie jeszcze nie dotarło",
        "czekam na paczkę już dwa tygodnie",
        "przesyłka przyszła na następny dzień",
        "paczka zaginęła w transporcie",
        "my order never arrived",
        "shipping was quick",
    ),
    "returns": (
        "I returned the item and got my money back",
        "the refund took weeks to arrive",
        "my complaint about the faulty product was rejected",
        "exchange for a different size was easy",
        "zwrot towaru i zwrot pieniędzy na konto",
        "reklamacja została odrzucona",
        "odesłałem produkt i czekam na pieniądze",
        "wymiana na inny rozmiar przebiegła sprawnie",
        "chcę zwrócić towar i odzyskać pieniądze",
        "sklep nie uznał mojej reklamacji",
        "nadal nie dostałem zwrotu pieniędzy",
        "odstąpienie od umowy w ciągu 14 dni",
        "they refused my return request",
        "still waiting for my refund",
    ),
    "customer_service": (
        "the customer service agent was helpful and polite",
        "support never answered my emails",
        "I called the helpline and nobody picked up",
        "the staff were friendly and answered my questions",
        "obsługa klienta była miła i pomocna",
        "nikt nie odpowiada na maile ani telefony",
        "konsultant na czacie szybko pomógł",
        "kontakt ze sprzedawcą bardzo dobry",
        "nikt nie odbiera telefonu",
        "pani z obsługi była bardzo uprzejma",
        "czekam na odpowiedź od tygodnia",
        "sprzedawca szybko odpisał na wiadomość",
        "nobody answers the phone",
        "the seller replied quickly",
    ),
    "product_quality": (
        "the product is well made from good materials",
        "it broke after a week, poor quality",
        "works perfectly and looks exactly like in the photos",
        "the fabric is thin and the seams came apart",
        "produkt dobrej jakości, solidnie wykonany",
        "zepsuło się po tygodniu, słaba jakość",
        "materiał jest cienki i tandetny",
        "działa świetnie i wygląda jak na zdjęciu",
        "produkt przestał działać po miesiącu",
        "towar zgodny z opisem i dobrze wykonany",
        "urządzenie działa bez zarzutu",
        "rozmiar się zgadza i dobrze leży",
        "the item stopped working after a month",
        "fits well and looks great",
    ),
    "price": (
        "the price is too high, it is overpriced",
        "cheap and good value for money",
        "great discount and sale prices",
        "it costs more than in other shops",
        "cena jest za wysoka, za drogo",
        "tanio, dobry stosunek jakości do ceny",
        "świetna promocja i rabat",
        "kosztuje więcej niż w innych sklepach",
        "w tej cenie to prawdziwa okazja",
        "przepłaciłem, nie jest wart swojej ceny",
        "kupiłem na wyprzedaży z rabatem",
        "ceny są bardzo przystępne",
        "not worth the money",
        "half price in the sale",
    ),
    "payment": (
        "the card payment failed at checkout",
        "I paid by bank transfer and was charged twice",
        "paying with PayPal was quick",
        "płatność kartą nie przeszła",
        "zapłaciłem przelewem, a pieniądze pobrano dwa razy",
        "płatność BLIKiem szybka i wygodna",
        "pieniądze pobrane z konta, a zamówienie nieopłacone",
        "płatność przy odbiorze",
        "transakcja została odrzucona przez bank",
        "my card was declined",
        "the transaction failed but the money was taken",
    ),
    "website": (
        "the website is slow and the page keeps crashing",
        "the mobile app is easy to use",
        "I cannot log in to my account on the site",
        "the shopping cart on the website does not work",
        "strona internetowa sklepu działa wolno i się zawiesza",
        "aplikacja mobilna jest wygodna i przejrzysta",
        "nie mogę się zalogować na stronie",
        "koszyk na stronie się czyści",
        "strona nie ładuje się na telefonie",
        "nie da się złożyć zamówienia przez aplikację",
        "wyszukiwarka na stronie nie działa",
        "łatwo znaleźć produkty na stronie",
        "the site won't load",
        "the app keeps logging me out",
    ),
}


# Texts about the shop in general or about nothing: a clause nearer to these than to its best aspect is not
# about an aspect ("Nie polecam", "Love it"), however far its best aspect is from the others.
_GENERIC: Final[tuple[str, ...]] = (
    "jestem bardzo zadowolona z zakupów",
    "nie kupujcie w tym sklepie",
    "wszystko w porządku, dziękuję",
    "dzień dobry, mam pytanie",
    "najgorszy sklep w jakim kupowałem",
    "gorąco polecam ten sklep",
    "zdecydowanie nie polecam",
    "masakra, omijać szerokim łukiem",
    "pozdrawiam serdecznie",
    "I am very happy with my purchase",
    "do not buy from this shop",
    "everything was fine, thank you",
    "hello, I have a question",
    "worst shop ever",
    "highly recommended store",
    "would not recommend",
    "awful experience, avoid",
    "kind regards",
)


@dataclass(frozen=True)
class EncoderThresholds:
    """When a clause's nearest aspect counts as detected (tuned on the development sample only).

    Similarities are cosines after centring (see :class:`_AspectSpace`). ``margin``: the best aspect's
    similarity minus the clause's mean similarity to all aspects; ``floor``: the best aspect's similarity;
    ``generic_margin``: how much the best aspect must beat the nearest generic, aspect-free description.
    """

    margin: float = 0.15
    floor: float = 0.33
    generic_margin: float = 0.0


DEFAULT_THRESHOLDS: Final = EncoderThresholds()
_TOP_K: Final = 2


class _AspectSpace:
    """Aspect and generic descriptions, centred on their mean so that e5's shared direction cancels out.

    Every e5 vector has a large common component (unrelated sentences still score ~0.8); removing the mean
    of the descriptions leaves the part that distinguishes topics.
    """

    def __init__(self, embedder: Embedder) -> None:
        names = [(ASPECTS.index(aspect), text) for aspect, texts in _PROTOTYPES.items() for text in texts]
        names += [(len(ASPECTS), text) for text in _GENERIC]
        vectors = np.asarray(embedder.embed([text for _, text in names]), dtype=np.float32)
        self.center = vectors.mean(axis=0)
        self.prototypes = _normalise(vectors - self.center)
        self.owner = np.array([owner for owner, _ in names])

    def similarities(self, vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """(n, len(ASPECTS) + 1) similarity of each clause to each aspect (last column: generic texts).

        An aspect's similarity is the mean of the clause's two best centred cosines to its descriptions:
        needing two descriptions to agree keeps off-topic chatter from riding on one accidental neighbour
        (on 300 off-topic tweets: 2 encoder detections instead of 10 with the single best).
        """
        sims = _normalise(vectors - self.center) @ self.prototypes.T
        out = np.empty((len(vectors), len(ASPECTS) + 1), dtype=np.float32)
        for k in range(len(ASPECTS) + 1):
            out[:, k] = np.sort(sims[:, self.owner == k], axis=1)[:, -_TOP_K:].mean(axis=1)
        return out


_SPACES: weakref.WeakKeyDictionary[Embedder, _AspectSpace] = weakref.WeakKeyDictionary()


def _shared_space(embedder: Embedder) -> _AspectSpace:
    """The embedded descriptions, built once per embedder (~100 texts) however many detectors use it."""
    try:
        space = _SPACES.get(embedder)
    except TypeError:  # an embedder that cannot be weakly referenced or hashed gets a space of its own
        return _AspectSpace(embedder)
    if space is None:
        space = _SPACES[embedder] = _AspectSpace(embedder)
    return space


def _normalise(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return cast(npt.NDArray[np.float32], (x / np.maximum(norms, 1e-9)).astype(np.float32))


def encoder_aspects(sims: npt.NDArray[np.float32], thresholds: EncoderThresholds) -> list[str | None]:
    """Per clause (a row of :meth:`_AspectSpace.similarities`): the aspect that stands out, or None."""
    out: list[str | None] = []
    for row in sims:
        aspects, generic = row[: len(ASPECTS)], float(row[len(ASPECTS)])
        best = int(np.argmax(aspects))
        top = float(aspects[best])
        detected = (
            top - float(aspects.mean()) >= thresholds.margin
            and top >= thresholds.floor
            and top - generic >= thresholds.generic_margin
        )
        out.append(ASPECTS[best] if detected else None)
    return out


# --------------------------------------------------------------------------------------------- detector


@dataclass
class _Evidence:
    """What one text says about one aspect while the batch is being scored."""

    lexicon_clauses: list[str] = field(default_factory=list)
    encoder_clauses: list[str] = field(default_factory=list)
    display: str = ""
    encoder_agrees: bool = False

    @property
    def via(self) -> Via:
        if self.lexicon_clauses and (self.encoder_clauses or self.encoder_agrees):
            return "both"
        return "lexicon" if self.lexicon_clauses else "encoder"

    @property
    def scored(self) -> list[str]:
        """Clauses that name the aspect outweigh clauses the encoder merely placed near it."""
        return self.lexicon_clauses or self.encoder_clauses


def _narrow(clause: str, span: tuple[int, int], aspects_here: int) -> str:
    """The comma-separated piece holding ``span`` when a clause names several aspects, else the clause."""
    if aspects_here < 2:
        return clause
    left = clause.rfind(",", 0, span[0]) + 1
    right = clause.find(",", span[1])
    piece = clause[left : right if right >= 0 else len(clause)].strip()
    return piece if _word_count(piece) >= _MIN_CLAUSE_WORDS else clause


def _display(text: str, span: tuple[int, int] | None = None) -> str:
    """At most EVIDENCE_CHARS characters of ``text``, around ``span`` when the text is longer."""
    if len(text) > EVIDENCE_CHARS:
        start = 0 if span is None else max(0, min(span[0] - EVIDENCE_CHARS // 3, len(text) - EVIDENCE_CHARS))
        window = text[start : start + EVIDENCE_CHARS]
        text = ("…" if start > 0 else "") + window + ("…" if start + len(window) < len(text) else "")
    text = " ".join(text.split())
    if len(text) <= EVIDENCE_CHARS:
        return text
    return text[: EVIDENCE_CHARS - 1] + "…"


class AspectDetector:
    """Detects aspects per text and scores each with the sentiment of the clauses that mention it.

    ``embedder`` defaults to the bundled e5 encoder (one thread); ``sentiment_fn`` maps texts to (n, 3)
    negative/neutral/positive probabilities, e.g. ``Scorer.probabilities``; without it sentiments are None.
    """

    def __init__(
        self,
        embedder: Embedder | None = None,
        sentiment_fn: Callable[[list[str]], np.ndarray] | None = None,
        *,
        thresholds: EncoderThresholds = DEFAULT_THRESHOLDS,
        complaints: ComplaintModel | None = None,
    ) -> None:
        self.embedder: Embedder = embedder if embedder is not None else E5Embedder(threads=1)
        self.sentiment_fn = sentiment_fn
        self.thresholds = thresholds
        self.complaints = complaints
        self._space: _AspectSpace | None = None

    def _aspect_space(self) -> _AspectSpace:
        if self._space is None:
            self._space = _shared_space(self.embedder)
        return self._space

    def _clauses(self, texts: Sequence[str]) -> list[list[str]]:
        return [_examined(split_sentences(clean_text(t))) if isinstance(t, str) else [] for t in texts]

    def _encoder_labels(self, clauses: list[list[str]]) -> dict[str, str | None]:
        """Encoder aspect per distinct clause of the batch; one-word clauses ("Polecam!") name no topic."""
        unique = list(
            dict.fromkeys(c for per_text in clauses for c in per_text if _word_count(c) >= _MIN_CLAUSE_WORDS)
        )
        if not unique:
            return {}
        vectors = np.asarray(self.embedder.embed([c[:_EMBEDDED_CHARS] for c in unique]), dtype=np.float32)
        labels = encoder_aspects(self._aspect_space().similarities(vectors), self.thresholds)
        return dict(zip(unique, labels, strict=True))

    def detect(self, texts: Sequence[str]) -> list[list[AspectMention]]:
        """One list of mentions per text (in input order), each list in order of first mention."""
        clauses = self._clauses(texts)
        encoder_label = self._encoder_labels(clauses)
        found: list[dict[str, _Evidence]] = []
        for per_text in clauses:
            evidence: dict[str, _Evidence] = {}
            for clause in per_text:
                hits = sorted(lexicon_hits(clause).items(), key=lambda hit: hit[1][0])
                for aspect, spans in hits:
                    item = evidence.setdefault(aspect, _Evidence())
                    piece = _narrow(clause, spans[0], len(hits))
                    item.lexicon_clauses.append(piece)
                    item.display = item.display or _display(piece, _span_in(piece, clause, spans[0]))
                label = encoder_label.get(clause)
                if label is None:
                    continue
                if label in evidence and any(aspect == label for aspect, _ in hits):
                    evidence[label].encoder_agrees = True
                elif not hits:  # one aspect per clause: the encoder adds to the lexicon, never overrules it
                    item = evidence.setdefault(label, _Evidence())
                    item.encoder_clauses.append(clause)
                    item.display = item.display or _display(clause)
            found.append(evidence)
        return self._with_complaints(texts, self._with_sentiment(found))

    def _with_complaints(
        self, texts: Sequence[str], found: list[list[AspectMention]]
    ) -> list[list[AspectMention]]:
        """Mark each found aspect as complained about or not, where a complaint model is loaded."""
        rows = [i for i, mentions in enumerate(found) if mentions]
        if self.complaints is None or not rows:
            return found
        heads = [texts[i][:EMBEDDED_CHARS] if isinstance(texts[i], str) else "" for i in rows]
        probs = self.complaints.probabilities(np.asarray(self.embedder.embed(heads), dtype=np.float32))
        for row, p in zip(rows, probs, strict=True):
            found[row] = [
                replace(m, complaint=bool(p[ASPECTS.index(m.aspect)] >= self.complaints.threshold(m.aspect)))
                for m in found[row]
            ]
        return found

    def _with_sentiment(self, found: list[dict[str, _Evidence]]) -> list[list[AspectMention]]:
        """Score every evidence clause of the batch in one call, then average per aspect."""
        scored = list(
            dict.fromkeys(c[:_SCORED_CHARS] for ev in found for item in ev.values() for c in item.scored)
        )
        probs: dict[str, npt.NDArray[np.float64]] = {}
        if self.sentiment_fn is not None and scored:
            matrix = np.asarray(self.sentiment_fn(scored), dtype=np.float64)
            if matrix.shape != (len(scored), 3):
                raise ValueError(f"sentiment_fn returned shape {matrix.shape}, expected ({len(scored)}, 3)")
            probs = dict(zip(scored, matrix, strict=True))
        out: list[list[AspectMention]] = []
        for evidence in found:
            mentions = []
            for aspect, item in evidence.items():
                sentiment: Sentiment | None = None
                score: float | None = None
                if probs:
                    mean = np.mean([probs[c[:_SCORED_CHARS]] for c in item.scored], axis=0)
                    sentiment = _SENTIMENTS[int(np.argmax(mean))]
                    score = float(np.clip(mean[2] - mean[0], -1.0, 1.0))
                mentions.append(AspectMention(aspect, sentiment, score, item.display, item.via))
            out.append(mentions)
        return out


def _span_in(piece: str, clause: str, span: tuple[int, int]) -> tuple[int, int] | None:
    offset = clause.find(piece)
    if offset < 0:
        return None
    return (span[0] - offset, span[1] - offset)


# ------------------------------------------------------------------------------------------- evaluation


class LabelledDataError(ValueError):
    """A line of a labelled aspect file is not valid JSON or does not follow the format."""


@dataclass(frozen=True)
class LabelledAspects:
    """One gold-labelled text: the aspects it mentions, each with a sentiment or None (mentioned, no verdict)."""

    id: str
    lang: str
    text: str
    aspects: dict[str, Sentiment | None]


def _parse_labelled(raw: object, where: str) -> LabelledAspects:
    if not isinstance(raw, dict):
        raise LabelledDataError(f"{where}: expected a JSON object")
    text, lang, aspects = raw.get("text"), raw.get("lang"), raw.get("aspects", {})
    if not isinstance(text, str) or lang not in ("pl", "en") or not isinstance(aspects, dict):
        raise LabelledDataError(f"{where}: needs 'text' (str), 'lang' ('pl'/'en') and 'aspects' (object)")
    for aspect, sentiment in aspects.items():
        if aspect not in ASPECTS:
            raise LabelledDataError(f"{where}: unknown aspect {aspect!r} (expected one of {ASPECTS})")
        if sentiment is not None and sentiment not in _SENTIMENTS:
            raise LabelledDataError(f"{where}: sentiment of {aspect!r} must be one of {_SENTIMENTS} or null")
    return LabelledAspects(
        str(raw.get("id", where)), str(lang), text, cast(dict[str, Sentiment | None], aspects)
    )


def load_labelled(path: Path) -> list[LabelledAspects]:
    """Read a JSONL file of ``{"id", "lang", "text", "aspects": {aspect: sentiment | null}}`` lines."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            raise LabelledDataError(f"{where}: invalid JSON ({exc.msg})") from exc
        items.append(_parse_labelled(raw, where))
    return items


@dataclass(frozen=True)
class AspectScores:
    """Detection counts and scores of one aspect (or of a micro-average); None where 0/0."""

    tp: int
    fp: int
    fn: int
    sentiment_correct: int
    sentiment_total: int

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        if p is None or r is None:
            return None
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def sentiment_accuracy(self) -> float | None:
        return self.sentiment_correct / self.sentiment_total if self.sentiment_total else None

    def to_dict(self) -> dict[str, object]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "support": self.support,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "sentiment_accuracy": self.sentiment_accuracy,
            "sentiment_n": self.sentiment_total,
        }


@dataclass(frozen=True)
class AspectReport:
    """Per-aspect, micro and macro detection scores, plus aspect-sentiment accuracy.

    Macro averages run over aspects present in the gold labels; an aspect that was never predicted counts
    as precision 0 there. Sentiment accuracy is measured on correctly detected aspects with a gold sentiment.
    ``by_via`` gives true/false positives per detection route, to show what the encoder adds.
    """

    n_texts: int
    per_aspect: dict[str, AspectScores]
    micro: AspectScores
    macro_precision: float | None
    macro_recall: float | None
    macro_f1: float | None
    by_lang: dict[str, AspectScores]
    by_via: dict[str, tuple[int, int]]

    def to_dict(self) -> dict[str, object]:
        return {
            "n_texts": self.n_texts,
            "per_aspect": {aspect: s.to_dict() for aspect, s in self.per_aspect.items()},
            "micro": self.micro.to_dict(),
            "macro": {"precision": self.macro_precision, "recall": self.macro_recall, "f1": self.macro_f1},
            "by_lang": {lang: s.to_dict() for lang, s in self.by_lang.items()},
            "by_via": {via: {"tp": tp, "fp": fp} for via, (tp, fp) in self.by_via.items()},
        }

    def format_table(self) -> str:
        def num(x: float | None) -> str:
            return "    -" if x is None else f"{x:5.3f}"

        head = f"{'aspect':<18}{'gold':>5}{'pred':>5}{'P':>7}{'R':>7}{'F1':>7}{'sent.acc':>10}{'n':>4}"
        lines = [f"aspect detection on {self.n_texts} texts", head, "-" * len(head)]
        rows = [*self.per_aspect.items(), *((f"micro ({lang})", s) for lang, s in self.by_lang.items())]
        for name, s in [*rows, ("micro", self.micro)]:
            lines.append(
                f"{name:<18}{s.support:>5}{s.tp + s.fp:>5}  {num(s.precision)}  {num(s.recall)}  {num(s.f1)}"
                f"     {num(s.sentiment_accuracy)}{s.sentiment_total:>4}"
            )
        lines.append(
            f"{'macro':<28}  {num(self.macro_precision)}  {num(self.macro_recall)}  {num(self.macro_f1)}"
        )
        vias = ", ".join(f"{via}: {tp} TP / {fp} FP" for via, (tp, fp) in self.by_via.items())
        lines.append(f"by route: {vias}")
        return "\n".join(lines)


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    sentiment_correct: int = 0
    sentiment_total: int = 0

    def add(
        self, gold: dict[str, Sentiment | None], predicted: dict[str, AspectMention], aspect: str
    ) -> None:
        in_gold, in_pred = aspect in gold, aspect in predicted
        self.tp += in_gold and in_pred
        self.fp += in_pred and not in_gold
        self.fn += in_gold and not in_pred
        if in_gold and in_pred and gold[aspect] is not None:
            self.sentiment_total += 1
            self.sentiment_correct += predicted[aspect].sentiment == gold[aspect]

    def frozen(self) -> AspectScores:
        return AspectScores(self.tp, self.fp, self.fn, self.sentiment_correct, self.sentiment_total)


def evaluate_aspects(detector: AspectDetector, items: Sequence[LabelledAspects]) -> AspectReport:
    """Run ``detector`` on the labelled texts (one batch) and score detection and aspect sentiment."""
    predictions = detector.detect([item.text for item in items])
    per_aspect = {aspect: _Counts() for aspect in ASPECTS}
    micro, by_lang = _Counts(), {lang: _Counts() for lang in sorted({item.lang for item in items})}
    by_via: dict[str, list[int]] = {via: [0, 0] for via in ("lexicon", "encoder", "both")}
    for item, mentions in zip(items, predictions, strict=True):
        predicted = {m.aspect: m for m in mentions}
        for aspect in ASPECTS:
            for counts in (per_aspect[aspect], micro, by_lang[item.lang]):
                counts.add(item.aspects, predicted, aspect)
        for mention in mentions:
            by_via[mention.via][0 if mention.aspect in item.aspects else 1] += 1
    scores = {aspect: counts.frozen() for aspect, counts in per_aspect.items()}
    present = [s for s in scores.values() if s.support > 0]
    return AspectReport(
        n_texts=len(items),
        per_aspect=scores,
        micro=micro.frozen(),
        macro_precision=_mean([s.precision or 0.0 for s in present]),
        macro_recall=_mean([s.recall or 0.0 for s in present]),
        macro_f1=_mean([s.f1 or 0.0 for s in present]),
        by_lang={lang: counts.frozen() for lang, counts in by_lang.items()},
        by_via={via: (tp, fp) for via, (tp, fp) in by_via.items()},
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sentiment.aspects labelled.jsonl [--no-sentiment] [--json]``: print the evaluation."""
    parser = argparse.ArgumentParser(prog="python -m sentiment.aspects", description=main.__doc__)
    parser.add_argument("labelled", type=Path, help="JSONL file of labelled texts")
    parser.add_argument("--no-sentiment", action="store_true", help="detection only (skip the scorer)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    sentiment_fn = None
    if not args.no_sentiment:
        from sentiment.scorer import Scorer

        sentiment_fn = Scorer.load().probabilities
    report = evaluate_aspects(AspectDetector(sentiment_fn=sentiment_fn), load_labelled(args.labelled))
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())

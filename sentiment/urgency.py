"""Urgency of a mention, read apart from its sentiment: what a customer-service lead must see first.

A polite "I have passed this to my lawyer" is more urgent than a furious "worst pizza ever", so urgency is
a separate reading from a lexicon of Polish and English phrases, plus what the caller knows about the
author (reach, earlier complaints). No model, no download: a few regular expressions compiled once, run on
every mention.

Policy (the severity a reason implies on its own):

======================  ===============================================================  ==========
reason                  examples                                                         severity
======================  ===============================================================  ==========
``legal_threat``        prawnik, pozew / pozwę, do sądu, lawyer, sue, small claims       critical
``health_safety``       zatrucie, poparzenie, zapaliło się, food poisoning, caught fire  critical
                        (expired / mouldy food, rash, swollen battery, "unsafe") too     critical
``data_leak``           wyciek danych, cudze dane, UODO, data breach, account hacked     critical
                        (bare mention of RODO / GDPR / personal data)                    elevated
``public_escalation``   policja, prokuratura, police                                     critical
                        UOKiK, rzecznik konsumentów, chargeback, do mediów, journalist   elevated
``fraud_scam``          oszustwo, oszuści, złodzieje, scam, stolen, counterfeit          elevated
                        ... angry (!!, SHOUTING, insults) and score <= -0.5, or high reach critical
``repeated_complaint``  ``prior_complaints >= 2``, "piszę już trzeci raz", "writing     elevated
                        again" (a repeat word needs a complaint verb: "zamówię
                        ponownie" / "will order again" is praise, not a repeat)
``high_reach``          ``reach >= high_reach_threshold``, "mam 50 tys. obserwujących"  elevated
======================  ===============================================================  ==========

Combining: the highest severity wins, and two or more *different* elevated reasons together are critical
(a fraud claim that is also a third complaint is worse than either).

Negation is deliberately simple: a phrase with a negator shortly before it in the same clause ("nie",
"nigdy", "bez", "not", "never", "-n't", "no", "without"; at most two words between for "nie"/"not"/
"never"/"-n't", none for the others) is still reported, since "I don't want to sue, but..." is still a
threat, but only as ``elevated``, and it neither escalates fraud nor counts towards the two-reasons rule.
When the sentiment is positive (score > 0) a negated phrase is dropped ("nie uczula, polecam"); fraud words
in a clearly positive text (score >= 0.5) are dropped too ("bałam się, że to oszustwo, ale wszystko doszło").

Jokes and names: a threat word in a question or beside a laugh is dropped (fraud, legal, escalation), and a
lawsuit the text itself calls a joke anywhere ("I'd sue them for making me buy more. Jokes aside...") is no
threat; a fraud word inside quotes or after "grupa"/"group" is a name ("Oszukani przez..."), while an
apostrophe within a word ("that's fraud", "I'd call it fraud") is not a quote.

Inflection: Polish patterns match stems with an ending wildcard (``prawni[kc]\\w*``) or the listed endings
where a bare stem would catch other words (``pozw-`` also starts *pozwolić*, so only the forms of *pozew*
and *pozwać* are listed). Every Polish letter in a pattern also accepts its plain twin (ą/a, ł/l, ...)
because many customers type without diacritics, except where the plain form is another word: *sąd* (court)
written *sad* is English "sad" or Polish "orchard", so it needs its diacritic or a court context
("do sadu", "przed sadem", "sprawa w sadzie"); "sądzę" (I think) is not a court.

Hostile input never raises: lone surrogates become U+FFFD, HTML tags are blanked, entities decoded, and only
the first and last 20,000 characters are read, because threats open or close a complaint and a pasted
1 MB log must not cost a second per mention. Evidence is always a slice of the (sanitised) input.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal, cast

from sentiment.urgency_lexicon import LEXICON, loose

UrgencyLevel = Literal["none", "elevated", "critical"]
REASONS: Final[tuple[str, ...]] = (
    "legal_threat",
    "health_safety",
    "fraud_scam",
    "data_leak",
    "public_escalation",
    "repeated_complaint",
    "high_reach",
)
STRONG_NEGATIVE: Final = -0.5
"""Sentiment score (p(positive) - p(negative)) at or below which a fraud claim is critical."""
CLEARLY_POSITIVE: Final = 0.5
"""Sentiment score at or above which fraud words are the "I feared a scam, but it was fine" story."""
REPEATED_COMPLAINTS: Final = 2
"""``prior_complaints`` at or above which the author counts as a repeated complainant."""
SCAN_HEAD: Final = 20_000
SCAN_TAIL: Final = 20_000
MAX_EVIDENCE: Final = 80

_RANK: Final[dict[UrgencyLevel, int]] = {"none": 0, "elevated": 1, "critical": 2}


@dataclass(frozen=True)
class UrgencyReason:
    """Why a mention is urgent: ``code`` from :data:`REASONS`, the words that said so, their own severity."""

    code: str
    evidence: str
    severity: UrgencyLevel


@dataclass(frozen=True)
class Urgency:
    """A mention's urgency level and its reasons, most severe first."""

    level: UrgencyLevel
    reasons: tuple[UrgencyReason, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form stored with the score and shown by ``model predict``."""
        return {
            "level": self.level,
            "reasons": [
                {"code": r.code, "evidence": r.evidence, "severity": r.severity} for r in self.reasons
            ],
        }


_FIRST_ATOM: Final = re.compile(r"(?:\[[^\]\\]+\]|[a-z0-9])(?![?*+{])")


def _by_first_atom(terms: Sequence[str], depth: int = 3) -> str:
    """``oszu\\w*|oparz\\w*`` as ``o(?:szu\\w*|parz\\w*)``: the same language, but the regex engine skips a
    branch on its first character, so a word start tries a few branches instead of ~100 (several x faster)."""
    groups: dict[str, list[str]] = {}
    for term in terms:
        first = _FIRST_ATOM.match(term)
        key, rest = (first.group(), term[first.end() :]) if first else ("", term)
        groups.setdefault(key, []).append(rest)
    parts = []
    for key, rests in groups.items():
        if not key:
            parts.extend(rests)
        elif len(rests) == 1:
            parts.append(key + rests[0])
        else:
            inner = _by_first_atom(rests, depth - 1) if depth > 1 else "|".join(rests)
            parts.append(f"{key}(?:{inner})")
    return "|".join(parts)


def _compile(by_level: dict[UrgencyLevel, tuple[str, ...]]) -> re.Pattern[str]:
    """One alternation per reason, most severe group first so it wins where two start at the same place."""
    ordered = sorted(by_level.items(), key=lambda kv: -_RANK[kv[0]])
    groups = "|".join(f"(?P<{level}>{_by_first_atom(terms)})" for level, terms in ordered)
    spaced = groups.replace(" ?", r"\s*").replace(" ", r"\s+")
    return re.compile(rf"\b(?=\w)(?:{spaced})(?!\w)")


_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    code: _compile(cast(dict[UrgencyLevel, tuple[str, ...]], levels)) for code, levels in LEXICON.items()
}

# "mam 12 tys. obserwujących", "my 50k followers", "our channel has 120 000 subscribers".
_REACH_CLAIM: Final = re.compile(
    "".join(
        loose(
            r"\b(?:mam|mamy|mój|moj\w*|nasz\w*|my|our|i\s+have|i've|ive|we\s+have|we've)\s+"
            r"(?:[^\W\d]\w*\s+){0,3}?"
            r"(?P<num>\d{1,3}(?:[ .,'’]\d{3}){1,4}|\d{1,9}(?:[.,]\d{1,3})?)(?!\d)\s*"
            r"(?P<mult>k|tys\.?|tysi\w*|thousand|mln\.?|milion\w*|million|mil|m)?\s*"
            r"(?P<noun>followers?|subscribers?|subs|fans?|viewers?|readers?|obserwuj\w*|subskrybent\w*|"
            r"subskrypcj\w*|fan(?:ów|i|ek|s)?|widz(?:ów|owie|om|ami)|czytelnik\w*|słuchacz\w*|followers\w*)(?!\w)"
        )
    )
)
_GROUPED: Final = re.compile(r"\d{1,3}(?:[ .,'’]\d{3})+")
_MULTIPLIERS: Final = (("tys", 1000), ("thousand", 1000), ("k", 1000), ("m", 1_000_000))

_NEGATED: Final = re.compile(
    "".join(
        loose(
            r"(?:\b(?:nie|nigdy|not|never|(?:do|does|did|is|was|are|were|wo|would|ca|could|should|have|has|had)"
            r"n['’]?t)(?:\s+[\w'’]+){0,2}|\b(?:no|bez|brak|without|żadn\w*))\s+$"
        )
    )
)
_CLAUSE_TAIL: Final = re.compile(r"[^.,;:!?()\[\]/\n\x00–—]*$")
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_TAG: Final = re.compile(r"<[a-zA-Z!/?][^<>]{0,1000}>")
_ENTITY: Final = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")
_TOKEN: Final = re.compile(r"\S+|\s+")
_UNIT: Final = re.compile(
    _ENTITY.pattern + r"|.[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*", re.DOTALL
)
_SPACES: Final = re.compile(r"\s+")


# --- scanning --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scan:
    """The sanitised text, its normalised form for matching, and where each normalised char came from."""

    source: str
    norm: str
    starts: Sequence[int]
    ends: Sequence[int]

    def evidence(self, start: int, end: int) -> str:
        """The input's own words for ``norm[start:end]``, whitespace collapsed, at most 80 characters."""
        words = _SPACES.sub(" ", self.source[self.starts[start] : self.ends[end - 1]]).strip()
        return words if len(words) <= MAX_EVIDENCE else words[: MAX_EVIDENCE - 1].rstrip() + "…"


def _window(text: str) -> str:
    """Head and tail of a very long text, joined by a NUL no phrase pattern can cross."""
    if len(text) <= SCAN_HEAD + SCAN_TAIL:
        return text
    return text[:SCAN_HEAD] + "\x00" + text[-SCAN_TAIL:]


def _plain(token: str) -> bool:
    """True when casefolding maps ``token`` char for char (the common case: no mapping table needed)."""
    return (
        "&" not in token and unicodedata.is_normalized("NFKC", token) and len(token.casefold()) == len(token)
    )


def _scan(text: str) -> _Scan:
    source = _TAG.sub(lambda m: " " * len(m.group()), _SURROGATE.sub("\ufffd", _window(text)))
    if _plain(source):
        identity = range(len(source))
        return _Scan(source, source.casefold(), identity, range(1, len(source) + 1))
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for token in _TOKEN.finditer(source):
        chunk, offset = token.group(), token.start()
        if _plain(chunk):
            parts.append(chunk.casefold())
            starts.extend(range(offset, offset + len(chunk)))
            ends.extend(range(offset + 1, offset + len(chunk) + 1))
            continue
        for unit in _UNIT.finditer(chunk):
            raw = unit.group()
            folded = unicodedata.normalize("NFKC", html.unescape(raw) if raw[0] == "&" else raw).casefold()
            parts.append(folded)
            starts.extend([offset + unit.start()] * len(folded))
            ends.extend([offset + unit.end()] * len(folded))
    return _Scan(source, "".join(parts), starts, ends)


def _negation(norm: str, start: int) -> int | None:
    """Where a negator shortly before ``start`` in the same clause begins ("to nie jest oszustwo"), if any."""
    offset = max(0, start - 80)
    clause = _CLAUSE_TAIL.search(norm, offset, start)
    negator = _NEGATED.search(norm, clause.start(), start) if clause is not None else None
    return negator.start() if negator is not None else None


# --- reasons ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Hit:
    code: str
    severity: UrgencyLevel
    evidence: str
    negated: bool = False


# Context in which a threat word is not a threat (see "Keywords are not threats" in the corpus guidelines).
_JOKE: Final = re.compile(
    r"😂|🤣|😅|😄|😆|😉|😜|😝|🤪|\bx+d+\b|\bha(?:ha)+\b|\bhehe\w*|\blol\b|\blmao\b|\bjk\b|\bżart\w*|\bjoke\w*"
)
# A lawsuit "for making me" buy more, or one the author calls a joke anywhere in the text, is praise.
_LEGAL_JOKE: Final = re.compile(
    r"\bfor making (?:me|us|my|our)\b|\bjokes? aside\b|\bjust joking\b|\bjk\b|\bżartuj\w*|\bzartuj\w*|"
    r"\bza to,? że (?:muszę|musze|chcę|chce) (?:kupić|kupic|wydawać|wydawac)"
)
_AUTHORITY_ACTS: Final = re.compile(
    loose(
        r"\b(?:nałoż\w*|nakłada\w*|nałożył\w*|ukara\w*|wszczą\w*|wszczęł\w*|karę|kary|kara|fined|fines|"
        r"investigat\w*|bada\w*|prowadzi postępowani\w*|skazał\w*|ostrzega\w*|"
        r"(?:sąd|court)\w* (?:nakazał\w*|orzekł\w*|ruled|ordered))\b"
    )[0]
)
# A quote mark opens or closes a name ('Oszukani przez X'); an apostrophe inside a word ("that's", "I'd") does not.
_GROUP_NAME: Final = re.compile(
    r"\b(?:grup\w*|group\w*|fb|facebook\w*|fejs\w*)\b|[\"„”]|(?<!\w)['‘’]|['‘’](?!\w)"
)
# Strong anger: "!!", a shouted word, an insult. A calm "to chyba oszustwo" is elevated; "ZŁODZIEJE!!!" critical.
_SHOUT: Final = re.compile(r"!{2,}|\b[A-ZĄĆĘŁŃÓŚŹŻ]{4,}\b")
_INSULT: Final = re.compile(
    loose(
        r"\b(?:złodzie\w*|oszuś\w*|oszusci\w*|bandy\w*|krętacz\w*|cwaniak\w*|scumbag\w*|crooks?|"
        r"thie(?:f|ves)|criminals?|bastards?|liars?)\b"
    )[0],
    re.IGNORECASE,
)
_SENTENCE_END: Final = re.compile(r"[.!?\n]")
# "cena złodziejska", "jakość złodziejska", "ta cena to złodziejstwo": the price level, not a fraud claim.
_FIGURATIVE_WORD: Final = re.compile(loose(r"złodziejsk\w*")[0])
_THEFT_NOUN: Final = re.compile(loose(r"złodziejstw\w*")[0])
_PRICE: Final = re.compile(loose(r"\bcen(?:a|y|ie|ę|ą|ami|om)?\b|\bprice\w*")[0])
_QUESTION_DROPS: Final = frozenset({"legal_threat", "public_escalation", "fraud_scam"})


def _sentence(norm: str, start: int, end: int) -> tuple[int, int]:
    """Bounds of the sentence around ``norm[start:end]`` (at most 300 characters each side), closing mark included."""
    lo = max(0, start - 300)
    before = max((m.end() for m in _SENTENCE_END.finditer(norm, lo, start)), default=lo)
    after = _SENTENCE_END.search(norm, end, end + 300)
    return before, after.end() if after else min(len(norm), end + 300)


def _not_a_threat(code: str, norm: str, start: int, end: int) -> bool:
    """A joke, a question, a news item about an authority, a group's name, a figurative "złodziejska cena"."""
    lo, hi = _sentence(norm, start, end)
    sentence = norm[lo:hi]
    if code in _QUESTION_DROPS and (sentence.rstrip().endswith("?") or _JOKE.search(sentence)):
        return True
    if code == "legal_threat" and _LEGAL_JOKE.search(norm):  # "I'll sue you for making me addicted 😂"
        return True
    if code in ("public_escalation", "legal_threat") and _AUTHORITY_ACTS.search(sentence):
        return True
    if code == "fraud_scam":
        near = norm[max(lo, start - 40) : min(hi, end + 2)]
        word = norm[start:end]
        figurative = bool(_FIGURATIVE_WORD.fullmatch(word)) or (
            bool(_THEFT_NOUN.fullmatch(word)) and bool(_PRICE.search(sentence))
        )
        return figurative or bool(_GROUP_NAME.search(near))
    return False


# Any sign of harm to a person or an animal is critical, the weaker words too ("wysypka", "expired milk",
# "dangerous"): a customer-service lead looks at all of them first (corpus guidelines, urgency table).
_ALWAYS_CRITICAL: Final = frozenset({"health_safety"})


def _lexicon_hits(scan: _Scan) -> Iterator[_Hit]:
    for code, pattern in _PATTERNS.items():
        for m in pattern.finditer(scan.norm):
            if _not_a_threat(code, scan.norm, m.start(), m.end()):
                continue
            negator = _negation(scan.norm, m.start())
            critical = m.groupdict().get("critical") is not None or code in _ALWAYS_CRITICAL
            severity: UrgencyLevel = "critical" if critical else "elevated"
            if negator is None:
                yield _Hit(code, severity, scan.evidence(m.start(), m.end()))
            else:  # the evidence shows the negator, so a reader sees why it is only elevated
                yield _Hit(code, "elevated", scan.evidence(negator, m.end()), negated=True)


def _parse_count(number: str, multiplier: str | None = None) -> int:
    """A follower count as people write it: "12,000", "12 000", "12.000", "1,5 tys.", "2.5k", "3 mln".

    A separator followed by exactly three digits groups thousands; otherwise it is a decimal point (a
    comma in Polish). Raises ValueError for text that is not a number.
    """
    number = number.strip()
    if _GROUPED.fullmatch(number):
        value = Decimal(re.sub(r"\D", "", number))
    elif re.fullmatch(r"\d+(?:[.,]\d+)?", number):
        value = Decimal(number.replace(",", "."))
    else:
        raise ValueError(f"not a count: {number!r}")
    word = (multiplier or "").strip().casefold()
    factor = next((f for prefix, f in _MULTIPLIERS if word.startswith(prefix)), 1)
    return int(value * factor)


def _reach_hits(scan: _Scan, reach: int | None, threshold: int) -> Iterator[_Hit]:
    if reach is not None and reach >= threshold:
        yield _Hit("high_reach", "elevated", f"{reach:,} followers")
        return
    for m in _REACH_CLAIM.finditer(scan.norm):
        if _parse_count(m.group("num"), m.group("mult")) >= threshold:
            negated = _negation(scan.norm, m.start()) is not None
            yield _Hit("high_reach", "elevated", scan.evidence(m.start("num"), m.end()), negated)


def _best_per_code(hits: Sequence[_Hit]) -> dict[str, _Hit]:
    """One reason per code: an affirmed hit over a negated one, then the more severe, then the first."""
    best: dict[str, _Hit] = {}
    for hit in hits:
        old = best.get(hit.code)
        if old is None or (not hit.negated, _RANK[hit.severity]) > (not old.negated, _RANK[old.severity]):
            best[hit.code] = hit
    return best


def _kept(hit: _Hit, sentiment_score: float | None) -> bool:
    """Drop what a positive text only mentions: "nie uczula, polecam", "myślałam, że to oszustwo, ale..."."""
    if hit.negated and hit.code == "fraud_scam":  # withdrawn: "to nie scam", "not a scam, just slow"
        return False
    if sentiment_score is None:
        return True
    if hit.negated and sentiment_score > 0:
        return False
    return not (hit.code in _POSITIVE_DROPS and sentiment_score >= CLEARLY_POSITIVE)


# In a clearly positive text these are stories and praise ("bałam się, że to oszustwo, ale…", "the courier
# called five times, so patient"), not threats; legal, health, data and reach still count.
_POSITIVE_DROPS: Final = frozenset({"fraud_scam", "public_escalation", "repeated_complaint"})


def _check(reach: int | None, prior_complaints: int, high_reach_threshold: int) -> None:
    if reach is not None and reach < 0:
        raise ValueError(f"reach must be >= 0 or None, got {reach}")
    if prior_complaints < 0:
        raise ValueError(f"prior_complaints must be >= 0, got {prior_complaints}")
    if high_reach_threshold <= 0:
        raise ValueError(f"high_reach_threshold must be > 0, got {high_reach_threshold}")


def assess_urgency(
    text: str,
    *,
    reach: int | None = None,
    prior_complaints: int = 0,
    sentiment_score: float | None = None,
    high_reach_threshold: int = 10_000,
) -> Urgency:
    """How urgent a mention is and why (see the module docstring for the policy).

    ``reach`` is the author's audience (followers), ``prior_complaints`` how many earlier complaints the
    same author made, ``sentiment_score`` the classifier's p(positive) - p(negative) in [-1, 1] (None or NaN:
    unknown, so it neither escalates nor drops anything). Never raises on any ``str``; raises TypeError for a
    non-string and ValueError for a negative count or a threshold <= 0.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be str, not {type(text).__name__}")
    _check(reach, prior_complaints, high_reach_threshold)
    scan = _scan(text)
    hits = [*_lexicon_hits(scan), *_reach_hits(scan, reach, high_reach_threshold)]
    if prior_complaints >= REPEATED_COMPLAINTS:
        hits.append(_Hit("repeated_complaint", "elevated", f"{prior_complaints} earlier complaints"))
    best = _best_per_code([h for h in hits if _kept(h, sentiment_score)])
    fraud = best.get("fraud_scam")
    angry = (
        sentiment_score is not None
        and sentiment_score <= STRONG_NEGATIVE
        and bool(_SHOUT.search(text) or _INSULT.search(text))
    )
    high_reach = "high_reach" in best and not best["high_reach"].negated
    if fraud is not None and not fraud.negated and (angry or high_reach):
        best["fraud_scam"] = _Hit("fraud_scam", "critical", fraud.evidence)
    return _combine(best)


def _combine(best: dict[str, _Hit]) -> Urgency:
    """Highest severity wins; two different affirmed elevated reasons make the mention critical."""
    ordered = sorted(best.values(), key=lambda h: (-_RANK[h.severity], REASONS.index(h.code)))
    reasons = tuple(UrgencyReason(h.code, h.evidence, h.severity) for h in ordered)
    level: UrgencyLevel = max((h.severity for h in ordered), key=_RANK.__getitem__, default="none")
    if sum(1 for h in ordered if h.severity == "elevated" and not h.negated) >= 2:
        level = "critical"
    return Urgency(level, reasons)

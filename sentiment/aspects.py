"""Which parts of the shopping experience a review talks about, and how it feels about each of them.

Customer-service teams route and report by aspect (delivery, returns and complaints, customer service,
product quality, price, payment, website/app), so each text gets one :class:`AspectMention` per aspect it
mentions, with the sentiment of the sentences that mention it ("Szybka dostawa, ale jakość słaba" is
positive about delivery and negative about quality).

Detection combines two signals per sentence (or clause, see :func:`sentiment.sentences.split_sentences`):

* a **lexicon** of Polish and English stems per aspect (:mod:`sentiment.aspect_lexicon`), matched on text
  folded by :func:`sentiment.textfold.fold` (people type "przesylka", "platnosc"), with exclusions for
  idioms that only look like an aspect ("ze strony sklepu" is "on the shop's part", "cenię" is "I value",
  "I will return!"), and weak terms ("nie działa", "broke") that name the product only when nothing else
  is named; high precision;
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

Pros/cons sections ("Zalety: … Wady: …", "Plusy/Minusy", "Pros/Cons", see
:func:`sentiment.sentences.split_clauses`) are read by their own words: the header is no aspect term ("Wady:
opóźnienie dostawy" is about delivery, not product quality), it pulls its clauses' sentiment towards its
verdict (``_SECTION_WEIGHT``), and an item that names nothing else ("Wady: skrzypi") is about the product.

Aspect sentiment comes from the caller's ``sentiment_fn`` (production: ``Scorer.probabilities``), called
once per :meth:`AspectDetector.detect` batch on every evidence clause; an aspect's probabilities are the
mean over the clauses whose words name it (encoder-only clauses count only when there are none), its label
the arg-max. Without a ``sentiment_fn`` sentiments and scores are ``None``. How well all this works on
labelled texts is measured by :mod:`sentiment.aspect_eval`.

Hostile input never raises: HTML tags are dropped, lone surrogates replaced, and a huge text is cut to its
first ``HEAD_SENTENCES`` and last ``TAIL_SENTENCES`` sentences: reviews name their topics up front and end
with the verdict, and the cost of a 1 MB paste must stay that of a long review.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal, cast

import numpy as np
import numpy.typing as npt

from sentiment.apology import complained_about
from sentiment.aspect_lexicon import EXCLUDE, GENERIC, LEXICON, PROTOTYPES, WEAK
from sentiment.complaints import EMBEDDED_CHARS, ComplaintModel
from sentiment.embeddings import E5Embedder, Embedder
from sentiment.sentences import MIN_CLAUSE_WORDS, Clause, clean_text, names_nothing, split_clauses, word_count
from sentiment.textfold import fold
from sentiment.vocabulary import ASPECT_KEYS

Sentiment = Literal["negative", "neutral", "positive"]
Via = Literal["lexicon", "encoder", "both"]

ASPECTS: Final[tuple[str, ...]] = ASPECT_KEYS  # one list, in sentiment.vocabulary (standard library only)
SENTIMENTS: Final[tuple[Sentiment, Sentiment, Sentiment]] = ("negative", "neutral", "positive")

EVIDENCE_CHARS: Final = 200
HEAD_SENTENCES: Final = 30
TAIL_SENTENCES: Final = 10
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


def _lower(text: str) -> str:
    """Lower-case without changing the length (``"İ".lower()`` has two characters), so offsets line up."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


class _InPlaceFold(dict[int, str]):
    """``str.translate`` table: each character's :func:`fold` where that is one character, else its lower case.

    Filled on first sight of a character and capped, so hostile input cannot grow it without end.
    """

    _MAX_ENTRIES: Final = 20_000

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = fold(char)
        if len(folded) != 1:  # "ß" -> "ss", a lone combining mark -> "": keep the length instead
            folded = _lower(char)
        if len(self) < self._MAX_ENTRIES:
            self[code] = folded
        return folded


_IN_PLACE_FOLD: Final = _InPlaceFold()


def fold_in_place(text: str) -> str:
    """:func:`sentiment.textfold.fold`, one character for one, so a match in the result is a span of ``text``.

    The lexicon matches folded text and reports character spans of the original clause; the few characters
    whose fold is longer or shorter than one character ("ß", "ﬁ", combining marks) are only lower-cased.
    """
    return text.translate(_IN_PLACE_FOLD)


def _examined(sentences: list[Clause]) -> list[Clause]:
    """The first HEAD_SENTENCES and last TAIL_SENTENCES: topics come first, the verdict last; cost is bounded."""
    if len(sentences) <= HEAD_SENTENCES + TAIL_SENTENCES:
        return sentences
    return sentences[:HEAD_SENTENCES] + sentences[-TAIL_SENTENCES:]


# ---------------------------------------------------------------------------------------------- lexicon
# The patterns and why they look as they do: sentiment.aspect_lexicon.


def _compile(patterns: Iterable[str]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(f"(?:{p})" for p in patterns) + r")\b")


_LEXICON_RE: Final = {aspect: _compile(patterns) for aspect, patterns in LEXICON.items()}
_WEAK_RE: Final = {aspect: _compile(patterns) for aspect, patterns in WEAK.items()}
_EXCLUDE_RE: Final = {
    aspect: re.compile("|".join(f"(?:{p})" for p in patterns)) for aspect, patterns in EXCLUDE.items()
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
    folded = fold_in_place(clause)
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
        names = [(ASPECTS.index(aspect), text) for aspect, texts in PROTOTYPES.items() for text in texts]
        names += [(len(ASPECTS), text) for text in GENERIC]
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
    sections: dict[str, Sentiment] = field(default_factory=dict)  # clause -> its pros/cons header's verdict

    def add(self, clause: str, section: Sentiment | None, *, by_lexicon: bool) -> None:
        (self.lexicon_clauses if by_lexicon else self.encoder_clauses).append(clause)
        if section is not None:
            self.sections[clause] = section

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
    return piece if word_count(piece) >= MIN_CLAUSE_WORDS else clause


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

    def _clauses(self, texts: Sequence[str]) -> list[list[Clause]]:
        return [_examined(split_clauses(clean_text(t))) if isinstance(t, str) else [] for t in texts]

    def _encoder_labels(
        self, clauses: list[list[Clause]], embedded: dict[str, npt.NDArray[np.float32]]
    ) -> dict[str, str | None]:
        """Encoder aspect per distinct clause body of the batch; one-word ones ("Polecam!") name no topic.

        The batch's distinct clauses are embedded in one call, and their vectors kept in ``embedded`` (by
        the embedded string) for :meth:`_with_complaints`.
        """
        unique = list(
            dict.fromkeys(
                c.body for per_text in clauses for c in per_text if word_count(c.body) >= MIN_CLAUSE_WORDS
            )
        )
        if not unique:
            return {}
        vectors = self._embed([c[:_EMBEDDED_CHARS] for c in unique], embedded)
        labels = encoder_aspects(self._aspect_space().similarities(vectors), self.thresholds)
        return dict(zip(unique, labels, strict=True))

    def _embed(
        self, strings: list[str], embedded: dict[str, npt.NDArray[np.float32]]
    ) -> npt.NDArray[np.float32]:
        """Vectors of ``strings``, embedding in one call only those not in ``embedded`` (which it extends).

        A short review is one clause, and its head for the complaint model is that same string: embedding
        is by far the costliest step, and an embedder's vector of a string does not depend on its batch.
        """
        missing = list(dict.fromkeys(s for s in strings if s not in embedded))
        if missing:
            fresh = np.asarray(self.embedder.embed(missing), dtype=np.float32)
            embedded.update(zip(missing, fresh, strict=True))
        return np.stack([embedded[s] for s in strings]) if strings else np.zeros((0, 0), dtype=np.float32)

    def detect(self, texts: Sequence[str]) -> list[list[AspectMention]]:
        """One list of mentions per text (in input order), each list in order of first mention."""
        clauses = self._clauses(texts)
        embedded: dict[str, npt.NDArray[np.float32]] = {}
        encoder_label = self._encoder_labels(clauses, embedded)
        found: list[dict[str, _Evidence]] = []
        for per_text in clauses:
            evidence: dict[str, _Evidence] = {}
            for part in per_text:
                clause = part.text
                # Terms are looked up after a pros/cons header ("Wady" also means "defects"), spans kept
                # in the clause's own offsets so the evidence shows the header: the author's verdict.
                hits = sorted(
                    (
                        (a, [(s + part.start, e + part.start) for s, e in spans])
                        for a, spans in lexicon_hits(part.body).items()
                    ),
                    key=lambda hit: hit[1][0],
                )
                for aspect, spans in hits:
                    item = evidence.setdefault(aspect, _Evidence())
                    piece = _narrow(clause, spans[0], len(hits))
                    item.add(piece, part.section, by_lexicon=True)
                    item.display = item.display or _display(piece, _span_in(piece, clause, spans[0]))
                label = encoder_label.get(part.body)
                if label is None and not hits and part.section is not None and not names_nothing(part.body):
                    # An item on a product's pros/cons list that names nothing else ("Wady: skrzypi") is
                    # about the product, as the header word alone ("wady": defects) used to say.
                    item = evidence.setdefault(_SECTION_ASPECT, _Evidence())
                    item.add(clause, part.section, by_lexicon=True)
                    item.display = item.display or _display(clause)
                if label is None:
                    continue
                if label in evidence and any(aspect == label for aspect, _ in hits):
                    evidence[label].encoder_agrees = True
                elif not hits:  # one aspect per clause: the encoder adds to the lexicon, never overrules it
                    item = evidence.setdefault(label, _Evidence())
                    item.add(clause, part.section, by_lexicon=False)
                    item.display = item.display or _display(clause)
            found.append(evidence)
        return self._with_complaints(texts, self._with_sentiment(found), embedded)

    def _with_complaints(
        self,
        texts: Sequence[str],
        found: list[list[AspectMention]],
        embedded: dict[str, npt.NDArray[np.float32]],
    ) -> list[list[AspectMention]]:
        """Mark each found aspect as complained about or not, where a complaint model is loaded."""
        rows = [i for i, mentions in enumerate(found) if mentions]
        if self.complaints is None or not rows:
            return found
        heads = [texts[i][:EMBEDDED_CHARS] if isinstance(texts[i], str) else "" for i in rows]
        model = self.complaints
        for row, p in zip(rows, model.probabilities(self._embed(heads, embedded)), strict=True):
            chosen = complained_about(found[row], p.tolist(), model.threshold)
            found[row] = [replace(m, complaint=m.aspect in chosen) for m in found[row]]
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
                    mean = np.mean(
                        [_judged(probs[c[:_SCORED_CHARS]], item.sections.get(c)) for c in item.scored], axis=0
                    )
                    sentiment = SENTIMENTS[int(np.argmax(mean))]
                    score = float(np.clip(mean[2] - mean[0], -1.0, 1.0))
                mentions.append(AspectMention(aspect, sentiment, score, item.display, item.via))
            out.append(mentions)
        return out


_SECTION_ASPECT: Final = "product_quality"
_SECTION_WEIGHT: Final = 0.6
"""How much a pros/cons header weighs against the scorer in its clause's probabilities: more than half, so
the header decides the label ("Zalety: cena" is praise however flat "cena" reads), while the scorer still
grades how strongly ("Wady: paczka rozbita" scores lower than "Wady: brak etui")."""


def _judged(probs: npt.NDArray[np.float64], section: Sentiment | None) -> npt.NDArray[np.float64]:
    """The clause's probabilities, pulled towards its pros/cons header's verdict when it stands under one."""
    if section is None:
        return probs
    verdict = np.zeros(3, dtype=np.float64)
    verdict[SENTIMENTS.index(section)] = 1.0
    return cast(npt.NDArray[np.float64], (1.0 - _SECTION_WEIGHT) * probs + _SECTION_WEIGHT * verdict)


def _span_in(piece: str, clause: str, span: tuple[int, int]) -> tuple[int, int] | None:
    offset = clause.find(piece)
    if offset < 0:
        return None
    return (span[0] - offset, span[1] - offset)

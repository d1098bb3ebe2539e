"""PNG charts of a weekly digest (matplotlib, Agg), labelled in the digest's language.

Figures are made with ``matplotlib.figure.Figure`` directly, never ``pyplot``: no global state, no GUI
backend, safe in the scheduler's worker threads. Every chart renders something even for an empty week
(a "no data" note), so the report and the Slack post always have the same set of images. The web app,
which only reads saved reports, never imports this module, so it never loads matplotlib.
"""

from __future__ import annotations

import io
from typing import Final

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from monitor.digest.i18n import Language, as_language, aspect_label, day_label, fmt_number, t
from monitor.digest.report import Digest

__all__ = ["CHART_NAMES", "render_charts"]

CHART_NAMES: Final = ("volume", "sentiment", "rating", "aspects")
_SENTIMENT_COLOURS: Final = {"negative": "#d64541", "neutral": "#9aa0a6", "positive": "#2e9d5b"}
_SOURCE_COLOURS: Final = (
    "#3366cc", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e", "#316395",
    "#994499", "#22aa99", "#aaaa11",
)  # fmt: skip
_DPI: Final = 100


def render_charts(digest: Digest, language: str) -> dict[str, bytes]:
    """Chart name (``CHART_NAMES``) -> PNG bytes: volume by day and source, sentiment, rating, aspects.

    ``language`` must be ``pl`` or ``en`` (DigestError otherwise).
    """
    lang = as_language(language)
    return {
        "volume": _png(_volume(digest, lang)),
        "sentiment": _png(_sentiment(digest, lang)),
        "rating": _png(_rating(digest, lang)),
        "aspects": _png(_aspects(digest, lang)),
    }


def _figure(width: float = 8.0, height: float = 3.6) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, metadata={"Software": None})
    return buffer.getvalue()


def _no_data(ax: Axes, language: Language) -> None:
    ax.text(0.5, 0.5, t("no_data", language), ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def _volume(digest: Digest, language: Language) -> Figure:
    """Stacked bars: mentions per local day, one colour per source."""
    fig, ax = _figure()
    ax.set_title(t("chart_volume", language))
    labels = [day_label(d.day, language) for d in digest.days]
    sources = [s.source for s in digest.sources if s.count]
    if not sources:
        _no_data(ax, language)
        return fig
    bottoms = [0] * len(digest.days)
    for i, source in enumerate(sources):
        heights = [d.by_source.get(source, 0) for d in digest.days]
        ax.bar(labels, heights, bottom=bottoms, label=source, color=_SOURCE_COLOURS[i % len(_SOURCE_COLOURS)])
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    for x, total in enumerate(bottoms):
        if total:
            ax.annotate(fmt_number(total, language), (x, total), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, max(bottoms) * 1.12)  # room for the totals above the tallest bar
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(t("mentions", language))
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _sentiment(digest: Digest, language: Language) -> Figure:
    """Two 100% bars (previous week, this week) split negative / neutral / positive."""
    fig, ax = _figure(height=2.6)
    ax.set_title(t("chart_sentiment", language))
    s = digest.sentiment
    weeks = [(t("last_week", language), s.previous_shares), (t("this_week", language), s.shares)]
    if all(share is None for _, shares in weeks for share in shares.values()):
        _no_data(ax, language)
        return fig
    names = [name for name, _ in weeks]
    lefts = [0.0, 0.0]
    for label in ("negative", "neutral", "positive"):
        widths = [(shares[label] or 0.0) * 100 for _, shares in weeks]
        ax.barh(names, widths, left=lefts, color=_SENTIMENT_COLOURS[label], label=t(label, language))
        for y, (left, width) in enumerate(zip(lefts, widths, strict=True)):
            if width >= 6:
                text = f"{fmt_number(width, language)}%"
                ax.text(left + width / 2, y, text, ha="center", va="center", color="white", fontsize=8)
        lefts = [a + b for a, b in zip(lefts, widths, strict=True)]
    ax.set_xlim(0, 100)
    ax.set_xlabel("%")
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def _rating(digest: Digest, language: Language) -> Figure:
    """The average star rating per day (a gap on days without ratings) and last week's average."""
    fig, ax = _figure(height=3.0)
    ax.set_title(t("chart_rating", language))
    if all(d.rating_avg is None for d in digest.days) and digest.rating.previous_average is None:
        _no_data(ax, language)
        return fig
    # Numeric x with day labels: a categorical axis would drop trailing days without ratings.
    positions = list(range(len(digest.days)))
    values = [float("nan") if d.rating_avg is None else d.rating_avg for d in digest.days]
    ax.plot(positions, values, marker="o", color="#3366cc", label=t("this_week", language))
    ax.set_xticks(positions, [day_label(d.day, language) for d in digest.days])
    ax.set_xlim(-0.5, len(positions) - 0.5)
    if digest.rating.previous_average is not None:
        ax.axhline(
            digest.rating.previous_average,
            color="#999",
            linestyle="--",
            label=f"{t('last_week', language)} ({fmt_number(digest.rating.previous_average, language, 2)})",
        )
    ax.set_ylim(0.8, 5.2)
    ax.set_ylabel("★")
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def _aspects(digest: Digest, language: Language) -> Figure:
    """Horizontal bars: mentions reading each top aspect negatively, the most frequent on top."""
    fig, ax = _figure(height=max(2.2, 0.5 * len(digest.aspects) + 1.2))
    ax.set_title(t("chart_aspects", language))
    if not digest.aspects:
        _no_data(ax, language)
        return fig
    ordered = list(reversed(digest.aspects))
    names = [aspect_label(a.aspect, language) for a in ordered]
    counts = [a.count for a in ordered]
    ax.barh(names, counts, color=_SENTIMENT_COLOURS["negative"])
    for y, n in enumerate(counts):
        ax.text(n, y, f" {fmt_number(n, language)}", va="center", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(t("mentions", language))
    return fig

"""Polish and English words of the weekly digest: labels, chart titles, the Slack summary, number formats.

Kept apart from the numbers (:mod:`monitor.digest.queries`) so a reader can check both languages side by
side, and so charts, the HTML report and the Slack summary all say the same thing the same way. Aspect
names come from :mod:`sentiment.vocabulary` (standard library only), the one copy every package prints.
"""

from __future__ import annotations

from datetime import date
from typing import Final, Literal

from monitor.digest.errors import DigestError
from sentiment.vocabulary import ASPECT_LABELS

__all__ = [
    "Language",
    "as_language",
    "aspect_label",
    "day_label",
    "fmt_minutes",
    "fmt_number",
    "fmt_pp",
    "fmt_rating",
    "fmt_share",
    "period_label",
    "t",
]

Language = Literal["pl", "en"]

_STRINGS: Final[dict[str, dict[Language, str]]] = {
    "title": {"pl": "Raport tygodniowy", "en": "Weekly digest"},
    "week": {"pl": "Tydzień", "en": "Week"},
    "previous_week": {"pl": "poprzedni tydzień", "en": "previous week"},
    "vs_previous": {"pl": "vs poprzedni tydzień", "en": "vs previous week"},
    "generated": {"pl": "Wygenerowano", "en": "Generated"},
    "timezone": {"pl": "Strefa czasowa", "en": "Time zone"},
    "mentions": {"pl": "Wzmianki", "en": "Mentions"},
    "volume": {"pl": "Liczba wzmianek", "en": "Mention volume"},
    "volume_by_source": {"pl": "Wzmianki według źródła", "en": "Mentions by source"},
    "volume_by_day": {"pl": "Wzmianki według dnia", "en": "Mentions by day"},
    "source": {"pl": "Źródło", "en": "Source"},
    "this_week": {"pl": "Ten tydzień", "en": "This week"},
    "last_week": {"pl": "Poprzedni tydzień", "en": "Previous week"},
    "change": {"pl": "Zmiana", "en": "Change"},
    "day": {"pl": "Dzień", "en": "Day"},
    "total": {"pl": "Razem", "en": "Total"},
    "sentiment": {"pl": "Sentyment", "en": "Sentiment"},
    "sentiment_split": {"pl": "Rozkład sentymentu", "en": "Sentiment split"},
    "negative": {"pl": "Negatywne", "en": "Negative"},
    "neutral": {"pl": "Neutralne", "en": "Neutral"},
    "positive": {"pl": "Pozytywne", "en": "Positive"},
    "unscored": {"pl": "Bez oceny modelu", "en": "Not yet scored"},
    "share": {"pl": "Udział", "en": "Share"},
    "count": {"pl": "Liczba", "en": "Count"},
    "rating": {"pl": "Średnia ocena", "en": "Average rating"},
    "rating_trend": {"pl": "Średnia ocena według dnia", "en": "Average rating by day"},
    "rated": {"pl": "ocenionych", "en": "rated"},
    "previously": {"pl": "poprzednio", "en": "previously"},
    "no_ratings": {"pl": "brak ocen", "en": "no ratings"},
    "top_aspects": {"pl": "Najczęstsze problemy", "en": "Top negative aspects"},
    "aspect": {"pl": "Aspekt", "en": "Aspect"},
    "examples": {"pl": "Przykłady", "en": "Examples"},
    "no_aspects": {"pl": "Brak negatywnych aspektów.", "en": "No negative aspects."},
    "urgent_items": {"pl": "Najpilniejsze wzmianki", "en": "Most urgent items"},
    "no_urgent": {"pl": "Brak pilnych ani negatywnych wzmianek.", "en": "No urgent or negative items."},
    "urgency": {"pl": "Pilność", "en": "Urgency"},
    "status": {"pl": "Status", "en": "Status"},
    "author": {"pl": "Autor", "en": "Author"},
    "open_item": {"pl": "otwórz", "en": "open"},
    "status_handled": {"pl": "obsłużone", "en": "handled"},
    "status_assigned": {"pl": "przypisane", "en": "assigned"},
    "status_open": {"pl": "otwarte", "en": "open"},
    "status_no_alert": {"pl": "bez alertu", "en": "no alert"},
    "status_storm": {"pl": "w burzy", "en": "in a storm"},
    "urgency_critical": {"pl": "krytyczna", "en": "critical"},
    "urgency_elevated": {"pl": "podwyższona", "en": "elevated"},
    "urgency_none": {"pl": "brak", "en": "none"},
    "kpis": {"pl": "Obsługa alertów", "en": "Response KPIs"},
    "alerts": {"pl": "Alerty", "en": "Alerts"},
    "handled": {"pl": "Obsłużone", "en": "Handled"},
    "median_handle": {"pl": "Mediana czasu obsługi", "en": "Median time to handle"},
    "p90_handle": {"pl": "90. percentyl czasu obsługi", "en": "90th percentile time to handle"},
    "within_sla": {"pl": "Obsłużone w SLA", "en": "Handled within SLA"},
    "unhandled": {"pl": "Nieobsłużone (z tego tygodnia)", "en": "Unhandled (from this week)"},
    "open_total": {"pl": "Wszystkie otwarte alerty teraz", "en": "All open alerts now"},
    "median_short": {"pl": "mediana", "en": "median"},
    "p90_short": {"pl": "p90", "en": "p90"},
    "sla_short": {"pl": "w SLA", "en": "within SLA"},
    "unhandled_short": {"pl": "nieobsłużone", "en": "unhandled"},
    "storms": {"pl": "Burze", "en": "Storms"},
    "no_storms": {"pl": "Brak burz w tym tygodniu.", "en": "No storms this week."},
    "opened": {"pl": "Początek", "en": "Opened"},
    "closed": {"pl": "Koniec", "en": "Closed"},
    "still_open": {"pl": "trwa", "en": "still open"},
    "peak": {"pl": "Szczyt", "en": "Peak"},
    "themes": {"pl": "Tematy", "en": "Themes"},
    "full_report": {"pl": "Pełny raport", "en": "Full report"},
    "report_saved": {"pl": "Raport zapisany", "en": "Report saved"},
    "new": {"pl": "nowe", "en": "new"},
    "none": {"pl": "brak", "en": "none"},
    "no_data": {"pl": "Brak danych", "en": "No data"},
    "chart_volume": {"pl": "Wzmianki dziennie według źródła", "en": "Mentions per day by source"},
    "chart_sentiment": {"pl": "Sentyment: ten i poprzedni tydzień", "en": "Sentiment: this vs previous week"},
    "chart_rating": {"pl": "Średnia ocena dziennie", "en": "Average rating per day"},
    "chart_aspects": {"pl": "Najczęstsze negatywne aspekty", "en": "Top negative aspects"},
    "chart_volume_alt": {"pl": "Wykres wzmianek dziennie", "en": "Chart of mentions per day"},
}

_WEEKDAYS: Final[dict[Language, tuple[str, ...]]] = {
    "pl": ("pon", "wt", "śr", "czw", "pt", "sob", "nd"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS_EN: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def t(key: str, lang: Language) -> str:
    """The text for ``key`` in ``lang``; a missing key is a programming error (KeyError), never shown raw."""
    return _STRINGS[key][lang]


def as_language(language: str) -> Language:
    """``language`` checked to be one the digest speaks; DigestError names the two it knows."""
    if language == "pl":
        return "pl"
    if language == "en":
        return "en"
    raise DigestError(f"digest language must be 'pl' or 'en', not {language!r}")


def aspect_label(code: str, lang: Language) -> str:
    """A readable aspect name; an unknown code (a newer model) is shown tidied rather than dropped."""
    known = ASPECT_LABELS.get(code)
    return known[lang] if known else code.replace("_", " ").capitalize()


def day_label(day: date, lang: Language) -> str:
    """Short weekday + date as each language writes it: ``pon 16.11`` / ``Mon 16 Nov``."""
    weekday = _WEEKDAYS[lang][day.weekday()]
    if lang == "pl":
        return f"{weekday} {day.day:02d}.{day.month:02d}"
    return f"{weekday} {day.day} {_MONTHS_EN[day.month - 1]}"


def period_label(first: date, last: date, lang: Language) -> str:
    """The week's dates: ``16–22.11.2026`` / ``16–22 Nov 2026`` (months and years shown when they differ)."""
    if lang == "pl":
        if first.year != last.year:
            return f"{first:%d.%m.%Y}–{last:%d.%m.%Y}"
        if first.month != last.month:
            return f"{first:%d.%m}–{last:%d.%m.%Y}"
        return f"{first.day:02d}–{last:%d.%m.%Y}"
    if first.year != last.year:
        return f"{first.day} {_MONTHS_EN[first.month - 1]} {first.year} – {last.day} {_MONTHS_EN[last.month - 1]} {last.year}"
    if first.month != last.month:
        return (
            f"{first.day} {_MONTHS_EN[first.month - 1]} – {last.day} {_MONTHS_EN[last.month - 1]} {last.year}"
        )
    return f"{first.day}–{last.day} {_MONTHS_EN[last.month - 1]} {last.year}"


def fmt_number(value: float, lang: Language, digits: int = 0) -> str:
    """Thousands grouped and the decimal mark of the language (Polish: ``1 234,5``; English ``1,234.5``)."""
    text = f"{value:,.{digits}f}"
    if lang == "pl":
        # Polish groups with a (non-breaking) space and uses a decimal comma; 4-digit numbers stay whole.
        text = text.replace(",", "\u00a0").replace(".", ",")
        if abs(value) < 10_000:
            text = text.replace("\u00a0", "")
    return text


def fmt_share(share: float | None, lang: Language) -> str:
    """A 0..1 share as a percentage with one decimal, or an en dash when there is nothing to divide."""
    return "–" if share is None else f"{fmt_number(share * 100, lang, 1)}%"


def fmt_pp(points: float | None, lang: Language) -> str:
    """A change in percentage points with its sign: ``+3,5 p.p.`` / ``+3.5 pp``."""
    if points is None:
        return "–"
    unit = "p.p." if lang == "pl" else "pp"
    sign = "+" if points > 0 else "−" if points < 0 else "±"
    return f"{sign}{fmt_number(abs(points), lang, 1)} {unit}"


def fmt_rating(value: float | None, lang: Language) -> str:
    """A star average with two decimals (``4,25★``), or ``–`` when the week had no rated items."""
    return "–" if value is None else f"{fmt_number(value, lang, 2)}★"


def fmt_minutes(minutes: float | None, lang: Language) -> str:
    """A duration for people: ``42 min``, ``3 h 10 min`` / ``3 godz. 10 min``, ``2 d 4 h``."""
    if minutes is None:
        return "–"
    total = round(minutes)
    if total < 60:
        return f"{total} min"
    hours, mins = divmod(total, 60)
    h = "godz." if lang == "pl" else "h"
    if hours < 48:
        return f"{hours} {h} {mins} min" if mins else f"{hours} {h}"
    days, hours = divmod(hours, 24)
    d = "dni" if lang == "pl" else "d"
    return f"{days} {d} {hours} {h}" if hours else f"{days} {d}"

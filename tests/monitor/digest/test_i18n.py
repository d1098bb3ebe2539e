"""The words and number formats people read: aspect names from the vocabulary, numbers, dates, durations."""

from __future__ import annotations

from datetime import date

from monitor.digest.i18n import (
    Language,
    aspect_label,
    day_label,
    fmt_minutes,
    fmt_number,
    fmt_pp,
    fmt_share,
    period_label,
)
from sentiment.vocabulary import ASPECT_KEYS, ASPECT_LABELS


def test_aspect_labels_are_the_vocabulary_names() -> None:
    languages: tuple[Language, ...] = ("pl", "en")
    for aspect in ASPECT_KEYS:
        for lang in languages:
            assert aspect_label(aspect, lang) == ASPECT_LABELS[aspect][lang]


def test_numbers_dates_and_durations_as_each_language_writes_them() -> None:
    assert (fmt_number(12345.5, "pl", 1), fmt_number(12345.5, "en", 1)) == ("12\u00a0345,5", "12,345.5")
    assert fmt_number(1234, "pl") == "1234"
    assert (fmt_share(0.4286, "pl"), fmt_share(None, "en")) == ("42,9%", "–")
    assert (fmt_pp(-35, "pl"), fmt_pp(3.25, "en"), fmt_pp(0, "en")) == ("−35,0 p.p.", "+3.2 pp", "±0.0 pp")
    assert (fmt_minutes(42, "pl"), fmt_minutes(190, "pl"), fmt_minutes(3000, "en")) == (
        "42 min",
        "3 godz. 10 min",
        "2 d 2 h",
    )
    assert (
        day_label(date(2026, 11, 18), "pl") == "śr 18.11"
        and day_label(date(2026, 11, 18), "en") == "Wed 18 Nov"
    )
    assert period_label(date(2026, 12, 28), date(2027, 1, 3), "pl") == "28.12.2026–03.01.2027"
    assert period_label(date(2026, 11, 30), date(2026, 12, 6), "en") == "30 Nov – 6 Dec 2026"

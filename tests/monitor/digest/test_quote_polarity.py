"""Quotes under an aspect come from mentions that say the same thing as a whole: complaints under a
negative aspect, praise under a positive one; a neutral news item about a late courier is never quoted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from monitor.digest.charts import render_charts
from monitor.digest.items import top_aspects
from monitor.digest.queries import build_digest
from monitor.digest.render import render_html, summary_text
from monitor.digest.weeks import parse_week
from tests.monitor.digest.seed import NOW, TARGET, W47, Seeder, local, make_settings, neg

NEWS = "Firma kurierska ogłasza opóźnienia dostaw w całym kraju"


def pos(aspect: str, score: float, evidence: str) -> dict[str, Any]:
    return {"aspect": aspect, "sentiment": "positive", "score": score, "evidence": evidence, "via": "both"}


def _mixed_week(sd: Seeder) -> dict[str, int]:
    return {
        # the most negative delivery reading of the week, but the item itself is neutral news
        "news": sd.mention(
            "rss", local(17, 9), label="neutral", score=-0.1, aspects=[neg("delivery", -0.97, NEWS)], text=NEWS
        ),
        # a happy 5-star review grumbling about one thing: counted for delivery, not quoted as a complaint
        "happy": sd.mention(
            "google", local(17, 10), rating=5, label="positive", score=0.8,
            aspects=[neg("delivery", -0.9, "Kurier trochę się spóźnił"), pos("price", 0.9, "Świetne ceny")],
        ),
        "c1": sd.mention(
            "google", local(18, 10), rating=1, label="negative", score=-0.9,
            aspects=[neg("delivery", -0.6, "Paczka szła dwa tygodnie")],
        ),
        "c2": sd.mention(
            "ceneo", local(19, 10), rating=2, label="negative", score=-0.7,
            aspects=[neg("delivery", -0.5, "Kurier zgubił paczkę"), pos("price", 0.95, "Tanio, ale co z tego")],
        ),
    }  # fmt: skip


def test_negative_aspect_quotes_come_only_from_negative_mentions(engine: Engine, tmp_path: Path) -> None:
    ids = _mixed_week(Seeder(engine))
    settings = make_settings(tmp_path)
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    [delivery] = d.aspects
    assert delivery.count == 4  # every mention reading delivery negatively counts
    assert [q.mention_id for q in delivery.quotes] == [ids["c1"], ids["c2"]]
    assert [q.text for q in delivery.quotes] == ["Paczka szła dwa tygodnie", "Kurier zgubił paczkę"]
    html = render_html(d, render_charts(d, "pl"), settings)
    assert NEWS not in html and "Kurier trochę się spóźnił" not in html
    assert "„Paczka szła dwa tygodnie”" in summary_text(d)


def test_positive_aspect_quotes_come_only_from_positive_mentions(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    ids = _mixed_week(sd)
    with engine.connect() as conn:
        [price] = top_aspects(
            conn, make_settings(tmp_path), sd.target(TARGET), parse_week(W47, "Europe/Warsaw"),
            polarity="positive",
        )  # fmt: skip
    assert (price.aspect, price.count) == ("price", 2)
    assert [q.mention_id for q in price.quotes] == [ids["happy"]]  # not the complaint that found it cheap


def test_an_aspect_read_negatively_only_by_neutral_items_is_counted_without_quotes(
    engine: Engine, tmp_path: Path
) -> None:
    sd = Seeder(engine)
    sd.mention(
        "rss", local(17, 9), label="neutral", score=0.0, aspects=[neg("delivery", -0.9, NEWS)], text=NEWS
    )
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert [(a.aspect, a.count, a.quotes) for a in d.aspects] == [("delivery", 1, [])]
    assert NEWS not in summary_text(d)

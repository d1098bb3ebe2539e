"""The summary text (Slack and console) and the self-contained HTML report, in Polish and English."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from sqlalchemy.engine import Engine

from monitor.digest.charts import render_charts
from monitor.digest.queries import build_digest
from monitor.digest.render import render_html, summary_text
from monitor.digest.weeks import parse_week
from tests.monitor.digest.seed import (
    NOW,
    OTHER,
    PNG_MAGIC,
    PUBLIC,
    TARGET,
    W47,
    Seeder,
    local,
    make_settings,
    neg,
)


def test_polish_summary_with_diacritics_and_polish_numbers(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    text = summary_text(d)
    assert text.splitlines()[0] == "*Raport tygodniowy: Sklep Kowalski — 2026-W47 (16–22.11.2026)*"
    assert "Wzmianki: 9 (+80,0% vs poprzedni tydzień): google 5, ceneo 2, mastodon 2" in text
    assert "negatywne 50,0% (+30,0 p.p.)" in text and "pozytywne 25,0% (−35,0 p.p.)" in text
    assert "Średnia ocena: 3,17★ (poprzednio 3,50★)" in text
    assert (
        "Najczęstsze problemy: Dostawa (3), Obsługa klienta (2) — „Paczka przyszła po dwóch tygodniach”"
        in text
    )
    assert "mediana 1 godz. 30 min, p90 19 godz., w SLA 40,0%, nieobsłużone 2" in text
    assert "Burze: 1 (Dostawa (7), Obsługa klienta (3))" in text
    assert text.splitlines()[-1] == f"<{PUBLIC}/digests/sklep-kowalski/2026-W47|Pełny raport>"


def test_english_summary(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    settings = make_settings(tmp_path, language="en")
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    text = summary_text(d)
    assert text.splitlines()[0] == "*Weekly digest: Sklep Kowalski — 2026-W47 (16–22 Nov 2026)*"
    assert "Mentions: 9 (+80.0% vs previous week)" in text
    assert "negative 50.0% (+30.0 pp)" in text and "Average rating: 3.17★ (previously 3.50★)" in text
    assert "Top negative aspects: Delivery (3), Customer service (2)" in text
    assert "median 1 h 30 min, p90 19 h, within SLA 40.0%, unhandled 2" in text
    assert "Storms: 1 (Delivery (7), Customer service (3))" in text
    assert text.splitlines()[-1].endswith("|Full report>")


def test_summary_escapes_untrusted_text_for_slack(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    sd.mention("google", local(17, 10), label="negative", score=-0.9, target=OTHER,
               aspects=[neg("delivery", -0.9, "<!channel> kliknij <https://evil.example|tutaj>")])  # fmt: skip
    d = build_digest(engine, make_settings(tmp_path), OTHER, parse_week(W47, "Europe/Warsaw"), now=NOW)
    text = summary_text(d)
    assert "<!channel>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text


def test_html_report_is_self_contained_and_escapes_hostile_text(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    charts = render_charts(d, "pl")
    page = render_html(d, charts, settings)
    srcs = re.findall(r'src="([^"]*)"', page)
    assert len(srcs) == 4 and all(s.startswith("data:image/png;base64,") for s in srcs)
    for src in srcs:
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG_MAGIC)
    assert not re.search(r"<(script|link|iframe|object|embed)\b", page, re.IGNORECASE)
    assert "@import" not in page and "url(" not in page
    assert "&lt;script&gt;alert(&#34;autor&#34;)&lt;/script&gt;" in page  # m3's author, shown as text
    assert '<html lang="pl">' in page and "Najpilniejsze wzmianki" in page and "Zwroty" not in page
    assert "„Paczka przyszła po dwóch tygodniach”" in page
    assert f'href="{PUBLIC}/items/{seeded["m1"]}"' in page
    assert "przypisane" in page and "anna" in page


def test_html_report_in_english(engine: Engine, seeded: dict[str, int], tmp_path: Path) -> None:
    settings = make_settings(tmp_path, language="en")
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    page = render_html(d, render_charts(d, "en"), settings)
    assert '<html lang="en">' in page and "Most urgent items" in page and "Response KPIs" in page
    assert "Najpilniejsze" not in page

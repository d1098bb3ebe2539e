"""A storm's themes in the digest are the ones its alert announced ("Top themes: Delivery (10)").

The storm is opened by the real detector (:func:`alerts.storms.check_storms`) over stored mentions, and its
alert rendered by the real message builder, so the digest is compared with what the team saw in Slack.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from alerts.storm_message import build_storm
from alerts.storms import check_storms
from monitor.core.models import Alert, AlertKind
from monitor.digest.charts import render_charts
from monitor.digest.queries import build_digest
from monitor.digest.render import render_html, summary_text
from monitor.digest.weeks import parse_week
from tests.monitor.digest.seed import NOW, TARGET, W47, Seeder, local, make_settings, neg

OPENED = local(18, 15)  # Wednesday of W47


def _burst(engine: Engine) -> None:
    """Ten delivery complaints (three also about service) in the hour before OPENED, and one positive item."""
    sd = Seeder(engine)
    for k in range(10):
        aspects = [neg("delivery", -0.8, f"Paczka {k} nie dotarła")]
        if k < 3:
            aspects.append(neg("customer_service", -0.7, "Nikt nie odbiera"))
        sd.mention(
            "google", local(18, 14, 1 + 5 * k), rating=1, label="negative", score=-0.9, aspects=aspects
        )
    sd.mention("google", local(18, 14, 50), rating=5, label="positive", score=0.9)


def _storm_alert(engine: Engine) -> Alert:
    with Session(engine) as s:
        alert = s.exec(select(Alert).where(col(Alert.kind) == AlertKind.STORM)).one()
        s.expunge(alert)
        return alert


def test_storm_themes_in_the_digest_are_those_its_alert_showed(engine: Engine, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, language="en")
    _burst(engine)
    assert check_storms(engine, settings, OPENED)["opened"] == 1
    alerted = build_storm(_storm_alert(engine), settings).plain
    assert "Top themes: Delivery (10), Customer service (3)" in alerted

    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    [storm] = d.storms
    assert storm.themes == [{"aspect": "delivery", "count": 10}, {"aspect": "customer_service", "count": 3}]
    assert storm.count == 10
    assert "Storms: 1 (Delivery (10), Customer service (3))" in summary_text(d)
    html = render_html(d, render_charts(d, "en"), settings)
    assert "Delivery (10), Customer service (3)" in html


def test_a_storm_alert_without_themes_gets_them_by_the_storm_rule(engine: Engine, tmp_path: Path) -> None:
    """An alert whose payload lost its themes (or predates them): recomputed over the opening window."""
    settings = make_settings(tmp_path)
    _burst(engine)
    check_storms(engine, settings, OPENED)
    with Session(engine) as s:
        alert = s.exec(select(Alert).where(col(Alert.kind) == AlertKind.STORM)).one()
        alert.payload = {k: v for k, v in (alert.payload or {}).items() if k != "themes"}
        s.add(alert)
        s.commit()
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert d.storms[0].themes == [
        {"aspect": "delivery", "count": 10},
        {"aspect": "customer_service", "count": 3},
    ]
    assert "Burze: 1 (Dostawa (10), Obsługa klienta (3))" in summary_text(d)

"""The mentions a digest quotes: the worst quotes per negative aspect and the most urgent items."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from monitor.digest.queries import build_digest
from monitor.digest.weeks import parse_week
from tests.monitor.digest.seed import (
    HOSTILE_AUTHOR,
    NOW,
    PUBLIC,
    TARGET,
    W47,
    Seeder,
    local,
    make_settings,
    neg,
)


def test_top_negative_aspects_with_two_worst_quotes_each(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    # delivery: m1, m3, m8; customer_service: m3, m5. Not: m2's positive price, m10's old version's
    # "returns", next week's m7, the other target's "payment".
    assert [(a.aspect, a.count) for a in d.aspects] == [("delivery", 3), ("customer_service", 2)]
    delivery, service = d.aspects
    assert [q.text for q in delivery.quotes] == [
        "Paczka przyszła po dwóch tygodniach",
        "Kurier zgubił paczkę",
    ]
    assert [q.mention_id for q in delivery.quotes] == [seeded["m1"], seeded["m3"]]
    assert delivery.quotes[0].url == f"{PUBLIC}/items/{seeded['m1']}"
    # m5 has no evidence: its text stands in, without the script element
    assert service.quotes[0].mention_id == seeded["m5"]
    assert service.quotes[0].text.startswith("Obsługa klienta to żart")
    assert "script" not in service.quotes[0].text and "xss" not in service.quotes[0].text
    assert service.quotes[1].text == "Obsługa nie odpisuje"


def test_quotes_are_at_most_200_characters(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    long_evidence = "Zamówienie " + "bardzo długo nie przychodziło i nikt nie odpowiadał " * 10
    sd.mention(
        "google", local(17, 10), label="negative", score=-0.9, aspects=[neg("delivery", -0.9, long_evidence)]
    )
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    quote = d.aspects[0].quotes[0].text
    assert len(quote) <= 200 and quote.endswith("…") and quote.startswith("Zamówienie bardzo długo")


def test_most_urgent_items_in_order_with_their_status(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    d = build_digest(engine, make_settings(tmp_path), TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    got = [(u.mention_id, u.urgency, u.status, u.assignee) for u in d.urgent]
    assert got == [
        (seeded["m1"], "critical", "handled", None),
        (seeded["m3"], "elevated", "assigned", "anna"),
        (seeded["m5"], "none", "open", None),  # the most negative score of the rest
        (seeded["m11"], "none", "storm", None),  # folded into the storm's alert
    ]
    assert d.urgent[0].url == f"{PUBLIC}/items/{seeded['m1']}"
    assert d.urgent[0].handled_by == "marek" and d.urgent[0].rating == 1.0
    assert d.urgent[1].author == HOSTILE_AUTHOR


def test_urgent_list_is_capped_and_an_item_without_alert_says_so(engine: Engine, tmp_path: Path) -> None:
    sd = Seeder(engine)
    for k in range(4):
        sd.mention("google", local(17, 10 + k), label="negative", score=-0.1 * (k + 1))
    settings = make_settings(tmp_path, digest={"top_urgent": 2})
    d = build_digest(engine, settings, TARGET, parse_week(W47, "Europe/Warsaw"), now=NOW)
    assert [u.score for u in d.urgent] == [pytest.approx(-0.4), pytest.approx(-0.3)]
    assert {u.status for u in d.urgent} == {"no_alert"}

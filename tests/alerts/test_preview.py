"""`earshot alerts preview`: the exact Slack payload per mention line, hostile text included."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from alerts.message_limits import limit_violations
from alerts.preview import preview
from alerts.slack_format import SlackMessage
from monitor.core.config import EarshotSettings

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "alerts" / "preview_mentions.jsonl"
# The only control sequences a message may contain: Slack date tokens the builder writes itself.
_ALLOWED = re.compile(r"<!date\^\d+\^[^|<>]*\|[^<>]*>")


def _mrkdwn_strings(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        if obj.get("type") == "mrkdwn" and isinstance(obj.get("text"), str):
            return [obj["text"]]
        return [s for v in obj.values() for s in _mrkdwn_strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _mrkdwn_strings(v)]
    return []


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", "alerts", "preview", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_cli_prints_one_payload_per_line_and_reports_bad_lines() -> None:
    out = _run_cli(str(FIXTURE), "--no-score")
    assert out.returncode == 1  # two lines could not be read
    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in results] == ["gbp-1", "tp-2", "hostile-3", "long-4", "broken-5", 6]
    assert "text (a string) is required" in results[4]["error"]
    assert results[5]["error"].startswith("not JSON")
    assert "2 line(s) could not be previewed" in out.stderr
    first = results[0]
    assert first["alert"] is True and first["rule"] == "negative" and first["kind"] == "low_rating"
    payload = first["payload"]
    assert payload["channel"] == "#earshot-alerts" and payload["text"] and payload["blocks"]
    assert payload["metadata"]["event_type"] == "earshot_alert" and payload["parse"] == "none"
    assert results[1]["alert"] is False  # a 5★ thank-you fires no rule, but its layout is still shown


def test_hostile_line_cannot_ping_or_link_and_long_line_fits_slack() -> None:
    settings = EarshotSettings()
    results = {r["id"]: r for r in preview(FIXTURE.read_text(encoding="utf-8").splitlines(), settings, None)}
    hostile = results["hostile-3"]["payload"]
    for text in [hostile["text"], *_mrkdwn_strings(hostile["blocks"])]:
        assert "<" not in _ALLOWED.sub("", text) and ">" not in _ALLOWED.sub("", text), text
    dumped = json.dumps(hostile["blocks"])
    assert "javascript:" not in dumped  # an unsafe URL gets no "open" button
    assert "&lt;!channel&gt;" in dumped  # shown as text, inert
    for key in ("long-4", "hostile-3", "gbp-1"):
        p = results[key]["payload"]
        assert limit_violations(SlackMessage(text=p["text"], blocks=p["blocks"])) == []


def test_scores_drive_badges_rule_and_reply_language() -> None:
    def analyze(views: Any) -> list[dict[str, Any]]:
        return [
            {
                "label": "negative",
                "score": -0.95,
                "confidence": 0.97,
                "language": "pl",
                "urgency": {
                    "level": "critical",
                    "reasons": [{"code": "legal_threat", "evidence": "pozew", "severity": "critical"}],
                },
                "aspects": [
                    {"aspect": "delivery", "sentiment": "negative", "evidence": "Paczka nie dotarła"}
                ],
            }
            for _ in views
        ]

    settings = EarshotSettings(slack={"critical_channel": "#cs-pilne"})
    [first] = [r for r in preview([FIXTURE.read_text(encoding="utf-8").splitlines()[0]], settings, analyze)]
    assert (first["rule"], first["severity"], first["payload"]["channel"]) == (
        "urgent",
        "urgent",
        "#cs-pilne",
    )
    shown = json.dumps(first["payload"]["blocks"], ensure_ascii=False)
    assert "legal threat" in shown.lower() and "Delivery" in shown
    reply = next(
        b for b in first["payload"]["blocks"] if "Suggested reply" in b.get("text", {}).get("text", "")
    )
    # Polish, formal (the default brand voice); the text does not say the writer's gender: no Pani/Pan
    assert "(pl, formal)" in reply["text"]["text"] and "Dzień dobry," in reply["text"]["text"]
    assert "pozew" not in reply["text"]["text"]  # the customer's words are never copied into a reply


def test_a_deeply_nested_line_is_reported_and_the_good_lines_still_come_out() -> None:
    """`[` x 5000 used to end the whole preview in a RecursionError traceback, printing nothing."""
    lines = ["[" * 5000, json.dumps({"id": "ok-1", "text": "Paczka nie dotarła", "rating": 1})]
    results = list(preview(lines, EarshotSettings(), None))
    assert "nested too deeply" in results[0]["error"]
    assert results[1]["id"] == "ok-1" and "payload" in results[1]

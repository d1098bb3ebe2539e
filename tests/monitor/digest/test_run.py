"""The weekly run: reports written, the summary printed without a token or posted with the charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from alerts.slack_sender import ConsoleSender, SlackSender
from monitor.digest.errors import DigestError
from monitor.digest.files import find_report, list_reports
from monitor.digest.render import summary_text
from monitor.digest.run import run_digest
from monitor.digest.weeks import parse_week
from tests.alerts.fake_slack import FakeSlack
from tests.monitor.digest.seed import (
    NOW,
    OTHER,
    PNG_MAGIC,
    TARGET,
    W47,
    make_settings,
    slack_settings,
)


def test_run_digest_writes_reports_and_prints_without_a_token(
    engine: Engine, seeded: dict[str, int], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    printed: list[str] = []
    results = run_digest(engine, settings, sender=ConsoleSender(settings), now=NOW, out=printed.append)
    assert [(r.target, r.week, r.printed, r.posted) for r in results] == [
        (TARGET, W47, True, False),
        (OTHER, W47, True, False),
    ]  # the last full week before NOW, every configured target
    assert results[0].path.is_file() and results[0].json_path.is_file()
    assert json.loads(results[0].json_path.read_text(encoding="utf-8"))["total"] == 9
    assert "Wzmianki: 9" in printed[0] and str(results[0].path) in printed[0]
    assert find_report(settings, "sklep-kowalski", W47) == results[0].path
    listed = list_reports(settings)
    assert [(r.target, r.week_iso) for r in listed] == [(OTHER, W47), (TARGET, W47)]
    run_digest(engine, settings, week=parse_week("2026-W46", "Europe/Warsaw"), targets=[TARGET], now=NOW)
    assert [r.week_iso for r in list_reports(settings)] == [W47, W47, "2026-W46"]


def test_run_digest_refuses_an_unknown_target(engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(DigestError, match="unknown target\\(s\\) 'Sklep Kowalsky'"):
        run_digest(engine, make_settings(tmp_path), targets=["Sklep Kowalsky"], now=NOW)


def test_posting_uploads_the_charts_with_the_summary(
    engine: Engine, seeded: dict[str, int], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path, fake_slack, channel="#general")
    week = parse_week(W47, "Europe/Warsaw")
    [result] = run_digest(
        engine, settings, week=week, targets=[TARGET], sender=SlackSender(settings), now=NOW
    )
    assert result.posted and result.error is None
    [upload] = fake_slack.uploads()
    assert upload.channel == fake_slack.channel_id("general")
    assert upload.initial_comment == summary_text(result.digest)
    assert [f.filename for f in upload.files] == [
        f"sklep-kowalski-2026-W47-{name}.png" for name in ("volume", "sentiment", "rating", "aspects")
    ]
    assert all(f.content is not None and f.content.startswith(PNG_MAGIC) for f in upload.files)
    assert {f.title for f in upload.files} == {"Raport tygodniowy 2026-W47"}
    assert fake_slack.calls("files.getUploadURLExternal") == 4 and fake_slack.calls("upload") == 4
    assert fake_slack.messages() == []  # nothing else was posted


def test_slack_failure_is_reported_and_the_report_still_written(
    engine: Engine, seeded: dict[str, int], tmp_path: Path, fake_slack: FakeSlack
) -> None:
    settings = slack_settings(tmp_path, fake_slack)
    fake_slack.set_member(fake_slack.channel_id("earshot-alerts"), False)
    fake_slack.fail_next("files.getUploadURLExternal", "ratelimited", retry_after=7)
    week = parse_week(W47, "Europe/Warsaw")
    sender = SlackSender(settings)
    results = run_digest(engine, settings, week=week, sender=sender, now=NOW)
    assert [r.posted for r in results] == [False, False]
    assert results[0].error == "Slack rate-limited files.upload_v2; retry after 7s"
    assert results[1].error is not None and results[1].error.startswith("not_in_channel:")
    assert fake_slack.token not in (results[1].error or "")
    assert all(r.path.is_file() for r in results) and fake_slack.uploads() == []


def test_upload_files_needs_files(tmp_path: Path, fake_slack: FakeSlack) -> None:
    sender = SlackSender(slack_settings(tmp_path, fake_slack))
    with pytest.raises(ValueError, match="at least one file"):
        sender.upload_files("#earshot-alerts", [], "x")
    sender.upload_files("#earshot-alerts", [("a.png", PNG_MAGIC + b"...")], "zażółć <b>", title="Tytuł")
    [upload] = fake_slack.uploads("#earshot-alerts")
    assert upload.initial_comment == "zażółć <b>" and upload.files[0].title == "Tytuł"
    assert upload.files[0].content == PNG_MAGIC + b"..."

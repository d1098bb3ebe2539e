"""The `earshot` command line: one subcommand per stage, plus `run` (scheduler) and `demo`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from monitor.core.config import CONFIG_ENV, EarshotSettings, load_settings
from monitor.core.errors import DatabaseError
from monitor.core.settings_base import ConfigError
from monitor.model_cli import register as register_model
from monitor.web_cli import register as register_web

log = logging.getLogger("earshot")

Handler = Callable[[argparse.Namespace, EarshotSettings], int]


def _setup_logging(level: str, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _print_report(title: str, counts: dict[str, int], language: str = "en") -> None:
    from monitor.cli_text import counts_line

    print(counts_line(title, counts, language))


def cmd_crawl(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.cli_text import t
    from monitor.crawl_report import NAME_WIDTH, crawl_line, crawl_lines
    from monitor.pipeline import UnknownSourceError, run_crawls

    language = settings.console_language

    def crawled(name: str, report: Any, summary: Any) -> None:
        # One line per source as it ends; Scrapy's own log of the run is in the file the line names.
        print(crawl_line(name, summary, report, language, NAME_WIDTH), flush=True)

    try:
        result = run_crawls(settings, args.source or None, on_crawled=crawled)
    except UnknownSourceError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    for line in crawl_lines(result, language, crawled=False):
        print(line)
    if not result.reports:
        print(
            t(
                language,
                "nothing to crawl: no source has both its credentials and a target using it (`earshot sources`)",
            )
        )
    health = result.health.counts
    if health:
        _print_report("source health", health, language)
        if health.get("opened") or health.get("recovered"):
            print(
                t(
                    language,
                    "source-health alerts queued; `earshot alerts send` delivers them "
                    "(`earshot run` does it itself)",
                )
            )
    return 1 if result.failed else 0


def cmd_sources(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.core.db import make_engine
    from monitor.source_status import source_statuses
    from monitor.sources_table import render_sources
    from spiders.catalogue import source_catalogue

    engine = make_engine(settings.effective_database_url)
    try:
        statuses = source_statuses(engine, settings, source_catalogue(settings))
    finally:
        engine.dispose()
    if args.json:
        print(json.dumps([s.as_dict() for s in statuses], indent=2, ensure_ascii=False))
    else:
        print(render_sources(statuses, language=settings.console_language))
    return 0


def cmd_score(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.core.db import make_engine
    from monitor.pipeline import load_scorer, score_pending

    engine = make_engine(settings.effective_database_url)
    report = score_pending(engine, load_scorer(settings), batch_size=settings.sentiment.batch_size)
    _print_report("score", report.counts, settings.console_language)
    return 0


def cmd_alerts_send(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.core.db import make_engine
    from monitor.pipeline import run_alerts

    engine = make_engine(settings.effective_database_url)
    report = run_alerts(engine, settings)
    _print_report("alerts", report.counts, settings.console_language)
    return 0


def cmd_alerts_requeue(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Give failed alerts a fresh set of attempts once their cause (token, channel, scope) is fixed."""
    from alerts.outbox import requeue_failed
    from monitor.core.db import make_engine
    from monitor.core.i18n import ngettext

    engine = make_engine(settings.effective_database_url)
    count = requeue_failed(engine, args.id or None)
    message = "requeued %(n)s failed alert(s); `earshot alerts send` or `earshot run` posts them"
    print(ngettext(settings.console_language, "cli", message, message, count))
    return 0


def _preview_analyzer(settings: EarshotSettings) -> Any:
    """The bundled model's analysis as plain dicts (what the scoring stage stores), for the preview."""
    from monitor.pipeline import load_scorer
    from sentiment.analysis import MentionText

    analyzer = load_scorer(settings)

    def analyze(views: Sequence[Any]) -> list[dict[str, Any]]:
        items = [MentionText(text=v.text, rating=v.rating, reach=v.reach) for v in views]
        return [a.to_dict() for a in analyzer.analyze(items)]

    return analyze


def cmd_alerts_preview(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Print, per mention line, the exact chat.postMessage payload its alert would have."""
    from alerts.preview import preview

    analyze = None if args.no_score else _preview_analyzer(settings)
    try:
        handle = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as exc:
        print(f"earshot: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    errors = 0
    with handle:
        for out in preview(handle, settings, analyze, language=args.language):
            errors += "error" in out
            print(json.dumps(out, ensure_ascii=False, indent=2 if args.pretty else None), flush=True)
    if errors:
        print(f'earshot: {errors} line(s) could not be previewed (see their "error")', file=sys.stderr)
    return 1 if errors else 0


def cmd_digest(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Make the weekly digest now: numbers, charts, HTML report; posted to Slack unless --no-slack."""
    from alerts.slack_sender import make_sender
    from monitor.core.db import make_engine
    from monitor.digest.errors import DigestError
    from monitor.digest.run import run_digest
    from monitor.digest.weeks import last_full_week, parse_week

    tz = settings.digest.timezone
    if args.language:
        settings = settings.model_copy(
            update={"digest": settings.digest.model_copy(update={"language": args.language})}
        )
    try:
        week = parse_week(args.week, tz) if args.week else last_full_week(datetime.now(UTC), tz)
    except DigestError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.effective_database_url)
    sender = None if args.no_slack else make_sender(settings)
    try:
        results = run_digest(engine, settings, week=week, targets=args.target or None, sender=sender)
    except DigestError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    for result in results:
        where = "posted to Slack" if result.posted else f"not posted: {result.error}" if result.error else ""
        print(f"{result.target} {week.iso}: {result.path}" + (f" ({where})" if where else ""))
    if not results:
        print(f"earshot: no targets for a digest ({week.iso}); configure [[targets]]", file=sys.stderr)
        return 1
    return 1 if any(r.error for r in results) else 0


def cmd_run(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.scheduler import run_forever
    from monitor.slack_app import InteractivityError

    if settings.distributed.broker_url is not None:
        print(
            "earshot: distributed.broker_url is set, which chooses the distributed mode: start `earshot "
            "scheduler` and `earshot worker` instead (unset EARSHOT_DISTRIBUTED__BROKER_URL to run on one machine)",
            file=sys.stderr,
        )
        return 2
    try:
        return run_forever(settings)
    except InteractivityError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2


def cmd_demo(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.demo import run_demo

    if args.distributed:
        from monitor.distributed.demo import run_distributed_demo

        return run_distributed_demo(settings, workers=2)
    return run_demo(settings, data_dir=args.data_dir, use_slack=args.slack)


def cmd_corrections_add(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.core.corrections import CorrectionError, record_correction
    from monitor.core.db import make_engine, session_scope

    engine = make_engine(settings.effective_database_url)
    try:
        with session_scope(engine) as session:
            row = record_correction(session, args.mention_id, args.label, args.by, via="cli")
            print(f"mention {row.mention_id} v{row.mention_version}: {row.previous_label} -> {row.label}")
    except CorrectionError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_corrections_export(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.core.corrections import export_corrections
    from monitor.core.db import make_engine, session_scope

    engine = make_engine(settings.effective_database_url)
    with session_scope(engine) as session:
        if args.output == "-":
            n = export_corrections(session, sys.stdout)
        else:
            with open(args.output, "w", encoding="utf-8", newline="") as fh:
                n = export_corrections(session, fh)
    print(f"{n} correction(s) exported; train with: earshot model train --csv FILE --resume", file=sys.stderr)
    return 0


def cmd_config_show(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Print the effective settings with secrets masked, so a user can see what was loaded."""
    from monitor.core.db import redact_url

    data = settings.model_dump(mode="json")
    data["database_url"] = redact_url(settings.effective_database_url)
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def cmd_config_check(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Check a config file's syntax and meaning; every problem with its line, exit 2 if there is one."""
    from monitor.config_check import check_config

    path = args.file or args.config or os.environ.get(CONFIG_ENV)
    if not path:
        print(f"earshot: name the file: earshot config check FILE, --config or {CONFIG_ENV}", file=sys.stderr)
        return 2
    result = check_config(path)
    for problem in result.problems:
        print(problem.render(path))
    print(result.summary(), file=sys.stderr if result.problems else sys.stdout)
    return 2 if result.problems else 0


def cmd_db_upgrade(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Bring the database to the newest schema revision once (every long-running command also does on start)."""
    from monitor.core.db import open_engine, redact_url, upgrade_schema
    from monitor.web.search import index_all

    engine = open_engine(settings.effective_database_url)
    try:
        change = upgrade_schema(engine)
        indexed = index_all(engine)  # the mentions revision 0008 queued for the inbox search index
    finally:
        engine.dispose()
    print(f"database {redact_url(settings.effective_database_url)}: {change.describe()}")
    if indexed:
        print(f"inbox search index: {indexed} mentions indexed")
    return 0


def cmd_worker(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """A Celery worker of the distributed mode (needs distributed.broker_url and PostgreSQL)."""
    from monitor.distributed.worker_cli import parse_queues, run_worker

    return run_worker(settings, parse_queues(args.queues, settings), args.concurrency, name=args.name)


def cmd_scheduler(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """The distributed mode's scheduler: enqueues only; one of several is active (PostgreSQL lock)."""
    from monitor.distributed.leader import run_scheduler

    return run_scheduler(settings)


def cmd_status(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Workers, queue depths, oldest unprocessed item per stage, the active scheduler; exit 1 if stalled."""
    from monitor.distributed.status import collect_status, render_status

    status = collect_status(settings)
    if args.json:
        print(json.dumps(status.as_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        print(render_status(status, settings.console_language))
    return 1 if status.stalled else 0


def build_parser(with_providers: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="earshot", description="Review and social-media monitoring.")
    p.add_argument("--config", help="TOML config file (default: $EARSHOT_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("crawl", help="run the spiders once")
    c.add_argument(
        "--source",
        "--spider",
        dest="source",
        action="append",
        metavar="NAME",
        help="crawl this source, even if unconfigured (repeatable; default: every source with work to do)",
    )
    c.set_defaults(func=cmd_crawl)

    src = sub.add_parser("sources", help="every source: configured?, targets, schedule, last run, health")
    src.add_argument("--json", action="store_true", help="machine-readable output")
    src.set_defaults(func=cmd_sources)

    sub.add_parser("score", help="score every unscored mention").set_defaults(func=cmd_score)

    a = sub.add_parser("alerts", help="alert outbox")
    asub = a.add_subparsers(dest="alerts_command", required=True)
    asub.add_parser("send", help="create due alerts and deliver them").set_defaults(func=cmd_alerts_send)
    rq = asub.add_parser("requeue", help="retry failed alerts after fixing the token, channel or scope")
    rq.add_argument(
        "--id", type=int, action="append", help="only this alert id (repeatable); default: all failed"
    )
    rq.set_defaults(func=cmd_alerts_requeue)
    pv = asub.add_parser("preview", help="print the Slack payload an alert for each JSONL mention would post")
    pv.add_argument(
        "file", help='JSONL: {"id","source","text","author","rating","url","lang"} per line; - = stdin'
    )
    pv.add_argument("--no-score", action="store_true", help="skip the sentiment model (faster; no badges)")
    pv.add_argument("--pretty", action="store_true", help="indent the JSON (default: one object per line)")
    pv.add_argument(
        "--language",
        choices=("pl", "en"),
        default=None,
        help="render in this language instead of each target's `language` (slack.language)",
    )
    pv.set_defaults(func=cmd_alerts_preview)

    sub.add_parser("run", help="run all stages on a schedule until stopped").set_defaults(func=cmd_run)

    wk = sub.add_parser("worker", help="distributed mode: a Celery worker (needs distributed.broker_url)")
    wk.add_argument(
        "--queues", help="comma-separated stages: crawl,score,alerts,digest (default: distributed.queues)"
    )
    wk.add_argument(
        "--concurrency", type=int, help="tasks at once (default: distributed.concurrency or cores)"
    )
    wk.add_argument("--name", help="worker node name (default: <prefix>-<pid>@<host>)")
    wk.set_defaults(func=cmd_worker)
    sub.add_parser(
        "scheduler", help="distributed mode: enqueue stages on schedule (one active of several)"
    ).set_defaults(func=cmd_scheduler)
    st = sub.add_parser(
        "status", help="distributed mode: workers, queues, oldest unprocessed item, scheduler"
    )
    st.add_argument("--json", action="store_true", help="machine-readable output")
    st.set_defaults(func=cmd_status)

    dg = sub.add_parser("digest", help="make the weekly digest now (default: last full ISO week)")
    dg.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last full week)")
    dg.add_argument("--target", action="append", help="only this target (repeatable; default: all)")
    dg.add_argument("--language", choices=["pl", "en"], help="override digest.language")
    dg.add_argument("--no-slack", action="store_true", help="write the report only, do not post to Slack")
    dg.set_defaults(func=cmd_digest)

    d = sub.add_parser("demo", help="crawl → score → alert once against bundled demo data")
    d.add_argument("--data-dir", help="keep the demo database here (default: a fresh temporary folder)")
    d.add_argument("--slack", action="store_true", help="post to the configured Slack instead of console")
    d.add_argument(
        "--distributed",
        action="store_true",
        help="run it through the broker with two workers (needs distributed.broker_url and PostgreSQL)",
    )
    d.set_defaults(func=cmd_demo)

    cfg = sub.add_parser("config", help="configuration")
    csub = cfg.add_subparsers(dest="config_command", required=True)
    csub.add_parser("show", help="print effective settings (secrets masked)").set_defaults(
        func=cmd_config_show
    )
    chk = csub.add_parser("check", help="check a config file's syntax and meaning, with line numbers")
    chk.add_argument("file", nargs="?", help="TOML file (default: --config / $EARSHOT_CONFIG)")
    chk.set_defaults(func=cmd_config_check)

    db = sub.add_parser("db", help="database schema")
    dbsub = db.add_subparsers(dest="db_command", required=True)
    dbsub.add_parser("upgrade", help="upgrade the schema to the newest revision").set_defaults(
        func=cmd_db_upgrade
    )

    corr = sub.add_parser("corrections", help="agents' sentiment corrections (training data)")
    corr_sub = corr.add_subparsers(dest="corrections_command", required=True)
    add = corr_sub.add_parser("add", help="record that a mention's sentiment is LABEL")
    add.add_argument("mention_id", type=int)
    add.add_argument("label", choices=["negative", "neutral", "positive"])
    add.add_argument("--by", default="cli", help="who corrected it (stored with the correction)")
    add.set_defaults(func=cmd_corrections_add)
    exp = corr_sub.add_parser("export", help="write corrections as training CSV (text,label,...)")
    exp.add_argument("output", nargs="?", default="-", help="CSV file (default: stdout)")
    exp.set_defaults(func=cmd_corrections_export)

    register_model(sub)
    register_web(sub)  # `earshot web`, `earshot slack serve|manifest`
    _register_auth(sub, with_providers)
    return p


def _register_auth(sub: argparse._SubParsersAction[argparse.ArgumentParser], with_providers: bool) -> None:
    """``earshot auth <provider>``; the providers are imported only when they may run.

    Why: they bring in the credential store, the database layer and Alembic (0.6 s of imports), which
    every other command (``earshot model predict`` above all) would otherwise pay at start.
    """
    if not with_providers:
        sub.add_parser(
            "auth", help="authorise a source once and store its credentials (google, allegro, bluesky)"
        )
        return
    from monitor import auth_allegro, auth_bluesky  # noqa: F401  registers `earshot auth allegro|bluesky`
    from monitor.auth_cli import register

    register(sub)  # providers join with monitor.auth_cli.register_provider


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(with_providers="auth" in argv)
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    _setup_logging(settings.log_level, args.verbose)
    handler: Handler = args.func
    try:
        return handler(args, settings)
    except (ConfigError, DatabaseError) as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("earshot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

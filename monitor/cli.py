"""The `earshot` command line: one subcommand per stage, plus `run` (scheduler) and `demo`."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from monitor import auth_allegro, auth_bluesky  # noqa: F401  registers `earshot auth allegro|bluesky`
from monitor.auth_cli import register as register_auth
from monitor.core.config import CONFIG_ENV, EarshotSettings, load_settings
from monitor.core.db import DatabaseError, make_engine, open_engine, redact_url, session_scope, upgrade_schema
from monitor.core.settings_base import ConfigError
from monitor.model_cli import register as register_model
from monitor.sources_table import render_sources
from monitor.web.search import index_all

if TYPE_CHECKING:
    pass

log = logging.getLogger("earshot")

Handler = Callable[[argparse.Namespace, EarshotSettings], int]


def _setup_logging(level: str, verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _print_report(title: str, counts: dict[str, int]) -> None:
    parts = ", ".join(f"{k}={v}" for k, v in counts.items())
    print(f"{title}: {parts}")


def cmd_crawl(args: argparse.Namespace, settings: EarshotSettings) -> int:
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
            "nothing to crawl: no source has both its credentials and a target using it (`earshot sources`)"
        )
    health = result.health.counts
    if health:
        _print_report("source health", health)
        if health.get("opened") or health.get("recovered"):
            print(
                "source-health alerts queued; `earshot alerts send` delivers them (`earshot run` does it itself)"
            )
    return 1 if result.failed else 0


def cmd_sources(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.source_health import source_statuses
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
    from monitor.pipeline import load_scorer, score_pending

    engine = make_engine(settings.effective_database_url)
    report = score_pending(engine, load_scorer(settings), batch_size=settings.sentiment.batch_size)
    _print_report("score", report.counts)
    return 0


def cmd_alerts_send(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.pipeline import run_alerts

    engine = make_engine(settings.effective_database_url)
    report = run_alerts(engine, settings)
    _print_report("alerts", report.counts)
    return 0


def cmd_alerts_requeue(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Give failed alerts a fresh set of attempts once their cause (token, channel, scope) is fixed."""
    from alerts.outbox import requeue_failed

    engine = make_engine(settings.effective_database_url)
    count = requeue_failed(engine, args.id or None)
    if settings.console_language == "pl":
        print(f"ponownie w kolejce: {count} alert(ów); `earshot alerts send` lub `earshot run` je wyśle")
    else:
        print(f"requeued {count} failed alert(s); `earshot alerts send` or `earshot run` posts them")
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
        for out in preview(handle, settings, analyze):
            errors += "error" in out
            print(json.dumps(out, ensure_ascii=False, indent=2 if args.pretty else None), flush=True)
    if errors:
        print(f'earshot: {errors} line(s) could not be previewed (see their "error")', file=sys.stderr)
    return 1 if errors else 0


def cmd_digest(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Make the weekly digest now: numbers, charts, HTML report; posted to Slack unless --no-slack."""
    from alerts.slack_sender import make_sender
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


def _with_web_address(settings: EarshotSettings, host: str | None, port: int | None) -> EarshotSettings:
    web = settings.web.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    return settings.model_copy(update={"web": web})


def cmd_web(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Serve the web pages (inbox, item pages, digests) until Ctrl-C."""
    import signal
    import threading

    from monitor.slack_app import has_signing_secret, make_worker
    from monitor.web.app import WebConfigError, create_app, serve_web, shutdown_web

    settings = _with_web_address(settings, args.host, args.port)
    engine = make_engine(settings.effective_database_url)
    worker = make_worker(settings, engine)  # POST /slack/interactivity is served here too
    try:
        app = create_app(settings, engine, slack_worker=worker)
        if has_signing_secret(settings):
            worker.start()
        server, thread = serve_web(settings, engine, app=app)
    except WebConfigError as exc:
        worker.stop()
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    print(f"Earshot web pages on http://{settings.web.host}:{settings.web.port}/ — Ctrl-C stops", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    shutdown_web(server, thread)
    worker.stop()
    return 0


def cmd_web_hash_password(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Read a password (twice, not echoed) and print its hash for [[web.users]] password_hash."""
    import getpass

    from monitor.web.auth import hash_password

    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if first != getpass.getpass("again: "):
            print("earshot: the passwords differ", file=sys.stderr)
            return 2
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 8:
        print("earshot: use at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(first))
    return 0


def cmd_slack_serve(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Only the Slack interactivity endpoint (when `earshot run` runs elsewhere or for a first test)."""
    import signal
    import threading

    from monitor.slack_app import InteractivityError, start_slack_app

    if args.host:
        settings = settings.model_copy(
            update={"slack": settings.slack.model_copy(update={"interactivity_host": args.host})}
        )
    if args.port is not None:
        settings = settings.model_copy(
            update={"slack": settings.slack.model_copy(update={"interactivity_port": args.port})}
        )
    engine = make_engine(settings.effective_database_url)
    try:
        app = start_slack_app(settings, engine)
    except InteractivityError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2
    if app is None:
        print(
            "earshot: set EARSHOT_SLACK__SIGNING_SECRET (HTTP) or EARSHOT_SLACK__APP_TOKEN (Socket Mode) first",
            file=sys.stderr,
        )
        return 2
    print(f"Slack interactivity ({app.mode}): {app.address} — Ctrl-C stops", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait()
    app.stop()
    return 0


def cmd_run(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.scheduler import run_forever
    from monitor.slack_app import InteractivityError

    try:
        return run_forever(settings)
    except InteractivityError as exc:
        print(f"earshot: {exc}", file=sys.stderr)
        return 2


def cmd_demo(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.demo import run_demo

    return run_demo(settings, data_dir=args.data_dir, use_slack=args.slack)


def cmd_corrections_add(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.core.corrections import CorrectionError, record_correction

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


def cmd_slack_manifest(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Print the Slack app manifest (JSON) to paste into "Create an app → From an app manifest"."""
    from monitor.slack_manifest import slack_manifest

    if not args.socket_mode and not settings.public_url.startswith("https://"):
        print(
            f"earshot: public_url is {settings.public_url}; Slack needs a public https Request URL: set "
            "EARSHOT_PUBLIC_URL or use --socket-mode",
            file=sys.stderr,
        )
    print(json.dumps(slack_manifest(settings, socket_mode=args.socket_mode), indent=2, ensure_ascii=False))
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Bring the database to the newest schema revision once (every long-running command also does on start)."""
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


def build_parser() -> argparse.ArgumentParser:
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
    pv.set_defaults(func=cmd_alerts_preview)

    sub.add_parser("run", help="run all stages on a schedule until stopped").set_defaults(func=cmd_run)

    dg = sub.add_parser("digest", help="make the weekly digest now (default: last full ISO week)")
    dg.add_argument("--week", help="ISO week, e.g. 2026-W47 (default: the last full week)")
    dg.add_argument("--target", action="append", help="only this target (repeatable; default: all)")
    dg.add_argument("--language", choices=["pl", "en"], help="override digest.language")
    dg.add_argument("--no-slack", action="store_true", help="write the report only, do not post to Slack")
    dg.set_defaults(func=cmd_digest)

    web = sub.add_parser("web", help="serve the web pages (inbox, item pages, digests)")
    web.add_argument("--host", help="bind address (default: web.host, 127.0.0.1)")
    web.add_argument("--port", type=int, help="port (default: web.port, 8000)")
    web.set_defaults(func=cmd_web)
    websub = web.add_subparsers(dest="web_command")
    websub.add_parser("hash-password", help="print a password hash for [[web.users]]").set_defaults(
        func=cmd_web_hash_password
    )

    sl = sub.add_parser("slack", help="Slack interactivity (buttons, reply modal)")
    slsub = sl.add_subparsers(dest="slack_command", required=True)
    serve = slsub.add_parser("serve", help="run only the interactivity endpoint (earshot run includes it)")
    serve.add_argument("--host", help="bind address (default: slack.interactivity_host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: slack.interactivity_port, 3000)")
    serve.set_defaults(func=cmd_slack_serve)
    man = slsub.add_parser("manifest", help="print the Slack app manifest (scopes, interactivity URL)")
    man.add_argument("--socket-mode", action="store_true", help="Socket Mode: no Request URL needed")
    man.set_defaults(func=cmd_slack_manifest)

    d = sub.add_parser("demo", help="crawl → score → alert once against bundled demo data")
    d.add_argument("--data-dir", help="keep the demo database here (default: a fresh temporary folder)")
    d.add_argument("--slack", action="store_true", help="post to the configured Slack instead of console")
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
    register_auth(sub)  # `earshot auth <provider>`: providers join with monitor.auth_cli.register_provider
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
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

"""The `earshot` command line: one subcommand per stage, plus `run` (scheduler) and `demo`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from monitor.config import ConfigError, EarshotSettings, load_settings
from monitor.db import DatabaseError, make_engine, redact_url

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
    from monitor.pipeline import run_crawls

    reports = run_crawls(settings, args.spider or None)
    for r in reports:
        _print_report(r.stage, r.counts)
        if r.error:
            print(f"{r.stage}: {r.error} (see crawl_runs and the log above)", file=sys.stderr)
    return 1 if any(r.error for r in reports) else 0


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


def cmd_run(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.scheduler import run_forever

    return run_forever(settings)


def cmd_demo(args: argparse.Namespace, settings: EarshotSettings) -> int:
    from monitor.demo import run_demo

    return run_demo(settings, data_dir=args.data_dir, use_slack=args.slack)


def cmd_config_show(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Print the effective settings with secrets masked, so a user can see what was loaded."""
    data = settings.model_dump(mode="json")
    data["database_url"] = redact_url(settings.effective_database_url)
    print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="earshot", description="Review and social-media monitoring.")
    p.add_argument("--config", help="TOML config file (default: $EARSHOT_CONFIG)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("crawl", help="run the spiders once")
    c.add_argument("--spider", action="append", help="spider name (repeatable; default: all configured)")
    c.set_defaults(func=cmd_crawl)

    sub.add_parser("score", help="score every unscored mention").set_defaults(func=cmd_score)

    a = sub.add_parser("alerts", help="alert outbox")
    asub = a.add_subparsers(dest="alerts_command", required=True)
    asub.add_parser("send", help="create due alerts and deliver them").set_defaults(func=cmd_alerts_send)

    sub.add_parser("run", help="run all stages on a schedule until stopped").set_defaults(func=cmd_run)

    d = sub.add_parser("demo", help="crawl → score → alert once against bundled demo data")
    d.add_argument("--data-dir", help="keep the demo database here (default: a fresh temporary folder)")
    d.add_argument("--slack", action="store_true", help="post to the configured Slack instead of console")
    d.set_defaults(func=cmd_demo)

    cfg = sub.add_parser("config", help="configuration")
    csub = cfg.add_subparsers(dest="config_command", required=True)
    csub.add_parser("show", help="print effective settings (secrets masked)").set_defaults(
        func=cmd_config_show
    )

    from sentiment.cli import register as register_model

    register_model(sub)
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

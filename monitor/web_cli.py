"""``earshot web`` and ``earshot slack serve|manifest``: the commands that serve or describe the web app.

Kept apart from :mod:`monitor.cli` (the stages) so each file stays one concern; :func:`register` adds the
subcommands to the parser the way :mod:`monitor.model_cli` adds ``earshot model``. Every import of the web
stack happens inside a handler, so other commands do not pay for FastAPI at start.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys

from monitor.core.config import EarshotSettings

__all__ = ["register"]


def _with_web_address(settings: EarshotSettings, host: str | None, port: int | None) -> EarshotSettings:
    web = settings.web.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v is not None})
    return settings.model_copy(update={"web": web})


def cmd_web(args: argparse.Namespace, settings: EarshotSettings) -> int:
    """Serve the web pages (inbox, item pages, digests) until Ctrl-C."""
    import signal
    import threading

    from monitor.core.db import make_engine
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

    from monitor.core.db import make_engine
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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``earshot web [hash-password]`` and ``earshot slack serve|manifest``."""
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

"""``earshot auth google``: the loopback consent flow against a fake Google, end to end, and its refusals."""

from __future__ import annotations

import argparse
import io
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from monitor.auth_cli import PROVIDERS, AuthFlowError, authorize_google, register_provider
from monitor.cli import main
from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore, generate_key
from monitor.core.db import make_engine
from tests.spiders.fake_google import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeGoogle

KEY = generate_key()


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


def settings_for(tmp_path: Path, fake: FakeGoogle, **section: str) -> EarshotSettings:
    return EarshotSettings(
        database_url=f"sqlite:///{tmp_path / 'earshot.db'}",
        secret_key=KEY,
        sources={"google_business": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **section}},
    )


class Console(io.StringIO):
    """What the command printed so far, readable while it waits in another thread."""

    def consent_url(self, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.getvalue().splitlines():
                if line.strip().startswith("http"):
                    return line.strip()
            time.sleep(0.02)
        raise AssertionError(f"no consent URL printed: {self.getvalue()!r}")


def run_flow(
    settings: EarshotSettings, fake: FakeGoogle, console: Console
) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def flow() -> None:
        try:
            authorize_google(
                settings,
                auth_uri=f"{fake.base_url}/auth",
                token_uri=fake.token_uri,
                open_browser=False,
                wait_seconds=10,
                out=console,
            )
        except BaseException as exc:  # noqa: BLE001  (handed to the test thread)
            errors.append(exc)

    thread = threading.Thread(target=flow)
    thread.start()
    return thread, errors


def browser(url: str, **params: str) -> tuple[int, str]:
    """What the browser does when Google sends it back: GET the redirect URI with the code."""
    try:
        with urllib.request.urlopen(f"{url}?{urlencode(params)}", timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_consent_flow_stores_the_refresh_token_encrypted(tmp_path: Path, google: FakeGoogle) -> None:
    settings = settings_for(tmp_path, google)
    console = Console()
    thread, errors = run_flow(settings, google, console)

    url = urlsplit(console.consent_url())
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{google.base_url}/auth"
    assert query["scope"] == "https://www.googleapis.com/auth/business.manage"
    assert (query["access_type"], query["prompt"], query["response_type"]) == ("offline", "consent", "code")
    assert query["code_challenge_method"] == "S256" and query["client_id"] == CLIENT_ID
    redirect = query["redirect_uri"]
    assert redirect.startswith("http://127.0.0.1:") and redirect.endswith("/")

    assert browser(redirect)[0] == 404  # a favicon or a stray request is waited past
    google.codes["4/fake-code"] = (query["code_challenge"], redirect)  # what Google's consent page issues
    status, page = browser(redirect, code="4/fake-code", state=query["state"])
    thread.join(10)
    assert not errors, errors
    assert status == 200 and "authorised" in page

    [grant] = google.grants()
    assert grant.form["grant_type"] == "authorization_code" and grant.form["redirect_uri"] == redirect
    engine = make_engine(settings.effective_database_url)
    try:
        stored = CredentialStore(engine, KEY).load("google_business")
        with engine.connect() as conn:
            raw = " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM source_credentials"))
    finally:
        engine.dispose()
    assert stored == {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN}
    assert REFRESH_TOKEN not in raw and CLIENT_SECRET not in raw
    printed = console.getvalue()
    assert "stored encrypted" in printed and REFRESH_TOKEN not in printed and CLIENT_SECRET not in printed


def test_a_redirect_with_another_state_is_refused_and_nothing_stored(
    tmp_path: Path, google: FakeGoogle
) -> None:
    settings = settings_for(tmp_path, google)
    console = Console()
    thread, errors = run_flow(settings, google, console)
    query = {k: v[0] for k, v in parse_qs(urlsplit(console.consent_url()).query).items()}
    google.codes["4/forged"] = (query["code_challenge"], query["redirect_uri"])
    browser(query["redirect_uri"], code="4/forged", state="someone-elses")
    thread.join(10)
    assert len(errors) == 1 and isinstance(errors[0], AuthFlowError)
    assert "another state" in str(errors[0])
    assert google.grants() == []  # the code was never exchanged


def test_a_denied_consent_and_a_refused_code_say_why(tmp_path: Path, google: FakeGoogle) -> None:
    settings = settings_for(tmp_path, google)
    console = Console()
    thread, errors = run_flow(settings, google, console)
    query = {k: v[0] for k, v in parse_qs(urlsplit(console.consent_url()).query).items()}
    status, page = browser(query["redirect_uri"], error="access_denied", state=query["state"])
    thread.join(10)
    assert status == 400 and "access_denied" in page
    assert "did not authorise Earshot: access_denied" in str(errors[0])

    console = Console()
    thread, errors = run_flow(settings, google, console)
    query = {k: v[0] for k, v in parse_qs(urlsplit(console.consent_url()).query).items()}
    browser(query["redirect_uri"], code="4/unknown", state=query["state"])  # Google never issued it
    thread.join(10)
    assert "Google refused the code: invalid_grant" in str(errors[0])


def test_earshot_auth_google_without_a_secret_key_stops_before_the_browser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("EARSHOT_SECRET_KEY", raising=False)
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'earshot.db'}")
    monkeypatch.setenv("EARSHOT_SOURCES__GOOGLE_BUSINESS__CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EARSHOT_SOURCES__GOOGLE_BUSINESS__CLIENT_SECRET", CLIENT_SECRET)
    assert main(["auth", "google", "--no-browser", "--wait-seconds", "1"]) == 2
    captured = capsys.readouterr()
    assert "earshot auth google: set EARSHOT_SECRET_KEY first" in captured.err
    assert "http" not in captured.out  # no consent URL: a consent that cannot be stored is not asked for


def test_earshot_auth_google_without_a_client_names_the_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_SECRET_KEY", KEY)
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'earshot.db'}")
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal: no prompts
    assert main(["auth", "google", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert "EARSHOT_SOURCES__GOOGLE_BUSINESS__CLIENT_ID" in err and "Desktop app" in err


def test_a_registered_provider_becomes_a_subcommand(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("monitor.auth_cli.PROVIDERS", dict(PROVIDERS))
    calls: list[str] = []

    def add_arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--handle")

    def run(args: argparse.Namespace, settings: EarshotSettings) -> int:
        calls.append(args.handle)
        return 0

    register_provider("fakesource", add_arguments, run, help="test provider")
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'earshot.db'}")
    assert main(["auth", "fakesource", "--handle", "me"]) == 0
    assert calls == ["me"]

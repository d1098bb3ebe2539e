"""``earshot auth allegro`` (device flow) and ``earshot auth bluesky`` (app password login) against loopback
fakes of Allegro's OAuth endpoints and a Bluesky PDS: what the user sees, what is sent, what is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from cryptography.fernet import Fernet

from monitor.auth_allegro import AllegroAuthError
from monitor.auth_allegro import authorize as authorize_allegro
from monitor.auth_bluesky import BlueskyAuthError
from monitor.auth_bluesky import authorize as authorize_bluesky
from monitor.cli import main
from monitor.core.config import EarshotSettings
from monitor.core.credentials import CredentialStore
from monitor.core.db import make_engine
from tests.spiders.replay_server import ReplayServer, Reply

KEY = Fernet.generate_key().decode()
CLIENT_ID, CLIENT_SECRET = "allegro-TEST-client-id-3f8a", "allegro-TEST-client-secret-b71e"
DEVICE_CODE = "allegro-TEST-device-code-91ab"
ISSUED_REFRESH = "allegro-TEST-refresh-rotated-2e9f"  # token_refreshed.json's refresh_token ends with it
IDENTIFIER, PASSWORD = "earshot-monitor.bsky.social", "abcd-efgh-ijkl-mnop"
DEVICE, TOKEN = "/auth/oauth/device", "/auth/oauth/token"
CREATE = "/xrpc/com.atproto.server.createSession"


@pytest.fixture
def replay() -> Any:
    with ReplayServer() as server:
        yield server


def allegro(name: str, status: int = 200) -> Reply:
    return Reply.recorded("allegro", name, status)


def settings_for(tmp_path: Path, base_url: str, key: str | None = KEY, **extra: Any) -> EarshotSettings:
    return EarshotSettings(
        database_url=f"sqlite:///{tmp_path / 'earshot.db'}",
        secret_key=key,
        sources={
            "allegro": {
                "base_url": base_url,
                "auth_url": base_url,
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
            "bluesky": {"base_url": base_url},
        },
        **extra,
    )


def stored(tmp_path: Path, source: str) -> dict[str, str]:
    return CredentialStore(make_engine(f"sqlite:///{tmp_path / 'earshot.db'}"), KEY).load(source)


class FakeTime:
    """``sleep`` and ``monotonic`` for the poll loop: sleeping moves the clock, nothing waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def test_allegro_device_flow_waits_as_told_then_stores_the_tokens_encrypted(
    tmp_path: Path, replay: ReplayServer
) -> None:
    replay.route(DEVICE, allegro("device_code.json"))
    replay.route(
        TOKEN,
        allegro("device_pending.json", 400),
        allegro("device_slow_down.json", 400),
        allegro("token_refreshed.json"),
    )
    replay.route("/me", allegro("me.json"))
    printed: list[str] = []
    fake = FakeTime()

    grant = authorize_allegro(
        settings_for(tmp_path, replay.base_url), out=printed.append, sleep=fake.sleep, clock=fake.clock
    )

    assert fake.sleeps == [1.0, 1.0, 6.0]  # the interval, again after pending, +5 s after slow_down
    assert printed[0] == (
        "Open this page as the seller and confirm the code cbt3zdu4g:\n"
        "  https://allegro.pl/skojarz-aplikacje?code=cbt3zdu4g"
    )
    assert "Allegro asked to poll more slowly: every 6 s now." in printed
    assert printed[-1].startswith("Allegro authorised as sklep_testowy (user id 48213977: put it in")
    [start] = replay.requests_for(DEVICE)
    assert parse_qs(start.body.decode()) == {"client_id": [CLIENT_ID]}
    assert start.headers["Authorization"].startswith("Basic ")
    polls = replay.requests_for(TOKEN)
    assert [parse_qs(p.body.decode()) for p in polls] == [
        {"grant_type": ["urn:ietf:params:oauth:grant-type:device_code"], "device_code": [DEVICE_CODE]}
    ] * 3
    values = stored(tmp_path, "allegro")
    assert values["refresh_token"].endswith(ISSUED_REFRESH) and values["access_token"] == grant.access_token
    assert values["expires_at"] and not any(ISSUED_REFRESH in line or DEVICE_CODE in line for line in printed)


def test_allegro_device_flow_speaks_polish(tmp_path: Path, replay: ReplayServer) -> None:
    replay.route(DEVICE, allegro("device_code.json"))
    replay.route(TOKEN, allegro("token_refreshed.json"))
    printed: list[str] = []
    fake = FakeTime()
    settings = settings_for(tmp_path, replay.base_url, console_language="pl")

    authorize_allegro(settings, out=printed.append, sleep=fake.sleep, clock=fake.clock)

    assert printed[0].startswith("Otwórz tę stronę jako sprzedawca i potwierdź kod cbt3zdu4g:")
    assert printed[-1].startswith("Allegro autoryzowane.")  # /me unanswered: no account named


def test_allegro_refusal_or_a_missing_key_stores_nothing(tmp_path: Path, replay: ReplayServer) -> None:
    replay.route(DEVICE, allegro("device_code.json"))
    replay.route(TOKEN, allegro("device_pending.json", 400), allegro("device_access_denied.json", 400))
    fake = FakeTime()

    with pytest.raises(AllegroAuthError, match="the seller refused the authorisation"):
        authorize_allegro(
            settings_for(tmp_path, replay.base_url), out=print, sleep=fake.sleep, clock=fake.clock
        )
    assert stored(tmp_path, "allegro") == {}

    replay.reset()
    with pytest.raises(AllegroAuthError, match="set EARSHOT_SECRET_KEY first"):
        authorize_allegro(settings_for(tmp_path, replay.base_url, key=None), sleep=fake.sleep)
    assert replay.requests == []  # checked before the seller is asked to confirm anything


def test_allegro_code_expiring_unconfirmed_says_to_run_again(tmp_path: Path, replay: ReplayServer) -> None:
    replay.route(
        DEVICE,
        Reply.json(
            {
                **json.loads(
                    (Path(__file__).parents[1] / "fixtures/spiders/allegro/device_code.json").read_text()
                ),
                "expires_in": "2",
            }
        ),
    )
    replay.route(TOKEN, allegro("device_pending.json", 400))
    fake = FakeTime()

    with pytest.raises(
        AllegroAuthError, match=r"expired before it was confirmed: run `earshot auth allegro` again"
    ):
        authorize_allegro(
            settings_for(tmp_path, replay.base_url), out=print, sleep=fake.sleep, clock=fake.clock
        )
    assert len(replay.requests_for(TOKEN)) == 2


def test_bluesky_login_stores_the_refresh_jwt_never_the_password_unless_asked(
    tmp_path: Path, replay: ReplayServer
) -> None:
    replay.route(CREATE, Reply.recorded("bluesky", "session.json"))
    printed: list[str] = []
    settings = settings_for(tmp_path, replay.base_url)

    authorize_bluesky(
        settings, identifier=IDENTIFIER, ask_secret=lambda _prompt: PASSWORD, out=printed.append
    )

    [login] = replay.posts
    assert json.loads(login.body) == {"identifier": IDENTIFIER, "password": PASSWORD}
    values = stored(tmp_path, "bluesky")
    assert values["refresh_jwt"].endswith("TEST-bluesky-refresh-jwt-77bb")
    assert (values["identifier"], "app_password" in values) == (IDENTIFIER, False)
    assert printed == [
        "Bluesky session of earshot-monitor.bsky.social stored encrypted; runs refresh it instead of logging in."
    ]

    authorize_bluesky(
        settings,
        identifier=IDENTIFIER,
        keep_app_password=True,
        ask_secret=lambda _prompt: PASSWORD,
        out=printed.append,
    )
    assert stored(tmp_path, "bluesky")["app_password"] == PASSWORD
    engine = make_engine(settings.effective_database_url)
    with engine.connect() as conn:
        raw = " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM source_credentials"))
    engine.dispose()
    assert PASSWORD not in raw and "TEST-bluesky-refresh-jwt-77bb" not in raw


def test_bluesky_refused_login_says_what_to_check_and_warns_about_main_passwords(
    tmp_path: Path, replay: ReplayServer
) -> None:
    replay.route(CREATE, Reply.recorded("bluesky", "error_401_session.json", 401))
    printed: list[str] = []
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return IDENTIFIER

    with pytest.raises(BlueskyAuthError) as refused:
        authorize_bluesky(
            settings_for(tmp_path, replay.base_url, console_language="pl"),
            ask=ask,
            ask_secret=lambda _prompt: "my-main-password",
            out=printed.append,
        )

    assert asked == ["Handle lub DID konta Bluesky: "]
    assert printed[0].startswith("Uwaga: to nie wygląda na hasło aplikacji")
    message = str(refused.value)
    assert "HTTP 401 AuthenticationRequired" in message and "check the handle and the app password" in message
    assert "my-main-password" not in message
    assert stored(tmp_path, "bluesky") == {}


def test_earshot_auth_allegro_and_bluesky_run_from_the_command_line(
    tmp_path: Path, replay: ReplayServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EARSHOT_DATABASE_URL", f"sqlite:///{tmp_path / 'earshot.db'}")
    monkeypatch.setenv("EARSHOT_SOURCES__ALLEGRO__AUTH_URL", replay.base_url)
    monkeypatch.setenv("EARSHOT_SOURCES__ALLEGRO__BASE_URL", replay.base_url)
    monkeypatch.setenv("EARSHOT_SOURCES__ALLEGRO__CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EARSHOT_SOURCES__ALLEGRO__CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("EARSHOT_SOURCES__BLUESKY__BASE_URL", replay.base_url)
    monkeypatch.setenv("EARSHOT_SOURCES__BLUESKY__APP_PASSWORD", PASSWORD)
    replay.route(DEVICE, allegro("device_code.json"))
    replay.route(TOKEN, allegro("token_refreshed.json"))
    replay.route(CREATE, Reply.recorded("bluesky", "session.json"))

    # Without EARSHOT_SECRET_KEY nothing is asked of Allegro: the tokens could not be kept.
    assert main(["auth", "allegro"]) == 2
    assert "earshot auth allegro: set EARSHOT_SECRET_KEY first" in capsys.readouterr().err
    assert replay.requests == []

    monkeypatch.setenv("EARSHOT_SECRET_KEY", KEY)
    assert main(["auth", "allegro"]) == 0  # one real 1-second poll interval
    out = capsys.readouterr().out
    assert "confirm the code cbt3zdu4g" in out and CLIENT_SECRET not in out
    assert stored(tmp_path, "allegro")["refresh_token"].endswith(ISSUED_REFRESH)

    assert main(["auth", "bluesky", "--identifier", IDENTIFIER]) == 0
    assert PASSWORD not in capsys.readouterr().out
    assert stored(tmp_path, "bluesky")["identifier"] == IDENTIFIER

"""The encrypted credential store: round trips, only ciphertext at rest, clear errors for a missing or wrong key."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from monitor.core.config import load_settings
from monitor.core.credentials import CredentialStore, CredentialStoreError, auth_command, generate_key
from monitor.core.db import make_engine

REFRESH = "1//0store-test-refresh-token-91ac"
SECRET = "GOCSPX-store-test-secret-5e7f"


@pytest.fixture
def engine(db_url: str) -> Engine:
    eng = make_engine(db_url)
    yield eng  # type: ignore[misc]
    eng.dispose()


def raw_rows(engine: Engine) -> str:
    with engine.connect() as conn:
        return " ".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM source_credentials"))


def test_saved_values_come_back_and_only_ciphertext_is_stored(engine: Engine) -> None:
    store = CredentialStore(engine, generate_key())
    assert store.load("google_business") == {}
    store.save("google_business", {"client_id": "cid", "client_secret": SECRET, "refresh_token": REFRESH})
    assert store.load("google_business") == {
        "client_id": "cid",
        "client_secret": SECRET,
        "refresh_token": REFRESH,
    }
    raw = raw_rows(engine)
    assert "google_business" in raw and REFRESH not in raw and SECRET not in raw and "client_id" not in raw
    assert store.stored_sources() == {"google_business"} and store.has("google_business")


def test_update_merges_a_rotated_token_and_save_replaces(engine: Engine) -> None:
    store = CredentialStore(engine, generate_key())
    store.save("allegro", {"client_id": "cid", "refresh_token": "old"})
    store.update("allegro", refresh_token=REFRESH)
    assert store.load("allegro") == {"client_id": "cid", "refresh_token": REFRESH}
    store.update("bluesky", refresh_jwt="first")  # nothing stored yet: update creates
    assert store.load("bluesky") == {"refresh_jwt": "first"}
    store.save("allegro", {"refresh_token": "only"})
    assert store.load("allegro") == {"refresh_token": "only"}
    store.delete("allegro")
    store.delete("allegro")  # nothing there: no error
    assert store.load("allegro") == {} and store.stored_sources() == {"bluesky"}


def test_a_changed_key_is_a_clear_error_that_names_the_command(engine: Engine) -> None:
    CredentialStore(engine, generate_key()).save("google_business", {"refresh_token": REFRESH})
    with pytest.raises(CredentialStoreError) as caught:
        CredentialStore(engine, generate_key()).load("google_business")
    message = str(caught.value)
    assert "EARSHOT_SECRET_KEY changed?" in message and "run `earshot auth google` again" in message
    assert REFRESH not in message


def test_without_a_key_nothing_is_saved_and_stored_credentials_cannot_be_read(engine: Engine) -> None:
    keyless = CredentialStore(engine, None)
    assert keyless.load("google_business") == {}  # sources that never used `earshot auth` run without a key
    with pytest.raises(CredentialStoreError, match="set EARSHOT_SECRET_KEY to a Fernet key"):
        keyless.save("google_business", {"refresh_token": REFRESH})
    CredentialStore(engine, generate_key()).save("google_business", {"refresh_token": REFRESH})
    with pytest.raises(CredentialStoreError, match="cannot read the stored credentials of google_business"):
        keyless.load("google_business")
    assert keyless.has("google_business")  # knowing a row exists needs no key


def test_a_malformed_key_is_refused_without_repeating_it(engine: Engine) -> None:
    with pytest.raises(CredentialStoreError) as caught:
        CredentialStore(engine, "not-a-fernet-key-abc123")
    assert "is not a Fernet key" in str(caught.value) and "not-a-fernet-key" not in str(caught.value)
    assert "Fernet.generate_key()" in str(caught.value)  # how to make one


def test_a_second_key_decrypts_and_rewrap_moves_everything_to_the_first(engine: Engine) -> None:
    old, new = generate_key(), generate_key()
    CredentialStore(engine, old).save("google_business", {"refresh_token": REFRESH})
    both = CredentialStore(engine, f"{new},{old}")
    assert both.load("google_business")["refresh_token"] == REFRESH
    assert both.rewrap() == 1
    assert CredentialStore(engine, new).load("google_business")["refresh_token"] == REFRESH
    with pytest.raises(CredentialStoreError):
        CredentialStore(engine, old).load("google_business")


def test_repr_shows_no_secret_and_settings_take_the_key_from_the_environment(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = generate_key()
    monkeypatch.setenv("EARSHOT_SECRET_KEY", key)
    settings = load_settings()
    assert key not in repr(settings) and key not in str(settings.model_dump())
    store = CredentialStore.from_settings(settings, engine)
    store.save("google_business", {"refresh_token": REFRESH})
    assert key not in repr(store) and REFRESH not in repr(store) and "key set" in repr(store)
    assert auth_command("google_business") == "earshot auth google" and auth_command("rss") is None

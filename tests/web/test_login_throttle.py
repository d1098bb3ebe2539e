"""Sign-in throttling, through real HTTP: a few wrong guesses per account and per address, then 429.

All clients here connect from 127.0.0.1, so the per-address limit is seen over HTTP only by failing on many
accounts; the same count kept apart per address is checked on :class:`LoginThrottle` itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from monitor.web.throttle import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    FIRST_LOCK_S,
    MAX_LOCK_S,
    LoginThrottle,
    account_key,
    address_key,
)
from tests.web.conftest import (
    OTHER_PASSWORD,
    OTHER_USER,
    PASSWORD,
    SHARED_TOKEN,
    USER,
    Client,
    Reply,
    Site,
    SiteFactory,
)

WRONG = "not-the-password"


def _fail(client: Client, times: int, username: str = USER) -> None:
    for _ in range(times):
        assert client.login(username, WRONG).status == 401


def _token_login(client: Client, name: str, token: str) -> Reply:
    csrf = client.csrf_from("/login")
    return client.post("/login", {"csrf_token": csrf, "username": name, "token": token})


def test_the_sixth_wrong_password_gets_429_with_retry_after(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    _fail(client, ACCOUNT_LIMIT)
    reply = client.login(USER, WRONG)
    assert reply.status == 429
    assert reply.headers["Retry-After"] == str(int(FIRST_LOCK_S))
    assert 'id="login-error"' in reply.text and "Too many failed sign-ins" in reply.text
    assert "Try again in 1 min" in reply.text  # in Polish too: tests/web/test_page_language.py


def test_the_right_password_is_refused_during_a_lockout_and_works_after_it(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    _fail(client, ACCOUNT_LIMIT)
    assert client.login(USER, PASSWORD).status == 429
    assert client.get("/inbox").status == 303  # not signed in
    sqlite_site.clock.advance(seconds=30)
    assert client.login(USER, PASSWORD).headers["Retry-After"] == "30"
    sqlite_site.clock.advance(seconds=31)
    assert client.login(USER, PASSWORD).status == 303
    assert client.get("/inbox").status == 200


def test_the_lockout_doubles_with_each_further_failure_up_to_a_cap(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    _fail(client, ACCOUNT_LIMIT)
    waits = []
    for _ in range(6):
        reply = client.login(USER, WRONG)
        assert reply.status == 429
        wait = int(reply.headers["Retry-After"])
        waits.append(wait)
        sqlite_site.clock.advance(seconds=wait)
        assert client.login(USER, WRONG).status == 401  # the lockout is over: one more guess, then locked
    assert waits == [60, 120, 240, 480, 900, 900]
    assert waits[-1] == MAX_LOCK_S


def test_a_success_resets_the_account_count(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    _fail(client, ACCOUNT_LIMIT - 1)
    assert client.login(USER, PASSWORD).status == 303
    _fail(client, ACCOUNT_LIMIT - 1)
    assert client.login(USER, PASSWORD).status == 303
    _fail(client, ACCOUNT_LIMIT)  # counted afresh from the last success, and still enforced
    assert client.login(USER, PASSWORD).status == 429


def test_failures_on_one_account_do_not_lock_another(sqlite_site: Site) -> None:
    attacker = sqlite_site.client()
    _fail(attacker, ACCOUNT_LIMIT)
    assert attacker.login(USER, PASSWORD).status == 429
    assert sqlite_site.client().login(OTHER_USER, OTHER_PASSWORD).status == 303  # same address, other account
    assert sqlite_site.client().login(USER, PASSWORD).status == 429  # the locked account, from anyone


def test_the_shared_token_is_one_account_whatever_name_comes_with_it(
    make_site: SiteFactory, sqlite_engine: Engine
) -> None:
    site = make_site(sqlite_engine, web={"users": [], "shared_token": SHARED_TOKEN})
    client = site.client()
    for i in range(ACCOUNT_LIMIT):
        assert _token_login(client, f"name {i}", SHARED_TOKEN + "x").status == 401
    reply = _token_login(client, "yet another name", SHARED_TOKEN)
    assert reply.status == 429 and reply.headers["Retry-After"] == str(int(FIRST_LOCK_S))
    site.clock.advance(seconds=FIRST_LOCK_S)
    assert _token_login(client, "Ola", SHARED_TOKEN).status == 303


def test_too_many_failures_from_one_address_lock_it_for_every_account(sqlite_site: Site) -> None:
    client = sqlite_site.client()
    names = [f"guess{i}" for i in range(ADDRESS_LIMIT // (ACCOUNT_LIMIT - 1) + 1)]
    failed = 0
    for name in names:  # never enough on one name to lock that account
        for _ in range(ACCOUNT_LIMIT - 1):
            if failed < ADDRESS_LIMIT:
                assert client.login(name, WRONG).status == 401
                failed += 1
    reply = client.login(OTHER_USER, OTHER_PASSWORD)
    assert reply.status == 429 and "Retry-After" in reply.headers


def test_a_lockout_survives_a_restart(make_site: SiteFactory, sqlite_engine: Engine) -> None:
    first = make_site(sqlite_engine)
    _fail(first.client(), ACCOUNT_LIMIT)
    second = make_site(sqlite_engine, seed=False)
    assert second.client().login(USER, PASSWORD).status == 429


def test_counts_are_kept_per_account_and_per_address(sqlite_engine: Engine) -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    throttle = LoginThrottle(sqlite_engine, lambda: now)
    alice, bob = account_key("alice", ""), account_key("bob", "")
    here, there = address_key("192.0.2.1"), address_key("198.51.100.7")
    for _ in range(ACCOUNT_LIMIT):  # each attempt counts until it succeeds
        assert throttle.begin((alice, here)) is None
    refusal = throttle.begin((alice, there))
    assert refusal is not None and refusal.retry_after == FIRST_LOCK_S  # the account, from anywhere
    assert refusal.until == now + timedelta(seconds=FIRST_LOCK_S)
    assert throttle.begin((bob, there)) is None  # another account, another address
    throttle.succeeded(bob, there)
    assert throttle.begin((bob, here)) is None  # the address is not locked by one account's failures
    throttle.succeeded(bob, here)
    for i in range(ADDRESS_LIMIT - ACCOUNT_LIMIT):
        assert throttle.begin((account_key(f"x{i}", ""), here)) is None
    assert throttle.begin((bob, here)) is not None  # the address has failed ADDRESS_LIMIT times
    assert throttle.begin((bob, there)) is None

"""Source credentials that renew themselves, kept encrypted in the database (``source_credentials``).

Why: an OAuth access token lives about an hour, so a fixed token in the environment breaks every run
after that. What lasts (client id and secret, a refresh token the provider may rotate on each use) is
written by ``earshot auth <source>`` and by the spiders when a refresh hands back a new refresh token;
both run as different processes, so the database is the one place they share.

Every value is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the key in ``EARSHOT_SECRET_KEY``;
the table holds only ciphertext, so a database copy or backup alone reveals nothing. Several keys may be
given comma-separated: the first encrypts, every one decrypts, which lets a key be rotated without
running ``earshot auth`` again (:meth:`CredentialStore.rewrap` re-encrypts under the first).

Usage::

    store = CredentialStore.from_settings(settings, engine)
    store.save("google_business", {"client_id": ..., "client_secret": ..., "refresh_token": ...})
    store.update("google_business", refresh_token=rotated)   # merge, e.g. a rotated refresh token
    store.load("google_business")                              # {} when nothing is stored
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from monitor.core.db import redact_url, write_session
from monitor.core.models import SourceCredential
from monitor.core.timeutil import utcnow

if TYPE_CHECKING:
    from monitor.core.config import EarshotSettings

__all__ = [
    "AUTH_COMMANDS",
    "KEY_ENV",
    "CredentialStore",
    "CredentialStoreError",
    "auth_command",
    "generate_key",
]

KEY_ENV = "EARSHOT_SECRET_KEY"
GENERATE_HINT = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'


class CredentialStoreError(Exception):
    """Stored credentials cannot be read or written; the message says what to set or run (no secret in it)."""


def generate_key() -> str:
    """A new random Fernet key, as ``EARSHOT_SECRET_KEY`` takes it."""
    return Fernet.generate_key().decode("ascii")


def _fernet(key: str) -> MultiFernet:
    """Every comma-separated key as one MultiFernet; a malformed key is a clear error, never a traceback."""
    keys = [part.strip() for part in key.split(",") if part.strip()]
    if not keys:
        raise CredentialStoreError(f"{KEY_ENV} is empty; generate a key with {GENERATE_HINT}")
    fernets = []
    for number, part in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(part.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            # binascii.Error is a ValueError; the key itself is never repeated in the message
            which = f"key {number} of {len(keys)} in {KEY_ENV}" if len(keys) > 1 else KEY_ENV
            raise CredentialStoreError(
                f"{which} is not a Fernet key (32 url-safe base64-encoded bytes); "
                f"generate one with {GENERATE_HINT}"
            ) from None
    return MultiFernet(fernets)


class CredentialStore:
    """Encrypted per-source credentials (``dict[str, str]``) in the ``source_credentials`` table.

    ``key`` is ``EARSHOT_SECRET_KEY`` (a Fernet key, or several comma-separated). Without a key nothing
    can be saved, and :meth:`load` answers ``{}`` only while nothing is stored for that source, so
    sources that never used ``earshot auth`` run without one.
    """

    def __init__(self, engine: Engine, key: str | SecretStr | None) -> None:
        if isinstance(key, SecretStr):
            key = key.get_secret_value()
        self._engine = engine
        self._fernet = _fernet(key) if key and key.strip() else None

    @classmethod
    def from_settings(cls, settings: EarshotSettings, engine: Engine) -> CredentialStore:
        """The store for ``settings.secret_key`` (``EARSHOT_SECRET_KEY``) on ``engine``."""
        return cls(engine, settings.secret_key)

    def __repr__(self) -> str:
        key = "key set" if self._fernet is not None else f"no key ({KEY_ENV} unset)"
        return f"CredentialStore({redact_url(self._engine.url.render_as_string())}, {key})"

    @property
    def has_key(self) -> bool:
        """Whether ``EARSHOT_SECRET_KEY`` was given, i.e. whether credentials can be saved."""
        return self._fernet is not None

    def stored_sources(self) -> set[str]:
        """The sources that have credentials stored (needs no key: for listing what is configured)."""
        with Session(self._engine) as session:
            return set(session.exec(select(SourceCredential.source)).all())

    def has(self, source: str) -> bool:
        """Whether credentials are stored for ``source`` (needs no key)."""
        return source in self.stored_sources()

    def load(self, source: str) -> dict[str, str]:
        """The stored credentials of ``source``; ``{}`` when nothing is stored."""
        with Session(self._engine) as session:
            row = session.exec(select(SourceCredential).where(SourceCredential.source == source)).first()
        return self._decrypt(source, row.ciphertext) if row is not None else {}

    def save(self, source: str, values: Mapping[str, str]) -> None:
        """Replace what is stored for ``source`` with ``values``, encrypted, in one transaction."""
        clean = self._check(values)
        self._write(source, lambda _current: clean)

    def update(self, source: str, **values: str) -> None:
        """Merge ``values`` into what is stored (e.g. a rotated refresh token); read and write are atomic."""
        clean = self._check(values)
        self._write(source, lambda current: {**current, **clean})

    def delete(self, source: str) -> None:
        """Forget the credentials of ``source`` (nothing happens when none are stored)."""
        with write_session(self._engine) as session:
            row = session.exec(select(SourceCredential).where(SourceCredential.source == source)).first()
            if row is not None:
                session.delete(row)

    def rewrap(self) -> int:
        """Re-encrypt every row under the first key (after prepending a new key); returns rows rewritten."""
        fernet = self._require_key("rotate the key")
        count = 0
        with write_session(self._engine) as session:
            for row in session.exec(select(SourceCredential)).all():
                try:
                    row.ciphertext = fernet.rotate(row.ciphertext.encode("ascii")).decode("ascii")
                except InvalidToken:
                    raise self._undecryptable(row.source) from None
                session.add(row)
                count += 1
        return count

    # -- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _check(values: Mapping[str, str]) -> dict[str, str]:
        out = {}
        for name, value in values.items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError(f"credential {name!r}: names and values are str")  # value not shown
            out[name] = value
        return out

    def _require_key(self, doing: str) -> MultiFernet:
        if self._fernet is None:
            raise CredentialStoreError(
                f"cannot {doing}: set {KEY_ENV} to a Fernet key (the same one for every Earshot process); "
                f"generate one with {GENERATE_HINT}"
            )
        return self._fernet

    @staticmethod
    def _undecryptable(source: str) -> CredentialStoreError:
        return CredentialStoreError(
            f"the stored credentials of {source} cannot be decrypted with {KEY_ENV}: "
            f"EARSHOT_SECRET_KEY changed? Set the key they were saved with, or run "
            f"`{auth_command(source) or 'earshot auth ' + source}` again"
        )

    def _decrypt(self, source: str, ciphertext: str) -> dict[str, str]:
        fernet = self._require_key(f"read the stored credentials of {source}")
        try:
            plain = fernet.decrypt(ciphertext.encode("ascii"))
        except (InvalidToken, UnicodeEncodeError):
            raise self._undecryptable(source) from None
        try:
            values = json.loads(plain)
        except ValueError:
            raise self._undecryptable(source) from None
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            raise self._undecryptable(source)
        return values

    def _encrypt(self, values: dict[str, str]) -> str:
        fernet = self._require_key("save credentials")
        plain = json.dumps(values, sort_keys=True, separators=(",", ":")).encode("utf-8")
        return fernet.encrypt(plain).decode("ascii")

    def _write(self, source: str, change: Callable[[dict[str, str]], dict[str, str]]) -> None:
        """Read, change and write one row in one locked transaction; a concurrent first insert is retried."""
        self._require_key("save credentials")
        for attempt in (1, 2):
            try:
                with write_session(self._engine) as session:
                    row = session.exec(
                        select(SourceCredential)
                        .where(SourceCredential.source == source)
                        .with_for_update()  # PostgreSQL; SQLite holds the write lock already
                    ).first()
                    current = self._decrypt(source, row.ciphertext) if row is not None else {}
                    ciphertext = self._encrypt(change(current))
                    if row is None:
                        row = SourceCredential(source=source, ciphertext=ciphertext)
                    else:
                        row.ciphertext = ciphertext
                        row.updated_at = utcnow()
                    session.add(row)
                return
            except IntegrityError:
                if attempt == 2:
                    raise
                # another process inserted the first row for this source meanwhile: merge into theirs


# The ``earshot auth`` subcommand that (re)creates each source's stored credentials.
AUTH_COMMANDS: dict[str, str] = {
    "google_business": "earshot auth google",
    "allegro": "earshot auth allegro",
    "bluesky": "earshot auth bluesky",
}


def auth_command(source: str) -> str | None:
    """The command that gets ``source`` new credentials (for failure reasons and alerts); None if none."""
    return AUTH_COMMANDS.get(source)

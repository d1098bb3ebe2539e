"""Sign-in for the web pages: scrypt password hashes, the shared token, and signed session cookies.

The cookie is ``<base64url JSON>.<hex HMAC-SHA256>`` under a key from ``web.session_secret`` or a random
key kept in ``data_dir/web-session.key`` (created 0600); it holds who signed in, until when, and a random
session id the CSRF token is derived from. A signed-in session's id is also kept in ``web_sessions``
(:func:`remember_session`): the guard lets in only a session still there, so logout (:func:`forget_session`)
ends it at once, even for a copy of the cookie taken before. The anonymous session of the sign-in form is
not stored (anyone can make one), and needs no ending.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session as DbSession
from sqlmodel import col, select

from monitor.core.config import EarshotSettings
from monitor.core.models import WebSession

__all__ = [
    "SESSION_COOKIE",
    "Session",
    "WebConfigError",
    "authenticate",
    "credential_fingerprint",
    "credential_is_current",
    "forget_session",
    "hash_password",
    "load_session_key",
    "new_session",
    "read_payload",
    "read_session",
    "remember_session",
    "session_is_live",
    "sign_payload",
    "sign_session",
    "verify_password",
]

log = logging.getLogger(__name__)

SESSION_COOKIE: Final = "earshot_session"
KEY_FILE: Final = "web-session.key"
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_DKLEN: Final = 32
_MAXMEM: Final = 64 * 1024 * 1024
# Verified against when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH: Final = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


class WebConfigError(Exception):
    """The web pages cannot start as configured (nobody could sign in, unreadable key file...)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict base64url: a stray character is an error, not silently skipped."""
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def hash_password(password: str) -> str:
    """A salted scrypt hash, ``scrypt$n$r$p$salt$hash``, for ``[[web.users]] password_hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=_DKLEN,
        maxmem=_MAXMEM,
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (compared in constant time); False for a malformed hash."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, expected = _unb64(parts[4]), _unb64(parts[5])
    except (ValueError, binascii.Error):
        return False
    if not (2 <= n <= 2**20 and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16 and expected):
        return False
    try:
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=len(expected), maxmem=_MAXMEM
        )
    except ValueError:  # parameters beyond what this machine allows
        return False
    return hmac.compare_digest(actual, expected)


def authenticate(settings: EarshotSettings, username: str, password: str, token: str) -> str | None:
    """The signed-in name for these credentials, or None.

    A configured user signs in with name and password. The shared token signs in whoever types it; the
    name they give (or ``shared``) is what their actions are recorded under.
    """
    web = settings.web
    if token:
        shared = web.shared_token.get_secret_value() if web.shared_token is not None else ""
        if shared and hmac.compare_digest(token.encode("utf-8"), shared.encode("utf-8")):
            return _clean_name(username) or "shared"
        return None
    user = next((u for u in web.users if u.username == username), None)
    stored = user.password_hash.get_secret_value() if user is not None else _DUMMY_HASH
    ok = verify_password(password, stored)
    return user.username if ok and user is not None else None


def _clean_name(name: str) -> str:
    """A self-given name on one short line (it ends up in handled_by / assigned_by)."""
    return "".join(ch for ch in name if ch.isprintable()).strip()[:64]


# --------------------------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Session:
    """A browser's session: ``user`` is None before sign-in (the login form still needs a CSRF token)."""

    sid: str
    user: str | None
    expires: datetime
    credential: str = ""  # credential_fingerprint of what signed it in; a changed password ends it

    def csrf_token(self, key: bytes) -> str:
        """The token every form of this session carries; tied to the session id, useless elsewhere."""
        return hmac.new(key, f"csrf:{self.sid}".encode(), hashlib.sha256).hexdigest()


def new_session(user: str | None, now: datetime, hours: float, credential: str = "") -> Session:
    """A fresh session (a new id on every sign-in, so a planted cookie is worthless)."""
    return Session(secrets.token_urlsafe(18), user, now + timedelta(hours=hours), credential)


def credential_fingerprint(settings: EarshotSettings, key: bytes, user: str, via_token: bool) -> str:
    """A keyed digest of the secret that signs ``user`` in now: their password hash, or the shared token.

    Why: a session must end when that secret changes (a password changed in ``[[web.users]]``, a new
    shared token), not live on until its cookie expires. The cookie carries this digest, never the
    secret, and every request compares it with the digest of the secret configured now.
    """
    web = settings.web
    if via_token:
        secret = web.shared_token.get_secret_value() if web.shared_token is not None else ""
        tag = "t"
    else:
        account = next((u for u in web.users if u.username == user), None)
        secret = account.password_hash.get_secret_value() if account is not None else ""
        tag = "u"
    if not secret:
        return ""
    digest = hmac.new(key, f"credential:{tag}:{secret}".encode(), hashlib.sha256).hexdigest()[:32]
    return f"{tag}:{digest}"


def credential_is_current(settings: EarshotSettings, key: bytes, session: Session) -> bool:
    """Whether the secret that signed this session in is still the one configured (see above)."""
    if session.user is None or ":" not in session.credential:
        return False
    tag = session.credential.split(":", 1)[0]
    now = credential_fingerprint(settings, key, session.user, via_token=tag == "t")
    return bool(now) and hmac.compare_digest(now.encode(), session.credential.encode())


def sign_payload(payload: dict[str, object], key: bytes) -> str:
    """``<base64url JSON>.<hex HMAC-SHA256>``: a cookie value nobody without ``key`` can forge or alter."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    mac = hmac.new(key, body, hashlib.sha256).hexdigest()
    return f"{_b64(body)}.{mac}"


def read_payload(value: str | None, key: bytes) -> dict[str, object] | None:
    """The payload of a value :func:`sign_payload` made with ``key``, or None when tampered or malformed."""
    if not value or "." not in value:
        return None
    body_b64, mac = value.rsplit(".", 1)
    try:
        body = _unb64(body_b64)
    except (ValueError, binascii.Error):
        return None
    expected = hmac.new(key, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode("ascii", "replace"), expected.encode("ascii")):
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def sign_session(session: Session, key: bytes) -> str:
    """The cookie value for ``session``."""
    payload: dict[str, object] = {
        "sid": session.sid,
        "u": session.user,
        "exp": int(session.expires.timestamp()),
    }
    if session.credential:
        payload["c"] = session.credential
    return sign_payload(payload, key)


def read_session(value: str | None, key: bytes, now: datetime) -> Session | None:
    """The session in a cookie, or None when it is missing, tampered with, malformed or expired."""
    data = read_payload(value, key)
    if data is None:
        return None
    sid, user, exp = data.get("sid"), data.get("u"), data.get("exp")
    if not isinstance(sid, str) or not isinstance(exp, int) or not (user is None or isinstance(user, str)):
        return None
    expires = datetime.fromtimestamp(exp, tz=UTC)
    if expires <= now:
        return None
    credential = data.get("c")
    return Session(sid, user, expires, credential if isinstance(credential, str) else "")


def remember_session(engine: Engine, session: Session, now: datetime) -> None:
    """Keep a signed-in session server-side (and drop the rows of sessions that have expired)."""
    if session.user is None:
        raise ValueError("only a signed-in session is kept")
    with DbSession(engine) as db:
        db.execute(delete(WebSession).where(col(WebSession.expires_at) <= now))
        db.add(WebSession(sid=session.sid, username=session.user, created_at=now, expires_at=session.expires))
        db.commit()


def session_is_live(engine: Engine, session: Session) -> bool:
    """Whether a signed-in session is still kept (not logged out); its expiry is the cookie's to check."""
    with DbSession(engine) as db:
        row = db.exec(select(WebSession).where(WebSession.sid == session.sid)).first()
        return row is not None and row.username == session.user


def forget_session(engine: Engine, sid: str) -> None:
    """End a session: its cookie, and every copy of it, no longer signs anyone in."""
    with DbSession(engine) as db:
        db.execute(delete(WebSession).where(col(WebSession.sid) == sid))
        db.commit()


def load_session_key(settings: EarshotSettings) -> bytes:
    """The cookie-signing key: ``web.session_secret``, else ``data_dir/web-session.key`` (made 0600)."""
    secret = settings.web.session_secret
    if secret is not None and secret.get_secret_value():
        return hashlib.sha256(secret.get_secret_value().encode("utf-8")).digest()
    path = Path(settings.data_dir) / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    try:
        text = path.read_text(encoding="ascii").strip()
        key = bytes.fromhex(text)
    except (OSError, ValueError) as exc:
        raise WebConfigError(
            f"cannot read the session key file {path} (delete it to make a new one): {exc}"
        ) from exc
    if len(key) < 16:
        raise WebConfigError(f"the session key in {path} is too short; delete the file to make a new one")
    return key


def _create_key_file(path: Path) -> None:
    """Write a random key to ``path`` (0600) atomically: a racing process sees no file or a whole one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
            log.info("created a new web session key in %s", path)
        except FileExistsError:
            pass  # another process made it first; use theirs
    except OSError as exc:
        raise WebConfigError(f"cannot create the session key file {path}: {exc.strerror}") from exc
    finally:
        tmp.unlink(missing_ok=True)

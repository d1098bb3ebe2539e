"""Slack's v0 request signature: valid requests pass, anything altered, stale or malformed is refused.

The check is slack_sdk's ``SignatureVerifier`` behind :func:`alerts.signature.verify_request`; the
signatures here are computed independently (HMAC-SHA256 by hand), and the verifier gets a fixed clock.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.signature import Clock, SignatureVerifier

from alerts.signature import (
    MAX_AGE_SECONDS,
    BadSignatureFormat,
    BadTimestamp,
    MissingHeaders,
    SignatureError,
    SignatureMismatch,
    StaleTimestamp,
    make_verifier,
    verify_request,
)
from monitor.core.config import EarshotSettings

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000.0
TS = str(int(NOW))


class FixedClock(Clock):
    def __init__(self, now: float) -> None:
        self.moment = now

    def now(self) -> float:
        return self.moment


def verifier(secret: str = SECRET, now: float = NOW) -> SignatureVerifier:
    return SignatureVerifier(secret, clock=FixedClock(now))


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """What Slack sends: ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` under the secret."""
    basestring = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode("utf-8"), basestring, hashlib.sha256).hexdigest()


def test_matches_slacks_documented_example() -> None:
    """The worked example in Slack's "Verifying requests from Slack" guide."""
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZ"
        b"RskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    assert sign(SECRET, "1531420618", body) == expected
    verify_request(verifier(now=1531420618 + 10), "1531420618", expected, body)


def test_signature_is_hmac_sha256_of_the_v0_basestring() -> None:
    body = "payload=%7B%22tekst%22%3A%22zażółć%22%7D".encode()
    digest = hmac.new(SECRET.encode(), b"v0:" + TS.encode() + b":" + body, hashlib.sha256).hexdigest()
    verify_request(verifier(), TS, "v0=" + digest, body)
    without_prefix = hmac.new(SECRET.encode(), TS.encode() + b":" + body, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureMismatch):
        verify_request(verifier(), TS, "v0=" + without_prefix, body)


@pytest.mark.parametrize(
    ("timestamp", "signature", "error", "says"),
    [
        (None, "v0=" + "0" * 64, MissingHeaders, "X-Slack-Request-Timestamp"),
        (TS, None, MissingHeaders, "X-Slack-Signature"),
        ("", "", MissingHeaders, "X-Slack-Request-Timestamp, X-Slack-Signature"),
        ("17e8", "v0=" + "0" * 64, BadTimestamp, "whole number"),
        ("-1", "v0=" + "0" * 64, BadTimestamp, "whole number"),
        ("+" + TS, "v0=" + "0" * 64, BadTimestamp, "whole number"),
        (TS, "v1=" + "0" * 64, BadSignatureFormat, "v0="),
        (TS, "v0=" + "0" * 63, BadSignatureFormat, "64 hex"),
        (TS, "v0=" + "0" * 64, SignatureMismatch, "does not match"),
    ],
)
def test_each_failure_says_why(
    timestamp: str | None, signature: str | None, error: type[SignatureError], says: str
) -> None:
    with pytest.raises(error, match=says) as exc:
        verify_request(verifier(), timestamp, signature, b"payload=%7B%7D")
    assert SECRET not in str(exc.value)


@pytest.mark.parametrize("skew", [MAX_AGE_SECONDS + 1, -(MAX_AGE_SECONDS + 1), 86_400])
def test_outside_the_five_minute_window_is_refused_even_when_correctly_signed(skew: int) -> None:
    ts = str(int(NOW) - skew)
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    with pytest.raises(StaleTimestamp, match="old" if skew > 0 else "future"):
        verify_request(verifier(), ts, sign(SECRET, ts, body), body)


@pytest.mark.parametrize("skew", [0, MAX_AGE_SECONDS, -MAX_AGE_SECONDS])
def test_inside_the_window_passes(skew: int) -> None:
    ts = str(int(NOW) - skew)
    verify_request(verifier(), ts, sign(SECRET, ts, b"x"), b"x")


def test_a_different_secret_does_not_verify() -> None:
    with pytest.raises(SignatureMismatch):
        verify_request(verifier(), TS, sign("inny-sekret", TS, b"x"), b"x")


def test_a_body_that_is_not_utf8_is_refused_even_when_correctly_signed() -> None:
    """Slack's bodies are form-encoded ASCII; one that is not UTF-8 cannot be Slack's (nor checked)."""
    body = b"payload=\xff\xfe"
    with pytest.raises(SignatureMismatch, match="not UTF-8"):
        verify_request(verifier(), TS, sign(SECRET, TS, body), body)


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_no_verifier_without_a_signing_secret(tmp_path: Path, secret: str | None) -> None:
    settings = EarshotSettings(data_dir=tmp_path, slack={"signing_secret": secret})
    assert make_verifier(settings) is None


def test_the_settings_verifier_uses_the_secret_and_the_given_clock(tmp_path: Path) -> None:
    settings = EarshotSettings(data_dir=tmp_path, slack={"signing_secret": SECRET})
    made = make_verifier(settings, FixedClock(NOW))
    assert made is not None
    verify_request(made, TS, sign(SECRET, TS, b"x"), b"x")
    stale = str(int(NOW) - MAX_AGE_SECONDS - 1)
    with pytest.raises(StaleTimestamp):
        verify_request(made, stale, sign(SECRET, stale, b"x"), b"x")


@given(
    body=st.text(max_size=2048).map(str.encode),
    secret=st.text(min_size=1, max_size=64).filter(str.strip),
    age=st.integers(-300, 300),
)
def test_a_valid_signature_verifies(body: bytes, secret: str, age: int) -> None:
    ts = str(int(NOW) - age)
    verify_request(verifier(secret), ts, sign(secret, ts, body), body)


def _flip(data: bytes, index: int, new: int) -> bytes:
    i = index % len(data)
    replacement = new if new != data[i] else (new + 1) % 256
    return data[:i] + bytes([replacement]) + data[i + 1 :]


@given(body=st.binary(min_size=1, max_size=2048), index=st.integers(min_value=0), new=st.integers(0, 255))
def test_any_single_byte_change_to_the_body_is_rejected(body: bytes, index: int, new: int) -> None:
    signature = sign(SECRET, TS, body)
    with pytest.raises(SignatureMismatch):
        verify_request(verifier(), TS, signature, _flip(body, index, new))


@given(index=st.integers(min_value=0), new=st.integers(0, 127))
def test_any_single_byte_change_to_the_timestamp_is_rejected(index: int, new: int) -> None:
    body = b"payload=%7B%22text%22%3A%22Dzi%C4%99kujemy%22%7D"
    signature = sign(SECRET, TS, body)
    altered = _flip(TS.encode(), index, new).decode("latin-1")
    with pytest.raises(SignatureError):
        verify_request(verifier(), altered, signature, body)


@given(index=st.integers(min_value=0), new=st.integers(0, 127))
def test_any_single_byte_change_to_the_signature_is_rejected(index: int, new: int) -> None:
    body = b"payload=%7B%7D"
    signature = sign(SECRET, TS, body)
    altered = _flip(signature.encode(), index, new).decode("latin-1")
    with pytest.raises(SignatureError):
        verify_request(verifier(), TS, altered, body)

"""Slack's v0 request signature: valid requests pass, anything altered, stale or malformed is refused."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.signature import (
    MAX_AGE_SECONDS,
    BadSignatureFormat,
    BadTimestamp,
    MissingHeaders,
    SignatureError,
    SignatureMismatch,
    StaleTimestamp,
    sign,
    verify_slack_signature,
)

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000.0
TS = str(int(NOW))


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
    verify_slack_signature(SECRET, "1531420618", expected, body, now=1531420618 + 10)


def test_signature_is_hmac_sha256_of_the_v0_basestring() -> None:
    body = "payload=%7B%22tekst%22%3A%22zażółć%22%7D".encode()
    digest = hmac.new(SECRET.encode(), b"v0:" + TS.encode() + b":" + body, hashlib.sha256).hexdigest()
    assert sign(SECRET, TS, body) == "v0=" + digest


@pytest.mark.parametrize(
    ("timestamp", "signature", "error", "says"),
    [
        (None, "v0=" + "0" * 64, MissingHeaders, "X-Slack-Request-Timestamp"),
        (TS, None, MissingHeaders, "X-Slack-Signature"),
        ("", "", MissingHeaders, "X-Slack-Request-Timestamp, X-Slack-Signature"),
        ("17e8", "v0=" + "0" * 64, BadTimestamp, "whole number"),
        ("-1", "v0=" + "0" * 64, BadTimestamp, "whole number"),
        (TS, "v1=" + "0" * 64, BadSignatureFormat, "v0="),
        (TS, "v0=" + "0" * 63, BadSignatureFormat, "64 hex"),
        (TS, "v0=" + "0" * 64, SignatureMismatch, "does not match"),
    ],
)
def test_each_failure_says_why(
    timestamp: str | None, signature: str | None, error: type[SignatureError], says: str
) -> None:
    with pytest.raises(error, match=says) as exc:
        verify_slack_signature(SECRET, timestamp, signature, b"payload=%7B%7D", now=NOW)
    assert SECRET not in str(exc.value)


@pytest.mark.parametrize("skew", [MAX_AGE_SECONDS + 1, -(MAX_AGE_SECONDS + 1), 86_400])
def test_outside_the_five_minute_window_is_refused_even_when_correctly_signed(skew: int) -> None:
    ts = str(int(NOW) - skew)
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    with pytest.raises(StaleTimestamp, match="old" if skew > 0 else "future"):
        verify_slack_signature(SECRET, ts, sign(SECRET, ts, body), body, now=NOW)


@pytest.mark.parametrize("skew", [0, MAX_AGE_SECONDS, -MAX_AGE_SECONDS])
def test_inside_the_window_passes(skew: int) -> None:
    ts = str(int(NOW) - skew)
    verify_slack_signature(SECRET, ts, sign(SECRET, ts, b"x"), b"x", now=NOW)


def test_a_different_secret_does_not_verify() -> None:
    with pytest.raises(SignatureMismatch):
        verify_slack_signature(SECRET, TS, sign("inny-sekret", TS, b"x"), b"x", now=NOW)


@given(body=st.binary(max_size=2048), secret=st.text(min_size=1, max_size=64), age=st.integers(-300, 300))
def test_a_valid_signature_verifies(body: bytes, secret: str, age: int) -> None:
    ts = str(int(NOW) - age)
    verify_slack_signature(secret, ts, sign(secret, ts, body), body, now=NOW)


def _flip(data: bytes, index: int, new: int) -> bytes:
    i = index % len(data)
    replacement = new if new != data[i] else (new + 1) % 256
    return data[:i] + bytes([replacement]) + data[i + 1 :]


@given(body=st.binary(min_size=1, max_size=2048), index=st.integers(min_value=0), new=st.integers(0, 255))
def test_any_single_byte_change_to_the_body_is_rejected(body: bytes, index: int, new: int) -> None:
    signature = sign(SECRET, TS, body)
    with pytest.raises(SignatureMismatch):
        verify_slack_signature(SECRET, TS, signature, _flip(body, index, new), now=NOW)


@given(index=st.integers(min_value=0), new=st.integers(0, 127))
def test_any_single_byte_change_to_the_timestamp_is_rejected(index: int, new: int) -> None:
    body = b"payload=%7B%22text%22%3A%22Dzi%C4%99kujemy%22%7D"
    signature = sign(SECRET, TS, body)
    altered = _flip(TS.encode(), index, new).decode("latin-1")
    with pytest.raises(SignatureError):
        verify_slack_signature(SECRET, altered, signature, body, now=NOW)


@given(index=st.integers(min_value=0), new=st.integers(0, 127))
def test_any_single_byte_change_to_the_signature_is_rejected(index: int, new: int) -> None:
    body = b"payload=%7B%7D"
    signature = sign(SECRET, TS, body)
    altered = _flip(signature.encode(), index, new).decode("latin-1")
    with pytest.raises(SignatureError):
        verify_slack_signature(SECRET, TS, altered, body, now=NOW)

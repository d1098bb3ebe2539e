"""Posting a reply on the social sources: Mastodon, Bluesky, YouTube and Reddit.

Each reply is addressed from what the spider stored (``mention.raw``), as the source documents it:

* Mastodon: ``POST {base}/api/v1/statuses`` with ``{"status", "in_reply_to_id", "visibility"}`` (the
  status's id on the configured instance; the author's ``@acct`` leads the text, as Mastodon's own apps
  do, so they are notified; the same ``Idempotency-Key`` for the same reply, so a double submit posts once);
* Bluesky: ``POST {base}/xrpc/com.atproto.repo.createRecord`` with an ``app.bsky.feed.post`` record whose
  ``reply`` holds strong refs (``uri`` + ``cid``) to the thread's ``root`` and the ``parent`` post. The
  session comes from the stored refreshJwt (``earshot auth bluesky``; rotated, and stored again at once) or
  a login with the configured identifier and app password;
* YouTube: ``POST {base}/youtube/v3/comments?part=snippet`` with ``{"snippet": {"parentId",
  "textOriginal"}}`` (comments.insert; the parent is the thread's top-level comment: YouTube threads are one
  level deep). An API key cannot post: an OAuth token of the channel owner (youtube.force-ssl) can;
* Reddit: ``POST {base}/api/comment`` (form ``api_type=json``, ``thing_id`` = the fullname, ``text``) at
  oauth.reddit.com with a user token of the submit scope. Reddit answers some refusals with HTTP 200 and
  ``json.errors`` (``RATELIMIT``, ``THREAD_LOCKED``, ``TOO_OLD``), read here as refusals.

YouTube's and Reddit's user tokens live an hour, so with a refresh token and the app's client each reply
gets a fresh one first; a fixed token is the alternative.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from typing import Any, Final
from urllib.parse import quote, urlencode

from sqlalchemy.exc import SQLAlchemyError

from alerts.replies import reply_limit
from alerts.reply_http import (
    FORM,
    JSON,
    HttpAnswer,
    ReplyOutcome,
    ReplyRequest,
    answer_json,
    error_message,
    failed,
    http_outcome,
    json_bytes,
    rate_limited,
    retry_seconds,
    scrub,
    send,
)
from monitor.core.credentials import CredentialStoreError, auth_command
from monitor.core.source_settings import source_env_var
from monitor.core.timeutil import utcnow

__all__ = ["post_bluesky", "post_mastodon", "post_reddit", "post_youtube"]

log = logging.getLogger(__name__)

_ID = re.compile(r"[A-Za-z0-9_.~-]+")
_FULLNAME = re.compile(r"t[13]_[a-z0-9]+", re.IGNORECASE)
_VISIBILITIES: Final = frozenset({"public", "unlisted", "private", "direct"})
_BSKY_COMMAND: Final = auth_command("bluesky") or "earshot auth bluesky"
_CREATE_SESSION: Final = "/xrpc/com.atproto.server.createSession"
_REFRESH_SESSION: Final = "/xrpc/com.atproto.server.refreshSession"
_CREATE_RECORD: Final = "/xrpc/com.atproto.repo.createRecord"
_BSKY_TOKEN_ERRORS: Final = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired"})


def _bearer(token: str, scheme: str = "Bearer") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}", "Content-Type": JSON, "Accept": "application/json"}


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


# --- Mastodon -----------------------------------------------------------------------------------------


def post_mastodon(req: ReplyRequest) -> ReplyOutcome:
    section = req.settings.sources.mastodon
    token_var = source_env_var("mastodon", "reply_access_token")
    token = section.credential("reply_access_token") or section.credential("access_token")
    if not token:
        return failed(f"no Mastodon token to post with: set {token_var} (write:statuses scope)")
    raw = req.raw or {}
    status_id = raw.get("id")
    status_id = str(status_id) if isinstance(status_id, str | int) and not isinstance(status_id, bool) else ""
    if not _ID.fullmatch(status_id):
        return failed(f"the stored status has no id on {section.base_url}")
    account = raw.get("account") if isinstance(raw.get("account"), dict) else {}
    acct = _text(account.get("acct")) if isinstance(account, dict) else None
    status, counted = req.text, len(req.text)
    if acct and f"@{acct}".lower() not in req.text.lower():
        status = f"@{acct} {req.text}"
        counted += len(acct.split("@")[0]) + 2  # Mastodon counts a mention as its local @username
    limit = reply_limit("mastodon")
    if limit is not None and counted > limit:
        return failed(
            f"the reply with the @{acct} mention is {counted} characters; Mastodon accepts at most {limit}"
        )
    visibility = raw.get("visibility") if raw.get("visibility") in _VISIBILITIES else "public"
    payload: dict[str, Any] = {"status": status, "in_reply_to_id": status_id, "visibility": visibility}
    if req.mention.lang and re.fullmatch(r"[a-z]{2}", req.mention.lang):
        payload["language"] = req.mention.lang
    key = hashlib.sha256(f"earshot-reply:{req.mention.id}:{status}".encode()).hexdigest()
    url = f"{section.base_url.rstrip('/')}/api/v1/statuses"
    headers = {**_bearer(token), "Idempotency-Key": key}
    answer = send("POST", url, headers=headers, body=json_bytes(payload), timeout=req.timeout)
    fix = f"set {token_var} (write:statuses scope)"
    return http_outcome("Mastodon", answer, fix, token, thing="status")


# --- Bluesky ------------------------------------------------------------------------------------------


def _strong_ref(value: Any) -> dict[str, str] | None:
    """``{"uri", "cid"}`` when ``value`` holds an at:// uri and a cid, else None."""
    if not isinstance(value, dict):
        return None
    uri, cid = _text(value.get("uri")), _text(value.get("cid"))
    if uri is None or cid is None or not uri.startswith("at://"):
        return None
    return {"uri": uri, "cid": cid}


def _bluesky_refs(raw: dict[str, Any] | None) -> tuple[dict[str, str], dict[str, str]] | None:
    """(root, parent) for a reply to the stored PostView: a reply to a reply keeps its thread's root."""
    parent = _strong_ref(raw)
    if parent is None or raw is None:
        return None
    record = raw.get("record") if isinstance(raw.get("record"), dict) else {}
    reply = record.get("reply") if isinstance(record, dict) else None
    root = _strong_ref(reply.get("root")) if isinstance(reply, dict) else None
    return root or parent, parent


def _bluesky_session(req: ReplyRequest) -> tuple[str, str, str] | ReplyOutcome:
    """(accessJwt, did, the secret to scrub) from the stored refreshJwt, else a login; or why neither."""
    section = req.settings.sources.bluesky
    base = section.base_url.rstrip("/")
    try:
        stored = req.stored_credentials("bluesky")
    except CredentialStoreError as exc:
        return failed(f"no Bluesky session: {exc}")
    except SQLAlchemyError as exc:
        log.warning("Bluesky reply: stored session unreadable: %s", type(exc).__name__)
        stored = {}
    refresh = stored.get("refresh_jwt", "").strip()
    if refresh:
        answer = send(
            "POST", base + _REFRESH_SESSION, headers=_bearer(refresh), body=None, timeout=req.timeout
        )
        data = answer_json(answer)
        access, rotated = _text(data.get("accessJwt")), _text(data.get("refreshJwt"))
        did = _text(data.get("did")) or stored.get("did", "")
        if answer.status == 200 and access and rotated and did:
            _store_rotated(req, rotated, did)
            return access, did, refresh
        if answer.status == 429 or answer.status >= 500:
            return http_outcome("Bluesky", answer, f"run `{_BSKY_COMMAND}`", refresh)
        log.info("Bluesky reply: the stored session was refused (HTTP %s); logging in", answer.status)
    identifier = req.settings.sources.bluesky.credential("identifier") or stored.get("identifier", "")
    password = req.settings.sources.bluesky.credential("app_password") or stored.get("app_password", "")
    if not identifier or not password:
        env = " and ".join(source_env_var("bluesky", f) for f in ("identifier", "app_password"))
        return failed(f"no Bluesky session: run `{_BSKY_COMMAND}` or set {env}")
    payload = {"identifier": identifier, "password": password}
    answer = send(
        "POST",
        base + _CREATE_SESSION,
        headers={"Content-Type": JSON, "Accept": "application/json"},
        body=json_bytes(payload),
        timeout=req.timeout,
    )
    data = answer_json(answer)
    login_access, login_did = _text(data.get("accessJwt")), _text(data.get("did"))
    if answer.status == 200 and login_access and login_did:
        return login_access, login_did, password
    if answer.status == 200:
        return failed("Bluesky's session answer has no accessJwt or did")
    fix = f"run `{_BSKY_COMMAND}` or check {source_env_var('bluesky', 'app_password')}"
    if answer.status in (400, 401):
        detail = scrub(error_message(answer.body), password, identifier)
        return failed(
            f"Bluesky refused the login (HTTP {answer.status}): {fix}" + (f" ({detail})" if detail else "")
        )
    return http_outcome("Bluesky", answer, fix, password)


def _store_rotated(req: ReplyRequest, refresh: str, did: str) -> None:
    """Keep the rotated refreshJwt at once: the one just used is spent (after the PDS's grace period)."""
    try:
        req.store().update("bluesky", refresh_jwt=refresh, did=did)
    except (CredentialStoreError, SQLAlchemyError) as exc:
        log.warning(
            "Bluesky reply: the rotated session could not be stored (%s); the next crawl logs in again "
            "or needs `%s`",
            type(exc).__name__,
            _BSKY_COMMAND,
        )


def post_bluesky(req: ReplyRequest) -> ReplyOutcome:
    refs = _bluesky_refs(req.raw)
    if refs is None:
        return failed("the stored post has no uri and cid to reply to")
    root, parent = refs
    session = _bluesky_session(req)
    if isinstance(session, ReplyOutcome):
        return session
    access, did, secret = session
    record: dict[str, Any] = {
        "$type": "app.bsky.feed.post",
        "text": req.text,
        "createdAt": utcnow().isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "reply": {"root": root, "parent": parent},
    }
    if req.mention.lang:
        record["langs"] = [req.mention.lang]
    payload = {"repo": did, "collection": "app.bsky.feed.post", "record": record}
    url = f"{req.settings.sources.bluesky.base_url.rstrip('/')}{_CREATE_RECORD}"
    answer = send("POST", url, headers=_bearer(access), body=json_bytes(payload), timeout=req.timeout)
    code = answer_json(answer).get("error")
    if answer.status == 400 and code in _BSKY_TOKEN_ERRORS:
        return failed(f"token rejected by Bluesky (HTTP 400 {code}): run `{_BSKY_COMMAND}`")
    return http_outcome("Bluesky", answer, f"run `{_BSKY_COMMAND}`", access, secret, thing="post")


# --- renewing a user token (YouTube, Reddit) -------------------------------------------------------------


def _renew(
    name: str, url: str, form: dict[str, str], headers: dict[str, str], req: ReplyRequest, fix: str
) -> str | ReplyOutcome:
    """A fresh access token from ``grant_type=refresh_token``, or why not (no secret in it)."""
    secrets = [v for v in (*form.values(), *headers.values()) if len(v) > 8]
    answer = send(
        "POST",
        url,
        headers={"Content-Type": FORM, "Accept": "application/json", **headers},
        body=urlencode({"grant_type": "refresh_token", **form}).encode("ascii"),
        timeout=req.timeout,
    )
    data = answer_json(answer)
    token = _text(data.get("access_token"))
    if 200 <= answer.status < 300 and token:
        return token
    if 200 <= answer.status < 300:
        return failed(f"{name}'s token answer has no access_token")
    if answer.status in (400, 401, 403):
        code = data.get("error")
        why = f" {scrub(code, *secrets)}" if isinstance(code, str) else ""
        return failed(f"{name} refused to renew the reply token (HTTP {answer.status}{why}): {fix}")
    return http_outcome(name, answer, fix, *secrets)


def _missing_client(source: str, client_id: str, client_secret: str) -> str:
    """The environment variables of the OAuth client fields still unset, joined for a sentence."""
    pairs = (("client_id", client_id), ("client_secret", client_secret))
    return " and ".join(source_env_var(source, field) for field, value in pairs if not value)


# --- YouTube ------------------------------------------------------------------------------------------


def _youtube_parent(req: ReplyRequest) -> str | None:
    """The top-level comment of the item's thread: replies to replies are not a thing on YouTube."""
    raw = req.raw or {}
    comment = raw.get("comment") if isinstance(raw.get("comment"), dict) else {}
    snippet = comment.get("snippet") if isinstance(comment, dict) else None
    thread = raw.get("thread") if isinstance(raw.get("thread"), dict) else {}
    candidates = [
        snippet.get("parentId") if isinstance(snippet, dict) else None,
        thread.get("id") if isinstance(thread, dict) else None,
        req.mention.parent_id,
        req.mention.external_id,
    ]
    return next((c for c in candidates if isinstance(c, str) and _ID.fullmatch(c)), None)


def _youtube_token(req: ReplyRequest) -> str | ReplyOutcome:
    section = req.settings.sources.youtube
    refresh_var = source_env_var("youtube", "reply_refresh_token")
    fix = f"set {refresh_var} (youtube.force-ssl scope)"
    refresh = section.credential("reply_refresh_token")
    client = (section.credential("client_id"), section.credential("client_secret"))
    if refresh and all(client):
        form = {"client_id": client[0], "client_secret": client[1], "refresh_token": refresh}
        return _renew("Google", section.token_uri, form, {}, req, fix)
    if refresh:
        return failed(
            f"the YouTube reply refresh token needs its OAuth client: set {_missing_client('youtube', *client)}"
        )
    token = section.credential("reply_access_token")
    if token:
        return token
    return failed(
        f"YouTube replies need the channel owner's OAuth token (an API key cannot post): set {refresh_var} "
        f"with {source_env_var('youtube', 'client_id')} and {source_env_var('youtube', 'client_secret')}, "
        f"or {source_env_var('youtube', 'reply_access_token')}"
    )


def _google_reasons(answer: HttpAnswer) -> set[str]:
    error = answer_json(answer).get("error")
    details = error.get("errors") if isinstance(error, dict) else None
    if not isinstance(details, list):
        return set()
    return {str(d["reason"]) for d in details if isinstance(d, dict) and isinstance(d.get("reason"), str)}


def post_youtube(req: ReplyRequest) -> ReplyOutcome:
    parent = _youtube_parent(req)
    if parent is None:
        return failed("the stored comment has no YouTube comment id to reply to")
    token = _youtube_token(req)
    if isinstance(token, ReplyOutcome):
        return token
    url = f"{req.settings.sources.youtube.base_url.rstrip('/')}/youtube/v3/comments?part=snippet"
    payload = {"snippet": {"parentId": parent, "textOriginal": req.text}}
    answer = send("POST", url, headers=_bearer(token), body=json_bytes(payload), timeout=req.timeout)
    if answer.status == 403 and _google_reasons(answer) & {"quotaExceeded", "dailyLimitExceeded"}:
        return failed("YouTube's daily quota is spent (a reply costs 50 units): try again after midnight PT")
    fix = f"set {source_env_var('youtube', 'reply_refresh_token')} (youtube.force-ssl scope)"
    return http_outcome("YouTube", answer, fix, token, thing="comment")


# --- Reddit -------------------------------------------------------------------------------------------


def _reddit_token(req: ReplyRequest) -> str | ReplyOutcome:
    section = req.settings.sources.reddit
    refresh_var = source_env_var("reddit", "reply_refresh_token")
    fix = f"set {refresh_var} (submit scope)"
    refresh = section.credential("reply_refresh_token")
    client = (section.credential("client_id"), section.credential("client_secret"))
    if refresh and all(client):
        basic = base64.b64encode(f"{client[0]}:{client[1]}".encode()).decode("ascii")
        headers = {"Authorization": f"Basic {basic}", "User-Agent": section.user_agent}
        url = f"{section.auth_url.rstrip('/')}/api/v1/access_token"
        return _renew("Reddit", url, {"refresh_token": refresh}, headers, req, fix)
    if refresh:
        return failed(
            f"the Reddit reply refresh token needs the app's client: set {_missing_client('reddit', *client)}"
        )
    token = section.credential("reply_access_token")
    if token:
        return token
    return failed(
        f"Reddit replies need a user token with the submit scope (the crawl's app-only token cannot post): "
        f"set {refresh_var}, or {source_env_var('reddit', 'reply_access_token')}"
    )


def _reddit_errors(answer: HttpAnswer) -> list[tuple[str, str]]:
    """``json.errors`` of an ``api_type=json`` answer: ``[[code, message, field], ...]``."""
    wrapper = answer_json(answer).get("json")
    errors = wrapper.get("errors") if isinstance(wrapper, dict) else None
    found = []
    for entry in errors if isinstance(errors, list) else []:
        if isinstance(entry, list) and entry and isinstance(entry[0], str):
            message = entry[1] if len(entry) > 1 and isinstance(entry[1], str) else ""
            found.append((entry[0], message))
    return found


def _wait_in(message: str) -> int | None:
    """Seconds from Reddit's "try again in 5 minutes." (its posting limit, not the API's window)."""
    found = re.search(r"(\d+)\s*(second|minute|hour)", message)
    if found is None:
        return None
    return int(found.group(1)) * {"second": 1, "minute": 60, "hour": 3600}[found.group(2)]


def post_reddit(req: ReplyRequest) -> ReplyOutcome:
    section = req.settings.sources.reddit
    raw_name = req.raw.get("name") if req.raw else None
    fullname = next(
        (n for n in (req.mention.external_id, raw_name) if isinstance(n, str) and _FULLNAME.fullmatch(n)),
        None,
    )
    if fullname is None:
        return failed("the stored item has no Reddit fullname (t1_… or t3_…) to reply to")
    token = _reddit_token(req)
    if isinstance(token, ReplyOutcome):
        return token
    form = {"api_type": "json", "thing_id": fullname, "text": req.text}
    headers = {
        "Authorization": f"bearer {token}",
        "Content-Type": FORM,
        "Accept": "application/json",
        "User-Agent": section.user_agent,
    }
    url = f"{section.base_url.rstrip('/')}/api/comment"
    answer = send(
        "POST",
        url,
        headers=headers,
        body=urlencode(form, quote_via=quote).encode("ascii"),
        timeout=req.timeout,
    )
    errors = _reddit_errors(answer)
    if 200 <= answer.status < 300 and errors:
        code, message = errors[0]
        if code == "RATELIMIT":
            return rate_limited("Reddit", _wait_in(message) or retry_seconds(answer))
        return failed(f"Reddit refused the reply ({code}: {scrub(message, token)})")
    fix = f"set {source_env_var('reddit', 'reply_refresh_token')} (submit scope)"
    return http_outcome("Reddit", answer, fix, token, thing="comment")

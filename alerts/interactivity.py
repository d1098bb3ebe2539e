"""Slack interactivity: verify and store each request in a durable inbox, and a worker that does its work.

Slack posts every button click and modal submission to ``POST /slack/interactivity`` and shows the user
an error unless the app answers within 3 seconds. Posting a reply on Google can take longer than that,
so answering does only what is cheap and must happen before the answer. The HTTP route
(:mod:`monitor.web.routes.slack`) reads the raw body (at most :data:`MAX_BODY_BYTES`) and hands it to
:func:`receive`, which

1. verifies Slack's signature over it (:mod:`alerts.signature`, slack_sdk's ``SignatureVerifier``);
2. stores the request as a :class:`~monitor.core.models.SlackRequest`. Its ``signature`` column is unique, so
   a replayed request (same body, same timestamp, same signature) fails the insert and is answered 409:
   within the 5-minute signature window the table is the replay guard; after it the timestamp check is;
3. validates a reply modal's text (empty, too long for the source) and answers Slack's
   ``response_action: errors`` so the agent can fix it in the still-open modal;
4. hands the request id to :class:`InteractivityWorker` and answers 200 at once.

Why plain functions and no web framework here: the same inbox takes Socket Mode envelopes
(:mod:`alerts.socket_mode`), and serving HTTP is the top floor's job, not the alert loop's.

The worker claims each stored request with a compare-and-set (``pending`` → ``processing``), so two
workers (or a restart racing a live one) never run one request twice, calls :func:`alerts.actions.handle`
and records ``done`` or ``failed`` with the reason. ``start()`` picks up requests a crash left
``pending``: a click acknowledged to Slack is never lost. Requests that need Slack's 3-second trigger id
(the Reply button opens a modal) go through a second thread, so a slow reply post never makes a modal
miss its window.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import delete, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from alerts.action_ids import REPLY, REPLY_BLOCK, REPLY_MODAL
from alerts.actions import OnChanged, handle
from alerts.alert_state import ActionError
from alerts.reply_actions import ModalSender, modal_metadata, reply_error, reply_text
from alerts.signature import SignatureError, verify_request
from alerts.slack_errors import redact_token
from alerts.slack_i18n import ENGLISH, slack_text
from monitor.core.config import EarshotSettings
from monitor.core.db import session_scope
from monitor.core.models import Alert, Mention, SlackRequest, TargetRow
from monitor.core.timeutil import utcnow
from sentiment.embeddings import Embedder

__all__ = [
    "INTERACTIVITY_PATH",
    "MAX_BODY_BYTES",
    "NO_SECRET_MESSAGE",
    "Accepted",
    "Answer",
    "InteractivityWorker",
    "PayloadError",
    "RequestStatus",
    "accept_payload",
    "needs_trigger",
    "not_configured",
    "parse_payload",
    "receive",
    "too_large",
]

logger = logging.getLogger(__name__)

INTERACTIVITY_PATH: Final = "/slack/interactivity"
MAX_BODY_BYTES: Final = 1024 * 1024
KEEP_REQUESTS: Final = timedelta(days=1)
PURGE_EVERY_SECONDS: Final = 3600.0
# A request still "processing" this long after it arrived belongs to a worker that died mid-action.
INTERRUPTED_AFTER: Final = timedelta(minutes=10)
NO_SECRET_MESSAGE: Final = (
    "Slack interactivity is not configured: set EARSHOT_SLACK__SIGNING_SECRET to the Slack app's "
    "signing secret (Basic Information > App Credentials) and restart Earshot."
)


class RequestStatus:
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"


class PayloadError(ValueError):
    """A verified request whose body is not Slack's ``payload=<json object>``."""


def needs_trigger(payload: dict[str, Any]) -> bool:
    """True when the request opens a modal, which Slack allows only within 3 s of the click."""
    actions = payload.get("actions")
    return (
        payload.get("type") == "block_actions"
        and isinstance(actions, list)
        and any(isinstance(a, dict) and a.get("action_id") == REPLY for a in actions)
    )


def parse_payload(body: bytes) -> dict[str, Any]:
    """Slack's interactivity body: ``application/x-www-form-urlencoded`` with one ``payload`` JSON field."""
    try:
        fields = parse_qs(body.decode("utf-8"), strict_parsing=False, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"body is not form-encoded UTF-8: {type(exc).__name__}") from None
    raw = fields.get("payload")
    if not raw:
        raise PayloadError("body has no 'payload' field")
    try:
        payload = json.loads(raw[0])
    except json.JSONDecodeError as exc:
        raise PayloadError(f"payload is not JSON ({exc.msg})") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise PayloadError("payload is not a JSON object with a 'type'")
    return payload


# ------------------------------------------------------------------------------------------ the inbox


@dataclass(frozen=True)
class Accepted:
    """What to answer Slack: ``status`` (200, or 409 for a replay), an optional JSON ``body``, and the
    stored request's id when the worker has something to do."""

    status: int
    body: dict[str, Any] | None
    request_id: int | None


def _validate_submission(
    engine: Engine, settings: EarshotSettings | None, payload: dict[str, Any]
) -> str | None:
    """Why the reply modal's text cannot be posted, for the agent to fix in the modal; None when fine."""
    view = payload.get("view")
    if payload.get("type") != "view_submission" or not isinstance(view, dict):
        return None
    if view.get("callback_id") != REPLY_MODAL:
        return None
    voice = slack_text(settings) if settings is not None else ENGLISH
    try:
        alert_id, _channel = modal_metadata(view)
    except ActionError:
        return voice.t(
            "Earshot cannot tell which alert this reply is for; close this window and click Reply again."
        )
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        mention = session.get(Mention, alert.mention_id) if alert and alert.mention_id is not None else None
        target = (
            session.get(TargetRow, mention.target_id) if mention and mention.target_id is not None else None
        )
    if mention is None:
        return voice.t("Earshot no longer has this alert's item; the reply cannot be posted.")
    if settings is not None:
        voice = slack_text(settings, target.name if target is not None else alert.target if alert else None)
    return reply_error(reply_text(view), mention.source, voice)


def accept_payload(
    engine: Engine,
    signature: str,
    request_ts: int,
    payload: dict[str, Any],
    settings: EarshotSettings | None = None,
) -> Accepted:
    """Store a verified request in the inbox (or refuse a replay) and say what to answer Slack.

    Shared by the HTTP endpoint and Socket Mode (whose ``signature`` is ``socket:<envelope id>``).
    ``settings`` choose the language of a modal's error (the target's); without them it is English.
    """
    stored = {k: v for k, v in payload.items() if k != "token"}  # Slack's deprecated verification token
    problem = _validate_submission(engine, settings, payload)
    row = SlackRequest(
        signature=signature,
        request_ts=request_ts,
        kind=str(payload.get("type"))[:64],
        payload=stored,
        status=RequestStatus.DONE if problem else RequestStatus.PENDING,
        error=f"reply refused in the modal: {problem}" if problem else None,
        processed_at=utcnow() if problem else None,
    )
    try:
        with session_scope(engine) as session:
            session.add(row)
            session.flush()
            request_id = row.id
    except IntegrityError:
        return Accepted(409, None, None)
    if problem:
        return Accepted(200, {"response_action": "errors", "errors": {REPLY_BLOCK: problem}}, None)
    return Accepted(200, None, request_id)


# ------------------------------------------------------------------------------------------ receiving


@dataclass(frozen=True)
class Answer:
    """What the endpoint answers Slack: a status and a plain-text ``text`` or a JSON ``body`` (or none)."""

    status: int
    text: str | None = None
    body: dict[str, Any] | None = None


def not_configured(remote: str) -> Answer:
    """The answer to every request while no signing secret is set: 503 with the setting to add."""
    logger.warning("Slack request from %s refused: %s", remote, NO_SECRET_MESSAGE)
    return Answer(503, text=NO_SECRET_MESSAGE)


def too_large(remote: str) -> Answer:
    """The answer to a body over :data:`MAX_BODY_BYTES` (refused before it is read to the end)."""
    logger.warning("Slack request from %s refused: body over %d bytes", remote, MAX_BODY_BYTES)
    return Answer(413, text="request body too large")


def receive(
    engine: Engine,
    verifier: SignatureVerifier,
    worker: InteractivityWorker,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    remote: str,
) -> Answer:
    """Verify one HTTP request, store it in the inbox (once), queue it for the worker; say what to answer.

    ``timestamp`` and ``signature`` are the X-Slack-Request-Timestamp / X-Slack-Signature headers,
    ``remote`` the client address for the log. Blocking (it writes the inbox row): an async caller runs
    it in a thread.
    """
    try:
        verify_request(verifier, timestamp, signature, body)
    except SignatureError as exc:
        logger.warning("Slack request from %s refused: %s", remote, exc)
        return Answer(401, text="invalid Slack signature")
    assert timestamp is not None and signature is not None  # verified above
    try:
        payload = parse_payload(body)
    except PayloadError as exc:
        logger.warning("signed request from %s refused: %s", remote, exc)
        return Answer(400, text="malformed payload")
    accepted = accept_payload(engine, signature, int(timestamp), payload, worker.settings)
    if accepted.status == 409:
        logger.warning("Slack request from %s refused: replay of an already received request", remote)
        return Answer(409, text="request already received")
    if accepted.request_id is not None:
        worker.submit(accepted.request_id, urgent=needs_trigger(payload))
    return Answer(200, body=accepted.body)


# ------------------------------------------------------------------------------------------ the worker


class InteractivityWorker:
    """Runs stored requests in the background: one thread in arrival order, one for modal openings.

    ``embedder`` (optional) finds similar past replies for the modal and embeds items for the reply
    library; without one, the modal shows no similar replies.
    """

    def __init__(
        self,
        engine: Engine,
        settings: EarshotSettings,
        sender: ModalSender,
        on_changed: OnChanged,
        *,
        embedder: Embedder | None = None,
        purge_every_seconds: float = PURGE_EVERY_SECONDS,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._sender = sender
        self._on_changed = on_changed
        self._embedder = embedder
        self._purge_every = purge_every_seconds
        self._queues: dict[bool, queue.Queue[int | None]] = {False: queue.Queue(), True: queue.Queue()}
        self._threads: list[threading.Thread] = []
        self._outstanding = 0
        self._idle = threading.Condition()
        self._stopping = threading.Event()
        self._last_purge = 0.0

    @property
    def settings(self) -> EarshotSettings:
        """The settings the worker runs with (the endpoint's modal errors follow their language)."""
        return self._settings

    @property
    def sender(self) -> ModalSender:
        """The Slack client the worker acts with (the App Home is published with it too)."""
        return self._sender

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def start(self) -> InteractivityWorker:
        """Start the threads and queue every request a previous run left ``pending``."""
        if self._threads:
            return self
        self._stopping.clear()
        for urgent, name in ((False, "earshot-slack-worker"), (True, "earshot-slack-modals")):
            thread = threading.Thread(target=self._run, args=(urgent,), name=name, daemon=True)
            self._threads.append(thread)
            thread.start()
        self._fail_interrupted()
        with Session(self._engine) as session:
            left = session.exec(
                select(SlackRequest)
                .where(col(SlackRequest.status) == RequestStatus.PENDING)
                .order_by(col(SlackRequest.id))
            ).all()
        for row in left:
            assert row.id is not None
            self.submit(row.id, urgent=needs_trigger(row.payload))
        if left:
            logger.info("resuming %d Slack request(s) left pending by an earlier run", len(left))
        return self

    def submit(self, request_id: int, *, urgent: bool = False) -> None:
        """Queue a stored request; ``urgent`` ones (opening a modal) skip the line of slow replies."""
        with self._idle:
            self._outstanding += 1
        self._queues[urgent].put(request_id)

    def drain(self, timeout: float) -> bool:
        """Wait until every queued request is processed; False when ``timeout`` passed first (tests)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._outstanding == 0, timeout=timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Let the threads finish the request in hand and end; queued ones stay ``pending`` in the database."""
        self._stopping.set()
        for q in self._queues.values():
            q.put(None)
        for thread in self._threads:
            thread.join(timeout=timeout)
        self._threads = []
        for q in self._queues.values():  # a request queued after stop() is picked up by the next start()
            while not q.empty():
                q.get_nowait()
        with self._idle:
            self._outstanding = 0
            self._idle.notify_all()

    def _warm_up(self) -> None:
        """Load the embedder's model now, so the first Reply click does not spend Slack's 3 s loading it."""
        if self._embedder is None:
            return
        try:
            self._embedder.embed(["query: warm-up"])
        except (OSError, RuntimeError, ValueError) as exc:
            logger.warning("the embedder failed to load (%s); reply modals will show no similar replies", exc)
            self._embedder = None

    def _run(self, urgent: bool) -> None:
        q = self._queues[urgent]
        if urgent:
            self._warm_up()
        while True:
            if not urgent:
                self._maybe_purge()
            try:
                request_id = q.get(timeout=min(self._purge_every, 60.0))
            except queue.Empty:
                continue
            if request_id is None or self._stopping.is_set():
                return
            try:
                self._process(request_id)
            finally:
                with self._idle:
                    self._outstanding -= 1
                    self._idle.notify_all()

    def _claim(self, request_id: int) -> SlackRequest | None:
        """pending → processing, once: the compare-and-set that keeps two workers off one request."""
        stmt = (
            update(SlackRequest)
            .where(col(SlackRequest.id) == request_id, col(SlackRequest.status) == RequestStatus.PENDING)
            .values(status=RequestStatus.PROCESSING)
        )
        with self._engine.begin() as conn:
            if not conn.execute(stmt).rowcount:
                return None
        with Session(self._engine) as session:
            return session.get(SlackRequest, request_id)

    def _finish(self, request_id: int, status: str, error: str | None) -> None:
        stmt = (
            update(SlackRequest)
            .where(col(SlackRequest.id) == request_id)
            .values(status=status, error=error, processed_at=utcnow())
        )
        with self._engine.begin() as conn:
            conn.execute(stmt)

    def _process(self, request_id: int) -> None:
        """Run one request; whatever happens is recorded on it, and the thread lives on."""
        row = self._claim(request_id)
        if row is None:
            return  # done already, or another worker has it
        token = self._settings.slack.bot_token
        try:
            handle(self._engine, self._settings, self._sender, row, self._on_changed, embedder=self._embedder)
        except ActionError as exc:
            reason = redact_token(str(exc), token)
            logger.warning("Slack request %s (%s) failed: %s", request_id, row.kind, reason)
            self._finish(request_id, RequestStatus.FAILED, reason)
            return
        except Exception as exc:  # the worker's boundary: record it, keep serving the next click
            reason = redact_token(f"{type(exc).__name__}: {exc}", token)
            logger.exception("Slack request %s (%s) crashed: %s", request_id, row.kind, reason)
            self._finish(request_id, RequestStatus.FAILED, reason)
            return
        self._finish(request_id, RequestStatus.DONE, None)

    def _fail_interrupted(self) -> None:
        """Requests a dead worker left mid-action are failed, not re-run: the action may have happened."""
        cutoff = utcnow() - INTERRUPTED_AFTER
        stmt = (
            update(SlackRequest)
            .where(
                col(SlackRequest.status) == RequestStatus.PROCESSING, col(SlackRequest.received_at) < cutoff
            )
            .values(
                status=RequestStatus.FAILED,
                error="interrupted: the worker stopped while handling it; not retried (it may have run)",
                processed_at=utcnow(),
            )
        )
        with self._engine.begin() as conn:
            count = conn.execute(stmt).rowcount
        if count:
            logger.warning("%d Slack request(s) were interrupted mid-action and are marked failed", count)

    def _maybe_purge(self) -> None:
        now = time.monotonic()
        if self._last_purge and now - self._last_purge < self._purge_every:
            return
        self._last_purge = now
        self.purge(utcnow())

    def purge(self, now: datetime) -> int:
        """Delete finished requests older than a day: replays that old fail the 5-minute window anyway."""
        stmt = delete(SlackRequest).where(
            col(SlackRequest.received_at) < now - KEEP_REQUESTS,
            col(SlackRequest.status).in_([RequestStatus.DONE, RequestStatus.FAILED]),
        )
        with self._engine.begin() as conn:
            count = int(conn.execute(stmt).rowcount or 0)
        if count:
            logger.info("purged %d Slack request(s) older than %s", count, KEEP_REQUESTS)
        return count

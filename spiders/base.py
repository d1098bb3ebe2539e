"""What every Earshot source spider shares, so a new source is a planner, a request and a parser.

A *scope* is one thing watched for one target on one source (a GBP location, a Google place, a feed
URL, a search keyword...). It is the unit of the watermark: a run reads each scope's records newer than
its stored watermark, and ``complete_scope`` reports the newest time read so that
:class:`spiders.pipelines.StoragePipeline` moves the watermark once all of the scope's items are
stored. A scope that fails, or is cut short by a budget, keeps its old watermark and is read again.

A subclass sets ``name`` (also the mention source and the config section on ``config.sources``),
``target_fields`` and the labels, and implements:

- ``plan_scopes()``: the scopes of this run, from ``self.config.targets``;
- ``first_requests(state)``: the scope's first request(s), built with ``scope_request`` (which applies
  the request budget, the shared errback and bookkeeping);
- the callbacks, which read a response with ``read_page`` (an unreadable body fails the scope), map
  records with ``to_item`` (an unusable one is counted and skipped), call ``accept`` for each new one,
  then end the scope (``complete_scope``) or go on (``follow_token``);
- optionally ``check_config()``, ``parse_error_response()`` (the source's error body; marks
  credential failures with ``auth=True``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, ParamSpec, TypeVar

import scrapy
from scrapy import Request
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from monitor.core.config import EarshotSettings
from monitor.core.db import make_engine, session_scope
from monitor.core.source_settings import SourceSettings, source_env_var
from monitor.core.store import get_watermark
from spiders.config import earshot_settings
from spiders.errors import MalformedResponse
from spiders.items import InvalidItem, MentionItem
from spiders.signals import scope_completed

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

MAX_ERROR_MESSAGES = 20  # kept in stats (and so in crawl_runs.stats) per run
AUTH_STATUSES = frozenset({401, 403})
PAGING_LOOP = "the API returned a page token it had already returned (paging loop)"


@dataclass
class ScopeState:
    """One scope's progress in this run; a spider may subclass it to keep paging state."""

    scope: str
    target: str
    watermark: datetime | None = None
    pages: int = 0  # responses parsed
    yielded: int = 0  # items handed to the pipelines
    newest: datetime | None = None  # newest change time among them
    done: bool = False
    failed: bool = False
    truncated: bool = False

    @property
    def finished(self) -> bool:
        return self.done or self.failed or self.truncated

    def is_new(self, changed_at: datetime | None) -> bool:
        """Whether a record changed at ``changed_at`` lies past the watermark (undated ones always do)."""
        return self.watermark is None or changed_at is None or changed_at > self.watermark


StateT = TypeVar("StateT", bound=ScopeState)
PageT = TypeVar("PageT")
P = ParamSpec("P")


@dataclass(frozen=True)
class SourceError:
    """An HTTP error as the source explained it; ``auth`` means the credential itself was refused."""

    status: int
    code: str = ""  # the source's own error code or status name, e.g. PERMISSION_DENIED
    message: str = ""
    auth: bool = False
    hint: str = ""  # what the user can do about it

    def describe(self) -> str:
        text = f"HTTP {self.status} {self.code}".strip() + f": {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


def body_excerpt(body: bytes, limit: int = 300) -> str:
    """The start of a non-JSON error body on one line (proxies answer in HTML or plain text)."""
    text = " ".join(body[: limit * 4].decode("utf-8", "replace").split())
    return text[:limit] or "(empty body)"


class SourceSpider(scrapy.Spider, Generic[StateT]):
    """Base of every source spider: credentials, scopes, watermarks, request budget, errors, summary."""

    settings_section: ClassVar[str]  # attribute of config.sources holding this source's settings
    target_fields: ClassVar[tuple[str, ...]] = ()  # Target fields that give this source something to read
    source_label: ClassVar[str] = "source"  # for log lines: "Google Places"
    scope_noun: ClassVar[str] = "scope"  # "location", "place", "feed"
    record_noun: ClassVar[str] = "record"  # "review", "entry"
    credential_help: ClassVar[dict[str, str]] = {}  # credential field -> what it must hold

    config: EarshotSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scopes: dict[str, StateT] = {}
        self.auth_failed = False
        self.requests_made = 0
        self._budget_warned = False
        # Until one answer shows the credential is accepted, only one scope's requests are out: a refused
        # credential then costs one request, not one per scope sent concurrently.
        self._probe: Deferred[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.config = earshot_settings(crawler.settings)
        return spider

    # -- configuration -------------------------------------------------------------------------------

    @classmethod
    def settings_of(cls, config: EarshotSettings) -> SourceSettings:
        section: SourceSettings = getattr(config.sources, cls.settings_section)
        return section

    @classmethod
    def skip_reason(cls, config: EarshotSettings) -> str | None:
        """Why a run of this source would do nothing (no credentials, no target uses it), else None.

        Lets a scheduler skip a source without starting a crawl process for it.
        """
        missing = cls.settings_of(config).missing_credentials()
        if missing:
            return "not configured: set " + ", ".join(
                source_env_var(cls.settings_section, f) for f in missing
            )
        if not any(getattr(t, f, None) for t in config.targets for f in cls.target_fields):
            return f"no target has {' or '.join(cls.target_fields) or 'anything for it'}"
        return None

    @property
    def source_settings(self) -> SourceSettings:
        return self.settings_of(self.config)

    def credential(self, name: str) -> str:
        return self.source_settings.credential(name)

    def check_credentials(self) -> None:
        """Stop before any request when a credential is missing, naming the variable that sets it."""
        missing = self.source_settings.missing_credentials()
        for name in missing:
            help_text = self.credential_help.get(name, f"the {self.source_label} {name.replace('_', ' ')}")
            self.record_error(
                f"no {name.replace('_', ' ')} configured: set {source_env_var(self.settings_section, name)} "
                f"(or sources.{self.settings_section}.{name} in the config file) to {help_text}"
            )
        if missing:
            raise CloseSpider("missing_credentials")

    def check_config(self) -> None:
        """Hook: raise CloseSpider("config_error") after ``record_error`` when a setting is unusable."""

    # -- scopes and watermarks -----------------------------------------------------------------------

    def plan_scopes(self) -> Iterable[StateT]:
        """This run's scopes, one per thing watched per target."""
        raise NotImplementedError

    def first_requests(self, state: StateT) -> Iterable[Request | None]:
        """The scope's first request(s), each from ``scope_request`` (a None is skipped)."""
        raise NotImplementedError

    def no_scopes_message(self) -> str:
        fields = " or ".join(self.target_fields) or "anything to read"
        return f"No target has {fields}; nothing to read from {self.source_label}"

    async def start(self) -> AsyncIterator[Request]:
        self.check_credentials()
        self.check_config()
        for state in self.plan_scopes():
            if state.scope in self.scopes:
                self.logger.warning(
                    "%s is configured twice; reading it once for %r",
                    state.scope,
                    self.scopes[state.scope].target,
                )
                continue
            self.scopes[state.scope] = state
        if not self.scopes:
            self.logger.warning(self.no_scopes_message())
            raise CloseSpider("no_targets")
        self.load_watermarks()
        for state in list(self.scopes.values()):
            if self.auth_failed:  # the credential was refused: do not send it again for every scope
                break
            for request in self.first_requests(state):
                if request is not None:
                    yield request
            if self._probe is not None and not self._probe.called:
                await maybe_deferred_to_future(self._probe)

    def load_watermarks(self) -> None:
        engine = make_engine(self.config.effective_database_url)
        try:
            with session_scope(engine) as session:
                for state in self.scopes.values():
                    state.watermark = get_watermark(session, self.name, state.scope)
        finally:
            engine.dispose()

    # -- requests ------------------------------------------------------------------------------------

    def scope_request(
        self,
        state: StateT,
        url: str,
        *,
        callback: Callable[..., Any],
        headers: dict[str, str] | None = None,
        meta: dict[str, Any] | None = None,
        cb_kwargs: dict[str, Any] | None = None,
    ) -> Request | None:
        """A request for ``state``, or None when the run's budget is spent or the credential was refused.

        Over budget, the scope ends as truncated: its watermark stays and the next run reads it again.
        Requests are never deduplicated by Scrapy: a spider that loops must notice it itself.
        """
        if self.auth_failed or state.finished:
            return None
        budget = self.source_settings.max_requests
        if self.requests_made >= budget:
            self.stats_inc("earshot/budget_exhausted")
            message = (
                f"request budget of this run spent (sources.{self.settings_section}.max_requests={budget}); "
                "read again next run"
            )
            self.truncate_scope(state, message, quiet=self._budget_warned)
            self._budget_warned = True
            return None
        self.requests_made += 1
        if self._probe is None and self.source_settings.credential_fields:
            self._probe = Deferred()
        return Request(
            url,
            headers=headers,
            callback=self._after_probe(callback),
            errback=self.on_error,
            meta=meta or {},
            cb_kwargs={"scope": state.scope, **(cb_kwargs or {})},
            dont_filter=True,
        )

    def _after_probe(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """``callback``, first releasing the other scopes' requests: an answer reached the spider."""

        def run(response: Response, **kwargs: Any) -> Any:
            self._release_probe()
            return callback(response, **kwargs)

        return run

    def _release_probe(self) -> None:
        if self._probe is not None and not self._probe.called:
            self._probe.callback(None)

    # -- records -------------------------------------------------------------------------------------

    def accept(self, state: StateT, item: MentionItem, changed_at: datetime | None) -> MentionItem:
        """Count ``item`` for its scope (so the watermark waits for it) and return it for yielding."""
        item["scope"] = state.scope
        if item.get("target") is None:
            item["target"] = state.target
        state.yielded += 1
        if changed_at is not None and (state.newest is None or changed_at > state.newest):
            state.newest = changed_at
        return item

    def reject_record(self, state: StateT, reason: str, message: str) -> None:
        """A record the spider cannot map to an item: counted by reason, logged, and the crawl goes on."""
        self.stats_inc("earshot/items_rejected")
        self.stats_inc(f"earshot/items_rejected/{reason}")
        self.logger.warning("Skipped an unreadable %s in %s: %s", self.record_noun, state.scope, message)

    def malformed_response(self, state: StateT, message: str) -> None:
        """A body that is not what the source documents: the scope fails, the others go on."""
        self.stats_inc("earshot/malformed_responses")
        self.fail_scope(state, message)

    def read_page(self, state: StateT, parse: Callable[[], PageT], what: str | None = None) -> PageT | None:
        """Count one more response of ``state`` and read it with ``parse``; None when it is malformed.

        A :class:`MalformedResponse` fails the scope as "``what``: <why>", ``what`` being by default
        "malformed response for page N".
        """
        state.pages += 1
        return self.read_body(state, parse, what or f"malformed response for page {state.pages}")

    def read_body(self, state: StateT, parse: Callable[[], PageT], what: str) -> PageT | None:
        """``parse()``, or None after failing the scope with "``what``: <why>" for a malformed body."""
        try:
            return parse()
        except MalformedResponse as exc:
            self.malformed_response(state, f"{what}: {exc}")
            return None

    def to_item(
        self, state: StateT, convert: Callable[P, MentionItem], /, *args: P.args, **kwargs: P.kwargs
    ) -> MentionItem | None:
        """``convert(*args, **kwargs)``, or None after counting the record as rejected (InvalidItem)."""
        try:
            return convert(*args, **kwargs)
        except InvalidItem as exc:
            self.reject_record(state, exc.reason, str(exc))
            return None

    # -- paging --------------------------------------------------------------------------------------

    def follow_token(
        self,
        state: StateT,
        token: str | None,
        seen: set[str],
        next_request: Callable[[str], Request | None],
        *,
        loop_message: str = PAGING_LOOP,
        at_cap: Callable[[StateT], bool] | None = None,
    ) -> Iterator[Request]:
        """The request for the page ``token`` names, or the scope's end.

        No token: the scope is complete. A token the scope followed before (``seen``) would page forever:
        the scope fails with ``loop_message``. ``at_cap(state)`` may end the scope at a page limit and
        return True to stop paging.
        """
        if not token:
            self.complete_scope(state)
        elif token in seen:
            self.fail_scope(state, loop_message)
        elif at_cap is None or not at_cap(state):
            seen.add(token)
            request = next_request(token)
            if request is not None:
                yield request

    def max_pages_reached(self, state: StateT, max_pages: int) -> bool:
        """Truncate the scope once it read ``max_pages`` pages (the source's ``max_pages`` setting)."""
        if state.pages < max_pages:
            return False
        self.truncate_scope(
            state,
            f"stopped at max_pages={max_pages} with older {self.record_noun}s unread; its watermark stays "
            f"where it was. Raise sources.{self.settings_section}.max_pages to read it completely",
        )
        return True

    # -- scope outcomes ------------------------------------------------------------------------------

    def complete_scope(self, state: StateT) -> None:
        """Everything new in the scope was read: report the newest change time for its watermark."""
        if state.finished:
            return
        state.done = True
        self.stats_inc("earshot/scopes_completed")
        if state.newest is None:
            self.logger.info("%s: nothing new (%d response(s) read)", state.scope, state.pages)
            return
        self.logger.info("%s: %d new or edited %s(s) read", state.scope, state.yielded, self.record_noun)
        self.crawler.signals.send_catch_log(
            signal=scope_completed,
            source=self.name,
            scope=state.scope,
            watermark=state.newest,
            expected=state.yielded,
        )

    def fail_scope(self, state: StateT, message: str) -> None:
        if state.finished:
            return
        state.failed = True
        self.stats_inc("earshot/scopes_failed")
        self.record_error(f"{state.scope}: {message}")

    def truncate_scope(self, state: StateT, message: str, *, quiet: bool = False) -> None:
        """Stop reading the scope with records left unread; its watermark stays where it was."""
        if state.finished:
            return
        state.truncated = True
        self.stats_inc("earshot/scopes_truncated")
        if quiet:
            self.logger.info("%s: %s", state.scope, message)
        else:
            self.logger.warning("%s: %s", state.scope, message)

    # -- errors --------------------------------------------------------------------------------------

    def parse_error_response(self, response: Response) -> SourceError:
        """The source's explanation of an HTTP error; override to read its error format and hints."""
        auth = response.status in AUTH_STATUSES and bool(self.source_settings.credential_fields)
        return SourceError(response.status, "", body_excerpt(response.body), auth=auth)

    def on_error(self, failure: Failure) -> None:
        """A request failed for good (after any retries): say why, and fail its scope.

        A refused credential ends the whole run as ``auth_failed``, so it is not sent again.
        """
        request = failure.request  # type: ignore[attr-defined]
        state = self.scopes.get(request.cb_kwargs.get("scope", ""))
        auth = False
        if isinstance(failure.value, HttpError):
            response = failure.value.response
            error = self.parse_error_response(response)
            self.stats_inc("earshot/api_errors")
            self.stats_inc(f"earshot/api_errors/{response.status}")
            message = error.describe()
            auth = error.auth
        elif isinstance(failure.value, IgnoreRequest):
            self.stats_inc("earshot/requests_ignored")
            message = f"request not sent: {failure.getErrorMessage()}"
        else:
            self.stats_inc("earshot/download_errors")
            message = f"request failed: {type(failure.value).__name__}: {failure.getErrorMessage()}"
        if state is None:
            self.record_error(message)
        else:
            self.fail_scope(state, message)
        if auth:
            self.auth_failed = True
        self._release_probe()
        if auth:
            raise CloseSpider("auth_failed")

    def record_error(self, message: str) -> None:
        """Log an error and keep it in the stats (crawl_runs.stats), never with a credential in it."""
        for name in self.source_settings.credential_fields:
            secret = self.credential(name)
            if secret:
                message = message.replace(secret, "[redacted]")
        self.logger.error("%s: %s", self.source_label, message)
        stats = self.crawler.stats
        assert stats is not None
        messages = stats.get_value("earshot/error_messages") or []
        if len(messages) < MAX_ERROR_MESSAGES:
            stats.set_value("earshot/error_messages", [*messages, message])

    def stats_inc(self, key: str, count: int = 1) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key, count)

    # -- summary -------------------------------------------------------------------------------------

    def closed(self, reason: str) -> None:
        """Say which scopes were read completely; the others keep their old watermark."""
        states = list(self.scopes.values())
        done = sum(s.done for s in states)
        failed = sum(s.failed for s in states)
        truncated = sum(s.truncated for s in states)
        unfinished = len(states) - done - failed - truncated
        if unfinished:
            self.stats_inc("earshot/scopes_unfinished", unfinished)
        self.logger.info(
            "%s (%s): %d %s(s) read completely, %d failed, %d truncated, %d unfinished; %d request(s)",
            self.source_label,
            reason,
            done,
            self.scope_noun,
            failed,
            truncated,
            unfinished,
            self.requests_made,
        )

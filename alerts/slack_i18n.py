"""The language and time zone one Slack message is written in, and the few words every builder needs.

Slack messages follow the ``language`` of the target an alert is about (``targets[].language``), else
``slack.language``; ``earshot alerts preview --language`` overrides both for checking a layout. Times are
shown by Babel in ``slack.timezone`` with the zone always written out: a Slack date token would follow
each reader's own clock but Slack's English words, and a time without its zone is a guess for whoever
reads it. Every builder takes a :class:`SlackText` instead of a language code, so the catalogue, the
zone and the number format cannot drift apart between the header and the buttons of one message.

Translated strings are our own text; anything from outside (review text, names, rule names) is escaped by
:mod:`alerts.slack_format` *before* it fills a ``%(name)s`` placeholder, so a translation cannot undo
the escaping and a review cannot inject a placeholder.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from monitor.core import i18n
from monitor.core.config import EarshotSettings

__all__ = [
    "DOMAIN",
    "ENGLISH",
    "SlackText",
    "localize_reason",
    "severity_name",
    "slack_text",
    "target_language",
    "urgency_reason_name",
]

DOMAIN: Final = "slack"


@dataclass(frozen=True)
class SlackText:
    """Translate (``t``/``n``) and format (``when``, ``number``, ``percent``) for one message."""

    language: i18n.Language = "en"
    timezone: str = "UTC"

    def t(self, message: str, **values: object) -> str:
        """``message`` (an English msgid of the ``slack`` domain) in this language, placeholders filled."""
        return i18n.gettext(self.language, DOMAIN, message, **values)

    def n(self, singular: str, plural: str, quantity: int, **values: object) -> str:
        """Plural-aware on ``quantity`` (Polish has three forms); ``%(n)s`` is it unformatted."""
        return i18n.ngettext(self.language, DOMAIN, singular, plural, quantity, **values)

    def when(self, moment: datetime | None, missing: str | None = None) -> str:
        """``1 maj 2024, 16:03 CEST``: local to ``slack.timezone``, zone always shown."""
        if moment is None:
            return missing if missing is not None else self.t("unknown")
        return i18n.format_datetime(moment, self.language, self.timezone)

    def number(self, value: float | int, digits: int = 0) -> str:
        """``12 345`` / ``12,345``; ``digits`` decimals. A payload's absurd value (1e300) is shown as it is:
        Babel's decimal arithmetic cannot group it, and an alert must render whatever its payload says."""
        if not math.isfinite(value) or abs(value) >= 1e15:
            return f"{value:g}"
        return i18n.format_number(value, self.language, digits)

    def signed(self, value: float) -> str:
        """A sentiment score with two decimals and its sign (``-0,91`` / ``-0.91``)."""
        return ("-" if value < 0 else "") + self.number(abs(value), 2)

    def percent(self, share: float) -> str:
        """``85%`` / ``85 %`` as the language writes it (Polish puts a space before the sign)."""
        whole = self.number(round(share * 100))
        return f"{whole}\u00a0%" if self.language == "pl" else f"{whole}%"

    def minutes(self, value: float) -> str:
        """A span in minutes, ``90 min`` or ``2 h 10 min`` once it passes two hours."""
        total = max(0, round(value))
        if total < 120:
            return self.t("%(minutes)s min", minutes=self.number(total))
        hours, rest = divmod(total, 60)
        if rest == 0:
            return self.t("%(hours)s h", hours=self.number(hours))
        return self.t("%(hours)s h %(minutes)s min", hours=self.number(hours), minutes=rest)


ENGLISH: Final = SlackText()


def target_language(settings: EarshotSettings, target: str | None) -> i18n.Language:
    """The language of ``target``'s messages: its own ``language``, else ``slack.language``."""
    for configured in settings.targets:
        if configured.name == target and configured.language is not None:
            return configured.language
    return settings.slack.language


def slack_text(
    settings: EarshotSettings, target: str | None = None, language: str | None = None
) -> SlackText:
    """The :class:`SlackText` of a message about ``target``; ``language`` (pl/en) overrides the setting."""
    chosen = i18n.as_language(language, target_language(settings, target)) if language else None
    return SlackText(chosen or target_language(settings, target), settings.slack.timezone)


def severity_name(severity: str | None, voice: SlackText) -> str | None:
    """``urgent``/``negative``/``info`` in the reader's language; another value is shown as it is."""
    names = {"urgent": voice.t("urgent"), "negative": voice.t("negative"), "info": voice.t("info")}
    return names.get(severity or "", severity)


def urgency_reason_name(code: str, voice: SlackText) -> str:
    """``legal_threat`` → ``legal threat`` / ``groźba prawna``; unknown codes are made readable."""
    names = {
        "legal_threat": voice.t("legal threat"),
        "health_safety": voice.t("health/safety"),
        "fraud_scam": voice.t("fraud/scam"),
        "data_leak": voice.t("data leak"),
        "public_escalation": voice.t("public escalation"),
        "repeated_complaint": voice.t("repeated complaint"),
        "high_reach": voice.t("high reach"),
    }
    return names.get(code, code.replace("_", " "))


# Reasons are stored in English when an alert is made (alerts.rules, alerts.enqueue, alerts.sla) and
# shown as they are in the web pages and logs; a message re-reads their known shapes into its language.
_RULE_REASON = re.compile(r'^rule "(?P<rule>[^"\n]{1,64})": (?P<parts>.+)$', re.DOTALL)
_RATED = re.compile(r"^rated (?P<stars>[0-9.,]+)★$")
_SENTIMENT = re.compile(r"^sentiment (?P<label>negative|neutral|positive) \((?P<score>-?[0-9.]+)\)$")
_URGENT = re.compile(r"^(?P<head>urgent|elevated urgency)(?: \((?P<why>.*)\))?$", re.DOTALL)
_KEYWORDS = re.compile(r"^keywords? (?P<words>.+)$", re.DOTALL)
_SLA_REASON = re.compile(
    r"^(?P<severity>\w+) alert #(?P<id>\d+) unhandled for (?P<late>\d+) min \(target (?P<sla>[0-9.]+) min\)$"
)


def _reason_part(part: str, voice: SlackText) -> str:
    if match := _RATED.match(part):
        return voice.t("rated %(stars)s★", stars=match["stars"])
    if match := _SENTIMENT.match(part):
        label = {
            "negative": voice.t("negative"),
            "neutral": voice.t("neutral"),
            "positive": voice.t("positive"),
        }
        score = voice.signed(float(match["score"]))
        return voice.t("sentiment %(label)s (%(score)s)", label=label[match["label"]], score=score)
    if match := _URGENT.match(part):
        head = voice.t("urgent") if match["head"] == "urgent" else voice.t("elevated urgency")
        why = match["why"]
        if why:
            for code in _URGENCY_CODES:
                why = why.replace(f"{code}:", f"{urgency_reason_name(code, voice)}:")
            return f"{head} ({why})"
        return head
    if match := _KEYWORDS.match(part):
        words = match["words"]
        many = part.startswith("keywords ")
        return (
            voice.t("keywords %(words)s", words=words) if many else voice.t("keyword %(words)s", words=words)
        )
    return part


_URGENCY_CODES: Final = (
    "legal_threat",
    "health_safety",
    "fraud_scam",
    "data_leak",
    "public_escalation",
    "repeated_complaint",
    "high_reach",
)


def localize_reason(reason: str | None, voice: SlackText) -> str:
    """A stored (English) reason in the message's language, when it has one of the shapes Earshot writes.

    Runs on raw text, before the builder cleans and escapes it; a reason of another shape (a source's own
    error) is left as it is.
    """
    text = reason or ""
    if voice.language == "en" or not text:
        return text
    if match := _RULE_REASON.match(text):
        parts = "; ".join(_reason_part(p, voice) for p in match["parts"].split("; "))
        return voice.t('rule "%(rule)s": %(parts)s', rule=match["rule"], parts=parts)
    if match := _SLA_REASON.match(text):
        return voice.t(
            "%(severity)s alert #%(id)s unhandled for %(late)s (target %(sla)s)",
            severity=severity_name(match["severity"], voice),
            id=match["id"],
            late=voice.minutes(float(match["late"])),
            sla=voice.minutes(float(match["sla"])),
        )
    if (source_health := _source_health_reason(text, voice)) is not None:
        return source_health
    fixed = {
        "a new post in the thread of an alerted item": voice.t("a new post in the thread of an alerted item"),
        "no rule fires (preview only)": voice.t("no rule fires (preview only)"),
    }
    return fixed.get(text, text)


# Source-health reasons (monitor.source_health): a failing streak, a silence, and the recovery of each.
# The failure cause is one of spiders.failures' fixed phrases, so its Polish is a slack.po entry; the run's
# finish reason and its first error are the source's own words and stay as they are.
_FAILING = re.compile(
    r"^(?P<count>\d+) crawls in a row failed(?:: (?P<cause>.+?))? \(last run #(?P<run>\d+): "
    r"(?P<finish>[^,\n]+), (?P<errors>\d+) error\(s\), (?P<requests>\d+) request\(s\)"
    r"(?:; first error: (?P<first>.*))?\)(?:; run `(?P<command>[^`\n]+)` to authorise again)?$",
    re.DOTALL,
)
_QUIET = re.compile(
    r"^no new item for (?P<quiet>[0-9.]+) h; usually one every (?P<gap>[0-9.]+) h \(median of "
    r"(?P<items>\d+) items over (?P<days>[0-9.e+]+) days\), so the limit is (?P<limit>[0-9.]+) h$"
)
_WORKS_AGAIN = re.compile(
    r"^crawls work again \((?:run #(?P<run>\d+) finished normally: (?P<new>\d+) new, (?P<updated>\d+) "
    r"updated|(?P<none>no failed run any more))\) after the failures that began with run #(?P<first>\d+)$"
)
_ARRIVE_AGAIN = re.compile(
    r"^new items arrive again \(newest from (?P<when>[0-9-]+ [0-9:]+ UTC|now)\) after the silence "
    r"reported in alert #(?P<id>\d+)$"
)


def _hours(value: str, voice: SlackText) -> str:
    hours = float(value)
    return voice.t("%(hours)s h", hours=voice.number(hours, 0 if hours >= 10 else 1))


def _source_health_reason(text: str, voice: SlackText) -> str | None:
    """A source-health reason in ``voice``'s language; None when ``text`` is not one."""
    if match := _FAILING.match(text):
        cause = f": {voice.t(match['cause'])}" if match["cause"] else ""
        first = voice.t("; first error: %(error)s", error=match["first"]) if match["first"] else ""
        hint = (
            voice.t("; run `%(command)s` to authorise again", command=match["command"])
            if match["command"]
            else ""
        )
        last = voice.t(
            "last run #%(run)s: %(finish)s, errors: %(errors)s, requests: %(requests)s",
            run=match["run"],
            finish=match["finish"],
            errors=match["errors"],
            requests=match["requests"],
        )
        count = int(match["count"])
        failed = voice.n("%(n)s crawl in a row failed", "%(n)s crawls in a row failed", count)
        return f"{failed}{cause} ({last}{first}){hint}"
    if match := _QUIET.match(text):
        return voice.t(
            "no new item for %(quiet)s; usually one every %(gap)s (median of %(items)s items over "
            "%(days)s days), so the limit is %(limit)s",
            quiet=_hours(match["quiet"], voice),
            gap=_hours(match["gap"], voice),
            items=match["items"],
            days=match["days"],
            limit=_hours(match["limit"], voice),
        )
    if match := _WORKS_AGAIN.match(text):
        detail = (
            voice.t("no failed run any more")
            if match["none"]
            else voice.t(
                "run #%(run)s finished normally: %(new)s new, %(updated)s updated",
                run=match["run"],
                new=match["new"],
                updated=match["updated"],
            )
        )
        return voice.t(
            "crawls work again (%(detail)s) after the failures that began with run #%(first)s",
            detail=detail,
            first=match["first"],
        )
    if match := _ARRIVE_AGAIN.match(text):
        when = (
            voice.t("now")
            if match["when"] == "now"
            else voice.when(datetime.strptime(match["when"], "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC))
        )
        return voice.t(
            "new items arrive again (newest from %(when)s) after the silence reported in alert #%(id)s",
            when=when,
            id=match["id"],
        )
    return None

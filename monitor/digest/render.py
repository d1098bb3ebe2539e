"""A digest as people read it: the self-contained HTML report and the summary text (Slack or console).

Both use the same words and number formats (:mod:`monitor.digest.i18n`), so the report and the post never
disagree. The Jinja template lives in ``monitor/templates`` (package data); every string from a review,
an author or a target is escaped there (autoescape) and in the Slack text (``escape_mrkdwn``).
"""

from __future__ import annotations

import base64
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from alerts.escaping import clean_text, escape_mrkdwn
from monitor.core.config import EarshotSettings
from monitor.digest.i18n import (
    Language,
    as_language,
    aspect_label,
    day_label,
    fmt_minutes,
    fmt_number,
    fmt_pp,
    fmt_rating,
    fmt_share,
    t,
)
from monitor.digest.report import LABELS, Digest

__all__ = ["TEMPLATES", "render_html", "summary_text"]

TEMPLATES = Path(__file__).parents[1] / "templates"  # monitor/templates


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every string from a review, an author or a target is escaped
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def render_html(digest: Digest, charts: dict[str, bytes], settings: EarshotSettings) -> str:
    """The self-contained report: inline CSS, charts as ``data:image/png;base64`` URIs, no scripts or links
    to load, so the file can be mailed or opened offline and shows the same thing everywhere."""
    lang = as_language(digest.language)
    images = {
        name: "data:image/png;base64," + base64.b64encode(png).decode("ascii") for name, png in charts.items()
    }
    template = _environment().get_template("digest.html")
    return template.render(
        d=digest,
        lang=lang,
        images=images,
        tz=ZoneInfo(digest.timezone),
        t=lambda key: t(key, lang),
        aspect_label=lambda code: aspect_label(code, lang),
        day_label=lambda day: day_label(day, lang),
        num=lambda value, digits=0: fmt_number(value, lang, digits),
        share=lambda value: fmt_share(value, lang),
        pp=lambda value: fmt_pp(value, lang),
        stars=lambda value: fmt_rating(value, lang),
        minutes=lambda value: fmt_minutes(value, lang),
        change=lambda now, before: _relative_change(now, before, lang),
        labels=LABELS,
        public_url=settings.public_url.rstrip("/"),
    )


def _relative_change(now: int, before: int, lang: Language) -> str:
    """``+12,5%`` against the previous week, ``nowe``/``new`` when it had none, ``–`` when both had none."""
    if before == 0:
        return "–" if now == 0 else t("new", lang)
    value = (now - before) / before * 100
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return f"{sign}{fmt_number(abs(value), lang, 1)}%"


def summary_text(digest: Digest, *, mrkdwn: bool = True) -> str:
    """The Slack summary (mrkdwn, untrusted text escaped) or, with ``mrkdwn=False``, the console text."""
    lang = as_language(digest.language)

    def esc(value: str) -> str:
        return escape_mrkdwn(value) if mrkdwn else clean_text(value)

    bold = "*" if mrkdwn else ""
    s = digest.sentiment
    lines = [
        f"{bold}{t('title', lang)}: {esc(digest.target)} — {digest.week} ({digest.period}){bold}",
        f"• {t('mentions', lang)}: {fmt_number(digest.total, lang)} "
        f"({_relative_change(digest.total, digest.previous_total, lang)} {t('vs_previous', lang)})"
        + (
            ": "
            + ", ".join(f"{esc(x.source)} {fmt_number(x.count, lang)}" for x in digest.sources[:5] if x.count)
            if digest.total
            else ""
        ),
        f"• {t('sentiment', lang)}: "
        + ", ".join(
            f"{t(lbl, lang).lower()} {fmt_share(s.shares[lbl], lang)} ({fmt_pp(s.change_pp[lbl], lang)})"
            for lbl in LABELS
        )
        + (f"; {t('unscored', lang).lower()}: {s.unscored}" if s.unscored else ""),
        f"• {t('rating', lang)}: {fmt_rating(digest.rating.average, lang)} "
        f"({t('previously', lang)} {fmt_rating(digest.rating.previous_average, lang)})",
    ]
    if digest.aspects:
        top = digest.aspects[0]
        quote = f" — „{esc(top.quotes[0].text)}”" if top.quotes else ""
        lines.append(
            f"• {t('top_aspects', lang)}: "
            + ", ".join(f"{esc(aspect_label(a.aspect, lang))} ({a.count})" for a in digest.aspects)
            + quote
        )
    k = digest.kpis
    lines.append(
        f"• {t('kpis', lang)}: {t('alerts', lang).lower()} {k.alerts}, "
        f"{t('median_short', lang)} {fmt_minutes(k.median_minutes, lang)}, "
        f"{t('p90_short', lang)} {fmt_minutes(k.p90_minutes, lang)}, "
        f"{t('sla_short', lang)} {fmt_share(k.within_sla_share, lang)}, "
        f"{t('unhandled_short', lang)} {k.unhandled}"
    )
    if digest.storms:
        totals: dict[str, int] = {}
        for st in digest.storms:
            for th in st.themes:
                totals[th["aspect"]] = totals.get(th["aspect"], 0) + int(th["count"])
        themes = sorted(totals, key=lambda a: (-totals[a], a))
        described = ", ".join(f"{esc(aspect_label(a, lang))} ({totals[a]})" for a in themes)  # as alerted
        lines.append(
            f"• {t('storms', lang)}: {len(digest.storms)}" + (f" ({described})" if described else "")
        )
    else:
        lines.append(f"• {t('storms', lang)}: {t('none', lang)}")
    if mrkdwn:
        lines.append(f"<{digest.report_url}|{t('full_report', lang)}>")
    else:
        lines.append(f"{t('full_report', lang)}: {digest.report_url}")
    return "\n".join(lines)

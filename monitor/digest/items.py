"""The mentions a digest quotes: the worst quotes of each top negative aspect, and the most urgent items.

A quote under a negative aspect is a complaint: the mention's own (fused) label and its reading of the
aspect are both negative, so a neutral news item that mentions a late courier, or a 5-star review that
grumbles about one thing, is counted for the aspect but never quoted as a complaint (and the other way round
for a positive aspect).

Why apart from :mod:`monitor.digest.queries`: these queries return text to show a person (clipped,
cleaned, linked to the item page) and the alert status of each item, while the figures there are counts
only. Aspects are a JSON array column, so the aspect queries are raw SQL with each database's own JSON
table function (SQLite ``json_each``, PostgreSQL ``json_array_elements``); a window function picks the
quotes, so only the few shown rows are fetched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from sqlalchemy import DateTime, Integer, String, bindparam, case, func, or_, select, text
from sqlalchemy.engine import Connection
from sqlmodel import col

from alerts.escaping import clean_text
from alerts.storms import latest_score_id
from monitor.core.config import EarshotSettings
from monitor.core.models import Alert, AlertKind, Mention, SentimentScore
from monitor.core.timeutil import as_utc
from monitor.digest.errors import DigestError
from monitor.digest.links import item_url
from monitor.digest.report import AspectStat, Quote, UrgentItem
from monitor.digest.weeks import Week

__all__ = ["QUOTES_PER_ASPECT", "QUOTE_CHARS", "Polarity", "item_time", "top_aspects", "urgent_items"]

Polarity = Literal["negative", "positive"]

QUOTE_CHARS = 200
QUOTES_PER_ASPECT = 2
_EXCERPT_SQL_CHARS = 400  # cut in SQL so a 40 kB review is not fetched to show 200 characters
_URGENCY_RANK = {"critical": 0, "elevated": 1}


def item_time() -> Any:
    """When the item was written (the source's time), else when we first saw it: what puts it in a week."""
    return func.coalesce(col(Mention.created_at), col(Mention.first_seen_at))


# ----------------------------------------------------------------------------------- aspects (JSON in SQL)

_NEWEST_SCORE_SQL = (
    "s.id = (SELECT s2.id FROM sentiment_scores s2 WHERE s2.mention_id = m.id "
    "AND s2.mention_version = m.version ORDER BY s2.scored_at DESC, s2.id DESC LIMIT 1)"
)


def _aspect_sql(dialect: str) -> tuple[str, Callable[[str], str]]:
    """(JOIN producing one row ``a`` per aspect entry, field(name) -> SQL text of that entry's field).

    Why two spellings: the aspects are a JSON array column and each database has its own table function
    for it (SQLite ``json_each``, PostgreSQL ``json_array_elements``); anything but an array reads as none.
    """
    if dialect == "postgresql":
        join = (
            "JOIN LATERAL json_array_elements(CASE WHEN json_typeof(s.aspects) = 'array' "
            "THEN s.aspects ELSE '[]'::json END) AS a(value) ON true"
        )
        return join, lambda name: f"(a.value ->> '{name}')"
    if dialect == "sqlite":
        join = "JOIN json_each(CASE WHEN json_type(s.aspects) = 'array' THEN s.aspects ELSE '[]' END) AS a"
        return join, lambda name: f"json_extract(a.value, '$.{name}')"
    raise DigestError(f"the digest supports SQLite and PostgreSQL, not {dialect}")


def _week_params(target_id: int, week: Week) -> dict[str, Any]:
    return {"tid": target_id, "start": week.start, "end": week.end}


def _typed(stmt: Any) -> Any:
    """Bind the week's instants as DateTime so SQLite compares them in its stored text form."""
    return stmt.bindparams(
        bindparam("start", type_=DateTime()),
        bindparam("end", type_=DateTime()),
        bindparam("tid", type_=Integer()),
        bindparam("polarity", type_=String()),
    )


def top_aspects(
    conn: Connection,
    settings: EarshotSettings,
    target_id: int,
    week: Week,
    polarity: Polarity = "negative",
) -> list[AspectStat]:
    """The week's most frequent aspects read with ``polarity`` (one count per mention), each with its two
    strongest quotes: the worst complaints (or the warmest praise), taken only from mentions whose own
    label is ``polarity`` too."""
    join, field_sql = _aspect_sql(conn.dialect.name)
    aspect, sentiment = field_sql("aspect"), field_sql("sentiment")
    score = (
        f"CAST({field_sql('score')} AS {'DOUBLE PRECISION' if conn.dialect.name == 'postgresql' else 'REAL'})"
    )
    base = (
        f"FROM mentions m JOIN sentiment_scores s ON {_NEWEST_SCORE_SQL} {join} "
        "WHERE m.target_id = :tid AND COALESCE(m.created_at, m.first_seen_at) >= :start "
        f"AND COALESCE(m.created_at, m.first_seen_at) < :end AND {sentiment} = :polarity"
    )
    params = {**_week_params(target_id, week), "polarity": polarity}
    order = "" if polarity == "negative" else " DESC"  # the worst complaints, the warmest praise
    counts = conn.execute(
        _typed(
            text(
                f"SELECT {aspect} AS aspect, COUNT(DISTINCT m.id) AS n {base} "
                f"GROUP BY {aspect} ORDER BY n DESC, aspect LIMIT :k"
            )
        ),
        {**params, "k": settings.digest.top_aspects},
    ).all()
    top = [(str(a), int(n)) for a, n in counts if a]
    if not top:
        return []
    quote_sql = text(
        f"SELECT aspect, mention_id, source, evidence, excerpt, a_score FROM ("
        f"SELECT {aspect} AS aspect, m.id AS mention_id, m.source AS source, "
        f"{field_sql('evidence')} AS evidence, "
        f"SUBSTR(m.text, 1, {_EXCERPT_SQL_CHARS}) AS excerpt, COALESCE({score}, s.score) AS a_score, "
        f"ROW_NUMBER() OVER (PARTITION BY {aspect} ORDER BY COALESCE({score}, s.score){order}, "
        f"s.score{order}, m.id DESC) "
        f"AS rn {base} AND s.label = :polarity AND {aspect} IN :aspects) q WHERE rn <= :per ORDER BY aspect, rn"
    ).bindparams(bindparam("aspects", expanding=True))
    rows = conn.execute(
        _typed(quote_sql),
        {**params, "aspects": [a for a, _ in top], "per": QUOTES_PER_ASPECT},
    ).all()
    quotes: dict[str, list[Quote]] = {a: [] for a, _ in top}
    for name, mention_id, source, evidence, excerpt, a_score in rows:
        words = clean_text(str(evidence or "")).strip() or clean_text(str(excerpt or "")).strip()
        quotes[str(name)].append(
            Quote(
                int(mention_id),
                str(source),
                _clip(words, QUOTE_CHARS),
                None if a_score is None else float(a_score),
                item_url(settings, int(mention_id)),
            )
        )
    return [AspectStat(a, n, quotes[a]) for a, n in top]


def _clip(words: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a word boundary with an ellipsis when it had to be cut."""
    flat = " ".join(words.split())
    if len(flat) <= limit:
        return flat
    cut = flat[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,.;:-") + "…"


# --------------------------------------------------------------------------------------------- urgent items


def urgent_items(conn: Connection, settings: EarshotSettings, target_id: int, week: Week) -> list[UrgentItem]:
    """Critical first, then elevated, then the most negative; each with the status of its alert."""
    when = item_time()
    urgency = col(SentimentScore.urgency)
    rank = case((urgency == "critical", 0), (urgency == "elevated", 1), else_=2)
    stmt = (
        select(
            col(Mention.id),
            col(Mention.source),
            col(Mention.author),
            func.substr(col(Mention.text), 1, _EXCERPT_SQL_CHARS),
            col(Mention.rating),
            when,
            col(Mention.url),
            col(SentimentScore.label),
            col(SentimentScore.score),
            urgency,
            col(SentimentScore.urgency_reasons),
        )
        .select_from(Mention)
        .join(SentimentScore, col(SentimentScore.id) == latest_score_id())
        .where(
            col(Mention.target_id) == target_id,
            when >= week.start,
            when < week.end,
            or_(urgency.in_(list(_URGENCY_RANK)), col(SentimentScore.label) == "negative"),
        )
        .order_by(rank, col(SentimentScore.score), when.desc(), col(Mention.id).desc())
        .limit(settings.digest.top_urgent)
    )
    rows = conn.execute(stmt).all()
    statuses = _alert_statuses(conn, [int(r[0]) for r in rows])
    items = []
    for mid, source, author, excerpt, rating, moment, url, label, score, level, reasons in rows:
        status, assignee, handled_by = statuses.get(int(mid), ("no_alert", None, None))
        items.append(
            UrgentItem(
                mention_id=int(mid),
                source=str(source),
                author=author,
                excerpt=_clip(clean_text(str(excerpt or "")), QUOTE_CHARS),
                rating=None if rating is None else float(rating),
                when=as_utc(moment) or week.start,
                label=str(label),
                score=float(score),
                urgency=str(level),
                reasons=[str(r.get("code", r)) if isinstance(r, dict) else str(r) for r in reasons or []],
                status=status,
                assignee=assignee,
                handled_by=handled_by,
                url=item_url(settings, int(mid)),
                source_url=url,
            )
        )
    return items


def _alert_statuses(
    conn: Connection, mention_ids: list[int]
) -> dict[int, tuple[str, str | None, str | None]]:
    """{mention id: (status, assignee, handled_by)} from its newest mention alert (top-level preferred)."""
    if not mention_ids:
        return {}
    rows = conn.execute(
        select(
            col(Alert.mention_id),
            col(Alert.parent_id),
            col(Alert.status),
            col(Alert.handled_at),
            col(Alert.assignee),
            col(Alert.handled_by),
        )
        .where(col(Alert.mention_id).in_(mention_ids), col(Alert.kind).in_(AlertKind.MENTION_KINDS))
        .order_by(col(Alert.created_at), col(Alert.id))
    ).all()
    found: dict[int, tuple[bool, tuple[str, str | None, str | None]]] = {}
    for raw_mid, parent, status, handled_at, assignee, handled_by in rows:
        mid, top_level = int(raw_mid or 0), parent is None
        if mid in found and found[mid][0] and not top_level:
            continue  # a folded copy never outranks the item's own alert
        if handled_at is not None:
            state = ("handled", assignee, handled_by)
        elif status == "folded":
            state = ("storm", assignee, None)
        elif assignee:
            state = ("assigned", assignee, None)
        else:
            state = ("open", None, None)
        found[mid] = (top_level, state)
    return {mid: state for mid, (_, state) in found.items()}

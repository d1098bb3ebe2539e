"""Agents' sentiment corrections: recorded per mention version, exported as training data.

Why: the shipped model learnt from English movie reviews and tweets; every "wrong sentiment" an agent
clicks is a labelled example from the shop's own customers, the best data there is for the next
fine-tune (``earshot corrections export corrections.csv`` then
``earshot model train --csv corrections.csv --resume``).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import IO, Final

from sqlmodel import Session, col, select

from monitor.core.models import Mention, MentionRevision, SentimentCorrection, SentimentScore

LABELS: Final = ("negative", "neutral", "positive")
EXPORT_COLUMNS: Final = ("text", "label", "mention_id", "mention_version", "source", "lang", "corrected_at")


class CorrectionError(ValueError):
    """A correction that cannot be recorded (unknown mention or label); the message says which."""


def record_correction(
    session: Session, mention_id: int, label: str, corrected_by: str, via: str = "cli"
) -> SentimentCorrection:
    """Store that the current version of ``mention_id`` really is ``label``; returns the new row."""
    label = label.strip().lower()
    if label not in LABELS:
        raise CorrectionError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise CorrectionError(f"no mention with id {mention_id}")
    score = session.exec(
        select(SentimentScore)
        .where(SentimentScore.mention_id == mention_id, SentimentScore.mention_version == mention.version)
        .order_by(col(SentimentScore.id).desc())
    ).first()
    row = SentimentCorrection(
        mention_id=mention_id,
        mention_version=mention.version,
        label=label,
        previous_label=score.label if score else None,
        model_name=score.model_name if score else None,
        model_version=score.model_version if score else None,
        corrected_by=corrected_by[:200],
        via=via[:32],
    )
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class ExportedRow:
    text: str
    label: str
    mention_id: int
    mention_version: int
    source: str
    lang: str | None
    corrected_at: str


def corrections_for_training(session: Session) -> list[ExportedRow]:
    """The latest correction of each mention version, with the text of exactly that version."""
    latest: dict[tuple[int, int], SentimentCorrection] = {}
    for row in session.exec(select(SentimentCorrection).order_by(col(SentimentCorrection.id))):
        latest[(row.mention_id, row.mention_version)] = row
    out = []
    for (mention_id, version), row in sorted(latest.items()):
        mention = session.get(Mention, mention_id)
        if mention is None:
            continue
        text = mention.text
        if version != mention.version:
            revision = session.exec(
                select(MentionRevision).where(
                    MentionRevision.mention_id == mention_id, MentionRevision.version == version
                )
            ).first()
            if revision is None:
                continue
            text = revision.text
        if not text.strip():
            continue  # a rating-only review teaches the text model nothing
        out.append(
            ExportedRow(
                text, row.label, mention_id, version, mention.source, mention.lang, row.created_at.isoformat()
            )
        )
    return out


def export_corrections(session: Session, out: IO[str]) -> int:
    """Write the corrections as CSV (``text,label,...``, the format ``model train --csv`` reads)."""
    rows = corrections_for_training(session)
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for r in rows:
        writer.writerow(
            [r.text, r.label, r.mention_id, r.mention_version, r.source, r.lang or "", r.corrected_at]
        )
    return len(rows)

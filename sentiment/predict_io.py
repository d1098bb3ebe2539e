"""JSON-lines prediction: parse each input line, analyse the good ones in chunks, write results in order.

Plain functions (no command line, no settings) so that ``earshot model predict`` and anything else that
streams texts through the model share one parser: a bad line becomes an ``{"id", "error"}`` record in its
place and never stops the run. Input is ``{"id": ..., "text": ..., "rating": optional, "reach": optional}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from sentiment.analysis import Analyzer, MentionText

__all__ = ["Request", "open_text", "parse_line", "predict_stream"]


@dataclass(frozen=True)
class Request:
    """One input line: either an id + text (and optional rating/reach) to analyse, or an error to report."""

    id: Any
    text: str | None = None
    rating: float | None = None
    reach: int | None = None
    error: str | None = None


def _number(obj: dict[str, Any], key: str, lo: float, hi: float) -> float | None:
    """An optional numeric field; raises ValueError with the user-facing reason when it is unusable."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise ValueError(f"'{key}' must be a number from {lo:g} to {hi:g} or null, not {value!r}")
    return float(value)


def parse_line(line: str, lineno: int) -> Request:
    """Parse one JSONL line ``{"id", "text", "rating"?, "reach"?}``; never raises."""
    try:
        obj = json.loads(line)
    except ValueError as exc:
        return Request(None, error=f"line {lineno}: invalid JSON ({exc})")
    except RecursionError:
        return Request(
            None, error=f"line {lineno}: JSON nested too deeply to read (one flat object per line)"
        )
    if not isinstance(obj, dict):
        return Request(None, error=f"line {lineno}: expected a JSON object with 'id' and 'text'")
    text = obj.get("text")
    if not isinstance(text, str):
        return Request(obj.get("id"), error=f"line {lineno}: 'text' must be a string")
    try:
        rating = _number(obj, "rating", 0, 5)
        reach = _number(obj, "reach", 0, 1e12)
    except ValueError as exc:
        return Request(obj.get("id"), error=f"line {lineno}: {exc}")
    return Request(obj.get("id"), text=text, rating=rating, reach=None if reach is None else int(reach))


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[Request]]:
    chunk: list[Request] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        chunk.append(parse_line(line, lineno))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def predict_stream(analyzer: Analyzer, lines: Iterable[str], out: IO[str], chunk_size: int = 256) -> int:
    """Analyse JSONL requests chunk by chunk, writing results in input order; returns the number of errors."""
    errors = 0
    for chunk in _chunks(lines, chunk_size):
        valid = [r for r in chunk if r.error is None]
        results = iter(
            analyzer.analyze([MentionText(r.text or "", rating=r.rating, reach=r.reach) for r in valid])
        )
        for req in chunk:
            if req.error is not None:
                errors += 1
                record: dict[str, Any] = {"id": req.id, "error": req.error}
            else:
                record = {"id": req.id, **next(results).to_dict()}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return errors


def open_text(path: str, mode: str) -> IO[str]:
    """Text file for JSONL; undecodable input bytes become U+FFFD instead of aborting the run."""
    return open(path, mode, encoding="utf-8", errors="replace")

"""The names a digest gives things outside itself: a target's slug, an item's page, a report's page.

One copy of each, because the same slug names the report's folder on disk and its URL, and the same item
link appears in the Slack alert, the HTML report and the JSON; if they drifted, links would break.
"""

from __future__ import annotations

import re
import unicodedata

from monitor.core.config import EarshotSettings

__all__ = ["item_url", "report_url", "target_slug"]


def target_slug(name: str) -> str:
    """A URL- and file-safe form of a target name: ``Sklep Łódź & Co`` -> ``sklep-lodz-co``."""
    folded = unicodedata.normalize("NFKD", name.replace("ł", "l").replace("Ł", "L"))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii").lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")[:80].strip("-")
    if not slug:
        # A name with no Latin letters at all still needs a stable, distinct path.
        slug = "target-" + name.encode("utf-8").hex()[:16]
    return slug


def item_url(settings: EarshotSettings, mention_id: int) -> str:
    """The item page: the link the Slack alert carries and the digest points to."""
    return f"{settings.public_url.rstrip('/')}/items/{mention_id}"


def report_url(settings: EarshotSettings, target: str, week_iso: str) -> str:
    """Where the web app serves the report of ``target`` for ``week_iso``."""
    return f"{settings.public_url.rstrip('/')}/digests/{target_slug(target)}/{week_iso}"

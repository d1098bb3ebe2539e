"""Earshot's own Scrapy signals (sent with ``crawler.signals.send_catch_log``)."""

from __future__ import annotations

# Sent by a spider when it has read everything new in one watermark scope (e.g. one GBP location)
# without an error. Arguments: source (str), scope (str), watermark (aware UTC datetime, the newest
# update time seen), expected (int, how many MentionItems it yielded for the scope in this run).
scope_completed = object()

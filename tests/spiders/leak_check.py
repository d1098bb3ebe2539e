"""The check crawl tests end with: a credential never reaches the crawl's log or the stored rows."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.core.db import make_engine

STORED_TABLES = ("crawl_runs", "mentions", "mention_revisions", "watermarks")


def assert_no_leak(db_url: str, secrets: Sequence[str], *logs: str) -> None:
    """Fail when any of ``secrets`` appears in ``logs`` or in any row of the tables a crawl writes."""
    for secret in secrets:
        assert all(secret not in log for log in logs), "a secret reached the crawl log"
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            for table in STORED_TABLES:
                dump = " ".join(str(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table}"))
                assert not any(secret in dump for secret in secrets), table
    finally:
        engine.dispose()

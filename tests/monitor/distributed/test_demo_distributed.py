"""`earshot demo --distributed` for real: the bundled model, two workers, RabbitMQ and PostgreSQL on loopback.

Run as a user runs it (a subprocess of the installed CLI); its last line is its verdict, computed from
the database and from what the workers printed, and this test holds it to the invariants.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_URL, _require_postgres
from tests.monitor.distributed.conftest import BROKER, _require_rabbitmq

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.model]

LAST = re.compile(
    r"^distributed: workers=(?P<workers>\d+) mentions=(?P<mentions>\d+) scored=(?P<scored>\d+) "
    r"alerts=(?P<alerts>\d+) duplicates=(?P<duplicates>\d+) lost=(?P<lost>\d+)$"
)


def test_distributed_demo_prints_its_invariants() -> None:
    _require_postgres()
    _require_rabbitmq()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARSHOT_")}
    env |= {"EARSHOT_DISTRIBUTED__BROKER_URL": BROKER, "EARSHOT_DATABASE_URL": POSTGRES_URL}
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "demo", "--distributed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    schema = re.search(r"\(schema (earshot_demo_[0-9a-f]+)\)", proc.stdout)
    try:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        last = LAST.match(proc.stdout.strip().splitlines()[-1])
        assert last is not None, proc.stdout[-2000:]
        n = {k: int(v) for k, v in last.groupdict().items()}
        assert n["workers"] == 2
        assert n["mentions"] > 0 and n["scored"] == n["mentions"]
        assert n["alerts"] > 0
        assert (n["duplicates"], n["lost"]) == (0, 0)
        # Every alert a worker printed is shown once, and the summary lists the same acts as `earshot demo`.
        shown = re.findall(r"^--- Earshot alert #(\d+) for ", proc.stdout, re.MULTILINE)
        assert shown and len(shown) == len(set(shown))
        for act in ("act 1", "act 2", "+2 h", "+3 h"):
            assert f"alerts ({act}):" in proc.stdout
        assert "alerts by kind:" in proc.stdout and "storm_subsided=1" in proc.stdout
    finally:
        if schema is not None:
            admin = create_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema.group(1)}" CASCADE'))
            admin.dispose()

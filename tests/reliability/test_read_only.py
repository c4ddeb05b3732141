"""End to end, the sidecar only reads: a full ``sidecar check`` of
sidecar/examples/backend/good (every check, its own alembic.ini) and two daemon cycles (the
second reuses the drift result) against a PostgreSQL database migrated to 0001, with
``log_statement=all``. Every statement
its sessions (application_name ``sidecar-healthcheck``) sent is a read, none is a COMMIT,
and the session reports ``transaction_read_only``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.reliability.conftest import FAST, app_url, new_database
from tests.support.helpers import EXAMPLES, ROOT, run_cli

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

GOOD = EXAMPLES / "good"
# psycopg2's dialect start-up and the checks: reads, and the transaction around them
ALLOWED = ("SELECT", "WITH", "SHOW", "BEGIN", "ROLLBACK", "SAVEPOINT", "RELEASE")
LOGGED = re.compile(r"app=(?P<app>\S*) db=(?P<db>\S*) user=\S* LOG:  "
                    r"(?:statement|execute [^:]*): (?P<sql>.*)", re.S)
ENTRY = re.compile(r"^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", re.M)


def statements(log: str, dbname: str, app: str = "sidecar-healthcheck") -> list[str]:
    found = []
    for entry in ENTRY.split(log):
        m = LOGGED.search(entry)
        if m and m["db"] == dbname and m["app"] == app:
            found.append(" ".join(m["sql"].split()))
    return found


def test_full_cli_and_daemon_runs_send_only_reads(pg, daemon):
    dbname = new_database(pg, schema="")
    url = app_url(pg, dbname)
    # the test's own writes: Alembic as the app role, under its own application_name
    migrate = subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(GOOD / "alembic.ini"), "upgrade", "0001"],
        env={**os.environ, "DATABASE_URL": url + "?application_name=test-migrate",
             "PYTHONPATH": str(GOOD)}, cwd=str(GOOD), capture_output=True, text=True,
        timeout=60)
    assert migrate.returncode == 0, migrate.stderr
    assert "CREATE TABLE" in " ".join(statements(pg.log_text(), dbname, "test-migrate"))

    args = ["--app-path", str(GOOD), "--models", "server.models_sql", "--models",
            "server.models_plain", "--alembic-ini", str(GOOD / "alembic.ini"),
            "--database-url", url]
    result = run_cli("check", *args, "--format", "json", "--timeout", "30", cwd=ROOT)
    report = result.report
    ran = {c["name"]: c["status"] for c in report["checks"]}
    # every check ran, but the opt-in one (the app factory: not given here)
    assert all(c["reason"].startswith("opt-in:") for c in report["checks"]
               if c["status"] == "skip"), ran
    assert result.check("database")["observed"]["read_only"] is True
    assert result.check("migrations")["findings"][0]["code"] == "MIG301"  # 0001 < head 0002

    d = daemon(*args, *FAST)
    d.wait_for(lambda: d.metrics().get("sidecar_cycles_total", 0) >= 2, 30, "two cycles")
    assert d.report()["checks"][2]["observed"]["read_only"] is True
    d.stop_and_check()

    deadline = time.monotonic() + 5
    sent: list[str] = []
    while time.monotonic() < deadline:  # the server writes its log asynchronously
        sent = statements(pg.log_text(), dbname)
        if len(sent) > 60:
            break
        time.sleep(0.1)
    assert len(sent) > 60, f"too few statements logged: {len(sent)}"
    writes = [s for s in sent if not s.upper().startswith(ALLOWED)]
    assert writes == [], writes
    assert not any(s.upper().startswith(("COMMIT", "END")) for s in sent)
    # the reads reached every check: the server facts, Alembic's version table, reflection
    text = " ".join(sent)
    for needle in ("transaction_read_only", "alembic_version", "pg_catalog.pg_class"):
        assert needle in text, needle

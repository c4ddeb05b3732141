"""Async URLs as the app has them: asyncpg and psycopg's async mode through SQLAlchemy's
greenlet bridge (checks/database/bridge.py), aiosqlite through sqlite3, and an async app
whose environment has only its async driver, checked end to end with the real CLI."""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest
import sqlalchemy as sa

from sidecar.worker.checks.database import check as database
from sidecar.worker.checks.database.bridge import run_on_database
from sidecar.worker.checks.drift import check as drift
from tests.conftest import _make_venv
from tests.db.db_helpers import APP_PASSWORD, assert_secret_free, codes, incident_models, only
from tests.support.helpers import FIXTURES, run_cli

pytestmark = pytest.mark.postgres

INCIDENT_BEFORE = ("CREATE TABLE security_events (id integer PRIMARY KEY, kind varchar(40), "
                   "metadata json)")
RENAME_SQL = "ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata"



def bridged(run, check):
    """A check as the worker runs it (worker/main.py's _run_check), secret-free."""
    outcome = run_on_database(run.ctx, lambda: check(run.ctx))
    assert_secret_free(outcome, run.phases)
    return outcome


@pytest.mark.parametrize("driver, name", [("asyncpg", "asyncpg"), ("psycopg_async", "psycopg")])
def test_async_postgres_driver_is_read_only_with_timeouts(pgdb, make_run, driver, name):
    db = pgdb()
    run = make_run(db.url(driver=driver), statement_timeout_ms=1500, lock_timeout_ms=700)
    out = bridged(run, database.run_database)
    assert out["findings"] == []
    obs = out["observed"]
    assert obs["driver"] == name and "greenlet" in obs["async_driver"]
    assert obs["read_only"] is True
    assert obs["statement_timeout"] == "1500ms" and obs["lock_timeout"] == "700ms"

    def write() -> None:
        with database.read_only_connection(run.ctx.engine) as conn:
            conn.exec_driver_sql("CREATE TABLE nope (id int)")

    with pytest.raises(sa.exc.DBAPIError, match="read-only transaction"):
        run.ctx.async_bridge.run(write)


def test_asyncpg_finds_the_incident_rename_with_the_exact_sql(pgdb, make_run):
    db = pgdb(INCIDENT_BEFORE)
    run = make_run(db.url(driver="asyncpg"), incident_models())
    assert bridged(run, database.run_database)["findings"] == []
    out = bridged(run, drift.run_schema_drift)
    assert codes(out) == ["DRIFT414"]
    assert out["findings"][0]["fix_sql"] == RENAME_SQL
    # the resident worker's re-check: the same loop, the fingerprint, no reflection
    run.ctx.previous_cache = out["cache"]
    again = bridged(run, drift.run_schema_drift)
    assert again["observed"]["reused"] is True and codes(again) == ["DRIFT414"]


@pytest.mark.parametrize("url, code, reason", [
    ("port", "DB201", "refused"),
    ("database", "DB205", "database"),
    ("password", "DB204", "password"),
])
def test_asyncpg_failures_are_told_apart_and_never_show_the_password(pg, pgdb, make_run,
                                                                     url, code, reason):
    from tests.support.pgcluster import free_port

    db = pgdb()
    wrong = "Wr0ng-async-Pa55"
    target = {"port": db.url(driver="asyncpg", port=free_port()),
              "database": pg.url("no_such_db", "app", APP_PASSWORD, driver="asyncpg"),
              "password": db.url(driver="asyncpg", password=wrong)}[url]
    run = make_run(target)
    out = run_on_database(run.ctx, lambda: database.run_database(run.ctx))
    assert_secret_free(out, run.phases, password=wrong if url == "password" else APP_PASSWORD)
    assert_secret_free(out, run.phases)
    f = only(out, code)
    assert f["facts"]["reason"] == reason
    assert f["exception"].startswith(("asyncpg.", "ConnectionRefusedError", "OSError"))


def test_asyncpg_connect_timeout(make_run):
    import socket

    with socket.socket() as silent:  # accepts, never answers the startup packet
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        run = make_run(f"postgresql+asyncpg://app:x@127.0.0.1:{port}/x", connect_timeout_s=1)
        out = bridged(run, database.run_database)
    assert only(out, "DB203")["facts"]["reason"] == "timeout"


def test_async_url_without_greenlet_is_db206(pgdb, make_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "greenlet", None)  # import greenlet -> ImportError
    run = make_run(pgdb().url(driver="asyncpg"))
    out = bridged(run, database.run_database)
    f = only(out, "DB206")
    assert f["facts"]["package"] == "greenlet"
    assert run.ctx.async_bridge is None and run.ctx.engine is None


def test_aiosqlite_opens_the_file_read_only_through_sqlite3(tmp_path, make_run):
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as conn:
        conn.execute(INCIDENT_BEFORE)
    run = make_run(f"sqlite+aiosqlite:///{path}", incident_models())
    out = bridged(run, database.run_database)
    assert out["findings"] == []
    obs = out["observed"]
    assert (obs["driver"], obs["app_driver"], obs["read_only"]) == ("pysqlite", "aiosqlite",
                                                                     True)
    assert run.ctx.async_bridge is None  # nothing to bridge: sqlite3 is synchronous
    out = bridged(run, drift.run_schema_drift)
    assert codes(out) == ["DRIFT414"] and out["findings"][0]["fix_sql"] == RENAME_SQL


# --- end to end: an async app whose environment has only its async driver -----------------


@pytest.fixture(scope="module")
def async_only_python() -> str:
    return _make_venv("async_only")


def test_async_only_environment_checked_end_to_end(async_only_python, pgdb, tmp_path):
    import subprocess

    has = subprocess.run([async_only_python, "-c", "import psycopg2"], capture_output=True)
    assert has.returncode != 0, "the async-only venv must not have a sync PostgreSQL driver"
    db = pgdb(INCIDENT_BEFORE)
    sqlite_path = tmp_path / "app.db"
    with sqlite3.connect(sqlite_path) as conn:
        conn.execute(INCIDENT_BEFORE)
    for url, driver in ((db.url(driver="asyncpg"), "asyncpg"),
                        (f"sqlite+aiosqlite:///{sqlite_path}", "pysqlite")):
        res = run_cli("check", "--app-path", str(FIXTURES / "async_app"), "--models",
                      "app.models", "--python", async_only_python, "--format", "json",
                      "--database-url", url, "--timeout", "60", env={"DATABASE_URL": url},
                      timeout=120)
        assert APP_PASSWORD not in res.stdout + res.stderr
        report = json.loads(res.stdout)
        checks = {c["name"]: c for c in report["checks"]}
        assert checks["database"]["findings"] == [], checks["database"]
        assert checks["database"]["observed"]["driver"] == driver
        found = [f for f in checks["schema_drift"]["findings"] if f["code"] == "DRIFT414"]
        assert [f["fix_sql"] for f in found] == [RENAME_SQL], checks["schema_drift"]
        assert res.returncode != 0 and report["status"] == "fail"


def test_resident_worker_serves_later_cycles_on_the_same_event_loop(async_only_python, pgdb):
    """One worker, several cycles through asyncpg: each cycle connects on the bridge's loop
    and disposes the pool on it (no pinned connection); the drift re-check is reused. (A
    failing cycle would bring a fresh worker: the database is in sync here.)"""
    import asyncio

    from sidecar.cycle.diagnosis import cycle
    from sidecar.cycle.resident import ResidentPool
    from sidecar.settings import Settings

    db = pgdb("CREATE TABLE security_events (id integer PRIMARY KEY, "
              "kind varchar(40) NOT NULL, event_metadata json)")
    url = db.url(driver="asyncpg")
    settings = Settings(app_path=FIXTURES / "async_app", models=("app.models",),
                        database_url=url, python=async_only_python, recycle_after=10)

    async def cycles() -> list:
        pool = ResidentPool(settings.recycle_after)
        caches: dict = {}
        out = []
        try:
            for _ in range(3):
                report, run = await cycle(settings, extra_config={"cache": dict(caches)},
                                          pool=pool)
                caches.update(run.caches)
                out.append((report, run))
        finally:
            await pool.close()
        return out

    runs = asyncio.run(cycles())
    assert len({run.hello["pid"] for _, run in runs}) == 1, "one resident worker"
    for report, _ in runs:
        drift_check = next(c for c in report.checks if c.name == "schema_drift")
        assert report.status == "pass", [(c.name, c.findings) for c in report.checks]
        assert drift_check.observed["verdict"] == "in_sync"
    last_drift = next(c for c in runs[-1][0].checks if c.name == "schema_drift")
    assert last_drift.observed["reused"] is True
    assert APP_PASSWORD not in json.dumps([r.to_dict() for r, _ in runs], default=str)

"""Several databases: --database-url NAME=URL (SIDECAR_DATABASE_URLS) for Flask-SQLAlchemy
binds. Each further database's checks report as <check>:<name>; its tables are not compared
with the default database (where they would be "missing"), and without its URL they are a
DRIFT425 warning, never a pass."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sidecar.daemon.metrics import exposition
from sidecar.daemon.state import DaemonState, ReadinessPolicy
from sidecar.findings.model import CheckResult, Finding, Report
from sidecar.settings import ConfigError, Settings, add_options, resolve
from tests.support.helpers import FIXTURES, check_fixture

FIXTURE = "flask_binds"


@pytest.fixture
def databases(tmp_path: Path) -> dict[str, Path]:
    main, analytics = tmp_path / "main.db", tmp_path / "analytics.db"
    with sqlite3.connect(main) as conn:
        conn.execute("CREATE TABLE users (id INTEGER NOT NULL PRIMARY KEY, "
                     "email VARCHAR(200) NOT NULL)")
    with sqlite3.connect(analytics) as conn:  # before the rename of url to path
        conn.execute("CREATE TABLE page_views (id INTEGER NOT NULL PRIMARY KEY, "
                     "url VARCHAR(500) NOT NULL, user_id INTEGER)")
    return {"main": main, "analytics": analytics}


def _checks(result) -> dict[str, dict]:
    return {c["name"]: c for c in result.report["checks"]}


def test_the_drifted_bind_is_not_ready_by_name_the_other_passes(databases):
    result = check_fixture(FIXTURE, "--database-url", f"sqlite:///{databases['main']}",
                           "--database-url", f"analytics=sqlite:///{databases['analytics']}")
    checks = _checks(result)
    assert result.returncode == 1
    assert [n for n in checks if ":" in n] == ["database:analytics", "migrations:analytics",
                                                "schema_drift:analytics"]
    assert checks["database"]["status"] == "pass"
    assert checks["schema_drift"]["status"] == "pass", checks["schema_drift"]
    assert checks["database:analytics"]["status"] == "pass"
    drifted = checks["schema_drift:analytics"]
    assert drifted["status"] == "fail"
    assert [(f["code"], f["fix_sql"]) for f in drifted["findings"]] == \
        [("DRIFT414", "ALTER TABLE page_views RENAME COLUMN url TO path")]
    assert "schema_drift:analytics" in result.stdout  # the text names the bind too


def test_the_variable_lists_further_databases(databases):
    result = check_fixture(FIXTURE, env={
        "DATABASE_URL": f"sqlite:///{databases['main']}",
        "SIDECAR_DATABASE_URLS": f"analytics=sqlite:///{databases['analytics']}"})
    assert _checks(result)["schema_drift:analytics"]["status"] == "fail"


def test_without_the_binds_url_its_tables_are_a_warning_not_missing(databases):
    result = check_fixture(FIXTURE, "--database-url", f"sqlite:///{databases['main']}")
    drift = _checks(result)["schema_drift"]
    assert [f["code"] for f in drift["findings"]] == ["DRIFT425"]
    f = drift["findings"][0]
    assert (f["severity"], f["facts"]["bind"], f["facts"]["tables"]) == \
        ("warning", "analytics", ["page_views"])
    assert "--database-url analytics=<URL>" in f["hint"]
    assert drift["status"] == "warn"  # it could not compare everything: never a pass


def _resolve(*argv: str, env: dict[str, str] | None = None) -> Settings:
    import argparse

    parser = argparse.ArgumentParser()
    add_options(parser, "check")
    args = parser.parse_args(["--app-path", str(FIXTURES / FIXTURE), "--models", "app.models",
                              *argv])
    args.command = "check"
    return resolve(args, env or {})


def test_settings_named_and_default_urls():
    s = _resolve("--database-url", "analytics=sqlite:///a.db", "--database-url",
                 "postgresql://app:pw@db/app", "--database-url", "audit=")
    assert s.database_url == "postgresql://app:pw@db/app"
    assert s.database_binds == (("analytics", "sqlite:///a.db"), ("audit", ""))
    assert s.worker_config()["database_binds"] == {"analytics": "sqlite:///a.db", "audit": ""}
    # only named flags: the default database's URL still comes from the variable
    s = _resolve("--database-url", "analytics=sqlite:///a.db",
                 env={"DATABASE_URL": "sqlite:///main.db"})
    assert (s.database_url, s.database_binds) == ("sqlite:///main.db",
                                                  (("analytics", "sqlite:///a.db"),))
    s = _resolve(env={"DATABASE_URL": "sqlite:///m.db",
                      "SIDECAR_DATABASE_URLS": "a=sqlite:///a.db\n  b=sqlite:///b.db"})
    assert s.database_binds == (("a", "sqlite:///a.db"), ("b", "sqlite:///b.db"))


@pytest.mark.parametrize("argv, env, words", [
    (["--database-url", "sqlite:///a.db", "--database-url", "sqlite:///b.db"], {},
     "two URLs without a NAME="),
    (["--database-url", "a=sqlite:///a.db", "--database-url", "a=sqlite:///b.db"], {},
     "given twice"),
    ([], {"SIDECAR_DATABASE_URLS": "sqlite:///a.db"}, "expected NAME=URL"),
])
def test_settings_refuse_ambiguous_urls(argv, env, words):
    with pytest.raises(ConfigError, match=words):
        _resolve(*argv, env=env)


def test_readiness_gates_and_metrics_name_the_bind():
    bad = CheckResult("schema_drift:analytics", "fail", 0.1,
                      (Finding("DRIFT414", "error", "t", "m", facts={"kind": "rename"}),))
    report = Report(status="fail", checks=(CheckResult("schema_drift", "pass", 0.1), bad),
                    started_at="2026-01-01T00:00:00+00:00", duration_s=0.2)
    # --ready-check schema_drift gates every database's drift check
    state = DaemonState(ReadinessPolicy(checks=("schema_drift",)))
    assert state.record(report, "ok")[1] is False
    text = exposition(state).decode()
    assert 'sidecar_check_status{check="schema_drift:analytics",status="fail"} 1.0' in text
    assert 'sidecar_findings{check="schema_drift:analytics",code="DRIFT414",' in text
    assert 'sidecar_schema_drift_objects{kind="rename"} 1.0' in text

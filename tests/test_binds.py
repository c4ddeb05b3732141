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


def test_settings_take_the_first_set_variable_and_keep_an_unexpanded_bind():
    s = _resolve("--database-url", "analytics=${ANALYTICS_URL}",
                 env={"SIDECAR_DATABASE_URL": "", "DATABASE_URL": "sqlite:///main.db"})
    assert (s.database_url, s.database_binds) == ("sqlite:///main.db",
                                                  (("analytics", "${ANALYTICS_URL}"),))


def test_a_bind_context_lives_across_cycles_and_closes_with_the_run(tmp_path):
    """A resident worker's cycles reuse one context per bind: no engine or cleanup piles up
    (with or without --keep-connection), and the run's cleanup closes it."""
    from sidecar.worker.checks.database import check as database
    from sidecar.worker.context import Context

    for name in ("a.db", "b.db"):
        sqlite3.connect(tmp_path / name).execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    ctx = Context({"app_path": str(tmp_path), "database_url": f"sqlite:///{tmp_path}/a.db"},
                  lambda _: None)
    for keep in (True, False):
        engines = []  # held, so a closed engine's id() is never reused by the next one
        for _ in range(4):
            ctx.start_cycle(keep_connection=keep)
            bound = ctx.for_bind("b", f"sqlite:///{tmp_path}/b.db")
            assert ctx.for_bind("b", f"sqlite:///{tmp_path}/b.db") is bound
            database.run_database(bound)
            engines.append(bound.engine)
            assert len(bound._cleanups) == 1
        assert len({id(e) for e in engines}) == (1 if keep else 4)
    ctx.cleanup()
    assert bound.engine is None and bound._cleanups == []


def test_a_fault_in_a_binds_check_is_blamed_on_that_check():
    import datetime

    from sidecar.cycle.diagnosis import build_report
    from sidecar.cycle.runner import WorkerRun
    from sidecar.worker import protocol

    events = [{"event": protocol.HELLO, "protocol": protocol.PROTOCOL_VERSION,
               "versions": {"python": "3.11", "sqlalchemy": "2.1.9"}}]
    for name in ("models_import", "mappers", "database", "migrations", "schema_drift",
                 "database:analytics", "migrations:analytics"):
        events.append({"event": protocol.CHECK, "result": protocol.check_result(name)})
    events.append({"event": protocol.PHASE, "check": "schema_drift:analytics",
                   "detail": "comparing the models with the sqlite schema"})
    run = WorkerRun(outcome="timeout", returncode=None, duration_s=30.0, events=events)
    settings = Settings(app_path=FIXTURES / FIXTURE, models=("app.models",),
                        database_url="sqlite://", database_binds=(("analytics", "sqlite://"),))
    report = build_report(settings, run, datetime.datetime.now(datetime.timezone.utc), 30.0)
    status = {c.name: (c.status, [f.code for f in c.findings]) for c in report.checks}
    assert status["schema_drift:analytics"] == ("fail", ["SIDE001"])
    assert status["models_import"] == ("pass", [])
    names = list(status)  # right after its own check's result (other checks may follow)
    assert names.index("schema_drift:analytics") == names.index("schema_drift") + 1


def test_explicit_bind_for_an_app_without_bind_keys(databases):
    """--bind NAME=module:attribute: one declarative base per database."""
    result = check_fixture("two_bases_binds", "--database-url",
                           f"sqlite:///{databases['main']}", "--database-url",
                           f"analytics=sqlite:///{databases['analytics']}",
                           "--bind", "analytics=app.models:AnalyticsBase")
    checks = _checks(result)
    assert checks["schema_drift"]["status"] == "pass", checks["schema_drift"]
    assert [f["code"] for f in checks["schema_drift:analytics"]["findings"]] == ["DRIFT414"]
    assert result.returncode == 1


def test_a_bind_target_that_is_not_there_is_said(databases):
    result = check_fixture("two_bases_binds", "--database-url",
                           f"sqlite:///{databases['main']}",
                           "--bind", "analytics=app.nowhere:Base")
    drift = _checks(result)["schema_drift"]
    f = next(f for f in drift["findings"] if f["code"] == "DRIFT426")
    assert f["facts"]["reason"] == "module app.nowhere was not imported by --models"
    assert f["severity"] == "warning"


@pytest.mark.parametrize("value", ["analytics", "analytics=app.models", "=app.models:Base"])
def test_a_malformed_bind_is_a_usage_error(value):
    with pytest.raises(ConfigError, match="expected NAME=module:attribute"):
        _resolve("--bind", value)


def test_a_database_shared_by_binds_holds_their_tables_without_extra_findings(databases):
    """Binds pointing at one database (a common setup): the default comparison does not
    call the other bind's tables extra."""
    with sqlite3.connect(databases["main"]) as conn:
        conn.execute("CREATE TABLE page_views (id INTEGER NOT NULL PRIMARY KEY, "
                     "path VARCHAR(500) NOT NULL, user_id INTEGER)")
    shared = f"sqlite:///{databases['main']}"
    result = check_fixture(FIXTURE, "--database-url", shared, "--database-url",
                           f"analytics={shared}")
    checks = _checks(result)
    assert checks["schema_drift"]["findings"] == []
    assert checks["schema_drift:analytics"]["findings"] == []
    assert result.returncode == 0


# --- each database's migrations: --alembic-ini NAME=PATH -----------------------------------

def test_settings_named_alembic_configs():
    s = _resolve("--database-url", "sqlite:///m.db", "--database-url", "analytics=sqlite:///a.db",
                 "--alembic-ini", "analytics=analytics/alembic.ini",
                 env={"SIDECAR_ALEMBIC_INI": "alembic.ini"})
    # only a named flag: the default config still comes from its variable
    assert (s.alembic_ini, s.alembic_binds) == ("alembic.ini",
                                                (("analytics", "analytics/alembic.ini"),))
    assert s.worker_config()["alembic_binds"] == {"analytics": "analytics/alembic.ini"}
    s = _resolve("--database-url", "sqlite:///m.db", "--database-url", "a=sqlite:///a.db",
                 env={"SIDECAR_ALEMBIC_INIS": "a=migrations/a.ini"})
    assert (s.alembic_ini, s.alembic_binds) == (None, (("a", "migrations/a.ini"),))
    assert _resolve("--alembic-ini", "alembic.ini").alembic_ini == "alembic.ini"
    assert _resolve("--alembic-ini", "./env=prod/alembic.ini").alembic_ini == \
        "./env=prod/alembic.ini"
    # a flag wins over the variable's entry of the same name (URLs and configs alike)
    s = _resolve("--database-url", "sqlite:///m.db", "--database-url", "a=sqlite:///flag.db",
                 "--alembic-ini", "a=flag.ini",
                 env={"SIDECAR_DATABASE_URLS": "a=sqlite:///env.db b=sqlite:///b.db",
                      "SIDECAR_ALEMBIC_INIS": "a=env.ini"})
    assert s.database_binds == (("a", "sqlite:///flag.db"), ("b", "sqlite:///b.db"))
    assert s.alembic_binds == (("a", "flag.ini"),)


@pytest.mark.parametrize("argv, env, words", [
    (["--alembic-ini", "analytics=a.ini"], {}, "no database is named 'analytics'"),
    (["--database-url", "analytics=sqlite:///a.db", "--alembic-ini", "analytics="], {},
     "names no Alembic config"),
    (["--alembic-ini", "a.ini", "--alembic-ini", "b.ini"], {}, "two PATHs without a NAME="),
    ([], {"SIDECAR_ALEMBIC_INIS": "a.ini"}, "expected NAME=PATH"),
])
def test_settings_refuse_ambiguous_alembic_configs(argv, env, words):
    with pytest.raises(ConfigError, match=words):
        _resolve(*argv, env=env)


MULTIDB_ENV = '''\
raise AssertionError("env.py must never run")
from flask import current_app
bind_names = list(current_app.config["SQLALCHEMY_BINDS"].keys())
'''


def _revision(folder: Path, rev: str, down: str | None, message: str) -> None:
    (folder / f"{rev}.py").write_text(
        f'"""{message}"""\nrevision = {rev!r}\ndown_revision = {down!r}\n'
        "branch_labels = None\ndepends_on = None\n\n\ndef upgrade(engine_name=''):\n"
        "    raise AssertionError('never run')\n")


def _stamp(path: Path, revision: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS alembic_version "
                     "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES (?)", (revision,))


def test_a_multidb_app_whose_bind_is_behind_is_not_ready_by_name(databases, tmp_path):
    """Flask-Migrate's multidb layout, the real CLI: the default database at head passes,
    the bind one revision behind is MIG301 as migrations:analytics, with flask db upgrade."""
    import shutil

    from tests.support.helpers import run_cli

    app = tmp_path / "app_root"
    shutil.copytree(FIXTURES / FIXTURE, app)
    migrations = app / "migrations"
    (migrations / "versions").mkdir(parents=True)
    (migrations / "env.py").write_text(MULTIDB_ENV)
    (migrations / "alembic.ini").write_text("[alembic]\n")
    _revision(migrations / "versions", "aa01", None, "users and page_views")
    _revision(migrations / "versions", "aa02", "aa01", "rename page_views.url to path")
    _stamp(databases["main"], "aa02")
    _stamp(databases["analytics"], "aa01")
    result = run_cli("check", "--app-path", str(app), "--models", "app.models", "--format",
                     "json", "--database-url", f"sqlite:///{databases['main']}",
                     "--database-url", f"analytics=sqlite:///{databases['analytics']}",
                     timeout=60)
    checks = _checks(result)
    assert checks["migrations"]["status"] == "pass", checks["migrations"]
    behind = checks["migrations:analytics"]
    assert behind["status"] == "fail"
    (f,) = behind["findings"]
    assert f["code"] == "MIG301" and f["facts"]["count"] == "1"
    assert "db upgrade" in f["hint"] and "'analytics' among them" in f["hint"]
    assert result.returncode == 1


def test_a_bind_with_migrations_of_its_own_through_the_cli(databases, tmp_path):
    """--alembic-ini analytics=PATH reaches the worker: the bind is compared with its own
    scripts (at head), the default database with the app's (no config: skipped)."""
    import shutil

    from tests.support.helpers import run_cli

    app = tmp_path / "app_root"
    shutil.copytree(FIXTURES / FIXTURE, app)
    own = tmp_path / "analytics_migrations"
    (own / "scripts" / "versions").mkdir(parents=True)
    (own / "scripts" / "env.py").write_text("raise AssertionError('never run')\n")
    (own / "analytics.ini").write_text("[alembic]\nscript_location = scripts\n")
    _revision(own / "scripts" / "versions", "bb01", None, "page_views")
    _stamp(databases["analytics"], "bb01")
    result = run_cli("check", "--app-path", str(app), "--models", "app.models", "--format",
                     "json", "--database-url", f"sqlite:///{databases['main']}",
                     "--database-url", f"analytics=sqlite:///{databases['analytics']}",
                     "--alembic-ini", f"analytics={own / 'analytics.ini'}", timeout=60)
    checks = _checks(result)
    assert checks["migrations"]["status"] == "skip"
    own_check = checks["migrations:analytics"]
    assert own_check["status"] == "pass", own_check
    assert own_check["observed"]["heads"] == ["bb01"]
    assert "its own Alembic config" in own_check["observed"]["bind_migrated"]

"""Issue 10, items 2 and 3: several MetaData compared honestly, what a comparison covered,
and a comparison of nothing that is never "in sync" — on real SQLite files and the suite's
PostgreSQL cluster, through ``sidecar check`` on fixture apps and in-process."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from sidecar.render.text import coverage_line
from sidecar.worker.checks.drift import check as drift
from tests.db.db_helpers import assert_required_facts, assert_secret_free, codes, only
from tests.db.drift_apps import check_app, create_all, drift_codes
from tests.support.helpers import FIXTURES, marked_line, run_cli

DAGSTER = "drift_multi_metadata"
DAGSTER_MDS = ("[models.runs.RunStorageSqlMetadata, models.events.SqlEventLogStorageMetadata,"
               " models.schedules.ScheduleStorageSqlMetadata]")
RENAME = "ALTER TABLE event_logs RENAME COLUMN dagster_event_type TO event_type"


def run_drift(run, **config):
    run.ctx.config.update(config)
    out = drift.run_schema_drift(run.ctx)
    assert_secret_free(out, run.phases)
    assert_required_facts(out["findings"])
    return out


def _assert_dagster_rename(result) -> None:
    assert result.returncode == 1, result.stdout
    drift_check = result.check("schema_drift")
    assert drift_codes(result) == ["DRIFT414"], drift_check["findings"]
    rename = drift_check["findings"][0]
    assert (rename["table"], rename["column"]) == ("event_logs", "dagster_event_type")
    assert rename["fix_sql"] == \
        "ALTER TABLE event_logs RENAME COLUMN event_type TO dagster_event_type"
    # a Core table: the finding points at the Column(...) in the Table(...) call
    assert (rename["file"], rename["line"]) == marked_line(FIXTURES / DAGSTER)
    cov = drift_check["observed"]["coverage"]
    # runs, event_logs, jobs and the one secondary_indexes three MetaData share
    assert (cov["metadata"], cov["tables"], cov["shared_tables"]) == (3, 4, 1)
    assert cov["columns"] == 4 + 5 + 3 + 4
    assert cov["tables_not_compared"] == [] and cov["columns_not_compared"] == []
    assert drift_check["observed"]["verdict"] == "drifted"
    assert sorted(drift_check["observed"]["metadata"]) == [
        "app.events.SqlEventLogStorageMetadata", "app.runs.RunStorageSqlMetadata",
        "app.schedules.ScheduleStorageSqlMetadata"]


def test_three_metadata_sharing_a_table_sqlite(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'dagster.db'}"
    create_all(DAGSTER, url, DAGSTER_MDS)
    in_sync = check_app(DAGSTER, url)
    assert in_sync.returncode == 0, in_sync.stdout
    assert drift_codes(in_sync) == []
    assert in_sync.check("schema_drift")["observed"]["verdict"] == "in_sync"
    create_all(DAGSTER, url, "[]", then=RENAME)
    _assert_dagster_rename(check_app(DAGSTER, url))
    text = check_app(DAGSTER, url, fmt="text")
    assert "compared 4 tables, 16 columns in 3 MetaData (1 table in several)" in text.stdout


def test_three_metadata_sharing_a_table_postgres(pgdb) -> None:
    db = pgdb()
    create_all(DAGSTER, db.url(), DAGSTER_MDS, then=RENAME)
    _assert_dagster_rename(check_app(DAGSTER, db.url()))


def test_the_rename_marker_is_the_renamed_column() -> None:
    # the fixture reads like the bug report: the marked line is the column the DB renamed
    file, line = marked_line(FIXTURES / DAGSTER)
    text = (FIXTURES / DAGSTER / file).read_text().splitlines()[line - 1]
    assert '"dagster_event_type"' in text


# --- conflicting definitions -----------------------------------------------------------------


def _secondary(md, *extra):
    return sa.Table("secondary_indexes", md, sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("name", sa.String(512)), *extra)


def test_two_different_definitions_of_one_table(pgdb, make_run):
    runs, events = sa.MetaData(), sa.MetaData()
    _secondary(runs)
    _secondary(events, sa.Column("migration_completed", sa.DateTime))
    sa.Table("runs", runs, sa.Column("id", sa.Integer, primary_key=True))
    db = pgdb("CREATE TABLE secondary_indexes (id serial PRIMARY KEY, name varchar(512));"
              "CREATE TABLE runs (id serial PRIMARY KEY);")
    out = run_drift(make_run(db.url(), [runs, events]))
    f = only(out, "DRIFT422")
    assert f["table"] == "secondary_indexes" and f["severity"] == "error"
    assert "columns only in MetaData #2 (secondary_indexes): migration_completed" in f["message"]
    # the database matches the first definition: no drift reported for it
    assert codes(out) == ["DRIFT422"]
    assert f["facts"]["db_matches"] == f["facts"]["compared"] == "MetaData #1 (runs, " \
        "secondary_indexes)"
    assert any("migration_completed" in m and "not in the database" in m
               for m in f["facts"]["other_differences"])
    assert out["observed"]["coverage"]["shared_tables"] == 1


def test_the_same_definition_twice_is_compared_once(sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE secondary_indexes (id INTEGER PRIMARY KEY, "
                       "name VARCHAR(512), extra INTEGER);")
    a, b = sa.MetaData(), sa.MetaData()
    _secondary(a)
    _secondary(b)
    out = run_drift(make_run(f"sqlite:///{path}", [a, b]))
    assert codes(out) == ["DRIFT404"]  # once, not once per MetaData
    assert out["observed"]["coverage"]["tables"] == 1


# --- a comparison of nothing -------------------------------------------------------------


def test_every_model_table_excluded_is_not_in_sync(sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE users (id INTEGER PRIMARY KEY);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True))
    out = run_drift(make_run(f"sqlite:///{path}", md), drift_exclude=["users"])
    f = only(out, "DRIFT423")
    assert "excluded" in f["facts"]["reasons"] and f["facts"]["excluded"] == ["users"]
    assert out["observed"]["verdict"] == "not_compared"
    assert out["observed"]["coverage"]["tables"] == 0


def test_model_tables_that_are_views_compare_nothing(pgdb, make_run):
    db = pgdb("CREATE TABLE base (id int PRIMARY KEY);"
              "CREATE VIEW users AS SELECT id FROM base;")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True))
    out = run_drift(make_run(db.url(), md), drift_exclude=["base", "alembic_version"])
    assert codes(out) == ["DRIFT423"]
    assert "views" in only(out, "DRIFT423")["facts"]["reasons"]
    assert out["observed"]["verdict"] == "not_compared"


def test_nothing_compared_fails_the_cli(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'dagster.db'}"
    create_all(DAGSTER, url, DAGSTER_MDS)
    result = check_app(DAGSTER, url, "--include-table", "nothing_*")
    assert result.returncode == 1, result.stdout
    assert drift_codes(result) == ["DRIFT423"]
    assert result.check("schema_drift")["observed"]["verdict"] == "not_compared"


def test_a_reused_result_reports_its_coverage(sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE users (id INTEGER PRIMARY KEY);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True))
    first = run_drift(make_run(f"sqlite:///{path}", md))
    run = make_run(f"sqlite:///{path}", md)
    run.ctx.previous_cache = first["cache"]
    again = run_drift(run)
    assert again["observed"]["reused"] is True
    assert again["observed"]["coverage"] == first["observed"]["coverage"]
    assert again["observed"]["verdict"] == "in_sync"


# --- the one line renderers show -----------------------------------------------------------


@pytest.mark.parametrize("coverage, expected", [
    ({"metadata": 3, "tables": 64, "columns": 512, "shared_tables": 0},
     "compared 64 tables, 512 columns in 3 MetaData"),
    ({"metadata": 1, "tables": 1, "columns": 3, "shared_tables": 0,
      "columns_not_compared": ["flow.id"], "tables_not_compared": ["broken"],
      "tables_excluded": ["tmp_a", "tmp_b"]},
     "compared 1 table, 3 columns in 1 MetaData; not compared: 1 table (broken), 1 column "
     "(flow.id); left out: 2 tables by the table filters"),
    ({"metadata": 1, "tables": 2, "columns": 5, "indexes_not_compared": ["users"]},
     "compared 2 tables, 5 columns in 1 MetaData; not compared: the indexes and constraints "
     "of 1 table (users)"),
])
def test_coverage_line(coverage, expected):
    assert coverage_line({"coverage": coverage}) == expected
    assert coverage_line({}) is None


def test_three_metadata_under_the_apps_own_sqlalchemy_20(sqla20_python, tmp_path) -> None:
    # the worker runs under the app's interpreter (SQLAlchemy 2.0, Alembic from sidecar's
    # environment): the same comparison and the same rename. (On 1.4 sidecar's Alembic 1.20
    # does not import — `_NoneName` — and drift is skipped: issue 10 item 9.)
    url = f"sqlite:///{tmp_path / 'dagster.db'}"
    create_all(DAGSTER, url, DAGSTER_MDS, then=RENAME)
    result = check_app(DAGSTER, url, "--python", sqla20_python)
    assert result.report["versions"]["sqlalchemy"].startswith("2.0.")
    _assert_dagster_rename(result)


CONFLICT = "drift_conflicting_tables"


@pytest.mark.parametrize("customer_ref", [False, True])
def test_conflicting_definitions_in_two_modules(tmp_path, customer_ref) -> None:
    url = f"sqlite:///{tmp_path / 'billing.db'}"
    create_all(CONFLICT, url, "[models.billing.Base.metadata]")
    env = {"REPORTS_CUSTOMER_REF": "1"} if customer_ref else {}
    result = run_cli("check", "--app-path", str(FIXTURES / CONFLICT), "--models",
                     "app.models", "--database-url", url, "--format", "json", env=env,
                     timeout=120)
    findings = result.check("schema_drift")["findings"]
    assert drift_codes(result) == ["DRIFT422"], findings
    f = findings[0]
    assert f["facts"]["metadatas"] == "app.billing.Base.metadata, app.reports.metadata"
    assert f["facts"]["db_matches"] == "app.billing.Base.metadata"
    assert (f["file"], f["line"]) == marked_line(FIXTURES / CONFLICT)
    assert "columns only in app.billing.Base.metadata: currency" in f["message"]
    if customer_ref:  # the copy reads a column the database lacks: queries through it fail
        assert f["severity"] == "error" and result.returncode == 1
        assert any("customer_ref" in m for m in f["facts"]["other_differences"])
    else:  # the copy only lacks a column: it still works
        assert f["severity"] == "warning" and result.returncode == 0, result.stdout


def test_text_and_html_show_the_coverage_of_a_real_comparison(sqlite_file, make_run):
    from sidecar.findings.model import CheckResult, Report
    from sidecar.findings.registry import CATALOG
    from sidecar.render import text, web

    path = sqlite_file("CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(20));"
                       "CREATE TABLE teams (id INTEGER PRIMARY KEY);")
    a, b = sa.MetaData(), sa.MetaData()
    for md in (a, b):
        sa.Table("teams", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table("users", a, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(20)))
    out = run_drift(make_run(f"sqlite:///{path}", [a, b]))
    check = CheckResult("schema_drift", "pass", 0.1,
                        tuple(CATALOG.to_finding(f) for f in out["findings"]),
                        observed=out["observed"])
    report = Report(status="pass", started_at="2026-01-01T00:00:00+00:00", duration_s=0.2,
                    checks=(check,))
    meta = web.Meta(taken_at="2026-01-01T00:00:01+00:00", age_s=1.0, ready=True, cycles=1,
                    history=())
    line = "compared 2 tables, 3 columns in 2 MetaData (1 table in several)"
    assert f"[ok] schema_drift (0.10s)\n  {line}\n" in text.render(report)
    assert f'<div class="muted coverage">{line}</div>' in web.as_html(report, meta)

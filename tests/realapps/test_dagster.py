"""Dagster 1.13.27 with dagster-postgres 0.29.27: Core ``Table``s only, in three MetaData
(run storage, event log, schedules) that each define the same ``secondary_indexes`` table;
the Alembic scripts live inside ``dagster_postgres``. The schema is made by Dagster itself:
``dagster instance migrate`` with a ``dagster.yaml`` that points the instance's storage at
PostgreSQL (its documented production set-up).

Each database test runs twice: with the schema modules only (``modules``, what issue 10
asks for) and with the three MetaData named (``metadata``, ``module:attr``, today's way)."""

from __future__ import annotations

import pytest

from tests.realapps import harness
from tests.realapps.apps import DAGSTER, ensure_venv

pytestmark = [pytest.mark.realapps, pytest.mark.postgres, pytest.mark.slow]

MODELS = ["dagster._core.storage.runs.schema", "dagster._core.storage.event_log.schema",
          "dagster._core.storage.schedules.schema"]
METADATA = ["dagster._core.storage.runs.schema:RunStorageSqlMetadata",
            "dagster._core.storage.event_log.schema:SqlEventLogStorageMetadata",
            "dagster._core.storage.schedules.schema:ScheduleStorageSqlMetadata"]
DAGSTER_TABLES = 21  # distinct tables of the three MetaData (secondary_indexes counted once)
DAGSTER_YAML = """\
storage:
  postgres:
    postgres_url:
      env: DAGSTER_PG_URL
telemetry:
  enabled: false
"""


@pytest.fixture(scope="module")
def checks(app_database, tmp_path_factory) -> harness.Checks:
    ensure_venv(DAGSTER)
    home = tmp_path_factory.mktemp("dagster-home")
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which Dagster does not install
    env = {"DAGSTER_HOME": str(home), "DAGSTER_PG_URL": app_database.url("psycopg2")}
    harness.run_app(DAGSTER, "dagster", "instance", "migrate", env=env, cwd=home)
    assert len(app_database.tables() - {"alembic_version"}) == DAGSTER_TABLES
    return harness.Checks(DAGSTER, app_database, home)


def test_fresh_migrations_are_found_at_head(checks):
    harness.assert_migrations_found(checks.fresh(MODELS), checks.db, static=False)


@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"),
    pytest.param(METADATA, id="metadata")])
def test_fresh_database_is_ready_and_compared(checks, models):
    fresh = checks.fresh(models)
    harness.assert_ready_and_compared(fresh, DAGSTER_TABLES)
    # several MetaData, honestly: every table compared, none extra or left out
    assert not fresh.findings("DRIFT420") and not fresh.findings("DRIFT402"), \
        harness.summary(fresh)


@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"),
    pytest.param(METADATA, id="metadata")])
def test_renamed_column_is_found_with_its_sql(checks, models):
    result = checks.with_renamed(models, "runs", "run_body", "run_body_v0")
    harness.assert_rename_found(result, "runs", "run_body_v0", "run_body")


@pytest.mark.parametrize("where", [
    pytest.param("installed"),
    pytest.param("source")])
def test_model_bug_in_a_copy_is_located(tmp_path, where):
    ensure_venv(DAGSTER)
    # a Core column with a ForeignKey to a table that no MetaData defines: import and
    # configure pass, resolving the key fails
    root, file, line = harness.plant(
        DAGSTER, "dagster", "_core/storage/runs/schema.py",
        '    db.Column("pipeline_name", db.Text),\n',
        '    db.Column("pipeline_name", db.Text, db.ForeignKey("pipelines.name")),'
        "  # <- SIDECAR: SQLA110 no table 'pipelines'\n",
        tmp_path)
    result, cwd = harness.check_planted(DAGSTER, MODELS, root, where)
    finding = harness.first_error(result)
    assert finding["code"] == "SQLA110", harness.summary(result)
    harness.assert_located(finding, cwd, file, line, table="runs", column="pipeline_name")

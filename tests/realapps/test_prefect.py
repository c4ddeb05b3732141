"""Prefect 3.9.1 (the server's database): annotated declarative (``DeclarativeBase`` +
``Mapped[]``), a custom server default (``GenerateUUID``, a ``FunctionElement`` compiled per
dialect), Alembic scripts in per-dialect folders inside the package, async URLs in its own
config. The schema is made by Prefect itself: ``prefect server database upgrade -y`` with
``PREFECT_API_DATABASE_CONNECTION_URL`` (asyncpg); sidecar gets the same database as a sync
psycopg2 URL. SQLite (``sqlite+aiosqlite``) is Prefect's default and is tested too.

Each PostgreSQL test runs twice: with the model module only (``modules``, what issue 10 asks
for) and with the declarative base named (``base``, ``module:Base``, today's way)."""

from __future__ import annotations

import pytest

from tests.realapps import harness
from tests.realapps.apps import PREFECT, ensure_venv

pytestmark = [pytest.mark.realapps, pytest.mark.postgres, pytest.mark.slow]

MODELS = ["prefect.server.database.orm_models"]
BASE = ["prefect.server.database.orm_models:Base"]
PREFECT_TABLES = 35  # mapped tables (the migrations also make deployment_version)


def _upgrade(home, async_url: str) -> dict[str, str]:
    env = {"PREFECT_HOME": str(home), "PREFECT_API_DATABASE_CONNECTION_URL": async_url}
    harness.run_app(PREFECT, "prefect", "server", "database", "upgrade", "-y", env=env,
                    cwd=home)
    return {"PREFECT_HOME": str(home)}  # what importing prefect needs: a home of its own




@pytest.fixture(scope="module")
def checks(app_database, tmp_path_factory) -> harness.Checks:
    ensure_venv(PREFECT)
    home = tmp_path_factory.mktemp("prefect-home")
    env = _upgrade(home, app_database.url("asyncpg"))
    assert app_database.tables() >= {"flow", "flow_run", "task_run", "log", "deployment"}
    return harness.Checks(PREFECT, app_database, home, env=env)


def test_fresh_migrations_are_found_at_head(checks):
    harness.assert_migrations_found(checks.fresh(MODELS), checks.db, static=False)


@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"),
    pytest.param(BASE, id="base")])
def test_fresh_database_is_ready_and_compared(checks, models):
    harness.assert_ready_and_compared(checks.fresh(models), PREFECT_TABLES)


@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"),
    pytest.param(BASE, id="base")])
def test_renamed_column_is_found_with_its_sql(checks, models):
    result = checks.with_renamed(models, "log", "message", "message_text")
    harness.assert_rename_found(result, "log", "message_text", "message")


def test_sqlite_default_database_is_ready_and_compared(tmp_path):
    ensure_venv(PREFECT)
    path = tmp_path / "prefect.db"
    env = _upgrade(tmp_path, f"sqlite+aiosqlite:///{path}")
    result = harness.sidecar_check(PREFECT, MODELS, tmp_path, f"sqlite:///{path}", env=env)
    harness.assert_ready_and_compared(result, PREFECT_TABLES)


@pytest.mark.parametrize("where", [
    pytest.param("installed"),
    "source"])
def test_model_bug_in_a_copy_is_located(tmp_path, where):
    ensure_venv(PREFECT)
    # back_populates naming an attribute the other side does not have (a typo): the mappers
    # fail to configure, with no frame of the app on the stack
    root, file, line = harness.plant(
        PREFECT, "prefect", "server/database/orm_models.py",
        '    flow: Mapped["Flow"] = relationship(\n'
        '        "Flow", back_populates="deployments", lazy="raise"\n',
        '    flow: Mapped["Flow"] = relationship(  # <- SIDECAR: SQLA108 Flow has no deployment\n'
        '        "Flow", back_populates="deployment", lazy="raise"\n',
        tmp_path)
    result, cwd = harness.check_planted(PREFECT, MODELS, root, where,
                                        env={"PREFECT_HOME": str(tmp_path / "home")})
    finding = harness.first_error(result)
    assert finding["code"] == "SQLA108", harness.summary(result)
    harness.assert_located(finding, cwd, file, line, **{"class": "Deployment",
                                                         "attribute": "flow"})

"""Optuna 5.0.0: plain declarative ORM (``optuna/storages/_rdb/models.py``), one MetaData,
its alembic.ini shipped inside the package with a relative ``script_location``. The schema
is made by Optuna itself: ``optuna create-study`` creates the tables and stamps the Alembic
head (RDBStorage), ``optuna storage upgrade`` then finds nothing to do. Also on SQLite, the
storage its documentation uses.

Each database test runs twice: with the model module only (``modules``, what issue 10 asks
for) and with the declarative base named (``base``, ``module:BaseModel``, today's way)."""

from __future__ import annotations

import ast
import re

import pytest

from tests.realapps import harness
from tests.realapps.apps import OPTUNA, ensure_venv

pytestmark = [pytest.mark.realapps, pytest.mark.postgres, pytest.mark.slow]

MODELS = ["optuna.storages._rdb.models"]
BASE = ["optuna.storages._rdb.models:BaseModel"]
OPTUNA_TABLES = 12  # studies, trials and their attribute/value tables, version_info


@pytest.fixture(scope="module")
def checks(app_database, tmp_path_factory) -> harness.Checks:
    ensure_venv(OPTUNA)
    url = app_database.url()
    cwd = tmp_path_factory.mktemp("optuna-cwd")
    harness.run_app(OPTUNA, "optuna", "create-study", "--storage", url,
                    "--study-name", "sidecar-realapps", cwd=cwd)
    upgrade = harness.run_app(OPTUNA, "optuna", "storage", "upgrade", "--storage", url,
                              cwd=cwd)
    assert "up-to-date" in upgrade.stdout + upgrade.stderr
    assert len(app_database.tables() - {"alembic_version"}) == OPTUNA_TABLES
    return harness.Checks(OPTUNA, app_database, cwd)




def test_fresh_migrations_are_found_at_head(checks):
    harness.assert_migrations_found(checks.fresh(MODELS), checks.db, static=True)


@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"),
    pytest.param(BASE, id="base")])
def test_fresh_database_is_ready_and_compared(checks, models):
    fresh = checks.fresh(models)
    harness.assert_ready_and_compared(fresh, OPTUNA_TABLES)
    assert not fresh.findings("DRIFT418"), harness.summary(fresh)


@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"), pytest.param(BASE, id="base")])
def test_renamed_column_is_found_with_its_sql(checks, models):
    result = checks.with_renamed(models, "trial_user_attributes", "value_json", "value_json_v4")
    harness.assert_rename_found(result, "trial_user_attributes", "value_json_v4", "value_json")




@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"),
    pytest.param(BASE, id="base")])
def test_renamed_column_hint_keeps_the_attribute(checks, models):
    """``TrialModel._datetime_start_utc = _Column("datetime_start", DateTime)``: attribute
    and column differ. The no-migration fix pasted into the class must be Python, keep the
    model's attribute and map it to the database's column."""
    result = checks.with_renamed(models, "trials", "datetime_start", "datetime_start_v4")
    finding = harness.assert_rename_found(result, "trials", "datetime_start_v4",
                                          "datetime_start")
    assert (finding["class"], finding["attribute"]) == ("TrialModel", "_datetime_start_utc")
    snippets = [s for s in re.findall(r"`([^`]+)`", finding["hint"]) if " = " in s and
                re.search(r"(Column|mapped_column)\(\s*['\"]datetime_start_v4['\"]", s)]
    assert snippets, finding["hint"]
    tree = ast.parse(snippets[0])  # valid Python where it goes: a class-body assignment
    assign = tree.body[0]
    assert isinstance(assign, (ast.Assign, ast.AnnAssign)), snippets[0]
    target = assign.targets[0] if isinstance(assign, ast.Assign) else assign.target
    assert isinstance(target, ast.Name) and target.id == "_datetime_start_utc", snippets[0]


@pytest.mark.parametrize("models", [
    pytest.param(MODELS, id="modules"), pytest.param(BASE, id="base")])
def test_sqlite_database_is_ready_and_compared(tmp_path, models):
    """SQLite, the storage Optuna's documentation uses (``sqlite:///example.db``)."""
    ensure_venv(OPTUNA)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    harness.run_app(OPTUNA, "optuna", "create-study", "--storage", url,
                    "--study-name", "sidecar-realapps", cwd=tmp_path)
    result = harness.sidecar_check(OPTUNA, models, tmp_path, url)
    harness.assert_ready_and_compared(result, OPTUNA_TABLES)
    assert not result.findings("DRIFT418"), harness.summary(result)


@pytest.mark.parametrize("where", [
    pytest.param("installed"),
    "source"])
def test_model_bug_in_a_copy_is_located(tmp_path, where):
    ensure_venv(OPTUNA)
    # a relationship to a misspelled class: fails when the mappers configure, not at import
    root, file, line = harness.plant(
        OPTUNA, "optuna", "storages/_rdb/models.py",
        "    study = orm.relationship(\n"
        "        StudyModel, backref=orm.backref(\"directions\",",
        "    study = orm.relationship(  # <- SIDECAR: SQLA104 no class 'StudyModle'\n"
        "        \"StudyModle\", backref=orm.backref(\"directions\",",
        tmp_path)
    result, cwd = harness.check_planted(OPTUNA, MODELS, root, where)
    finding = harness.first_error(result)
    assert finding["code"] == "SQLA104", harness.summary(result)
    harness.assert_located(finding, cwd, file, line, **{"class": "StudyDirectionModel",
                                                         "attribute": "study"})

"""Buildbot 4.3.0: Core ``Table``s declared as attributes of a plain class
(``buildbot/db/model.py``: ``class Model`` with ``metadata = sa.MetaData()``: no module-level
MetaData, no mapped class); alembic.ini inside the package (``script_location =
%(here)s/``). The schema is made by Buildbot itself: ``buildbot create-master [--db URL]``
creates the master and upgrades its database (SQLite ``state.sqlite`` in the master's folder
by default, tested too).

Each database test runs twice: with the model module only (``modules``, what issue 10 asks
for) and with the class named (``class``, ``buildbot.db.model:Model``, today's way)."""

from __future__ import annotations

import pytest

from tests.realapps import harness
from tests.realapps.apps import BUILDBOT, ensure_venv

pytestmark = [pytest.mark.realapps, pytest.mark.postgres, pytest.mark.slow]

MODELS = ["buildbot.db.model"]
CLASS = ["buildbot.db.model:Model"]
BUILDBOT_TABLES = 42
TARGETS = [pytest.param(MODELS, id="modules"), pytest.param(CLASS, id="class")]


@pytest.fixture(scope="module")
def checks(app_database, tmp_path_factory) -> harness.Checks:
    ensure_venv(BUILDBOT)
    cwd = tmp_path_factory.mktemp("buildbot")
    harness.run_app(BUILDBOT, "buildbot", "create-master", "--db", app_database.url(),
                    str(cwd / "master"), cwd=cwd)
    assert len(app_database.tables() - {"alembic_version"}) == BUILDBOT_TABLES
    return harness.Checks(BUILDBOT, app_database, cwd)


def test_fresh_migrations_are_found_at_head(checks):
    harness.assert_migrations_found(checks.fresh(MODELS), checks.db, static=True)


@pytest.mark.parametrize("models", TARGETS)
def test_fresh_database_is_ready_and_compared(checks, models):
    harness.assert_ready_and_compared(checks.fresh(models), BUILDBOT_TABLES)


@pytest.mark.parametrize("models", TARGETS)
def test_renamed_column_is_found_with_its_sql(checks, models):
    result = checks.with_renamed(models, "buildrequests", "waited_for", "waited")
    harness.assert_rename_found(result, "buildrequests", "waited", "waited_for")


@pytest.mark.parametrize("models", TARGETS)
def test_sqlite_default_database_is_ready_and_compared(tmp_path, models):
    ensure_venv(BUILDBOT)
    harness.run_app(BUILDBOT, "buildbot", "create-master", "master", cwd=tmp_path)
    master = tmp_path / "master"
    result = harness.sidecar_check(BUILDBOT, models, master,
                                   f"sqlite:///{master / 'state.sqlite'}")
    harness.assert_ready_and_compared(result, BUILDBOT_TABLES)


@pytest.mark.parametrize("where", ["installed", "source"])
def test_model_bug_in_a_copy_is_located(tmp_path, where):
    ensure_venv(BUILDBOT)
    # a copy-pasted table keeps the name of the one above: raised while the class body runs
    root, file, line = harness.plant(
        BUILDBOT, "buildbot", "db/model.py",
        "    buildrequest_claims = sautils.Table(\n        'buildrequest_claims',\n",
        "    buildrequest_claims = sautils.Table(  # <- SIDECAR: SQLA102 defined twice\n"
        "        'buildrequests',\n",
        tmp_path)
    result, cwd = harness.check_planted(BUILDBOT, MODELS, root, where)
    finding = harness.first_error(result)
    assert finding["code"] == "SQLA102", harness.summary(result)
    harness.assert_located(finding, cwd, file, line, table="buildrequests")

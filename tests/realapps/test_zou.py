"""Zou 1.0.97 (the CGWire Kitsu backend): Flask-SQLAlchemy ``db.Model`` classes with mixins
from another file (``zou/app/models/base.py``), registered lazily (no module imports them
all: the API's blueprints do, at app creation), SQLAlchemy 2.0, PostgreSQL only. Its
Flask-Migrate folder ``zou/migrations`` ships an alembic.ini without ``script_location``.
The schema is made by Zou itself: ``zou init-db`` with the ``DB_*`` variables of its
config; importing the models needs a ``SECRET_KEY`` (Zou refuses its insecure default).

The model modules are passed one by one (53 ``--models``), as a user of lazily registered
models must; each database test runs with them alone (``modules``, what issue 10 asks for)
and with ``zou.app:db`` added (``db``, today's way)."""

from __future__ import annotations

import re

import pytest

from tests.realapps import harness
from tests.realapps.apps import ZOU, ensure_venv

pytestmark = [pytest.mark.realapps, pytest.mark.postgres, pytest.mark.slow]

ZOU_TABLES = 80
APP_ENV = {"SECRET_KEY": "realapps-not-the-insecure-default"}


def models() -> list[str]:
    """Every module of zou/app/models, as a user lists them (``ls zou/app/models``)."""
    ensure_venv(ZOU)
    folder = ZOU.site_packages() / "zou" / "app" / "models"
    return [f"zou.app.models.{p.stem}" for p in sorted(folder.glob("*.py"))
            if p.stem != "__init__"]




@pytest.fixture(scope="module")
def checks(app_database, tmp_path_factory) -> harness.Checks:
    ensure_venv(ZOU)
    cwd = tmp_path_factory.mktemp("zou-cwd")
    env = {**APP_ENV, "DB_HOST": app_database.host, "DB_PORT": str(app_database.port),
           "DB_USERNAME": harness.ROLE, "DB_PASSWORD": harness.ROLE_PASSWORD,
           "DB_DATABASE": app_database.name}
    harness.run_app(ZOU, "zou", "init-db", env=env, cwd=cwd)
    assert len(app_database.tables() - {"alembic_version"}) == ZOU_TABLES
    return harness.Checks(ZOU, app_database, cwd, env=APP_ENV)


def targets():
    return [pytest.param("modules", id="modules"),
            pytest.param("db", id="db")]


def target_models(kind: str) -> list[str]:
    """``modules``: every model module; ``db``: the same plus Flask-SQLAlchemy's ``db``
    named (``zou.app:db``, today's way)."""
    return models() + (["zou.app:db"] if kind == "db" else [])


def test_fresh_migrations_are_found_at_head(checks):
    harness.assert_migrations_found(checks.fresh(models()), checks.db, static=True)


@pytest.mark.parametrize("kind", targets())
def test_fresh_database_is_ready_and_compared(checks, kind):
    harness.assert_ready_and_compared(checks.fresh(target_models(kind)), ZOU_TABLES)


@pytest.mark.parametrize("kind", targets())
def test_renamed_column_is_found_with_its_sql(checks, kind):
    result = checks.with_renamed(target_models(kind), "studio", "color", "colour")
    harness.assert_rename_found(result, "studio", "colour", "color")


def _plant_reserved(tmp_path):
    # the incident's bug: an attribute named `metadata` (reserved by Declarative), keeping
    # the column name; SQLAlchemy 2.0 raises at the class statement, not at this line
    return harness.plant(
        ZOU, "zou", "app/models/studio.py",
        "    color = db.Column(db.String(7), nullable=False)\n",
        '    metadata = db.Column("color", db.String(7), nullable=False)'
        "  # <- SIDECAR: SQLA101 reserved\n",
        tmp_path)


@pytest.mark.parametrize("where", [
    pytest.param("installed"),
    "source"])
def test_model_bug_in_a_copy_is_located(tmp_path, where):
    root, file, line = _plant_reserved(tmp_path)
    result, cwd = harness.check_planted(ZOU, models(), root, where, env=APP_ENV)
    finding = harness.first_error(result)
    assert finding["code"] == "SQLA101", harness.summary(result)
    harness.assert_located(finding, cwd, file, line, **{"class": "Studio",
                                                         "attribute": "metadata"})


def test_reserved_attribute_hint_keeps_the_named_column(tmp_path):
    root, _, _ = _plant_reserved(tmp_path)
    result, _ = harness.check_planted(ZOU, models(), root, "source", env=APP_ENV)
    hint = harness.first_error(result)["hint"]
    # pasted, the fix keeps the column Zou's database has: "color", not "metadata"
    pasted = re.search(r'`(\w+) = db\.Column\("color", db\.String\(7\), nullable=False\)`',
                       hint)
    assert pasted and pasted.group(1) != "metadata", hint
    assert "RENAME COLUMN metadata" not in hint, hint

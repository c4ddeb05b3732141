"""Migrations found where apps keep them, without flags: a Flask-Migrate folder, an
alembic.ini shipped inside the models' package (installed elsewhere than the app path), the
``package:path`` form, version_locations in the ini or set by env.py at run time.

Each test builds the layout the app's own tool made (Flask-Migrate's files are the ones
``flask db init`` writes, in tests/fixtures/migrations_flask_migrate) and checks a real
database, SQLite or the suite's PostgreSQL cluster.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from sidecar.findings.registry import CATALOG
from sidecar.worker.checks.migrations import check as migrations
from sidecar.worker.context import Skip
from tests.db.db_helpers import assert_required_facts, assert_secret_free, codes, only
from tests.support.helpers import FIXTURES

pytestmark = pytest.mark.postgres

FLASK_APP = FIXTURES / "migrations_flask_migrate"
FLASK_HEAD, FLASK_FIRST = "8b41e0f5c2d3", "3f2a9c1d7b10"
HISTORY = [("a1f0", None, "create users"), ("b2e1", "a1f0", "add users.email"),
           ("c3d2", "b2e1", "create security_events")]


def write_versions(folder: Path, history=HISTORY) -> Path:
    """Version files as `alembic revision` writes them (upgrade() must never run)."""
    folder.mkdir(parents=True, exist_ok=True)
    for rev, down, message in history:
        (folder / f"{rev}_x.py").write_text(textwrap.dedent(f'''\
            """{message}

            Revision ID: {rev}
            """
            from alembic import op

            revision = "{rev}"
            down_revision = {down!r}
            branch_labels = None
            depends_on = None


            def upgrade():
                raise AssertionError("the sidecar must never run a migration")


            def downgrade():
                pass
            '''))
    return folder


def write_env(folder: Path, body: str = "") -> None:
    """An env.py that must never run: importing it fails the test."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "env.py").write_text("raise AssertionError('env.py must never run')\n"
                                   + textwrap.dedent(body))
    (folder / "script.py.mako").write_text('"""${message}"""\n')


def package(site: Path, name: str, monkeypatch) -> Path:
    """A package installed outside the app path (site-packages shaped), importable."""
    root = site / name
    root.mkdir(parents=True)
    (root / "__init__.py").write_text("")
    (root / "models.py").write_text("from sqlalchemy import MetaData\nmetadata = MetaData()\n")
    monkeypatch.syspath_prepend(str(site))
    return root


def stamp_sqlite(sqlite_file, *revisions: str, name: str = "app.db") -> str:
    sql = "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);" + "".join(
        f"INSERT INTO alembic_version VALUES ('{r}');" for r in revisions)
    return f"sqlite:///{sqlite_file(sql, name)}"


def stamp_pg(db, *revisions: str) -> str:
    db.sql("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
           + "".join(f"INSERT INTO alembic_version VALUES ('{r}');" for r in revisions))
    return db.url()


def check(run):
    out = migrations.run_migrations(run.ctx)
    assert_secret_free(out, run.phases)
    assert_required_facts(out["findings"])
    return out


def hint(raw) -> str:
    return CATALOG.lookup(raw["code"]).render_hint(raw)


def flask_app(tmp_path: Path) -> Path:
    app = tmp_path / "flaskapp"
    shutil.copytree(FLASK_APP, app)
    return app


# --- Flask-Migrate: migrations/alembic.ini has no script_location -------------------------

def test_flask_migrate_folder_found_without_flags_at_head(sqlite_file, make_run, tmp_path):
    app = flask_app(tmp_path)
    assert "script_location" not in (app / "migrations" / "alembic.ini").read_text()
    out = check(make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app,
                         models=["app.models"]))
    assert out["findings"] == []
    o = out["observed"]
    assert o["config"] == "migrations/alembic.ini"
    assert o["found_by"] == "Flask-Migrate folder at the app path"
    assert o["script_location"] == "migrations" and "Flask-Migrate" in o["script_location_from"]
    assert o["heads"] == [FLASK_HEAD] and o["state"] == "at_head"
    assert o["runs_with"] == "flask-migrate"
    assert "migrations/alembic.ini (Flask-Migrate folder at the app path)" in o["summary"]


def test_flask_migrate_behind_on_postgres_says_flask_db_upgrade(pgdb, make_run, tmp_path):
    app = flask_app(tmp_path)
    run = make_run(stamp_pg(pgdb(), FLASK_FIRST), app_path=app, models=["app.models"])
    f = only(check(run), "MIG301")
    assert [p["revision"] for p in f["facts"]["pending"]] == [FLASK_HEAD]
    text = hint(f)
    assert " db upgrade`" in text and "alembic" not in text.split("`")[1]
    # flask finds the app itself: app/__init__.py defines create_app in the working directory
    assert "FLASK_APP" not in text.split("`")[1]
    assert f"cd {app} && " in text


def test_flask_app_from_flaskenv(sqlite_file, make_run, tmp_path, monkeypatch):
    monkeypatch.delenv("FLASK_APP", raising=False)
    app = flask_app(tmp_path)
    (app / ".flaskenv").write_text("FLASK_APP=app:create_app\nFLASK_DEBUG=0\n")
    f = only(check(make_run(stamp_sqlite(sqlite_file, FLASK_FIRST), app_path=app)), "MIG301")
    assert "FLASK_APP=app:create_app " in hint(f)


def test_flask_app_named_after_the_models_package(sqlite_file, make_run, tmp_path,
                                                  monkeypatch):
    monkeypatch.delenv("FLASK_APP", raising=False)
    app = flask_app(tmp_path)
    (app / "app").rename(app / "shopfront")  # flask finds no app.py / app/ by itself
    monkeypatch.syspath_prepend(str(app))
    f = only(check(make_run(stamp_sqlite(sqlite_file, FLASK_FIRST), app_path=app,
                            models=["shopfront.models"])), "MIG301")
    assert f"cd {app} && FLASK_APP=shopfront " in hint(f)


def test_flask_app_unknown_says_what_flask_needs(sqlite_file, make_run, tmp_path,
                                                 monkeypatch):
    monkeypatch.delenv("FLASK_APP", raising=False)
    app = flask_app(tmp_path)
    (app / "app" / "__init__.py").write_text("")  # the app is made somewhere flask can't see
    f = only(check(make_run(stamp_sqlite(sqlite_file, FLASK_FIRST), app_path=app)), "MIG301")
    assert "FLASK_APP=" not in command_of(hint(f))
    assert "with FLASK_APP set to the module that creates the Flask app" in hint(f)


def command_of(text: str) -> str:
    return text.split("`")[1]


def test_flask_migrate_folder_with_another_name_needs_dash_d(sqlite_file, make_run, tmp_path):
    app = flask_app(tmp_path)
    (app / "migrations").rename(app / "db_migrations")
    f = only(check(make_run(stamp_sqlite(sqlite_file, FLASK_FIRST), app_path=app)), "MIG301")
    assert "db -d db_migrations upgrade`" in hint(f)


def test_flask_migrate_without_revisions_is_a_warning_not_no_heads(sqlite_file, make_run,
                                                                  tmp_path):
    app = flask_app(tmp_path)
    for path in (app / "migrations" / "versions").iterdir():
        path.unlink()  # `flask db init` and nothing else yet
    out = check(make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app))
    f = only(out, "MIG306")
    assert codes(out) == ["MIG306"]
    assert f["facts"]["reason"] == "no_revisions"
    assert out["observed"]["state"] == "unknown"


@pytest.mark.parametrize("given", ["deploy_migrations", "deploy_migrations/alembic.ini"])
def test_alembic_ini_flag_may_name_the_flask_migrate_folder_or_its_ini(
        sqlite_file, make_run, tmp_path, given):
    # on main, `--alembic-ini migrations/alembic.ini` was MIG305: no script_location in it
    app = flask_app(tmp_path)
    (app / "migrations").rename(app / "deploy_migrations")
    out = check(make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=tmp_path,
                         alembic_ini=str(app / given)))
    assert out["findings"] == []
    assert out["observed"]["config"] == "flaskapp/deploy_migrations/alembic.ini"


def test_flask_migrate_folder_inside_the_package(sqlite_file, make_run, tmp_path,
                                                 monkeypatch):
    root = package(tmp_path / "site", "flaskpkg", monkeypatch)
    shutil.copytree(FLASK_APP / "migrations", root / "migrations")
    write_env(root / "tests" / "fixture_migrations")  # a test suite's config ranks last
    write_versions(root / "tests" / "fixture_migrations" / "versions")
    (root / "tests" / "alembic.ini").write_text("[alembic]\nscript_location = x\n")
    app = tmp_path / "app"
    app.mkdir()
    out = check(make_run(stamp_sqlite(sqlite_file, FLASK_FIRST), app_path=app,
                         models=["flaskpkg.models"]))
    o = out["observed"]
    assert o["found_by"] == "Flask-Migrate folder inside the package 'flaskpkg'"
    assert o["config"] == str(root / "migrations" / "alembic.ini")
    assert o["also_found"] == [f"{root / 'tests' / 'alembic.ini'} (alembic.ini inside the "
                               "package 'flaskpkg')"]
    f = only(out, "MIG301")
    assert f" db -d {root / 'migrations'} upgrade`" in hint(f)


# --- an alembic.ini inside the models' package, installed elsewhere ------------------------

def write_optuna_like(root: Path) -> Path:
    """As optuna ships it: storages/_rdb/alembic.ini, `script_location = alembic` relative to
    the ini, and a sqlalchemy.url that is only for generating migrations."""
    rdb = root / "storages" / "_rdb"
    rdb.mkdir(parents=True)
    (root / "storages" / "__init__.py").write_text("")
    (rdb / "__init__.py").write_text("")
    (rdb / "alembic.ini").write_text(textwrap.dedent("""\
        # A generic, single database configuration.

        [alembic]
        # path to migration scripts
        script_location = alembic

        # NOTE: This URL is only used when generating migration scripts.
        sqlalchemy.url = sqlite:///alembic.db
        """))
    write_env(rdb / "alembic", """\
        from alembic import context
        from sqlalchemy import engine_from_config, pool
        config = context.config
        connectable = engine_from_config(config.get_section(config.config_ini_section),
                                         prefix="sqlalchemy.", poolclass=pool.NullPool)
        """)
    write_versions(rdb / "alembic" / "versions")
    return rdb


def test_ini_inside_an_installed_package_relative_to_the_ini(pgdb, make_run, tmp_path,
                                                            monkeypatch):
    root = package(tmp_path / "site-packages", "optstore", monkeypatch)
    rdb = write_optuna_like(root)
    app = tmp_path / "app"
    app.mkdir()
    monkeypatch.chdir(tmp_path)  # neither the ini's folder nor the app path
    run = make_run(stamp_pg(pgdb(), "b2e1"), app_path=app, models=["optstore.models"])
    out = check(run)
    f = only(out, "MIG301")
    o = out["observed"]
    assert o["config"] == str(rdb / "alembic.ini")
    assert o["found_by"] == "alembic.ini inside the package 'optstore'"
    assert o["script_location"] == str(rdb / "alembic")
    assert o["script_location_from"] == "relative to the config's folder"
    # the ini's URL is another database: the hint sets the URL through Alembic's API
    assert f["facts"]["runner"]["tool"] == "alembic-api"
    text = hint(f)
    assert "sqlite:///alembic.db" in text and "command.upgrade(c, \"head\")" in text
    assert "set_main_option(\"script_location\", \"" + str(rdb / "alembic") in text


def test_ini_inside_a_src_layout_package_on_sqlite(sqlite_file, make_run, tmp_path,
                                                  monkeypatch):
    root = package(tmp_path / "src", "srcstore", monkeypatch)
    write_optuna_like(root)
    out = check(make_run(stamp_sqlite(sqlite_file, "c3d2"), app_path=tmp_path,
                         models=["srcstore.models:metadata"]))
    assert out["findings"] == [] and out["observed"]["state"] == "at_head"


def test_package_resource_form(sqlite_file, make_run, tmp_path, monkeypatch):
    root = package(tmp_path / "site", "resstore", monkeypatch)
    write_env(root / "db" / "alembic")
    write_versions(root / "db" / "alembic" / "versions")
    app = tmp_path / "app"
    app.mkdir()
    (app / "alembic.ini").write_text("[alembic]\nscript_location = resstore:db/alembic\n")
    out = check(make_run(stamp_sqlite(sqlite_file, "a1f0"), app_path=app))
    assert codes(out) == ["MIG301"]
    assert out["observed"]["script_location"] == str(root / "db" / "alembic")
    assert out["observed"]["script_location_from"] == "the package resource resstore:db/alembic"


def test_package_resource_form_missing_folder_is_mig305_with_the_reason(
        sqlite_file, make_run, tmp_path, monkeypatch):
    package(tmp_path / "site", "resstore2", monkeypatch)
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = resstore2:nowhere\n")
    f = only(check(make_run(stamp_sqlite(sqlite_file, "a1f0"))), "MIG305")
    assert "no folder 'nowhere' in the package 'resstore2'" in f["facts"]["detail"]
    assert "no folder 'nowhere'" in hint(f)


def test_here_interpolation_and_the_working_directory(sqlite_file, make_run, tmp_path,
                                                     monkeypatch):
    app = tmp_path / "app"
    write_env(app / "deploy" / "migrations")
    write_versions(app / "deploy" / "migrations" / "versions")
    (app / "deploy" / "alembic.ini").write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n")
    monkeypatch.chdir(tmp_path)
    out = check(make_run(stamp_sqlite(sqlite_file, "c3d2"), app_path=app,
                         alembic_ini="deploy/alembic.ini"))
    assert out["findings"] == [] and out["observed"]["script_location"] == "deploy/migrations"
    assert out["observed"]["found_by"] == "--alembic-ini / SIDECAR_ALEMBIC_INI"


def test_relative_to_the_app_path_when_not_beside_the_ini(sqlite_file, make_run, tmp_path,
                                                         monkeypatch):
    app = tmp_path / "app"
    write_env(app / "migrations")
    write_versions(app / "migrations" / "versions")
    (app / "conf").mkdir()
    (app / "conf" / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    monkeypatch.chdir(tmp_path)
    run = make_run(stamp_sqlite(sqlite_file, "a1f0"), app_path=app,
                   alembic_ini="conf/alembic.ini")
    f = only(check(run), "MIG301")
    assert run.ctx.migration_state["state"] == "behind"
    # the CLI resolves `migrations` from the working directory: the hint runs from the app
    assert f"cd {app} && " in hint(f) and "-c conf/alembic.ini upgrade head" in hint(f)


# --- version_locations: in the ini, or set by env.py at run time ---------------------------

@pytest.mark.parametrize("separator,joined", [
    (None, "{a} {b}"), (None, "{a}, {b}"), ("os", "{a}:{b}"), ("space", "{a} {b}"),
    (";", "{a};{b}"), ("version_path_separator = os", "{a}:{b}")])
def test_version_locations_in_the_ini(sqlite_file, make_run, tmp_path, separator, joined):
    write_env(tmp_path / "migrations")
    write_versions(tmp_path / "migrations" / "versions", HISTORY[:2])
    write_versions(tmp_path / "plugins" / "audit" / "versions", [HISTORY[2]])
    lines = ["[alembic]", "script_location = migrations",
             "version_locations = " + joined.format(a="%(here)s/migrations/versions",
                                                    b="plugins/audit/versions")]
    if separator:  # Alembic < 1.16 named it version_path_separator
        lines.append(separator if "=" in separator else f"path_separator = {separator}")
    (tmp_path / "alembic.ini").write_text("\n".join(lines) + "\n")
    out = check(make_run(stamp_sqlite(sqlite_file, "b2e1")))
    f = only(out, "MIG301")
    assert [p["revision"] for p in f["facts"]["pending"]] == ["c3d2"]
    assert out["observed"]["version_locations"] == ["migrations/versions",
                                                    "plugins/audit/versions"]


def runtime_locations_app(app: Path) -> None:
    """env.py adds a plugin's version folder while it runs; the ini knows only the first."""
    write_env(app / "migrations", """\
        from alembic import context
        config = context.config
        config.set_main_option("version_locations", " ".join(
            [config.get_main_option("script_location") + "/versions", "/plugins/versions"]))
        """)
    write_versions(app / "migrations" / "versions", [*HISTORY[:2], ("d4c3", "a1f0", "fork")])
    (app / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")


def test_env_py_setting_version_locations_is_a_warning_never_several_heads(
        pgdb, make_run, tmp_path):
    runtime_locations_app(tmp_path)
    # statically: heads b2e1 and d4c3, and the database at a revision of the plugin's folder
    run = make_run(stamp_pg(pgdb(), "f00d"), app_path=tmp_path)
    out = check(run)
    f = only(out, "MIG306")
    assert codes(out) == ["MIG306"], "no MIG303/MIG302 from a partial, static read"
    assert CATALOG["MIG306"].severity == "warning" and f["facts"]["reason"] == "runtime"
    assert "version_locations (line 4)" in f["message"] and "f00d" in f["message"]
    assert "version_locations" in hint(f)
    assert run.ctx.migration_state["state"] == "unknown"


def test_env_py_setting_version_locations_and_no_version_table(pgdb, make_run, tmp_path):
    runtime_locations_app(tmp_path)
    out = check(make_run(pgdb("CREATE TABLE users (id int primary key);").url(),
                         app_path=tmp_path))
    assert codes(out) == ["MIG306", "MIG304"]  # no alembic_version is true whatever the files
    assert only(out, "MIG304")["facts"]["head"] == "head"


def test_several_heads_read_statically_are_real(sqlite_file, make_run, tmp_path):
    write_env(tmp_path / "migrations")
    write_versions(tmp_path / "migrations" / "versions",
                   [*HISTORY, ("d4c3", "b2e1", "a branch")])
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    out = check(make_run(stamp_sqlite(sqlite_file, "c3d2", "d4c3")))
    f = only(out, "MIG303")
    assert set(f["facts"]["heads"].split()) == {"c3d2", "d4c3"}
    assert "merge -m 'merge heads' " in hint(f)
    assert out["observed"]["state"] == "at_head"


def test_missing_version_folder_is_a_warning(sqlite_file, make_run, tmp_path):
    write_env(tmp_path / "migrations")
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    f = only(check(make_run(stamp_sqlite(sqlite_file, "a1f0"))), "MIG306")
    assert f["facts"]["reason"] == "no_versions"


# --- which config, when there are several ---------------------------------------------------

def test_app_path_ini_wins_over_the_package_one_and_says_so(sqlite_file, make_run, tmp_path,
                                                          monkeypatch):
    root = package(tmp_path / "site", "bothstore", monkeypatch)
    write_optuna_like(root)
    app = tmp_path / "app"
    write_env(app / "migrations")
    write_versions(app / "migrations" / "versions")
    (app / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n")
    out = check(make_run(stamp_sqlite(sqlite_file, "c3d2"), app_path=app,
                         models=["bothstore.models"]))
    o = out["observed"]
    assert o["config"] == "alembic.ini" and o["found_by"] == "alembic.ini at the app path"
    assert o["also_found"] == [
        f"{root / 'storages' / '_rdb' / 'alembic.ini'} (alembic.ini inside the package "
        "'bothstore')"]
    assert "also found, not used" in o["summary"]


def test_ini_in_a_subfolder_of_the_app_path(sqlite_file, make_run, tmp_path, monkeypatch):
    write_env(tmp_path / "db" / "migrations")
    write_versions(tmp_path / "db" / "migrations" / "versions")
    (tmp_path / "db" / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    monkeypatch.chdir("/")
    out = check(make_run(stamp_sqlite(sqlite_file, "c3d2")))
    assert out["findings"] == []
    assert out["observed"]["found_by"] == "alembic.ini in a subfolder of the app path"
    assert out["observed"]["script_location"] == "db/migrations"


def test_pyproject_tool_alembic(sqlite_file, make_run, tmp_path):
    write_env(tmp_path / "migrations")
    write_versions(tmp_path / "migrations" / "versions")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.alembic]\nscript_location = "%(here)s/migrations"\n')
    out = check(make_run(stamp_sqlite(sqlite_file, "b2e1")))
    assert codes(out) == ["MIG301"]
    assert out["observed"]["found_by"] == "[tool.alembic] in pyproject.toml at the app path"


def test_nothing_found_names_where_it_looked(sqlite_file, make_run, tmp_path, monkeypatch):
    package(tmp_path / "site", "barestore", monkeypatch)
    app = tmp_path / "app"
    app.mkdir()
    with pytest.raises(Skip, match=r"inside the models' packages \(barestore "):
        migrations.run_migrations(make_run(stamp_sqlite(sqlite_file, "a1f0"), app_path=app,
                                           models=["barestore.models"]).ctx)


# --- the URL variable in the hint: never the password -------------------------------------

def url_env_app(app: Path) -> None:
    write_env(app / "migrations", """\
        import os
        url = os.environ["APP_DATABASE_URL"]
        settings = os.getenv("APP_SETTINGS", "prod")
        """)
    write_versions(app / "migrations" / "versions")
    (app / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")


def test_url_variable_with_a_password_is_shown_masked(pgdb, make_run, tmp_path, monkeypatch):
    monkeypatch.delenv("APP_DATABASE_URL", raising=False)
    url_env_app(tmp_path)
    db = pgdb()
    f = only(check(make_run(stamp_pg(db, "a1f0"), app_path=tmp_path)), "MIG301")
    text = hint(f)
    assert "APP_DATABASE_URL='postgresql+psycopg2://app:***@" in text
    assert "put the password where *** is" in text
    assert "env.py also reads APP_SETTINGS" in text


def test_url_variable_already_set_or_held_by_another(pgdb, make_run, tmp_path, monkeypatch):
    url_env_app(tmp_path)
    db = pgdb()
    url = stamp_pg(db, "a1f0")
    monkeypatch.setenv("APP_DATABASE_URL", url)
    text = hint(only(check(make_run(url, app_path=tmp_path)), "MIG301"))
    assert f"cd {tmp_path} && " in text and "APP_DATABASE_URL=" not in command_of(text)
    assert "APP_DATABASE_URL is already set in the app's environment" in text
    monkeypatch.delenv("APP_DATABASE_URL")
    monkeypatch.setenv("ZZ_PRIMARY_DSN", url)  # the deploy keeps it under another name
    text = hint(only(check(make_run(url, app_path=tmp_path)), "MIG301"))
    assert 'APP_DATABASE_URL="$ZZ_PRIMARY_DSN" ' in command_of(text)

"""Migrations of a further database (a bind): which migrations stamp it, read from env.py
and the config, never by running them.

- Flask-Migrate's multidb env.py (`flask db init --multidb`) and Alembic's multidb template
  (`alembic init -t multidb`, the ini's `databases` option) stamp each database with the
  same revisions, in its own alembic_version: a bind without one was never migrated
  (MIG304), one behind is MIG301.
- A single-database env.py leaves further databases alone: no table, or a revision of some
  other migrations, is a skip that names --alembic-ini NAME=PATH, never MIG302.
- --alembic-ini NAME=PATH: the bind's own migrations, compared with its own scripts.
"""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from sidecar.worker.checks.migrations import check as migrations
from sidecar.worker.checks.migrations import envpy
from sidecar.worker.context import Skip
from tests.db.db_helpers import assert_required_facts, assert_secret_free, only
from tests.db.test_migrations_layouts import (
    FLASK_APP,
    FLASK_FIRST,
    FLASK_HEAD,
    HISTORY,
    hint,
    stamp_sqlite,
    write_env,
    write_versions,
)

# The shape of Flask-Migrate's multidb env.py (flask-multidb template): the bind keys come
# from the Flask app's SQLALCHEMY_BINDS, each gets its own connection and alembic_version.
FLASK_MULTIDB_ENV = '''\
    from flask import current_app
    from alembic import context

    config = context.config
    bind_names = []
    if current_app.config.get("SQLALCHEMY_BINDS") is not None:
        bind_names = list(current_app.config["SQLALCHEMY_BINDS"].keys())
    for bind in bind_names:
        context.config.set_section_option(
            bind, "sqlalchemy.url",
            str(current_app.extensions["migrate"].db.get_engine(bind=bind).url))
    '''

# Alembic's multidb template: the ini's `databases` names the sections holding the URLs.
ALEMBIC_MULTIDB_ENV = '''\
    import re
    from alembic import context
    from sqlalchemy import engine_from_config

    config = context.config
    db_names = config.get_main_option("databases", "")

    def run_migrations_online():
        for name in re.split(r",\\s*", db_names):
            engine_from_config(context.config.get_section(name, {}), prefix="sqlalchemy.")
    '''


def check_bind(run, name: str, url: str):
    out = migrations.run_migrations(run.ctx.for_bind(name, url))
    assert_secret_free(out, run.phases)
    assert_required_facts(out["findings"])
    return out


def flask_multidb_app(tmp_path: Path) -> Path:
    app = tmp_path / "flaskapp"
    shutil.copytree(FLASK_APP, app)
    env = app / "migrations" / "env.py"
    env.write_text("raise AssertionError('env.py must never run')\n"
                   + textwrap.dedent(FLASK_MULTIDB_ENV))
    return app


def alembic_multidb_app(tmp_path: Path, databases: str) -> Path:
    app = tmp_path / "multidb"
    write_env(app / "migrations", ALEMBIC_MULTIDB_ENV)
    write_versions(app / "migrations" / "versions")
    (app / "alembic.ini").write_text(textwrap.dedent(f"""\
        [alembic]
        script_location = migrations
        databases = {databases}

        [engine1]
        sqlalchemy.url = sqlite:///main.db

        [analytics]
        sqlalchemy.url = sqlite:///analytics.db
        """))
    return app


# --- env.py read, not run ------------------------------------------------------------------

@pytest.mark.parametrize("body, expected", [
    (FLASK_MULTIDB_ENV, "flask"),
    (ALEMBIC_MULTIDB_ENV, "alembic"),
    ("from flask import current_app\nconfig = None\n", None),  # Flask-Migrate single db
    ("from alembic import context\nbind_names = ['x']\n", None),  # not Flask's template
])
def test_env_py_says_whether_it_migrates_several_databases(tmp_path, body, expected):
    write_env(tmp_path, body)
    assert envpy.scan(str(tmp_path / "env.py")).multidb == expected


# --- Flask-Migrate multidb -----------------------------------------------------------------

def test_flask_multidb_bind_never_migrated_is_mig304(sqlite_file, make_run, tmp_path):
    app = flask_multidb_app(tmp_path)
    run = make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app, models=["app.models"])
    out = check_bind(run, "analytics", f"sqlite:///{sqlite_file('', name='a.db')}")
    f = only(out, "MIG304")
    assert f["facts"]["head"] == FLASK_HEAD
    assert "multidb" in out["observed"]["bind_migrated"]
    text = hint(f)
    assert " db upgrade`" in text  # one command migrates every bind
    assert "every SQLALCHEMY_BINDS one, 'analytics' among them" in text


def test_flask_multidb_bind_behind_is_mig301_default_at_head(sqlite_file, make_run, tmp_path):
    app = flask_multidb_app(tmp_path)
    run = make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app, models=["app.models"])
    assert migrations.run_migrations(run.ctx)["findings"] == []
    out = check_bind(run, "analytics", stamp_sqlite(sqlite_file, FLASK_FIRST, name="a.db"))
    f = only(out, "MIG301")
    assert [p["revision"] for p in f["facts"]["pending"]] == [FLASK_HEAD]


# --- a single-database env.py ----------------------------------------------------------------

def test_single_database_env_leaves_an_unstamped_bind_alone(sqlite_file, make_run, tmp_path):
    app = tmp_path / "flaskapp"
    shutil.copytree(FLASK_APP, app)
    run = make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app, models=["app.models"])
    bind_url = f"sqlite:///{sqlite_file('CREATE TABLE page_views (id int);', name='a.db')}"
    with pytest.raises(Skip, match="--alembic-ini analytics=PATH") as skip:
        check_bind(run, "analytics", bind_url)
    assert "env.py migrates one database" in str(skip.value)


def test_a_bind_stamped_with_an_unknown_revision_is_mig302_naming_both_causes(
        sqlite_file, make_run, tmp_path):
    """A rollback that left it ahead of these scripts, or another service's migrations: the
    files cannot tell, so never a skip (ready); the hint names --alembic-ini for the second."""
    app = tmp_path / "flaskapp"
    shutil.copytree(FLASK_APP, app)
    run = make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app, models=["app.models"])
    out = check_bind(run, "analytics", stamp_sqlite(sqlite_file, "0ther0rev1s", name="a.db"))
    f = only(out, "MIG302")
    assert (f["facts"]["bind"], f["facts"]["unmanaged"]) == ("analytics", "yes")
    text = hint(f)
    assert "deploy the code that has that revision" in text
    assert "--alembic-ini analytics=PATH" in text
    # the default database's MIG302 has no such sentence
    default = migrations.run_migrations(make_run(stamp_sqlite(sqlite_file, "0ther0rev1s",
                                                              name="d.db"),
                                                 app_path=app, models=["app.models"]).ctx)
    assert "--alembic-ini" not in hint(only(default, "MIG302"))


def test_a_bind_stamped_with_these_revisions_is_still_compared(sqlite_file, make_run,
                                                              tmp_path):
    """A custom env.py that migrates the bind too, in a way not recognised: its stamps are
    ours, so behind is behind."""
    app = tmp_path / "flaskapp"
    shutil.copytree(FLASK_APP, app)
    run = make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app, models=["app.models"])
    only(check_bind(run, "analytics", stamp_sqlite(sqlite_file, FLASK_FIRST, name="a.db")),
         "MIG301")


# --- Alembic's multidb template ------------------------------------------------------------

def test_alembic_multidb_names_its_databases_in_the_ini(sqlite_file, make_run, tmp_path):
    app = alembic_multidb_app(tmp_path, "engine1, analytics")
    run = make_run(stamp_sqlite(sqlite_file, "c3d2"), app_path=app)
    assert migrations.run_migrations(run.ctx)["findings"] == []
    bind_url = f"sqlite:///{sqlite_file('CREATE TABLE t (id int);', name='a.db')}"
    out = check_bind(run, "analytics", bind_url)
    assert only(out, "MIG304")["facts"]["head"] == "c3d2"
    assert "databases = engine1, analytics" in out["observed"]["bind_migrated"]
    behind = check_bind(run, "analytics", stamp_sqlite(sqlite_file, "a1f0", name="b.db"))
    assert only(behind, "MIG301")["facts"]["count"] == "2"


def test_alembic_multidb_leaves_a_database_it_does_not_list(sqlite_file, make_run, tmp_path):
    app = alembic_multidb_app(tmp_path, "engine1")
    run = make_run(stamp_sqlite(sqlite_file, "c3d2"), app_path=app)
    bind_url = f"sqlite:///{sqlite_file('CREATE TABLE t (id int);', name='a.db')}"
    with pytest.raises(Skip, match="databases = engine1 does not name 'analytics'"):
        check_bind(run, "analytics", bind_url)
    # stamped with these revisions all the same (the app runs them with its URL): compared,
    # and the hint does not claim the multidb env.py migrates it
    behind = only(check_bind(run, "analytics", stamp_sqlite(sqlite_file, "a1f0", name="b.db")),
                  "MIG301")
    assert "among them" not in hint(behind)


def test_a_multidb_stamp_hint_says_it_stamps_every_database(sqlite_file, make_run, tmp_path):
    app = flask_multidb_app(tmp_path)
    run = make_run(stamp_sqlite(sqlite_file, FLASK_HEAD), app_path=app, models=["app.models"])
    bind_url = f"sqlite:///{sqlite_file('CREATE TABLE page_views (id int);', name='a.db')}"
    text = hint(only(check_bind(run, "analytics", bind_url), "MIG304"))
    assert f"db stamp {FLASK_HEAD}" in text
    assert "stamps every database the multidb env.py migrates, the default one too" in text
    assert f"INSERT INTO alembic_version VALUES ('{FLASK_HEAD}')" in text


# --- --alembic-ini NAME=PATH: the bind's own migrations --------------------------------------

def test_a_bind_with_its_own_alembic_config(sqlite_file, make_run, tmp_path):
    main = tmp_path / "main"
    write_env(main / "migrations")
    write_versions(main / "migrations" / "versions")
    (main / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n")
    other = tmp_path / "analytics_migrations"
    write_env(other / "scripts")
    write_versions(other / "scripts" / "versions",
                   [("d001", None, "create page_views"), ("d002", "d001", "rename url")])
    (other / "analytics.ini").write_text("[alembic]\nscript_location = scripts\n")
    run = make_run(stamp_sqlite(sqlite_file, HISTORY[-1][0]), app_path=main,
                   alembic_binds={"analytics": str(other / "analytics.ini")})
    assert migrations.run_migrations(run.ctx)["findings"] == []
    at_head = check_bind(run, "analytics", stamp_sqlite(sqlite_file, "d002", name="a.db"))
    assert at_head["findings"] == [] and at_head["observed"]["heads"] == ["d002"]
    assert "analytics.ini" in at_head["observed"]["config"]
    never = check_bind(run, "analytics",
                       f"sqlite:///{sqlite_file('CREATE TABLE t (id int);', name='b.db')}")
    f = only(never, "MIG304")
    assert f["facts"]["head"] == "d002"
    assert "analytics.ini" in hint(f)  # its own config, in the command

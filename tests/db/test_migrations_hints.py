"""MIG301's hint is a command that works where it is pasted: each test takes the hint from the
real CLI's report, runs it in a shell exactly as printed, and checks the database reached
head. The demo's own backend (Alembic, DATABASE_URL read by env.py), a Flask-Migrate app
(``flask db upgrade``, under an interpreter with Flask-Migrate), and an ini shipped inside a
package whose sqlalchemy.url names another database (optuna's shape).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sidecar.worker.redact import url_password
from tests.conftest import VENVS
from tests.support.helpers import EXAMPLES, FIXTURES, run_cli

pytestmark = pytest.mark.postgres

GOOD = EXAMPLES / "good"
FLASK_APP = FIXTURES / "migrations_flask_migrate"
FLASK_ENV = ["Flask-Migrate==4.1.0", "Flask-SQLAlchemy==3.1.1", "SQLAlchemy==2.0.*"]


def command_of(hint: str) -> str:
    """The command in the hint: the first `...` span."""
    m = re.search(r"`([^`]+)`", hint)
    assert m, hint
    return m.group(1)


def shell(command: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    """Run a pasted command as on-call would: bash, a clean environment (no DATABASE_URL)."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("DATABASE_URL", "FLASK_APP") and not k.startswith("SIDECAR_")}
    proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True,
                          env={**base, **(env or {})}, cwd=cwd or "/", timeout=120)
    assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    return proc


def sqlite_version(path: Path) -> list[str]:
    conn = sqlite3.connect(str(path))
    try:
        return [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
    finally:
        conn.close()


def mig301(result) -> dict:
    behind = result.findings("MIG301")
    assert len(behind) == 1, result.stdout[-3000:]
    return behind[0]


# --- the demo's backend: `alembic upgrade head` alone fails there (env.py needs DATABASE_URL)

@pytest.mark.parametrize("flag", [False, True], ids=["found", "alembic-ini"])
def test_demo_hint_upgrades_a_copy_of_the_demo_database(tmp_path, flag):
    app = tmp_path / "backend"
    shutil.copytree(GOOD, app, ignore=shutil.ignore_patterns("__pycache__"))
    db = tmp_path / "demo.db"
    url = f"sqlite:///{db}"
    # the demo's database, built as `sidecar demo` builds it: the example's migrations to 0001
    subprocess.run([sys.executable, "-m", "alembic", "-c", str(app / "alembic.ini"),
                    "upgrade", "0001"], check=True, capture_output=True, cwd=app,
                   env=dict(os.environ, DATABASE_URL=url, PYTHONDONTWRITEBYTECODE="1"))
    # as plainly pasted, the old hint's command fails in this app: env.py needs DATABASE_URL
    bare = subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=app,
                          capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if k != "DATABASE_URL"})
    assert bare.returncode != 0 and "DATABASE_URL" in bare.stderr
    extra = ["--alembic-ini", str(app / "alembic.ini")] if flag else []
    args = ["check", "--app-path", str(app), "--models", "server.models_sql", "--models",
            "server.models_plain", "--database-url", url, "--format", "json", *extra]
    f = mig301(run_cli(*args))
    runner = f["facts"]["runner"]
    assert runner["tool"] == "alembic" and runner["url_var"] == "DATABASE_URL"
    command = command_of(f["hint"])
    assert f"DATABASE_URL={url}" in command and command.endswith(" upgrade head")
    assert "not installed" not in f["hint"]  # the app's interpreter has its own Alembic
    shell(command)
    assert sqlite_version(db) == ["0002"]
    after = run_cli(*args)
    assert after.returncode == 0 and not after.findings("MIG301"), after.stdout[-2000:]


def test_demo_text_report_says_which_config_in_one_line(tmp_path):
    db = tmp_path / "demo.db"
    subprocess.run([sys.executable, "-m", "alembic", "-c", str(GOOD / "alembic.ini"),
                    "upgrade", "0001"], check=True, capture_output=True, cwd=GOOD,
                   env=dict(os.environ, DATABASE_URL=f"sqlite:///{db}",
                            PYTHONDONTWRITEBYTECODE="1"))
    out = run_cli("check", "--app-path", str(GOOD), "--models", "server.models_sql",
                  "--models", "server.models_plain", "--database-url", f"sqlite:///{db}",
                  "--check", "migrations").stdout
    line = next(x for x in out.splitlines() if "config alembic.ini" in x)
    assert line.strip() == ("config alembic.ini (alembic.ini at the app path); scripts "
                            "migrations (%(here)s, the config's folder); heads 0002")


def test_hint_says_when_alembic_is_not_the_apps_own(tmp_path, sqla20_python):
    """An app without Alembic (sqla20: SQLAlchemy 2.0 + Flask-SQLAlchemy): the scripts are
    read with the Alembic sidecar lends, and the hint says to install it first."""
    db = tmp_path / "demo.db"
    subprocess.run([sys.executable, "-m", "alembic", "-c", str(GOOD / "alembic.ini"),
                    "upgrade", "0001"], check=True, capture_output=True, cwd=GOOD,
                   env=dict(os.environ, DATABASE_URL=f"sqlite:///{db}",
                            PYTHONDONTWRITEBYTECODE="1"))
    probe = subprocess.run([sqla20_python, "-c", "import alembic"], capture_output=True)
    assert probe.returncode != 0, "the sqla20 venv must not have Alembic for this test"
    result = run_cli("check", "--python", sqla20_python, "--app-path", str(GOOD),
                     "--models", "server.models_sql", "--models", "server.models_plain",
                     "--database-url", f"sqlite:///{db}", "--format", "json")
    f = mig301(result)
    assert f["facts"]["runner"]["alembic_own"] is False
    assert "Alembic is not installed in the app's environment" in f["hint"]
    assert f"{sqla20_python} -m alembic -c alembic.ini upgrade head" in command_of(f["hint"])


# --- Flask-Migrate: `flask db upgrade` ------------------------------------------------------

@pytest.fixture(scope="session")
def flask_migrate_python() -> str:
    """An interpreter with Flask-Migrate (made once, cached under SIDECAR_TEST_VENVS)."""
    target = VENVS / "flask_migrate"
    python = target / "bin" / "python"
    stamp = target / ".requirements"
    wanted = "\n".join(FLASK_ENV)
    if not (python.exists() and stamp.exists() and stamp.read_text() == wanted):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(target)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q",
                        "--disable-pip-version-check", *FLASK_ENV], check=True)
        stamp.write_text(wanted)
    return str(python)


def test_flask_migrate_hint_is_flask_db_upgrade_and_it_runs(tmp_path, flask_migrate_python):
    app = tmp_path / "flaskapp"
    shutil.copytree(FLASK_APP, app)
    db = tmp_path / "app.db"
    app_env = {"DATABASE_URL": f"sqlite:///{db}", "PYTHONDONTWRITEBYTECODE": "1"}
    # the app's own migrate command builds the database, up to the first revision
    shell(f"cd {app} && {flask_migrate_python} -m flask db upgrade 3f2a9c1d7b10", app_env)
    args = ["check", "--python", flask_migrate_python, "--app-path", str(app), "--models",
            "app.models", "--database-url", f"sqlite:///{db}", "--format", "json"]
    result = run_cli(*args, env=app_env)
    f = mig301(result)
    assert result.returncode == 1  # on main: no config found, migrations skipped, "ready"
    migrations = result.check("migrations")["observed"]
    assert migrations["found_by"] == "Flask-Migrate folder at the app path"
    command = command_of(f["hint"])
    assert command == f"cd {app} && {flask_migrate_python} -m flask db upgrade"
    assert "SQLALCHEMY_DATABASE_URI" in f["hint"]  # the URL is the Flask app's
    shell(command, app_env)
    assert sqlite_version(db) == ["8b41e0f5c2d3"]
    assert not run_cli(*args, env=app_env).findings("MIG301")


# --- an ini inside an installed package, whose sqlalchemy.url is another database -----------

def optuna_like_site(site: Path) -> Path:
    """optuna's shape: storages/_rdb/alembic.ini (script_location = alembic, relative to the
    ini; sqlalchemy.url = sqlite:///alembic.db "only used when generating migration
    scripts"), an env.py that takes the URL from the config, real migrations."""
    rdb = site / "trialstore" / "storages" / "_rdb"
    (rdb / "alembic" / "versions").mkdir(parents=True)
    for init in (site / "trialstore", site / "trialstore" / "storages", rdb):
        (init / "__init__.py").write_text("")
    (site / "trialstore" / "models.py").write_text(textwrap.dedent("""\
        from sqlalchemy import Column, Integer, MetaData, String, Table
        metadata = MetaData()
        studies = Table("studies", metadata, Column("id", Integer, primary_key=True),
                        Column("name", String(50)), Column("direction", String(10)))
        """))
    (rdb / "alembic.ini").write_text(
        "[alembic]\nscript_location = alembic\n\n"
        "# NOTE: This URL is only used when generating migration scripts.\n"
        "sqlalchemy.url = sqlite:///alembic.db\n")
    (rdb / "alembic" / "env.py").write_text(textwrap.dedent("""\
        from alembic import context
        from sqlalchemy import engine_from_config, pool
        config = context.config
        connectable = engine_from_config(config.get_section(config.config_ini_section),
                                         prefix="sqlalchemy.", poolclass=pool.NullPool)
        with connectable.connect() as connection:
            context.configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
        """))
    (rdb / "alembic" / "script.py.mako").write_text('"""${message}"""\n')
    steps = [("v1", None, "create studies",
              "op.create_table('studies', sa.Column('id', sa.Integer, primary_key=True), "
              "sa.Column('name', sa.String(50)))"),
             ("v2", "v1", "add studies.direction",
              "op.add_column('studies', sa.Column('direction', sa.String(10)))")]
    for rev, down, message, op in steps:
        (rdb / "alembic" / "versions" / f"{rev}.py").write_text(textwrap.dedent(f'''\
            """{message}"""
            import sqlalchemy as sa
            from alembic import op

            revision = "{rev}"
            down_revision = {down!r}
            branch_labels = None
            depends_on = None


            def upgrade():
                {op}
            '''))
    return rdb


def test_package_ini_hint_migrates_this_database_not_the_inis(tmp_path, pgdb):
    site = tmp_path / "site-packages"
    rdb = optuna_like_site(site)
    db = pgdb()
    url = db.url()
    env = {"PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    # the package's own upgrade, to v1 (what `optuna storage upgrade` does: Alembic's API)
    setup = (f"import sys; from alembic import command; from alembic.config import Config; "
             f"c = Config({str(rdb / 'alembic.ini')!r}); "
             f"c.set_main_option('script_location', {str(rdb / 'alembic')!r}); "
             f"c.set_main_option('sqlalchemy.url', sys.argv[1].replace('%', '%%')); "
             f"command.upgrade(c, 'v1')")
    subprocess.run([sys.executable, "-c", setup, url], check=True, capture_output=True,
                   env=dict(os.environ, **env), cwd=tmp_path)
    app = tmp_path / "app"
    app.mkdir()
    args = ["check", "--app-path", str(app), "--models", "trialstore.models",
            "--database-url", url, "--format", "json"]
    result = run_cli(*args, env=env)
    f = mig301(result)
    assert result.check("migrations")["observed"]["found_by"] == (
        "alembic.ini inside the package 'trialstore'")
    assert f["facts"]["runner"]["tool"] == "alembic-api"
    command = command_of(f["hint"])
    password = url_password(url)
    assert password not in result.stdout and "***" in command
    assert command.startswith(f"cd {app} && DATABASE_URL=")
    assert "put the password where *** is" in f["hint"]
    run_dir = tmp_path / "elsewhere"
    run_dir.mkdir()
    shell(command.replace("***", password), env, cwd=run_dir)
    assert db.sql("SELECT version_num FROM alembic_version").split() == ["v2"]
    assert not list(tmp_path.rglob("alembic.db")), "the ini's own database was migrated"
    assert run_cli(*args, env=env).returncode == 0


def test_real_flask_db_init_and_migrate_output(tmp_path, flask_migrate_python):
    """The folder Flask-Migrate itself writes: `flask db init` (alembic.ini without
    script_location), `flask db migrate`; found without flags, and the hint's `flask db
    upgrade` (MIG304's, then MIG301's) builds the database."""
    app = tmp_path / "flaskapp"
    shutil.copytree(FLASK_APP, app, ignore=shutil.ignore_patterns("migrations"))
    db = tmp_path / "app.db"
    app_env = {"DATABASE_URL": f"sqlite:///{db}", "PYTHONDONTWRITEBYTECODE": "1"}
    flask = f"cd {app} && {flask_migrate_python} -m flask"
    shell(f"{flask} db init", app_env)
    sqlite3.connect(str(db)).close()  # the app's empty database (the sidecar never creates one)
    ini = (app / "migrations" / "alembic.ini").read_text()
    assert "[alembic]" in ini and "script_location" not in ini.replace("# ", "")
    args = ["check", "--python", flask_migrate_python, "--app-path", str(app), "--models",
            "app.models", "--database-url", f"sqlite:///{db}", "--format", "json",
            "--check", "migrations"]
    fresh = run_cli(*args, env=app_env)
    # no revisions yet: a warning, never "no heads"; the empty database is still unmigrated
    assert [f["code"] for f in fresh.findings()] == ["MIG306", "MIG304"], fresh.stdout[-2000:]
    assert fresh.findings("MIG306")[0]["facts"]["reason"] == "no_revisions"
    shell(f"{flask} db migrate -m 'create users'", app_env)
    result = run_cli(*args, env=app_env)
    # autogenerate left an empty alembic_version behind: the one revision is pending
    behind = mig301(result)
    assert behind["facts"]["current"] == "none" and result.returncode == 1
    command = command_of(behind["hint"])
    assert command == f"{flask} db upgrade"
    shell(command, app_env)
    after = run_cli(*args, env=app_env)
    assert after.returncode == 0 and not after.findings(), after.stdout[-2000:]
    assert after.check("migrations")["observed"]["state"] == "at_head"


def test_folder_without_an_ini_inside_a_package(tmp_path, monkeypatch):
    """Apps that build Alembic's Config in code ship only env.py + versions/: found inside
    the models' package, and the hint drives Alembic's API with that folder."""
    from sidecar.findings.registry import CATALOG
    from sidecar.worker.checks.migrations import check as migrations
    from tests.db.conftest import Run

    site = tmp_path / "site"
    folder = site / "codecfg" / "db" / "migrations"
    (folder / "versions").mkdir(parents=True)
    (site / "codecfg" / "__init__.py").write_text("")
    (site / "codecfg" / "models.py").write_text("")
    (folder / "env.py").write_text(textwrap.dedent("""\
        import os
        from alembic import context
        from sqlalchemy import create_engine
        with create_engine(os.environ["CODECFG_DB_URL"]).connect() as connection:
            context.configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
        """))
    for rev, down in (("r1", None), ("r2", "r1")):
        (folder / "versions" / f"{rev}.py").write_text(
            f"revision = {rev!r}\ndown_revision = {down!r}\n"
            "branch_labels = depends_on = None\n\n\ndef upgrade():\n    pass\n")
    db = tmp_path / "app.db"
    conn = sqlite3.connect(str(db))
    conn.executescript("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
                       "INSERT INTO alembic_version VALUES ('r1');")
    conn.commit()
    conn.close()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("CODECFG_DB_URL", raising=False)
    app = tmp_path / "app"
    app.mkdir()
    run = Run(str(app), {"database_url": f"sqlite:///{db}", "models": ["codecfg.models"]})
    try:
        out = migrations.run_migrations(run.ctx)
    finally:
        run.close()
    assert out["observed"]["found_by"] == ("migrations folder (env.py + versions/) inside the "
                                           "package 'codecfg'")
    f = next(x for x in out["findings"] if x["code"] == "MIG301")
    text = CATALOG["MIG301"].render_hint(f)
    command = command_of(text)
    assert f"CODECFG_DB_URL=sqlite:///{db} " in command and "sqlalchemy.url" not in command
    shell(command)
    assert sqlite_version(db) == ["r2"]

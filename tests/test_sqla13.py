"""The worker under an app on SQLAlchemy 1.3.24 (Flask-SQLAlchemy 2.5, Alembic 1.7.7).

On main this said DB299 "ImportError: cannot import name 'make_url'" for a healthy database:
sidecar's own code, shown as a database fault. Here: 1.3-era apps (``sqlalchemy.ext.declarative``,
``db.Model``, a mixin in its own file, a Core ``Table``) migrated by their own Alembic, on a real
SQLite file and the suite's PostgreSQL cluster; model bugs with the codes 1.4 gives; sidecar's
newer Alembic is not lent to 1.3 (SIDE012); SQLAlchemy below 1.3 runs no check (SIDE011); a
crash in the worker's own code is SIDE008 with its file:line and the versions.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.findings.model import STRICT_ENV
from tests.db.db_helpers import assert_secret_free
from tests.support.helpers import (
    FIXTURES,
    ROOT,
    CliResult,
    assert_required_facts,
    check_fixture,
    marked_line,
    run_cli,
)

pytestmark = pytest.mark.slow  # builds the 1.3 venvs on first use

GOOD = FIXTURES / "sqla13_good"
PASSWORD = "pw-13-S3cret@x/y"
FIRST, HEAD = "a13f00000001", "a13f00000002"


def _statuses(result: CliResult) -> dict[str, str]:
    """Each check's status; an opt-in check nobody asked for (the app factory) left out."""
    return {c["name"]: c["status"] for c in result.report["checks"]
            if not (c["status"] == "skip" and (c.get("reason") or "").startswith("opt-in:"))}


def _migrate(python: str, url: str, revision: str = "head") -> None:
    """The app's own migration command, with the app's Alembic and SQLAlchemy 1.3."""
    env = dict(os.environ, DATABASE_URL=url, PYTHONPATH=str(GOOD),
               PYTHONDONTWRITEBYTECODE="1")
    # the venv's console script: Alembic < 1.5 has no ``python -m alembic``
    alembic = str(Path(python).parent / "alembic")
    proc = subprocess.run([alembic, "upgrade", revision], cwd=GOOD, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def _create_all(python: str, app: Path, url: str) -> None:
    """``create_all`` by the app's SQLAlchemy 1.3 (the Flask app has no migrations)."""
    code = ("import sys; from sqlalchemy import create_engine; from app.models import db; "
            "db.Model.metadata.create_all(create_engine(sys.argv[1]))")
    proc = subprocess.run([python, "-c", code, url], cwd=app, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"), timeout=120)
    assert proc.returncode == 0, proc.stderr


def _check(python: str, url: str, app: Path = GOOD, *extra: str) -> CliResult:
    return run_cli("check", "--app-path", str(app), "--models", "app.models", "--python",
                   python, "--database-url", url, "--format", "json", "--timeout", "60",
                   *extra, timeout=120)


def _assert_versions(result: CliResult, alembic: str | None = "1.7.7") -> None:
    versions = result.report["versions"]
    assert versions["sqlalchemy"] == "1.3.24", versions
    assert versions["alembic"] == alembic, versions


def _assert_no_internal_error(result: CliResult) -> None:
    found = [f["code"] for f in result.findings()]
    assert not [c for c in found if c in ("SIDE008", "DB299", "MIG399", "DRIFT499")], found


# --- healthy 1.3 apps: ready, on SQLite and PostgreSQL -----------------------------------


@pytest.mark.parametrize(("env", "alembic"), [("sqla13", "1.7.7"), ("sqla13_py38", "1.4.3")])
def test_migrated_app_is_ready_on_sqlite(env: str, alembic: str, request,
                                         tmp_path: Path) -> None:
    python = request.getfixturevalue(f"{env}_python")
    url = f"sqlite:///{tmp_path / 'app.db'}"
    _migrate(python, url)
    result = _check(python, url)
    assert result.returncode == 0, result.stdout
    _assert_versions(result, alembic)
    assert result.report["versions"]["python"].startswith(
        "3.8." if env.endswith("py38") else "3.")
    assert set(_statuses(result).values()) == {"pass"}, _statuses(result)
    assert result.check("mappers")["observed"]["class_names"] == [
        "app.models.orders.Order", "app.models.users.User"]
    assert result.check("migrations")["observed"]["current"] == [HEAD]
    drift = result.check("schema_drift")["observed"]
    assert (drift["verdict"], drift["tables_compared"]) == ("in_sync", 3)
    assert drift["fingerprint"]  # exec_driver_sql through compat: the re-check cache works
    assert result.check("database")["observed"]["read_only"] is True

    # a table only the database has: reported, and --exclude-table honoured on both Alembic
    # lines (before 1.5 Alembic has no include_name: include_object is the filter)
    with sqlite3.connect(tmp_path / "app.db") as conn:
        conn.execute("CREATE TABLE legacy_exports (id INTEGER PRIMARY KEY)")
    extra = _check(python, url)
    assert [(f["code"], f["table"]) for f in extra.check("schema_drift")["findings"]
            if f["code"] == "DRIFT402"] == [("DRIFT402", "legacy_exports")], extra.stdout
    excluded = _check(python, url, GOOD, "--exclude-table", "legacy_*")
    assert excluded.check("schema_drift")["findings"] == [], excluded.stdout
    assert excluded.check("schema_drift")["observed"]["verdict"] == "in_sync"


def test_behind_head_on_sqlite_is_explained_by_the_pending_migration(
        sqla13_python: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    _migrate(sqla13_python, url, FIRST)
    result = _check(sqla13_python, url)
    assert result.returncode == 1, result.stdout
    behind = result.findings("MIG301")
    assert behind and behind[0]["facts"]["current"] == FIRST, result.findings()
    missing = result.findings("DRIFT403")[0]
    assert (missing["table"], missing["column"]) == ("users", "name")
    assert (missing["file"], missing["class"]) == ("app/models/users.py", "User")
    assert result.findings("DRIFT431"), [f["code"] for f in result.findings()]
    _assert_no_internal_error(result)


_databases = itertools.count()


@pytest.fixture
def pg_app(pg_cluster):
    """A role and a database of its own, on the suite's cluster."""
    suffix = f"{os.getpid()}_{next(_databases)}"
    role = f"app13_{suffix}"
    pg_cluster.create_role(role, PASSWORD)
    name = f"sqla13_{suffix}"
    pg_cluster.create_database(name, owner=role)
    return pg_cluster, name, pg_cluster.url(name, role, PASSWORD), role


@pytest.mark.postgres
def test_migrated_app_on_postgres_ready_then_rename_found(sqla13_python: str, pg_app) -> None:
    cluster, name, url, _ = pg_app
    _migrate(sqla13_python, url)
    result = _check(sqla13_python, url)
    assert result.returncode == 0, result.stdout
    _assert_versions(result)
    assert set(_statuses(result).values()) == {"pass"}, _statuses(result)
    database = result.check("database")["observed"]
    assert (database["dialect"], database["driver"], database["read_only"]) == (
        "postgresql", "psycopg2", True)
    assert_secret_free(result.stdout, result.stderr, password=PASSWORD)

    cluster.psql("ALTER TABLE users RENAME COLUMN name TO full_name", name)
    renamed = _check(sqla13_python, url)
    assert renamed.returncode == 1, renamed.stdout
    rename = renamed.findings("DRIFT414")
    assert rename, [f["code"] for f in renamed.findings()]
    assert rename[0]["fix_sql"] == "ALTER TABLE users RENAME COLUMN full_name TO name"
    assert (rename[0]["file"], rename[0]["line"], rename[0]["class"],
            rename[0]["attribute"]) == ("app/models/users.py", 13, "User", "name")
    assert_required_facts(renamed.findings())
    _assert_no_internal_error(renamed)
    assert_secret_free(renamed.stdout, renamed.stderr, password=PASSWORD)


def test_flask_sqlalchemy_25_app_ready_then_rename_found(sqla13_python: str,
                                                         tmp_path: Path) -> None:
    app = FIXTURES / "sqla13_flask"
    db = tmp_path / "flask.db"
    _create_all(sqla13_python, app, f"sqlite:///{db}")
    result = _check(sqla13_python, f"sqlite:///{db}", app)
    assert result.returncode == 0, result.stdout
    assert result.check("mappers")["observed"]["mapped_classes"] == 2
    assert result.check("schema_drift")["observed"]["verdict"] == "in_sync"

    with sqlite3.connect(db) as conn:
        conn.execute("ALTER TABLE invoices RENAME COLUMN amount_cents TO amount")
    renamed = _check(sqla13_python, f"sqlite:///{db}", app)
    assert renamed.returncode == 1, renamed.stdout
    rename = renamed.findings("DRIFT414")[0]
    assert (rename["file"], rename["class"], rename["attribute"]) == (
        "app/models.py", "Invoice", "amount_cents")
    assert rename["fix_sql"] == "ALTER TABLE invoices RENAME COLUMN amount TO amount_cents"


def test_app_written_for_14_on_13_is_a_model_error_and_the_database_still_passes(
        sqla13_python: str, tmp_path: Path) -> None:
    """good_plain imports ``declarative_base`` from ``sqlalchemy.orm`` (1.4+): under 1.3 that
    is the app's ImportError at its import line; the database check, which on main said
    DB299 here, passes."""
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    result = _check(sqla13_python, f"sqlite:///{db}", FIXTURES / "good_plain")
    assert result.returncode == 1, result.stdout
    [failed] = result.check("models_import")["findings"]
    assert (failed["code"], failed["exception"], failed["file"], failed["line"]) == (
        "SQLA199", "ImportError", "app/models.py", 4)
    assert "declarative_base" in failed["message"]
    assert _statuses(result)["database"] == "pass"
    _assert_no_internal_error(result)


# --- model bugs: the codes 1.4 gives, at the marked line ----------------------------------

# 1.3-style packages (sqlalchemy.ext.declarative; db.Model of Flask-SQLAlchemy 2.5)
MODEL_BUGS = {
    "sqla13_reserved_metadata": ("SQLA101", "WebhookDelivery"),
    "reserved_metadata_flask": ("SQLA101", "SecurityEvent"),
    "sqla13_duplicate_table": ("SQLA102", "CatalogItem"),
    "sqla13_relationship_missing_class": ("SQLA104", "Post"),
    "sqla13_missing_primary_key": ("SQLA105", "PageView"),
}


@pytest.mark.parametrize("fixture", sorted(MODEL_BUGS))
def test_model_bug_has_the_code_and_line_on_13_and_14(fixture: str, sqla13_python: str,
                                                     sqla14_python: str) -> None:
    code, class_name = MODEL_BUGS[fixture]
    for python, version in ((sqla13_python, "1.3."), (sqla14_python, "1.4.")):
        result = check_fixture(fixture, python=python)
        assert result.report["versions"]["sqlalchemy"].startswith(version)
        assert result.returncode == 1, result.stdout
        found = result.findings(code)
        assert found, (version, [(f["code"], f["message"]) for f in result.findings()])
        assert (found[0]["file"], found[0]["line"]) == marked_line(FIXTURES / fixture)
        assert found[0]["class"] == class_name
        assert_required_facts(result.findings())
        _assert_no_internal_error(result)


# --- versions the checks cannot run on: one clear finding ---------------------------------


def test_sidecar_alembic_is_not_lent_to_sqlalchemy_13(sqla13_bare_python: str,
                                                      tmp_path: Path) -> None:
    """sidecar's own Alembic (1.20: SQLAlchemy>=2.0) fails to import under 1.3; it is not
    lent, and the migrations check says so once: a warning, the database is still ready."""
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    result = _check(sqla13_bare_python, f"sqlite:///{db}")
    assert result.returncode == 0, result.stdout
    _assert_versions(result, alembic=None)
    statuses = _statuses(result)
    assert (statuses["database"], statuses["migrations"], statuses["schema_drift"]) == (
        "pass", "warn", "skip"), statuses
    found = result.findings()
    assert [f["code"] for f in found] == ["SIDE012"], found
    facts = found[0]["facts"]
    assert facts["check"] == "migrations" and facts["sqlalchemy"] == "1.3.24"
    assert facts["requires"].startswith("SQLAlchemy>=") and facts["alembic"]
    assert facts["suggested"] == "alembic>=1.7,<1.15"
    assert "see migrations" in result.check("schema_drift")["reason"]
    assert "_NoneName" not in result.stdout  # Alembic's ImportError is not shown
    assert_required_facts(found)


def test_without_alembic_config_drift_says_it(sqla13_bare_python: str, tmp_path: Path) -> None:
    app = tmp_path / "app_root"
    shutil.copytree(GOOD / "app", app / "app")  # the models, without alembic.ini
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY)")
    result = _check(sqla13_bare_python, f"sqlite:///{db}", app)
    assert result.returncode == 0, result.stdout
    drift = result.findings("SIDE012")
    assert len(drift) == 1 and drift[0]["facts"]["check"] == "schema_drift", result.findings()
    assert _statuses(result)["schema_drift"] == "warn"


def test_sqlalchemy_below_13_runs_no_check(sqla12_python: str, tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    sqlite3.connect(db).close()
    result = _check(sqla12_python, f"sqlite:///{db}")
    assert result.returncode == 1, result.stdout
    found = result.findings()
    assert [f["code"] for f in found] == ["SIDE011"], found
    assert found[0]["facts"]["sqlalchemy"].startswith("1.2.")
    assert found[0]["facts"]["side"] == "older"
    assert "Upgrade the app to SQLAlchemy 1.3" in found[0]["hint"]
    skipped = [c for c in result.report["checks"] if c["name"] != "models_import"]
    assert {c["status"] for c in skipped} == {"skip"}
    assert all("see models_import" in c["reason"] for c in skipped)


# --- a crash in sidecar's own code is sidecar's, not the database's -----------------------


def test_the_make_url_bug_is_a_sidecar_error_not_a_database_one(sqla13_python: str,
                                                                tmp_path: Path) -> None:
    """main's worker imported ``make_url`` from ``sqlalchemy.engine`` (1.4+). That worker,
    under 1.3, must report SIDE008 at its own url.py line with the versions — not DB299."""
    worker = tmp_path / "worker"
    shutil.copytree(ROOT / "sidecar" / "worker", worker,
                    ignore=shutil.ignore_patterns("__pycache__"))
    url_py = worker / "checks" / "database" / "url.py"
    text = url_py.read_text()
    for old, new in (
            ('    """``make_url`` with our own diagnosis of the usual mistakes."""\n',
             '    """``make_url`` with our own diagnosis of the usual mistakes."""\n'
             '    from sqlalchemy.engine import make_url\n\n'),
            ("        url = compat.make_url(url_text.strip())",
             "        url = make_url(url_text.strip())")):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    url_py.write_text(text)
    line = text.splitlines().index("    from sqlalchemy.engine import make_url") + 1
    db = tmp_path / "app.db"
    sqlite3.connect(db).close()
    code = ("import sys; import sidecar.cycle.runner as runner; runner.WORKER_DIR = sys.argv[1]; "
            "from sidecar.cli.main import main; sys.exit(main(sys.argv[2:]))")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env[STRICT_ENV] = "1"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(worker), "check", "--app-path", str(GOOD),
         "--models", "app.models", "--python", sqla13_python, "--database-url",
         f"sqlite:///{db}", "--format", "json", "--check", "database"],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    result = CliResult(proc.returncode, proc.stdout, proc.stderr)
    assert result.returncode == 1, result.stdout + result.stderr
    assert [f["code"] for f in result.check("database")["findings"]] == ["SIDE008"]
    internal = result.findings("SIDE008")[0]
    assert internal["facts"]["where"] == f"sidecar/worker/checks/database/url.py:{line}"
    assert "SQLAlchemy 1.3.24" in internal["facts"]["versions"]
    assert f"sidecar/worker/checks/database/url.py:{line}" in internal["hint"]
    assert internal["exception"] == "ImportError"


# --- the version rules themselves (pure functions, on the real installed metadata) --------


@pytest.mark.parametrize(("version", "side"), [
    ("1.2.19", "older"), ("0.9.10", "older"), ("1.3.0", None), ("1.3.24", None),
    ("1.4.54", None), ("2.1.9", None), ("2.2.0", None), ("2.1.0b1", None),
    ("3.0.0", "newer"), ("", "unreadable"), (None, "unreadable")])
def test_supported_range(version: str | None, side: str | None) -> None:
    from sidecar.worker import compat

    found = compat.unsupported_sqlalchemy(version)
    assert (found[0] if found else None) == side


@pytest.mark.parametrize(("version", "spec", "met"), [
    ("1.3.24", ">=2.0", False), ("2.0.0", ">=2.0", True), ("1.3.24", ">=1.3.0", True),
    ("1.4.54", ">=1.4.0,<2", True), ("2.0.1", ">=1.4.0,<2", False), ("2.0.9", "~=2.0", True),
    ("3.0", "~=2.0", False), ("1.3.24", "!=1.3.24", False), ("1.3.24", "latest", None)])
def test_requirement_met(version: str, spec: str, met: bool | None) -> None:
    from sidecar.worker import compat

    assert compat.requirement_met(version, spec) is met


def test_alembic_requirement_read_from_installed_metadata(sqla13_python: str) -> None:
    """What decides lending: the fallback's declared SQLAlchemy requirement, read from its
    dist-info (sidecar's own Alembic, and the app's 1.7.7)."""
    import site

    import alembic

    from sidecar.worker import compat

    own = compat.distribution_requirement(site.getsitepackages(), "alembic", "SQLAlchemy")
    assert own is not None and own[0] == alembic.__version__
    assert compat.requirement_met("1.3.24", own[1]) is False
    apps = subprocess.run([sqla13_python, "-c", "import site; print(site.getsitepackages()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    assert compat.distribution_requirement([apps], "alembic", "SQLAlchemy") == (
        "1.7.7", ">=1.3.0")


_ROLLBACK_SCRIPT = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("compat", sys.argv[1])
compat = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compat)
from sqlalchemy import create_engine
engine = create_engine(sys.argv[2])
with engine.connect() as conn:
    trans = conn.begin()
    try:
        compat.exec_driver_sql(conn, "SELECT 1/0")
        raise SystemExit("no error")
    except Exception as exc:
        assert "division by zero" in str(exc), exc
    try:
        compat.exec_driver_sql(conn, "SELECT 1")
        raise SystemExit("PostgreSQL took a statement in an aborted transaction")
    except Exception as exc:
        assert "current transaction is aborted" in str(exc), exc
    compat.rollback_transaction(conn)
    print(compat.exec_driver_sql(conn, "SELECT 41 + 1").scalar())
    if trans.is_active:
        trans.rollback()
engine.dispose()
"""


@pytest.mark.postgres
@pytest.mark.parametrize("which", ["sqla13", "sqla21"])
def test_after_an_error_postgres_takes_statements_again(which: str, request, pg_app) -> None:
    """drift's per-table isolation rolls back after a failed statement: 1.3 has no
    ``Connection.get_transaction()``, so compat rolls back the DBAPI connection."""
    _, _, url, _ = pg_app
    python = sys.executable if which == "sqla21" else request.getfixturevalue("sqla13_python")
    proc = subprocess.run(
        [python, "-c", _ROLLBACK_SCRIPT, str(ROOT / "sidecar" / "worker" / "compat.py"), url],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "42"


# --- which crashes are sidecar's (in-process, on the suite's SQLAlchemy) ------------------


def test_a_crash_in_the_worker_code_is_side008_with_its_line() -> None:
    from sidecar.worker.checks.database import url as db_url
    from sidecar.worker.redact import guarded

    secret = "pw-Limits-9x"
    outcome = guarded(lambda: db_url.Limits({"connect_timeout_s": f"x{secret}"}), "DB299",
                      "The database check failed unexpectedly", [secret])
    [raw] = outcome["findings"]
    assert raw["code"] == "SIDE008" and raw["exception"] == "ValueError"
    where = raw["facts"]["where"]
    assert where.startswith("sidecar/worker/checks/database/url.py:")
    line = int(where.rsplit(":", 1)[1])
    source = (ROOT / "sidecar" / "worker" / "checks" / "database" / "url.py").read_text()
    assert "connect_timeout_s" in source.splitlines()[line - 1]
    assert "SQLAlchemy " in raw["facts"]["versions"]
    assert secret not in str(outcome) and "output" not in raw  # no traceback with the URL


def test_a_crash_inside_sqlalchemy_keeps_the_checks_code() -> None:
    from sidecar.worker import compat
    from sidecar.worker.redact import guarded

    outcome = guarded(lambda: compat.make_url("://not-a-url"), "DB299",
                      "The database check failed unexpectedly", [])
    assert [f["code"] for f in outcome["findings"]] == ["DB299"]


def test_escaping_a_check_names_the_innermost_worker_frame() -> None:
    """main's loop: any exception out of a check is sidecar's; ``where`` is the worker's
    innermost frame even when SQLAlchemy raised below it."""
    from sidecar.worker import compat, versions

    try:
        compat.make_url("://not-a-url")
    except Exception as exc:
        assert versions.worker_frame(exc) is None  # innermost: SQLAlchemy's
        where = versions.worker_frame(exc, innermost=False)
        raw = versions.internal_error(exc, where)
    assert where is not None and where.startswith("sidecar/worker/compat.py:")
    assert raw["code"] == "SIDE008" and "Traceback" in raw["output"]
    assert raw["message"].startswith(f"internal error in the sidecar at {where}: ")


_DRIFTED = """
ALTER TABLE orders ALTER COLUMN status TYPE varchar(50);
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
DROP INDEX ix_orders_user_status;
ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey;
DROP TABLE audit_log;
CREATE TABLE legacy_exports (id integer PRIMARY KEY, payload text);
"""


@pytest.mark.postgres
def test_drift_on_13_finds_what_21_finds(sqla13_python: str, pg_app) -> None:
    """One drifted PostgreSQL schema, compared by SQLAlchemy 1.3 with the app's Alembic 1.7.7
    and by the suite's 2.1 with sidecar's Alembic: the same differences, at the same places."""
    cluster, name, url, role = pg_app
    _migrate(sqla13_python, url)
    cluster.psql(f"SET ROLE {role};\n{_DRIFTED}", name)

    def differences(python: str) -> set[tuple]:
        result = _check(python, url, GOOD, "--check", "schema_drift")
        assert result.returncode == 1, result.stdout
        _assert_no_internal_error(result)
        assert_required_facts(result.findings())
        return {(f["code"], f["table"], f["column"], f["file"], f["line"], f["fix_sql"])
                for f in result.check("schema_drift")["findings"]}

    old, new = differences(sqla13_python), differences(sys.executable)
    assert old == new
    # missing/extra table, type, nullability, index, foreign key, and the verdict
    assert {code for code, *_ in old} == {"DRIFT401", "DRIFT402", "DRIFT405", "DRIFT406",
                                          "DRIFT408", "DRIFT412", "DRIFT432"}, old


PYTHON36 = "/root/.pyenv/versions/3.6.15/bin/python3.6"  # SQLAlchemy 1.3's oldest Python


def test_a_python_older_than_37_is_named_as_such(tmp_path: Path) -> None:
    """The worker's first line needs Python 3.7: an app still on 3.6 (SQLAlchemy 1.3 runs
    there) gets SIDE007 saying so, not "point --python at the app's interpreter" — it is."""
    if not Path(PYTHON36).exists():
        pytest.skip(f"{PYTHON36} is not installed on this machine")
    result = check_fixture("sqla13_good", python=PYTHON36)
    assert result.returncode == 1, result.stdout
    [found] = result.findings()
    assert found["code"] == "SIDE007"
    assert "older than Python 3.7" in found["hint"], found["hint"]
    assert "needs Python 3.8 or newer" in found["hint"]

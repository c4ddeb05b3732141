"""Issue 3 end to end: `sidecar check` against real SQLite and PostgreSQL databases.

The incident's models (``event_metadata``) against a database that still has
``security_events.metadata`` (migration 0002 never ran) must come out as one drift finding
with the RENAME COLUMN SQL, beside the migration that is pending.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sidecar.worker import registry
from tests.support.helpers import EXAMPLES, run_cli

GOOD = EXAMPLES / "good"
PASSWORD = "pw-Zq81#x/@k"  # '@' and '/' exercise URL quoting; unique enough to grep for
MODELS = ["--models", "server.models_sql", "--models", "server.models_plain"]


def migrate(url: str, revision: str) -> None:
    """Build the app's schema with its own migrations (the test's job, not the sidecar's)."""
    env = dict(os.environ, DATABASE_URL=url, PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run([sys.executable, "-m", "alembic", "-c", str(GOOD / "alembic.ini"),
                           "upgrade", revision], capture_output=True, text=True, env=env,
                          cwd=GOOD)
    assert proc.returncode == 0, proc.stderr


def check(url: str, *extra: str):
    return run_cli("check", "--app-path", str(GOOD), *MODELS, "--database-url", url,
                   "--format", "json", *extra)


def _assert_incident_rename(result) -> None:
    assert result.returncode == 1, result.stdout
    drift = result.check("schema_drift")
    errors = [f for f in drift["findings"] if f["severity"] == "error"]
    assert [f["code"] for f in errors] == ["DRIFT414"], drift["findings"]
    rename = errors[0]
    assert rename["table"] == "security_events"
    assert "metadata" in rename["message"] and "event_metadata" in rename["message"]
    assert rename["fix_sql"].startswith(
        "ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata")
    assert 'Column("metadata"' in rename["hint"]
    # the developer is sent to the model's line, on-call gets the table and column
    models = (GOOD / "server" / "models_sql.py").read_text().splitlines()
    assert rename["file"] == "server/models_sql.py"
    assert "event_metadata" in models[rename["line"] - 1]
    assert (rename["class"], rename["attribute"]) == ("SecurityEvent", "event_metadata")
    behind = result.findings("MIG301")[0]
    assert "0002" in behind["message"] and "rename" in behind["message"]
    verdict = result.check("schema_drift")["observed"]["verdict"]
    assert "pending" in str(verdict)


def test_sqlite_incident_rename(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url, "0001")
    _assert_incident_rename(check(url))


def test_sqlite_at_head_passes(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url, "head")
    result = check(url, "--app-getter", "asgi:get_flask_app")  # the opt-in one too
    assert result.returncode == 0, result.stdout
    assert {c["name"]: c["status"] for c in result.report["checks"]} == {
        name: "pass" for name in registry.names()}


def test_sqlite_file_that_does_not_exist_is_not_created(tmp_path) -> None:
    path = tmp_path / "missing.db"
    result = check(f"sqlite:///{path}")
    assert result.returncode == 1
    assert result.findings("DB209")
    assert not path.exists(), "the sidecar never writes"


@pytest.fixture(scope="module")
def pg_app(pg_cluster):
    """A database owned by an app role with a password, migrated to 0001."""
    pg_cluster.psql(f"CREATE ROLE cliapp LOGIN PASSWORD '{PASSWORD}'")
    pg_cluster.create_database("incident", owner="cliapp")
    url = pg_cluster.url("incident", "cliapp", PASSWORD)
    migrate(url, "0001")
    return url


def _no_password(result) -> None:
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr
    from urllib.parse import quote_plus

    assert quote_plus(PASSWORD) not in result.stdout + result.stderr


def test_postgres_incident_rename(pg_app) -> None:
    result = check(pg_app)
    _assert_incident_rename(result)
    _no_password(result)
    observed = result.check("database")["observed"]
    assert "server_version" in observed or "version" in str(observed)


def test_postgres_text_output_shows_the_sql(pg_app) -> None:
    result = run_cli("check", "--app-path", str(GOOD), *MODELS, "--database-url", pg_app)
    assert "sql: ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata" in (
        result.stdout)
    _no_password(result)


@pytest.mark.parametrize(("fault", "code"), [
    ("wrong_password", "DB204"), ("missing_database", "DB205"), ("stopped", "DB201"),
])
def test_postgres_connection_failures(pg_cluster, pg_app, fault: str, code: str) -> None:
    url = pg_app
    if fault == "wrong_password":
        url = pg_cluster.url("incident", "cliapp", PASSWORD + "x")
    elif fault == "missing_database":
        url = pg_cluster.url("nosuchdb", "cliapp", PASSWORD)
    if fault == "stopped":
        pg_cluster.stop()
    try:
        result = check(url, "--connect-timeout", "3")
    finally:
        if fault == "stopped":
            pg_cluster.start()
            pg_cluster.wait_until_ready()
    assert result.returncode == 1
    codes = [f["code"] for f in result.check("database")["findings"]]
    assert codes == [code], codes
    assert result.check("database")["findings"][0]["hint"]
    # the other checks say why they did not run
    assert result.check("migrations")["status"] == "skip"
    assert result.check("schema_drift")["status"] == "skip"
    _no_password(result)


# --- the example on MariaDB, migrated by its own Alembic (compose.mariadb.yml's stack) -----

@pytest.fixture(scope="module")
def maria_app(mariadb_server):
    """The example's database on MariaDB with its migrations run to 0001, as
    examples/compose/compose.mariadb.yml's backend does with MIGRATE_TO=0001."""
    mariadb_server.create_user("cliapp", PASSWORD)
    mariadb_server.create_database("incident", owner="cliapp")
    url = mariadb_server.url("incident", "cliapp", PASSWORD)
    migrate(url, "0001")
    return url


@pytest.mark.mariadb
def test_mariadb_example_incident_rename_then_ready(maria_app, mariadb_server) -> None:
    result = check(maria_app)
    assert result.returncode == 1, result.stdout
    (rename,) = [f for f in result.check("schema_drift")["findings"]
                 if f["severity"] == "error"]
    assert rename["code"] == "DRIFT414" and rename["file"] == "server/models_sql.py"
    # MariaDB 10.11 (Debian 12) has RENAME COLUMN (10.5.2+)
    assert rename["fix_sql"] == ("ALTER TABLE security_events RENAME COLUMN metadata TO "
                                 "event_metadata")
    assert result.check("database")["observed"]["flavor"] == "mariadb"
    # Alembic's MySQL rename restates the column: the op to paste says what it is
    assert ("`op.alter_column('security_events', 'metadata', existing_type=sa.JSON(), "
            "new_column_name='event_metadata', existing_nullable=True)`") in rename["hint"]
    _no_password(result)
    migrate(maria_app, "head")  # the app's migration command, as the hint says
    result = check(maria_app, "--app-getter", "asgi:get_flask_app")  # the opt-in one too
    assert result.returncode == 0, result.stdout
    assert {c["name"]: c["status"] for c in result.report["checks"]} == {
        name: "pass" for name in registry.names()}
    _no_password(result)

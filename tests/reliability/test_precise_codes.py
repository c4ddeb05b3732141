"""Issue 11 item 9: a precise code where one exists. Lost CONNECT privilege and full
connection slots were the generic DB299; a lock timeout during the schema comparison was
DRIFT499 instead of DB211. Real PostgreSQL, real `sidecar check`."""

from __future__ import annotations

import psycopg2
import pytest

from tests.reliability.conftest import APP_USER, app_url, new_database
from tests.support.helpers import run_cli

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]


def _check(items_app, url: str, *extra: str):
    result = run_cli("check", "--app-path", str(items_app), "--models", "app.models",
                     "--database-url", url, "--format", "json", "--timeout", "60",
                     "--statement-timeout-ms", "1000", "--lock-timeout-ms", "500", *extra,
                     timeout=120)
    return result, {f["code"]: (c["name"], f) for c in result.report["checks"]
                    for f in c["findings"]}


def test_lost_connect_privilege_is_db212(running_pg, items_app):
    pg = running_pg
    dbname = new_database(pg)
    pg.psql(f"REVOKE CONNECT ON DATABASE {dbname} FROM PUBLIC; "
            f"REVOKE CONNECT ON DATABASE {dbname} FROM {APP_USER}")
    try:
        result, found = _check(items_app, app_url(pg, dbname))
    finally:
        pg.psql(f"GRANT CONNECT ON DATABASE {dbname} TO PUBLIC")
    assert result.returncode == 1
    assert "DB212" in found and "DB299" not in found, sorted(found)
    assert "GRANT CONNECT ON DATABASE" in found["DB212"][1]["hint"]


def test_full_connection_slots_are_db213(running_pg, items_app):
    pg = running_pg
    dbname = new_database(pg)
    pg.psql(f"ALTER ROLE {APP_USER} CONNECTION LIMIT 0")
    try:
        result, found = _check(items_app, app_url(pg, dbname))
    finally:
        pg.psql(f"ALTER ROLE {APP_USER} CONNECTION LIMIT -1")
    assert result.returncode == 1
    assert "DB213" in found and "DB299" not in found, sorted(found)
    assert "pg_stat_activity" in found["DB213"][1]["hint"]


def test_a_lock_timeout_during_the_comparison_is_db211(running_pg, items_app):
    """pg_constraint is read by the comparison (reflection), not by the database check."""
    pg = running_pg
    dbname = new_database(pg)
    holder = psycopg2.connect(host=str(pg.base), port=pg.port, user="postgres", dbname=dbname)
    holder.autocommit = False
    try:
        holder.cursor().execute("LOCK TABLE pg_catalog.pg_constraint IN ACCESS EXCLUSIVE MODE")
        result, found = _check(items_app, app_url(pg, dbname))
    finally:
        holder.rollback()
        holder.close()
    assert result.returncode == 1
    assert "DRIFT499" not in found, sorted(found)
    assert "DB211" in found, sorted(found)
    check, finding = found["DB211"]
    assert check == "schema_drift", check
    assert finding["facts"]["reason"] == "lock_timeout", finding

"""The Alembic op DRIFT414 gives on MySQL/MariaDB, run as pasted into a migration.

Alembic renames there with CHANGE COLUMN, which restates the whole column: the op must carry
the database's definition (nullability, default, AUTO_INCREMENT, comment, the JSON check),
or the "rename" silently changes the column. Each case: a table as it is in the database, a
model with the column renamed, the finding's op executed through Alembic's Operations on a
connection of the test's own (never the sidecar's), then the column compared with what it
was, the rows kept, and the drift check in sync.
"""

from __future__ import annotations

import itertools
import os

import pytest
import sqlalchemy as sa

from sidecar.worker.checks.drift import check as drift
from tests.db.db_helpers import assert_secret_free, codes

pytestmark = pytest.mark.mariadb

USER, PASSWORD = "renamer", "Ren-Pw-71@q"
_names = itertools.count()

class GUID(sa.types.TypeDecorator):
    """An app's own type: a migration file does not know this class."""

    impl = sa.CHAR(36)
    cache_ok = True


CASES = {
    # (database DDL, rows, the model's columns as (name, type, kwargs), old, new)
    "nullable_json": (
        "CREATE TABLE t (id INT PRIMARY KEY, data JSON NULL)",
        "INSERT INTO t VALUES (1, '{\"a\": 1}'), (2, NULL)",
        [("id", sa.Integer, {"primary_key": True}), ("data_json", sa.JSON, {})],
        "data", "data_json"),
    "not_null_default_comment": (
        "CREATE TABLE t (id INT PRIMARY KEY, label VARCHAR(40) NOT NULL DEFAULT 'none' "
        "COMMENT 'shown to users')",
        "INSERT INTO t (id) VALUES (1); INSERT INTO t VALUES (2, 'two')",
        [("id", sa.Integer, {"primary_key": True}),
         ("label_text", sa.String(40), {"nullable": False, "server_default": "none",
                                        "comment": "shown to users"})],
        "label", "label_text"),
    "type_decorator": (
        "CREATE TABLE t (id INT PRIMARY KEY, ref CHAR(36) NOT NULL)",
        "INSERT INTO t VALUES (1, 'a8098c1a-f86e-11da-bd1a-00112444be1e')",
        [("id", sa.Integer, {"primary_key": True}), ("ref_id", GUID, {"nullable": False})],
        "ref", "ref_id"),
    "auto_increment_key": (
        "CREATE TABLE t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20))",
        "INSERT INTO t (name) VALUES ('a'), ('b')",
        [("item_id", sa.Integer, {"primary_key": True, "autoincrement": True}),
         ("name", sa.String(20), {})],
        "id", "item_id"),
}


@pytest.fixture(scope="module")
def maria(mariadb_server):
    mariadb_server.create_user(USER, PASSWORD)
    return mariadb_server


def _column_sql(maria, database: str, column: str) -> str:
    """The column's line of SHOW CREATE TABLE, without its name."""
    ddl = maria.sql("SHOW CREATE TABLE t", database).split("\t", 1)[1].replace("\\n", "\n")
    line = next(ln.strip().rstrip(",") for ln in ddl.splitlines()
                if ln.strip().startswith(f"`{column}`"))
    return line.split(" ", 1)[1]


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_rename_op_keeps_the_column(maria, make_run, case):
    ddl, rows, columns, old, new = CASES[case]
    name = f"r{os.getpid()}_{next(_names)}"
    maria.create_database(name, owner=USER)
    maria.sql(f"{ddl}; {rows};", name)
    before_def = _column_sql(maria, name, old)
    # CHECK constraints (MariaDB's JSON is LONGTEXT + CHECK (json_valid(...)))
    before_checks = maria.sql("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                              f"WHERE CONSTRAINT_SCHEMA = '{name}'")
    before_rows = maria.sql("SELECT * FROM t ORDER BY 1", name)
    metadata = sa.MetaData()
    sa.Table("t", metadata, *[sa.Column(n, t, **kw) for n, t, kw in columns])
    url = maria.url(name, USER, PASSWORD)
    run = make_run(url, metadata)
    out = drift.run_schema_drift(run.ctx)
    assert_secret_free(out, run.phases, password=PASSWORD)
    assert codes(out) == ["DRIFT414"], out["findings"]
    op_code = out["findings"][0]["facts"]["alembic_op"]
    for part in ("existing_type=", "existing_nullable="):
        assert part in op_code, op_code

    # the migration, as the app would run it: a connection of its own, with write access
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from sqlalchemy.dialects import mysql

    writer = sa.create_engine(maria.url(name, "root", None).replace(
        "@127.0.0.1:", "@localhost:") + f"?unix_socket={maria.socket}")
    try:
        with writer.begin() as conn:
            exec(op_code, {"op": Operations(MigrationContext.configure(conn)), "sa": sa,
                           "mysql": mysql})
    finally:
        writer.dispose()
    # the same definition (a JSON column's CHECK (json_valid(`data`)) names the new column)
    assert _column_sql(maria, name, new) == before_def.replace(f"`{old}`", f"`{new}`")
    after_checks = maria.sql("SELECT CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
                             f"WHERE CONSTRAINT_SCHEMA = '{name}'")
    assert after_checks == before_checks.replace(f"`{old}`", f"`{new}`")
    assert maria.sql("SELECT * FROM t ORDER BY 1", name) == before_rows
    again = drift.run_schema_drift(make_run(url, metadata).ctx)
    assert codes(again) == [], again["findings"]

"""The sidecar never writes: PostgreSQL's statement log (log_statement=all) over a full run of
the database, migrations and schema_drift checks, a cached re-check, and both drivers."""

from __future__ import annotations

import re
import time

import pytest
import sqlalchemy as sa

from sidecar.worker.checks.database import check as database
from sidecar.worker.checks.drift import check as drift
from sidecar.worker.checks.migrations import check as migrations
from tests.db.db_helpers import assert_secret_free
from tests.db.test_migrations import stamp, write_alembic

pytestmark = pytest.mark.postgres

# psycopg 3 fetches type info (hstore) at connect inside conn.transaction(), which is a
# SAVEPOINT / RELEASE pair within our read-only transaction: no write either.
ALLOWED = ("SELECT", "WITH", "SHOW", "BEGIN", "ROLLBACK", "SAVEPOINT", "RELEASE")
LOGGED = re.compile(r"app=(?P<app>\S*) db=(?P<db>\S*) user=\S* LOG:  "
                    r"(?:statement|execute [^:]*): (?P<sql>.*)", re.S)
ENTRY = re.compile(r"^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", re.M)


def statements(log: str, dbname: str) -> list[str]:
    """Every statement the sidecar's sessions sent to ``dbname`` (multi-line ones whole)."""
    found = []
    for entry in ENTRY.split(log):
        m = LOGGED.search(entry)
        if m and m["db"] == dbname and m["app"] == "sidecar-healthcheck":
            found.append(" ".join(m["sql"].split()))
    return found


@pytest.mark.parametrize("driver", ["psycopg2", None])  # None: postgresql:// = psycopg 3
def test_full_run_sends_only_reads(pg, pgdb, make_run, tmp_path, driver):
    db = pgdb("""
        CREATE TYPE mood AS ENUM ('ok', 'meh');
        CREATE TABLE users (id serial PRIMARY KEY, mail varchar(200), m mood, legacy int NOT NULL);
        CREATE INDEX ix_users_mail ON users (mail);
        CREATE TABLE stray (id int PRIMARY KEY);
        CREATE VIEW v AS SELECT id FROM users;
    """)
    stamp(db, "b2e1")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(200), index=True),
             sa.Column("m", sa.Enum("ok", "meh", "bad", name="mood")),
             sa.Column("age", sa.Integer, nullable=False, server_default="0"))
    sa.Table("orders", md, sa.Column("id", sa.Integer, primary_key=True))
    app = write_alembic(tmp_path)
    outputs = []
    cache = None
    for _ in range(2):  # a full run, then a cached re-check
        run = make_run(db.url(driver=driver), md, app_path=app)
        run.ctx.previous_cache = cache
        outputs.append(database.run_database(run.ctx))
        outputs.append(migrations.run_migrations(run.ctx))
        out = drift.run_schema_drift(run.ctx)
        outputs.append(out)
        cache = out["cache"]
        assert_secret_free(outputs, run.phases)
        run.close()
    assert outputs[2]["observed"]["reused"] is False and outputs[5]["observed"]["reused"]
    assert outputs[2]["observed"]["verdict"] == "pending_migration"

    deadline = time.monotonic() + 5
    while True:  # the server writes its log asynchronously
        sent = statements(pg.log_text(), db.name)
        if len(sent) > 20 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(sent) > 20, "the statement log did not record the sidecar's session"
    writes = [s for s in sent if not s.lstrip().upper().startswith(ALLOWED)]
    assert writes == []
    assert not any(s.strip().upper().startswith("COMMIT") for s in sent)
    assert_secret_free(sent)

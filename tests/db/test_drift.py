"""The schema_drift check on real databases: one test per kind of difference, the incident's
rename, fault isolation, the verdict and the cached re-check."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

from sidecar.worker.checks.drift import check as drift
from sidecar.worker.context import Skip
from tests.db.db_helpers import assert_required_facts, assert_secret_free, codes, only

pytestmark = pytest.mark.postgres


def check(run, cache=None, **config):
    run.ctx.config.update(config)
    run.ctx.previous_cache = cache
    out = drift.run_schema_drift(run.ctx)
    assert_secret_free(out, run.phases)
    assert "result" not in out["observed"]  # the cache travels on its own, not shown
    assert_required_facts(out["findings"])
    for f in out["findings"]:
        if f["code"].startswith("DRIFT4") and f["code"] < "DRIFT430" \
                and f["code"] not in drift.NOT_DIFFERENCES | {"DRIFT424"}:
            assert f.get("fix_sql") or f["facts"].get("alembic_op"), f
    return out


def users_md(**extra_cols):
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50), nullable=False),
             *[c for c in extra_cols.values()])
    return md


USERS_SQL = "CREATE TABLE users (id serial PRIMARY KEY, name varchar(50) NOT NULL);"


def test_in_sync(pgdb, make_run):
    out = check(make_run(pgdb(USERS_SQL).url(), users_md()))
    assert out["findings"] == []
    assert out["observed"]["verdict"] == "in_sync" and out["observed"]["differences"] == 0
    assert out["observed"]["reused"] is False and out["observed"]["fingerprint"]


# --- tables and columns --------------------------------------------------------------------


def test_missing_table(pgdb, make_run):
    md = users_md()
    sa.Table("orders", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("user_id", sa.Integer, index=True))
    f = only(check(make_run(pgdb(USERS_SQL).url(), md)), "DRIFT401")
    assert f["table"] == "orders" and "severity" not in f
    assert f["fix_sql"].startswith("CREATE TABLE orders")
    assert "CREATE INDEX ix_orders_user_id ON orders (user_id)" in f["fix_sql"]


def test_extra_table_owns_its_indexes(pgdb, make_run):
    db = pgdb(USERS_SQL + "CREATE TABLE legacy (id int PRIMARY KEY, x int);"
              "CREATE INDEX ix_legacy_x ON legacy (x);")
    out = check(make_run(db.url(), users_md()))
    assert codes(out) == ["DRIFT402"]
    f = out["findings"][0]
    assert f["fix_sql"] == "DROP TABLE legacy" and len(f["facts"]["includes"]) == 1


def test_missing_column(pgdb, make_run):
    md = users_md(email=sa.Column("email", sa.String(200), nullable=False,
                                  server_default=""))
    f = only(check(make_run(pgdb(USERS_SQL).url(), md)), "DRIFT403")
    assert (f["table"], f["column"]) == ("users", "email")
    assert f["fix_sql"] == "ALTER TABLE users ADD COLUMN email VARCHAR(200) DEFAULT '' NOT NULL"


def test_extra_columns_and_the_not_null_one_is_an_error(pgdb, make_run):
    db = pgdb("CREATE TABLE users (id serial PRIMARY KEY, name varchar(50) NOT NULL, "
              "nick text, tenant int NOT NULL, flag bool NOT NULL DEFAULT false);")
    out = check(make_run(db.url(), users_md()))
    extra = {f["column"]: f for f in out["findings"] if f["code"] == "DRIFT404"}
    assert set(extra) == {"nick", "tenant", "flag"}
    assert "severity" not in extra["nick"] and "severity" not in extra["flag"]
    assert extra["tenant"]["severity"] == "error" and extra["tenant"]["facts"]["blocks_inserts"]
    assert extra["tenant"]["fix_sql"] == "ALTER TABLE users DROP COLUMN tenant"


def test_type_nullability_and_server_default(pgdb, make_run):
    db = pgdb("CREATE TABLE users (id serial PRIMARY KEY, name varchar(20), "
              "score int DEFAULT 0);")
    md = users_md(score=sa.Column("score", sa.Integer, server_default="5"))
    out = check(make_run(db.url(), md))
    assert sorted(codes(out)) == ["DRIFT405", "DRIFT406", "DRIFT407"]
    t = only(out, "DRIFT405")
    assert t["facts"]["db_type"] == "VARCHAR(20)" and t["facts"]["model_type"] == "VARCHAR(50)"
    assert t["fix_sql"] == "ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(50)"
    n = only(out, "DRIFT406")
    assert n["column"] == "name" and n["fix_sql"] == "ALTER TABLE users ALTER COLUMN name " \
        "SET NOT NULL"
    d = only(out, "DRIFT407")
    assert d["column"] == "score" and "SET DEFAULT '5'" in d["fix_sql"]


def test_indexes_and_unique_constraints(pgdb, make_run):
    db = pgdb(USERS_SQL + "CREATE INDEX ix_users_old ON users (name);"
              "ALTER TABLE users ADD CONSTRAINT uq_users_old UNIQUE (name, id);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50), nullable=False),
             sa.Index("ix_users_lower", "name", "id"),
             sa.UniqueConstraint("name", name="uq_users_name"))
    out = check(make_run(db.url(), md))
    assert sorted(codes(out)) == ["DRIFT408", "DRIFT409", "DRIFT410", "DRIFT411"]
    assert only(out, "DRIFT408")["fix_sql"] == "CREATE INDEX ix_users_lower ON users (name, id)"
    assert only(out, "DRIFT409")["fix_sql"] == "DROP INDEX ix_users_old"
    assert only(out, "DRIFT410")["fix_sql"] == \
        "ALTER TABLE users ADD CONSTRAINT uq_users_name UNIQUE (name)"
    assert only(out, "DRIFT411")["fix_sql"] == "ALTER TABLE users DROP CONSTRAINT uq_users_old"


def test_foreign_keys(pgdb, make_run):
    db = pgdb(USERS_SQL + "CREATE TABLE teams (id int PRIMARY KEY);"
              "CREATE TABLE orders (id int PRIMARY KEY, user_id int, team_id int "
              "CONSTRAINT fk_team REFERENCES teams(id));")
    md = users_md()
    sa.Table("teams", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False))
    sa.Table("orders", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_user")),
             sa.Column("team_id", sa.Integer))
    out = check(make_run(db.url(), md))
    assert sorted(codes(out)) == ["DRIFT412", "DRIFT413"]
    add = only(out, "DRIFT412")
    assert add["facts"]["references"] == ["users.id"]
    assert add["fix_sql"] == ("ALTER TABLE orders ADD CONSTRAINT fk_user FOREIGN KEY(user_id) "
                              "REFERENCES users (id)")
    assert only(out, "DRIFT413")["fix_sql"] == "ALTER TABLE orders DROP CONSTRAINT fk_team"


def test_primary_key_columns(pgdb, make_run):
    db = pgdb("CREATE TABLE memberships (user_id int NOT NULL, team_id int NOT NULL, "
              "CONSTRAINT memberships_pkey PRIMARY KEY (user_id));")
    md = sa.MetaData()
    sa.Table("memberships", md, sa.Column("user_id", sa.Integer, primary_key=True),
             sa.Column("team_id", sa.Integer, primary_key=True))
    f = only(check(make_run(db.url(), md)), "DRIFT416")
    assert f["facts"]["db_columns"] == ["user_id"]
    assert f["facts"]["model_columns"] == ["user_id", "team_id"]
    assert f["fix_sql"] == ("ALTER TABLE memberships DROP CONSTRAINT memberships_pkey;\n"
                            "ALTER TABLE memberships ADD CONSTRAINT memberships_pkey PRIMARY KEY "
                            "(user_id, team_id)")


def test_check_constraints_by_name(pgdb, make_run):
    db = pgdb(USERS_SQL + "ALTER TABLE users ADD CONSTRAINT ck_old CHECK (id > -5);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50), nullable=False),
             sa.CheckConstraint("length(name) > 0", name="ck_users_name"))
    out = check(make_run(db.url(), md))
    assert sorted(codes(out)) == ["DRIFT417", "DRIFT418"]
    assert only(out, "DRIFT417")["fix_sql"] == \
        "ALTER TABLE users ADD CONSTRAINT ck_users_name CHECK (length(name) > 0)"
    assert only(out, "DRIFT418")["fix_sql"] == "ALTER TABLE users DROP CONSTRAINT ck_old"


# --- PostgreSQL enums ----------------------------------------------------------------------


def _enum_md(*labels):
    md = sa.MetaData()
    sa.Table("tickets", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("status", sa.Enum(*labels, name="ticket_status")))
    return md


def test_enum_value_missing_in_the_database_is_an_error(pgdb, make_run):
    db = pgdb("CREATE TYPE ticket_status AS ENUM ('open', 'closed');"
              "CREATE TABLE tickets (id serial PRIMARY KEY, status ticket_status);")
    f = only(check(make_run(db.url(), _enum_md("open", "closed", "on_hold"))), "DRIFT415")
    assert f["severity"] == "error" and f["facts"]["missing_values"] == ["on_hold"]
    assert f["fix_sql"] == "ALTER TYPE ticket_status ADD VALUE IF NOT EXISTS 'on_hold'"


def test_enum_value_only_in_the_database_recreates_the_type(pgdb, make_run):
    db = pgdb("CREATE TYPE ticket_status AS ENUM ('open', 'closed', 'legacy');"
              "CREATE TABLE tickets (id serial PRIMARY KEY, status ticket_status);")
    f = only(check(make_run(db.url(), _enum_md("open", "closed"))), "DRIFT415")
    assert "severity" not in f and f["facts"]["extra_values"] == ["legacy"]
    assert "ALTER TABLE tickets ALTER COLUMN status TYPE ticket_status USING " \
        "status::text::ticket_status" in f["fix_sql"]


# --- schemas and views ---------------------------------------------------------------------


def test_second_schema(pgdb, make_run):
    db = pgdb(USERS_SQL + "CREATE SCHEMA audit;"
              "CREATE TABLE audit.events (id int PRIMARY KEY, at timestamp);"
              "CREATE TABLE audit.stray (id int PRIMARY KEY);")
    md = users_md()
    sa.Table("events", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("at", sa.DateTime), sa.Column("who", sa.String(40)), schema="audit")
    out = check(make_run(db.url(), md))
    f = only(out, "DRIFT403")
    assert (f["table"], f["column"]) == ("audit.events", "who")
    assert f["fix_sql"] == "ALTER TABLE audit.events ADD COLUMN who VARCHAR(40)"
    assert only(out, "DRIFT402")["table"] == "audit.stray"
    assert set(out["observed"]["schemas"]) == {"public", "audit"}


def test_views_are_ignored_on_both_sides(pgdb, make_run):
    db = pgdb(USERS_SQL + "CREATE VIEW active_users AS SELECT id, name FROM users;"
              "CREATE MATERIALIZED VIEW user_counts AS SELECT count(*) AS n FROM users;")
    md = users_md()
    sa.Table("active_users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50)))
    out = check(make_run(db.url(), md))
    assert out["findings"] == [] and out["observed"]["views_ignored"] == 2


def test_include_and_exclude_globs(pgdb, make_run):
    db = pgdb(USERS_SQL + "CREATE TABLE tmp_import (id int);"
              "CREATE TABLE celery_taskmeta (id int);")
    assert codes(check(make_run(db.url(), users_md()), drift_exclude=["tmp_*", "celery_*"])) \
        == []
    out = check(make_run(db.url(), users_md()), drift_include=["tmp_*"])
    assert [f.get("table") for f in out["findings"]] == ["tmp_import", None]
    # the filter leaves none of the models' tables: never "in sync" (tests/db/test_drift_scope)
    assert codes(out)[1] == "DRIFT423" and out["observed"]["verdict"] == "not_compared"


# --- the incident: an unapplied rename ------------------------------------------------------


def test_incident_rename_is_one_finding_with_the_exact_sql(pgdb, make_run):
    db = pgdb("CREATE TABLE security_events (id serial PRIMARY KEY, kind varchar(40), "
              "metadata json);")
    Base = declarative_base()

    class SecurityEvent(Base):
        __tablename__ = "security_events"
        id = sa.Column(sa.Integer, primary_key=True)
        kind = sa.Column(sa.String(40))
        event_metadata = sa.Column(sa.JSON, nullable=True)

    out = check(make_run(db.url(), Base.metadata))
    assert codes(out) == ["DRIFT414"]
    f = out["findings"][0]
    assert (f["table"], f["column"]) == ("security_events", "event_metadata")
    assert f["fix_sql"] == \
        "ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata"
    assert f["facts"]["old_column"] == "metadata" and not f["facts"]["type_changed"]
    assert "new_column_name='event_metadata'" in f["facts"]["alembic_op"]


def test_rename_absorbs_the_index_noise_and_renames_the_index(pgdb, make_run):
    db = pgdb("CREATE TABLE users (id serial PRIMARY KEY, mail varchar(200));"
              "CREATE INDEX ix_users_mail ON users (mail);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(200), index=True))
    out = check(make_run(db.url(), md))
    assert codes(out) == ["DRIFT414"]
    assert out["findings"][0]["fix_sql"] == (
        "ALTER TABLE users RENAME COLUMN mail TO email;\n"
        "ALTER INDEX ix_users_mail RENAME TO ix_users_email")


def test_rename_keeping_the_database_name_needs_no_index_rename(pgdb, make_run):
    db = pgdb("CREATE TABLE users (id serial PRIMARY KEY, mail varchar(200));"
              "CREATE UNIQUE INDEX ix_users_mail ON users (mail);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(200)), sa.Index("ix_users_mail", "email", unique=True))
    out = check(make_run(db.url(), md))
    assert codes(out) == ["DRIFT414"]
    assert out["findings"][0]["fix_sql"] == "ALTER TABLE users RENAME COLUMN mail TO email"


def test_incompatible_types_are_not_a_rename(pgdb, make_run):
    db = pgdb("CREATE TABLE users (id serial PRIMARY KEY, name varchar(50) NOT NULL, "
              "born date);")
    out = check(make_run(db.url(), users_md(score=sa.Column("score", sa.Integer))))
    assert sorted(codes(out)) == ["DRIFT403", "DRIFT404"]


# --- fault isolation -----------------------------------------------------------------------


def test_a_table_that_cannot_be_reflected_is_reported_and_the_rest_goes_on(
        pgdb, make_run, monkeypatch):
    from sqlalchemy.engine import reflection

    db = pgdb(USERS_SQL + "CREATE TABLE broken (id int PRIMARY KEY);"
              "CREATE TABLE other (id int PRIMARY KEY);")
    real = reflection.Inspector.reflect_table

    def reflect_table(self, table, *a, **kw):
        if table.name == "broken":
            raise RuntimeError("permission denied for table broken")
        return real(self, table, *a, **kw)

    monkeypatch.setattr(reflection.Inspector, "reflect_table", reflect_table)
    md = users_md(extra=sa.Column("email", sa.String(20)))
    sa.Table("broken", md, sa.Column("id", sa.Integer, primary_key=True))
    out = check(make_run(db.url(), md))
    assert sorted(codes(out)) == ["DRIFT402", "DRIFT403", "DRIFT420"]
    f = only(out, "DRIFT420")
    assert f["table"] == "broken" and "permission denied" in f["message"]
    assert only(out, "DRIFT402")["table"] == "other"


# --- verdict -------------------------------------------------------------------------------


@pytest.mark.parametrize("state, verdict, code", [
    ({"state": "behind", "current": ["a1"], "heads": ["b2"],
      "pending": [{"revision": "b2", "message": "add email"}]}, "pending_migration", "DRIFT431"),
    ({"state": "at_head", "current": ["b2"], "heads": ["b2"], "pending": []}, "out_of_band",
     "DRIFT432"),
    ({"state": "unknown_revision", "current": ["zz"], "heads": ["b2"], "pending": []},
     "unknown_revision", "DRIFT433"),
])
def test_verdict_joins_migration_state_and_drift(pgdb, make_run, state, verdict, code):
    run = make_run(pgdb(USERS_SQL).url(), users_md(email=sa.Column("email", sa.String(9))))
    run.ctx.migration_state = state
    out = check(run)
    assert out["observed"]["verdict"] == verdict
    assert sorted(codes(out)) == sorted(["DRIFT403", code])
    assert code not in [f["code"] for f in out["cache"]["result"]]


def test_verdict_from_a_real_migrations_run(pgdb, make_run, tmp_path):
    from sidecar.worker.checks.migrations import check as migrations
    from tests.db.test_migrations import stamp, write_alembic

    db = pgdb(USERS_SQL)
    stamp(db, "c3d2")
    run = make_run(db.url(), users_md(email=sa.Column("email", sa.String(9))),
                   app_path=write_alembic(tmp_path))
    assert migrations.run_migrations(run.ctx)["findings"] == []
    out = check(run)
    assert out["observed"]["verdict"] == "out_of_band" and "DRIFT432" in codes(out)


# --- cached re-checks ----------------------------------------------------------------------


def test_recheck_reuses_the_result_while_nothing_changed(pgdb, make_run, monkeypatch):
    db = pgdb(USERS_SQL)
    md = users_md(email=sa.Column("email", sa.String(9)))
    first = check(make_run(db.url(), md))
    assert first["observed"]["reused"] is False

    def no_compare(*a, **kw):
        raise AssertionError("a re-check with an unchanged catalog must not compare")

    with monkeypatch.context() as m:
        m.setattr(drift, "compare", no_compare)
        again = check(make_run(db.url(), md), cache=first["cache"])
    assert again["observed"]["reused"] is True
    assert again["findings"] == first["findings"]
    assert again["observed"]["last_full_compare"] == first["observed"]["last_full_compare"]

    db.sql("ALTER TABLE users ADD COLUMN email varchar(9);")  # the DB changed
    changed = check(make_run(db.url(), md), cache=first["cache"])
    assert changed["observed"]["reused"] is False and changed["findings"] == []

    md2 = users_md(email=sa.Column("email", sa.String(9)), age=sa.Column("age", sa.Integer))
    models_changed = check(make_run(db.url(), md2), cache=changed["cache"])
    assert models_changed["observed"]["reused"] is False
    assert codes(models_changed) == ["DRIFT403"]


def test_fingerprint_sees_each_kind_of_catalog_change(pgdb, make_run):
    db = pgdb(USERS_SQL + "CREATE TYPE mood AS ENUM ('ok');")
    md = users_md()

    def fingerprint():
        return check(make_run(db.url(), md))["observed"]["fingerprint"]

    seen = {fingerprint()}
    for ddl in ["ALTER TABLE users ALTER COLUMN name DROP NOT NULL",
                "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x'",
                "ALTER TABLE users ALTER COLUMN name TYPE varchar(60)",
                "CREATE INDEX ix_n ON users (name)",
                "ALTER TABLE users ADD CONSTRAINT ck CHECK (id > 0)",
                "ALTER TYPE mood ADD VALUE 'meh'",
                "COMMENT ON COLUMN users.name IS 'display name'",
                "CREATE VIEW v AS SELECT 1 AS one"]:
        db.sql(ddl)
        fp = fingerprint()
        assert fp not in seen, ddl
        seen.add(fp)


def test_catalog_version_changes_with_ddl_and_not_with_data_or_maintenance(pgdb, make_run):
    """The cheap pre-check of a re-check (xmin of the catalog rows): every DDL the content
    fingerprint sees changes it; rows, VACUUM and ANALYZE do not (in-place statistics)."""
    from sidecar.worker.checks.drift.fingerprint import catalog_version

    db = pgdb(USERS_SQL + "CREATE TYPE mood AS ENUM ('ok');")
    engine = sa.create_engine(db.url())

    def version() -> str:
        with engine.connect() as conn:
            return catalog_version(conn, [None])

    try:
        before = version()
        db.sql("INSERT INTO users (name) SELECT 'u' || g FROM generate_series(1, 500) g;")
        db.sql("ANALYZE users;")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM users")  # not inside a transaction block
        assert version() == before, "data and maintenance are no schema change"
        seen = {before}
        for ddl in ["ALTER TABLE users ALTER COLUMN name DROP NOT NULL",
                    "ALTER TABLE users ALTER COLUMN name SET DEFAULT 'x'",
                    "ALTER TABLE users ALTER COLUMN name TYPE varchar(60)",
                    "ALTER TABLE users RENAME COLUMN name TO full_name",
                    "CREATE INDEX ix_n ON users (full_name)",
                    "ALTER TABLE users ADD CONSTRAINT ck CHECK (id > 0)",
                    "ALTER TYPE mood ADD VALUE 'meh'",
                    "COMMENT ON COLUMN users.full_name IS 'display name'",
                    "CREATE VIEW v AS SELECT 1 AS one",
                    "DROP INDEX ix_n"]:
            db.sql(ddl)
            now = version()
            assert now not in seen, ddl
            seen.add(now)
    finally:
        engine.dispose()


def test_an_unchanged_catalog_version_skips_the_content_hash(pgdb, make_run, monkeypatch):
    db = pgdb(USERS_SQL)
    md = users_md()
    first = check(make_run(db.url(), md))
    assert first["cache"]["catalog_version"].startswith("pg-xmin:")

    def no_content_hash(*a, **kw):
        raise AssertionError("an unchanged catalog version must not hash the catalog")

    with monkeypatch.context() as m:
        m.setattr(drift, "catalog_fingerprint", no_content_hash)
        again = check(make_run(db.url(), md), cache=first["cache"])
    assert again["observed"]["reused"] is True
    assert again["observed"]["catalog_version_reused"] is True
    db.sql("ALTER TABLE users ADD COLUMN email varchar(9);")
    changed = check(make_run(db.url(), md), cache=again["cache"])
    assert changed["observed"]["reused"] is False
    assert changed["observed"]["catalog_version_reused"] is False
    assert codes(changed) == ["DRIFT404"]  # the extra column is seen


# --- SQLite ------------------------------------------------------------------------------


def test_sqlite_drift(sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE security_events (id INTEGER PRIMARY KEY, metadata JSON, "
                       "kind VARCHAR(20));"
                       "CREATE TABLE stray (id INTEGER PRIMARY KEY);")
    md = sa.MetaData()
    sa.Table("security_events", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("event_metadata", sa.JSON), sa.Column("kind", sa.Integer),
             sa.Column("added", sa.String(10)))
    out = check(make_run(f"sqlite:///{path}", md))
    assert sorted(codes(out)) == ["DRIFT402", "DRIFT403", "DRIFT405", "DRIFT414"]
    assert only(out, "DRIFT414")["fix_sql"] == \
        "ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata"
    t = only(out, "DRIFT405")  # SQLite cannot ALTER a column type: the batch op instead
    assert t["fix_sql"] is None and "batch_alter_table" in t["facts"]["alembic_op"]
    assert out["observed"]["fingerprint"].startswith("sqlite:")


def test_skips_when_the_models_did_not_load(make_run, pgdb):
    run = make_run(pgdb().url())
    run.ctx.models_error = "InvalidRequestError: Attribute name 'metadata' is reserved"
    with pytest.raises(Skip, match="reserved"):
        drift.run_schema_drift(run.ctx)


def test_a_type_change_of_kind_with_a_default_is_compared(pgdb, make_run):
    """Alembic compares PostgreSQL defaults with SELECT db = model, which raises across
    kinds ('0'::varchar = false): the column was left uncompared (DRIFT421) and the type
    change went unreported."""
    db = pgdb("CREATE TABLE settings (id int PRIMARY KEY, enabled int NOT NULL DEFAULT 0, "
              "level varchar(10) DEFAULT '3');")
    md = sa.MetaData()
    sa.Table("settings", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
             sa.Column("level", sa.Integer, server_default=sa.text("3")))
    out = check(make_run(db.url(), md))
    assert "DRIFT421" not in codes(out)
    fixes = {(f["code"], f["column"]): f["fix_sql"] for f in out["findings"]
             if f["code"] in ("DRIFT405", "DRIFT407")}
    # the defaults the models declare are set by their own findings, after the type
    assert fixes == {
        ("DRIFT405", "enabled"): "ALTER TABLE settings ALTER COLUMN enabled DROP DEFAULT;\n"
        "ALTER TABLE settings ALTER COLUMN enabled TYPE BOOLEAN USING enabled::BOOLEAN",
        ("DRIFT407", "enabled"): "ALTER TABLE settings ALTER COLUMN enabled SET DEFAULT false",
        ("DRIFT405", "level"): "ALTER TABLE settings ALTER COLUMN level DROP DEFAULT;\n"
        "ALTER TABLE settings ALTER COLUMN level TYPE INTEGER USING level::INTEGER",
        ("DRIFT407", "level"): "ALTER TABLE settings ALTER COLUMN level SET DEFAULT 3"}
    # pasted in the findings' order, they run, and leave no drift
    with sa.create_engine(db.url()).begin() as conn:
        for code in ("DRIFT405", "DRIFT407"):
            for column in ("enabled", "level"):
                for statement in fixes[(code, column)].split(";\n"):
                    conn.exec_driver_sql(statement)
    assert check(make_run(db.url(), md))["findings"] == []


def test_a_kind_change_keeps_a_default_the_models_do_not_declare(pgdb, make_run):
    db = pgdb("CREATE TABLE jobs (id int PRIMARY KEY, tries varchar(5) DEFAULT '0');")
    md = sa.MetaData()
    sa.Table("jobs", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("tries", sa.Integer))
    out = check(make_run(db.url(), md))
    change = only(out, "DRIFT405")
    assert change["fix_sql"] == (
        "ALTER TABLE jobs ALTER COLUMN tries DROP DEFAULT;\n"
        "ALTER TABLE jobs ALTER COLUMN tries TYPE INTEGER USING tries::INTEGER;\n"
        "ALTER TABLE jobs ALTER COLUMN tries SET DEFAULT ('0'::character varying)::INTEGER")
    assert "postgresql_using='tries::INTEGER'" in change["facts"]["alembic_op"]
    with sa.create_engine(db.url()).begin() as conn:
        for statement in change["fix_sql"].split(";\n"):
            conn.exec_driver_sql(statement)
        conn.exec_driver_sql("INSERT INTO jobs (id) VALUES (1)")
        assert conn.exec_driver_sql("SELECT tries FROM jobs").scalar() == 0

"""Issue 10, item 3: a type or server default that cannot be rendered costs that one column
("not compared", DRIFT421), never the whole comparison (it was DRIFT499 on every table)."""

from __future__ import annotations

import sqlalchemy as sa
import sqlalchemy.dialects.postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from sidecar.worker.checks.drift import check as drift
from tests.db.db_helpers import assert_required_facts, assert_secret_free, codes, only
from tests.db.drift_apps import check_app, create_all, drift_codes
from tests.support.helpers import FIXTURES, marked_line

PREFECT = "drift_prefect_like"


class GenerateUUID(FunctionElement):  # Prefect's, compiled for PostgreSQL only
    name = "uuid_default"
    inherit_cache = True


@compiles(GenerateUUID, "postgresql")
def _uuid_pg(element, compiler, **kw):
    return "(GEN_RANDOM_UUID())"


class PostgresOnly(sa.types.TypeDecorator):
    """A type with no implementation on SQLite, whose repr() raises as well."""

    impl = sa.String(40)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name != "postgresql":
            raise NotImplementedError(f"no {dialect.name} implementation")
        return dialect.type_descriptor(sa.String(40))

    def __repr__(self):
        raise RuntimeError("repr unavailable")


def run_drift(run):
    out = drift.run_schema_drift(run.ctx)
    assert_secret_free(out, run.phases)
    assert_required_facts(out["findings"])
    return out


def test_sqlite_leaves_out_only_the_columns_it_cannot_render(sqlite_file, make_run):
    path = sqlite_file(
        "CREATE TABLE flow (id VARCHAR(36) PRIMARY KEY DEFAULT (lower(hex(randomblob(16)))),"
        " kind VARCHAR(40), name VARCHAR(20));"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, old_kind VARCHAR(20));")
    md = sa.MetaData()
    sa.Table("flow", md, sa.Column("id", sa.String(36), primary_key=True,
                                   server_default=GenerateUUID()),
             sa.Column("kind", PostgresOnly()), sa.Column("name", sa.String(50)))
    sa.Table("events", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("kind", sa.String(20)))
    out = run_drift(make_run(f"sqlite:///{path}", md))
    assert sorted(codes(out)) == ["DRIFT405", "DRIFT414", "DRIFT421", "DRIFT421"]
    left_out = {f["column"]: f for f in out["findings"] if f["code"] == "DRIFT421"}
    assert left_out["id"]["facts"]["object"] == "server_default"
    assert left_out["id"]["facts"]["object_name"] == "GenerateUUID()"
    assert left_out["kind"]["facts"]["object"] == "type"
    assert "0x" not in left_out["id"]["message"]  # stable from run to run
    # the same table's other column is still compared, and the rename elsewhere found
    assert only(out, "DRIFT405")["column"] == "name"
    assert only(out, "DRIFT414")["fix_sql"] == "ALTER TABLE events RENAME COLUMN old_kind TO kind"
    cov = out["observed"]["coverage"]
    assert cov["columns_not_compared"] == ["flow.id", "flow.kind"]
    assert cov["tables"] == 2 and cov["columns"] == 1 + 2
    assert out["observed"]["verdict"] == "drifted"


def test_left_out_columns_alone_are_never_in_sync(sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE flow (id VARCHAR(36) PRIMARY KEY, name VARCHAR(20));")
    md = sa.MetaData()
    sa.Table("flow", md, sa.Column("id", sa.String(36), primary_key=True,
                                   server_default=GenerateUUID()),
             sa.Column("name", sa.String(20)))
    out = run_drift(make_run(f"sqlite:///{path}", md))
    assert codes(out) == ["DRIFT421"]
    assert out["observed"]["verdict"] == "in_sync_partial"


def test_postgres_renders_them_and_compares_everything(pgdb, make_run):
    db = pgdb("CREATE TABLE flow (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),"
              " kind varchar(40), name varchar(20));")
    md = sa.MetaData()
    sa.Table("flow", md, sa.Column("id", sa.Uuid, primary_key=True,
                                   server_default=GenerateUUID()),
             sa.Column("kind", PostgresOnly()), sa.Column("name", sa.String(50)))
    out = run_drift(make_run(db.url(), md))
    assert "DRIFT499" not in codes(out) and "DRIFT421" not in codes(out)
    assert only(out, "DRIFT405")["column"] == "name"
    assert out["observed"]["coverage"]["columns"] == 3


def test_postgres_leaves_out_a_default_it_cannot_compare(pgdb, make_run):
    # Alembic asks PostgreSQL `SELECT <db default> = <model default>`: 0 = 'none' raises
    db = pgdb("CREATE TABLE scores (id int PRIMARY KEY, score int DEFAULT 0, name varchar(20));")
    md = sa.MetaData()
    sa.Table("scores", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("score", sa.Integer, server_default=sa.text("'none'")),
             sa.Column("name", sa.String(50)))
    out = run_drift(make_run(db.url(), md))
    assert sorted(codes(out)) == ["DRIFT405", "DRIFT421"]
    assert only(out, "DRIFT421")["column"] == "score"
    assert "invalid input syntax" in only(out, "DRIFT421")["facts"]["reason"]


def test_volatile_and_json_defaults_compare_by_their_text(pgdb, make_run):
    db = pgdb("CREATE TABLE flow (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
              "tags json DEFAULT '{}' NOT NULL, infra jsonb DEFAULT '[]'::jsonb, "
              """opts json DEFAULT '{"retries": 0}');""")
    md = sa.MetaData()
    sa.Table("flow", md, sa.Column("id", sa.Uuid, primary_key=True,
                                   server_default=GenerateUUID()),
             sa.Column("tags", sa.JSON, server_default="{}", nullable=False),
             sa.Column("opts", sa.JSON, server_default='{"retries":0}'),
             sa.Column("infra", sa.JSON().with_variant(sa.dialects.postgresql.JSONB, "postgresql"),
                       server_default="{}"))
    out = run_drift(make_run(db.url(), md))
    assert codes(out) == ["DRIFT407"]  # only infra's '[]' vs '{}', never gen_random_uuid()
    assert only(out, "DRIFT407")["column"] == "infra"


# --- the Prefect-like app through the CLI ---------------------------------------------------

PREFECT_SQLITE = """
CREATE TABLE flow (id CHAR(32) DEFAULT (lower(hex(randomblob(16)))) PRIMARY KEY,
                   name VARCHAR(200) NOT NULL, tags JSON NOT NULL DEFAULT '{}',
                   UNIQUE (name));
CREATE TABLE deployment (id CHAR(32) PRIMARY KEY, name VARCHAR(200) NOT NULL,
                         queue_name VARCHAR(200), flow_id CHAR(32) NOT NULL,
                         FOREIGN KEY (flow_id) REFERENCES flow (id) ON DELETE CASCADE);
"""


def test_prefect_like_app_on_sqlite(sqlite_file) -> None:
    path = sqlite_file(PREFECT_SQLITE)
    result = check_app(PREFECT, f"sqlite:///{path}")
    assert result.returncode == 1, result.stdout
    findings = result.check("schema_drift")["findings"]
    assert drift_codes(result) == ["DRIFT414", "DRIFT421"], findings
    left_out = next(f for f in findings if f["code"] == "DRIFT421")
    assert (left_out["table"], left_out["column"]) == ("flow", "id")
    assert left_out["severity"] == "warning"
    assert '@compiles(GenerateUUID, "sqlite")' in left_out["hint"]
    assert (left_out["file"], left_out["line"]) == marked_line(FIXTURES / PREFECT)
    assert (left_out["class"], left_out["attribute"]) == ("Flow", "id")
    # tags (a TypeDecorator whose repr() raises) is compared: only flow.id is left out
    cov = result.check("schema_drift")["observed"]["coverage"]
    assert cov["columns_not_compared"] == ["flow.id"] and cov["columns"] == 2 + 4
    rename = next(f for f in findings if f["code"] == "DRIFT414")
    assert rename["fix_sql"] == \
        "ALTER TABLE deployment RENAME COLUMN queue_name TO work_queue_name"
    assert (rename["class"], rename["attribute"]) == ("Deployment", "work_queue_name")
    # keeping the database: the annotated attribute maps the database's column name
    assert "`work_queue_name: Mapped[str] = mapped_column(\"queue_name\", sa.String(200), " \
        "nullable=True)`" in rename["hint"]


def test_prefect_like_app_on_postgres(pgdb) -> None:
    db = pgdb()
    create_all(PREFECT, db.url(), "[models.Base.metadata]",
               then="ALTER TABLE deployment RENAME COLUMN work_queue_name TO queue_name")
    result = check_app(PREFECT, db.url())
    assert result.returncode == 1, result.stdout
    assert drift_codes(result) == ["DRIFT414"], result.check("schema_drift")["findings"]
    cov = result.check("schema_drift")["observed"]["coverage"]
    assert cov["columns_not_compared"] == [] and cov["tables"] == 2


def test_a_missing_column_of_a_type_that_cannot_be_rendered_is_still_missing(
        sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE flow (id INTEGER PRIMARY KEY);")
    md = sa.MetaData()
    sa.Table("flow", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("kind", PostgresOnly()))
    out = run_drift(make_run(f"sqlite:///{path}", md))
    f = only(out, "DRIFT403")  # not DRIFT421: there is nothing to compare it with
    assert f["column"] == "kind" and "(PostgresOnly())" in f["message"]


def test_prefect_like_app_under_sqlalchemy_20(sqla20_python, sqlite_file) -> None:
    path = sqlite_file(PREFECT_SQLITE)
    result = check_app(PREFECT, f"sqlite:///{path}", "--python", sqla20_python)
    assert result.report["versions"]["sqlalchemy"].startswith("2.0.")
    assert result.returncode == 1, result.stdout
    assert drift_codes(result) == ["DRIFT414", "DRIFT421"]
    cov = result.check("schema_drift")["observed"]["coverage"]
    assert cov["columns_not_compared"] == ["flow.id"]

"""Issue 10, item 8 (drift): hints that are right when pasted — a server default only in the
database is declared in the model (never dropped), the model's unnamed CHECKs are matched,
the rename hint keeps attribute and column apart, names cut at 63 bytes are matched."""

from __future__ import annotations

import ast

import sqlalchemy as sa

from sidecar.worker.checks.drift import check as drift
from sidecar.worker.checks.drift.passes import pg_object_name
from tests.db.db_helpers import assert_required_facts, assert_secret_free, codes, only
from tests.db.drift_apps import check_app, create_all, drift_codes
from tests.support.helpers import FIXTURES, marked_line

FLASK = "drift_flask_checks"
RENAMED = "drift_rename_attribute"


def run_drift(run):
    out = drift.run_schema_drift(run.ctx)
    assert_secret_free(out, run.phases)
    assert_required_facts(out["findings"])
    return out


def _pasted(hint: str) -> str:
    """The first `...` statement of a hint that contains ' = ' (what one pastes)."""
    for chunk in hint.split("`")[1::2]:
        if " = " in chunk:
            ast.parse(chunk)  # valid Python where it goes (a class body statement)
            return chunk
    raise AssertionError(f"no statement in {hint!r}")


# --- the Optuna-like Flask-SQLAlchemy app ---------------------------------------------------


def test_unnamed_checks_match_and_a_db_only_default_is_declared(pgdb) -> None:
    db = pgdb()
    create_all(FLASK, db.url(), "[models.db.metadata]",
               then="ALTER TABLE studies ALTER COLUMN direction SET DEFAULT 'MINIMIZE'")
    result = check_app(FLASK, db.url())
    findings = result.check("schema_drift")["findings"]
    # PostgreSQL named the three unnamed CHECKs (trials_number_check, trials_check,
    # trials_state_check): none is "extra in the database"
    assert drift_codes(result) == ["DRIFT424"], findings
    assert result.returncode == 0, result.stdout  # a warning: inserts still work
    f = findings[0]
    assert f["severity"] == "warning" and f["fix_sql"] is None
    assert (f["file"], f["line"]) == marked_line(FIXTURES / FLASK)
    assert (f["class"], f["attribute"]) == ("StudyModel", "direction")
    assert _pasted(f["hint"]) == ("direction = db.Column(db.String(20), nullable=False, "
                                  "server_default='MINIMIZE')")
    assert "DROP DEFAULT" not in f["hint"] and "alembic_op" not in f["facts"]


def test_a_real_extra_check_is_still_reported(pgdb) -> None:
    db = pgdb()
    create_all(FLASK, db.url(), "[models.db.metadata]",
               then="ALTER TABLE trials ADD CONSTRAINT ck_trials_positive CHECK (trial_id > 0)")
    result = check_app(FLASK, db.url())
    assert drift_codes(result) == ["DRIFT418"]
    extra = result.check("schema_drift")["findings"][0]
    assert extra["fix_sql"] == "ALTER TABLE trials DROP CONSTRAINT ck_trials_positive"


def test_db_only_default_on_a_core_table_sqlite(sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE jobs (id INTEGER PRIMARY KEY, "
                       "status VARCHAR(20) DEFAULT 'queued' NOT NULL, tries INTEGER DEFAULT 0);")
    md = sa.MetaData()
    sa.Table("jobs", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("status", sa.String(20), nullable=False),
             sa.Column("tries", sa.Integer))
    out = run_drift(make_run(f"sqlite:///{path}", md))
    assert sorted(codes(out)) == ["DRIFT424", "DRIFT424"]
    by_col = {f["column"]: f for f in out["findings"]}
    assert by_col["status"]["facts"]["db_default"] == "'queued'"
    assert by_col["tries"]["facts"]["db_default"] == "0"
    assert all(f["fix_sql"] is None for f in out["findings"])


# --- renames: which side is the attribute ---------------------------------------------------


def test_rename_hint_never_swaps_attribute_and_column(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    # the database already calls the column event_metadata; the model maps "metadata"
    create_all(RENAMED, url, "[models.Base.metadata]",
               then="ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata")
    result = check_app(RENAMED, url)
    assert result.returncode == 1, result.stdout
    assert drift_codes(result) == ["DRIFT414"], result.check("schema_drift")["findings"]
    f = result.check("schema_drift")["findings"][0]
    assert (f["table"], f["column"]) == ("security_events", "metadata")
    assert f["fix_sql"] == "ALTER TABLE security_events RENAME COLUMN event_metadata TO metadata"
    assert (f["class"], f["attribute"]) == ("SecurityEvent", "event_metadata")
    assert (f["file"], f["line"]) == marked_line(FIXTURES / RENAMED)
    # keep the database: the attribute stays event_metadata and maps the database's column
    assert _pasted(f["hint"]) == "event_metadata = Column(JSON, nullable=True)"
    assert 'metadata = Column("event_metadata"' not in f["hint"]
    assert "`SecurityEvent.event_metadata` maps the column `metadata`" in f["hint"]


def test_rename_hint_for_a_core_table_names_the_columns(sqlite_file, make_run):
    from sidecar.findings.registry import CATALOG

    path = sqlite_file("CREATE TABLE users (id INTEGER PRIMARY KEY, mail VARCHAR(200));")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(200)))
    f = only(run_drift(make_run(f"sqlite:///{path}", md)), "DRIFT414")
    hint = CATALOG.to_finding(f).hint
    assert 'Column("mail", String(length=200), ...)` instead of `Column("email", ...)' in hint
    assert "op.alter_column('users', 'mail', new_column_name='email')" in hint


# --- PostgreSQL's 63-byte names -------------------------------------------------------------


def test_a_name_longer_than_63_bytes_costs_only_that_tables_indexes(pgdb, make_run):
    # SQLAlchemy refuses to emit the model's name (IdentifierError, before any filter) where
    # PostgreSQL would have cut it: that table's columns are still compared, on a copy
    long_ix = "ix_" + "very_long_descriptive_index_name_" * 2 + "on_users_name"
    assert len(long_ix) > 63
    db = pgdb(f"CREATE TABLE users (id serial PRIMARY KEY, name varchar(50), mail text);"
              f"CREATE INDEX {long_ix} ON users (name);"  # PostgreSQL cuts it (NOTICE)
              "CREATE TABLE teams (id serial PRIMARY KEY);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50)), sa.Column("email", sa.Text),
             sa.Index(long_ix, "name"))
    sa.Table("teams", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("title", sa.String(20)))
    out = run_drift(make_run(db.url(), md))
    # the rename in users is still found, teams compared as usual
    assert sorted(codes(out)) == ["DRIFT403", "DRIFT414", "DRIFT420"]
    assert only(out, "DRIFT414")["fix_sql"] == "ALTER TABLE users RENAME COLUMN mail TO email"
    assert only(out, "DRIFT403")["table"] == "teams"
    from sidecar.findings.registry import CATALOG

    f = only(out, "DRIFT420")
    assert "IdentifierError" in f["message"] and f["facts"]["identifier"] == long_ix
    assert f["facts"]["cut_name"] == long_ix[:63] and f["facts"]["columns_compared"] == "yes"
    hint = CATALOG.to_finding(f).hint
    assert f"`{long_ix[:63]}`" in hint and "Grant" not in hint
    assert "Its columns were compared" in hint
    cov = out["observed"]["coverage"]
    assert cov["tables_not_compared"] == [] and cov["indexes_not_compared"] == ["users"]
    assert cov["tables"] == 2 and cov["columns"] == 3 + 2
    assert out["observed"]["verdict"] == "drifted"


def test_pg_generated_names_match_unnamed_checks_by_name(pgdb, make_run):
    # PostgreSQL rewrites IN (...) as = ANY (ARRAY[...]): the expression cannot match, the
    # name PostgreSQL generated (trials_state_check) does
    db = pgdb("CREATE TABLE trials (id int PRIMARY KEY, state varchar(16) "
              "CHECK (state IN ('RUNNING', 'COMPLETE')));")
    md = sa.MetaData()
    sa.Table("trials", md, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
             sa.Column("state", sa.String(16), sa.CheckConstraint("state IN ('RUNNING', "
                                                                   "'COMPLETE')")))
    assert codes(run_drift(make_run(db.url(), md))) == []


def test_pg_generated_names():
    assert pg_object_name("trials", "state", "check") == "trials_state_check"
    assert pg_object_name("trials", None, "check") == "trials_check"
    name = pg_object_name("t" * 40, "c" * 40, "check")
    assert len(name) == 63 and name == "t" * 28 + "_" + "c" * 28 + "_check"


def test_a_column_only_the_database_has_points_at_the_class(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_all(RENAMED, url, "[models.Base.metadata]",
               then="ALTER TABLE security_events ADD COLUMN status VARCHAR(10) DEFAULT 'new'")
    result = check_app(RENAMED, url)
    assert drift_codes(result) == ["DRIFT404"]
    f = result.check("schema_drift")["findings"][0]
    source = (FIXTURES / RENAMED / "app" / "models.py").read_text().splitlines()
    assert f["file"] == "app/models.py" and f["class"] == "SecurityEvent"
    assert source[f["line"] - 1].startswith("class SecurityEvent(")  # where to add it
    assert f["attribute"] is None


def test_indexes_left_out_alone_are_never_in_sync(pgdb, make_run):
    long_ix = "ix_" + "x" * 70
    db = pgdb(f"CREATE TABLE users (id serial PRIMARY KEY, name varchar(50));"
              f"CREATE INDEX {long_ix} ON users (name);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("name", sa.String(50)), sa.Index(long_ix, "name"))
    out = run_drift(make_run(db.url(), md))
    assert codes(out) == ["DRIFT420"] and out["observed"]["verdict"] == "in_sync_partial"


def test_pending_migrations_hint_uses_the_apps_command_when_known(pgdb, make_run):
    from sidecar.findings.registry import CATALOG

    db = pgdb("CREATE TABLE users (id serial PRIMARY KEY);")
    md = sa.MetaData()
    sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True),
             sa.Column("email", sa.String(9)))
    state = {"state": "behind", "current": ["a1"], "heads": ["b2"],
             "pending": [{"revision": "b2", "message": "add email"}]}
    for command, expected in [(None, "alembic upgrade head` with the app's configuration"),
                              ("flask db upgrade", "run `flask db upgrade`")]:
        run = make_run(db.url(), md)
        run.ctx.migration_state = dict(state, **({"upgrade_command": command} if command
                                                 else {}))
        hint = CATALOG.to_finding(only(run_drift(run), "DRIFT431")).hint
        assert expected in hint

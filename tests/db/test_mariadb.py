"""MySQL/MariaDB as a first-class database, against a real throwaway MariaDB server
(Debian's mariadb-server, tests/support/mariadb.py) through PyMySQL, and through mysqlclient
(MySQLdb, which a bare mysql:// URL means) where the driver matters: read-only session with
statement and lock timeouts, one finding per way connecting fails, drift without the MySQL
noise, the incident's rename with the server's SQL, the fingerprint re-check, and a general
log holding nothing but reads."""

from __future__ import annotations

import itertools
import os

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import declarative_base

from sidecar.findings.registry import CATALOG
from sidecar.worker.checks.database import check as database
from sidecar.worker.checks.drift import check as drift
from sidecar.worker.checks.drift.diffs import Renderer
from tests.db.db_helpers import assert_secret_free, codes, incident_models, only

pytestmark = pytest.mark.mariadb

USER, PASSWORD = "app", "Maria-Pw-9f3e@x"
_names = itertools.count()


@pytest.fixture(scope="module")
def maria(mariadb_server):
    mariadb_server.create_user(USER, PASSWORD)
    return mariadb_server


@pytest.fixture
def mdb(maria):
    """A fresh database the app user owns; returns (name, url)."""
    name = f"m{os.getpid()}_{next(_names)}"
    maria.create_database(name, owner=USER)
    return name, maria.url(name, USER, PASSWORD)


def check(run, fn=database.run_database):
    out = fn(run.ctx)
    assert_secret_free(out, run.phases, password=PASSWORD)
    return out


def hint(raw) -> str:
    return CATALOG.to_finding(raw).hint


# The synchronous drivers: PyMySQL, mysqlclient named (mysql+mysqldb://), and a bare
# mysql:// URL, which SQLAlchemy opens with mysqlclient. mysqlclient builds against the
# MariaDB client library: scripts/test.sh installs it after the apt step.
@pytest.fixture(params=["pymysql", "mysqldb", "bare"])
def driver(request):
    if request.param != "pymysql":
        pytest.importorskip("MySQLdb")
    return request.param


def murl(maria, driver, database, user=USER, password=PASSWORD, port=None):
    """``maria.url`` through ``driver``; "bare" is ``mysql://`` without one."""
    url = maria.url(database, user, password, driver="pymysql", port=port)
    return ("mysql" if driver == "bare" else f"mysql+{driver}") + url[len("mysql+pymysql"):]


# what runs for each (observed["driver"]), and the exception a finding names: mysqlclient's
# errors live in MySQLdb._exceptions but call their module "MySQLdb"
RUNS = {"pymysql": "pymysql", "mysqldb": "mysqldb", "bare": "mysqldb"}
RAISES = {"pymysql": "pymysql.OperationalError", "mysqldb": "MySQLdb.OperationalError",
          "bare": "MySQLdb.OperationalError"}


INCIDENT_BEFORE = ("CREATE TABLE security_events (id integer PRIMARY KEY AUTO_INCREMENT, "
                   "kind varchar(40), metadata json)")


def test_read_only_session_with_timeouts(maria, mdb, make_run, driver):
    name, _ = mdb
    run = make_run(murl(maria, driver, name), statement_timeout_ms=1500, lock_timeout_ms=3000)
    out = check(run)
    assert out["findings"] == []  # a bare mysql:// too: mysqlclient is there, no DB208
    obs = out["observed"]
    assert (obs["dialect"], obs["driver"], obs["flavor"]) == \
        ("mysql", RUNS[driver], "mariadb")
    assert "driver_substituted" not in obs
    assert obs["read_only"] is True
    assert (obs["statement_timeout"], obs["lock_timeout"], obs["row_lock_timeout"]) == \
        ("1.5s", "3s", "3s")
    with database.read_only_connection(run.ctx.engine) as conn, \
            pytest.raises(sa.exc.DBAPIError, match="READ ONLY"):
        conn.exec_driver_sql("CREATE TABLE nope (id int)")


def test_failures_are_told_apart(maria, mdb, make_run, driver):
    """mysqlclient's libmariadb words two of them its own way: "Can't connect to server on
    '127.0.0.1' (115)" (2002) and "Unknown server host ... (-2)" (2005), no "MySQL"."""
    name, _ = mdb
    from tests.support.pgcluster import free_port

    wrong = "Wrong-pw-1@x"
    unknown_host = murl(maria, driver, "x").replace(f"127.0.0.1:{maria.port}",
                                                    "no-such-host.invalid")
    cases = [
        (murl(maria, driver, name, password=wrong), "DB204", "password"),
        (murl(maria, driver, "no_such_db"), "DB205", "database_or_grant"),
        (murl(maria, driver, name, port=free_port()), "DB201", "refused"),
        (unknown_host, "DB202", "unknown_host"),
        (maria.url(name, USER, PASSWORD, driver="mysqlconnector"), "DB206", None),
    ]
    for url, code, reason in cases:
        run = make_run(url, connect_timeout_s=2)
        out = check(run)
        assert_secret_free(out, run.phases, password=wrong)
        f = only(out, code)
        if reason:
            assert f["facts"]["reason"] == reason, f
        if code != "DB206":
            assert f["exception"] == RAISES[driver], f
        if code in ("DB201", "DB204", "DB205"):
            assert f["facts"]["dialect"] == "mysql"
            assert "pg_" not in hint(f) and "createdb" not in hint(f)


def test_unknown_database_with_privileges_is_1049(maria, make_run, driver):
    maria.create_user("admin", PASSWORD)
    maria.sql("GRANT ALL ON *.* TO 'admin'@'%'; GRANT ALL ON *.* TO 'admin'@'localhost';")
    f = only(check(make_run(murl(maria, driver, "nowhere", user="admin"))), "DB205")
    assert f["facts"]["reason"] == "database"
    assert "CREATE DATABASE `nowhere`" in hint(f)


def test_in_sync_schema_has_no_mysql_noise(maria, mdb, make_run):
    """TINYINT(1) for Boolean with 0/1 defaults, ENUM, JSON as MariaDB's LONGTEXT, unique
    key for unique=True, now() as current_timestamp(): all the same."""
    Base = declarative_base()

    class Thing(Base):
        __tablename__ = "things"
        __table_args__ = (sa.Index("ix_things_kind_state", "kind", "state"),)
        id = sa.Column(sa.Integer, primary_key=True)
        kind = sa.Column(sa.String(40), unique=True)
        payload = sa.Column(sa.JSON)
        flag = sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
        on = sa.Column(sa.Boolean, nullable=False, server_default=sa.true())
        state = sa.Column(sa.Enum("new", "done", name="state"), nullable=False,
                          server_default="new")
        created = sa.Column(sa.DateTime, server_default=sa.func.now())
        parent_id = sa.Column(sa.Integer, sa.ForeignKey("things.id"), index=True)

    name, url = mdb
    engine = sa.create_engine(maria.url(name, USER, PASSWORD))
    Base.metadata.create_all(engine)
    engine.dispose()
    run = make_run(url, Base.metadata)
    out = check(run, drift.run_schema_drift)
    assert codes(out) == [], out["findings"]
    assert out["observed"]["verdict"] == "in_sync"


def test_incident_rename_with_the_servers_sql_and_the_fingerprint(maria, mdb, make_run,
                                                                   driver):
    name, _ = mdb
    maria.sql(INCIDENT_BEFORE, name)
    run = make_run(murl(maria, driver, name), incident_models())
    out = check(run, drift.run_schema_drift)
    assert codes(out) == ["DRIFT414"]
    f = out["findings"][0]
    assert f["fix_sql"] == \
        "ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata"
    assert "new_column_name='event_metadata'" in f["facts"]["alembic_op"]
    assert out["observed"]["fingerprint"].startswith("mysql:")
    # the next cycle: the same catalog, no reflection
    run.ctx.previous_cache = out["cache"]
    again = check(run, drift.run_schema_drift)
    assert again["observed"]["reused"] is True and codes(again) == ["DRIFT414"]
    # the migration runs: a new fingerprint, a full compare, in sync
    maria.sql("ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata", name)
    run.ctx.previous_cache = again["cache"]
    after = check(run, drift.run_schema_drift)
    assert after["observed"]["reused"] is False and codes(after) == []


def test_rename_before_mariadb_10_5_is_change_column_with_the_definition():
    from alembic.operations import ops  # Diff ops below

    from sidecar.worker.checks.drift.diffs import Diff
    from sidecar.worker.checks.drift.passes import PassEnv, infer_renames

    old = sa.Table("security_events", sa.MetaData(), sa.Column("id", sa.Integer),
                   sa.Column("metadata", sa.dialects.mysql.LONGTEXT, nullable=True,
                             comment="what's in it"))

    def diffs(model_type):
        new = sa.Column("event_metadata", model_type, nullable=True)
        sa.Table("security_events", sa.MetaData(), sa.Column("id", sa.Integer), new)
        return [Diff("missing_column", "security_events", None, "event_metadata",
                     op=ops.AddColumnOp("security_events", new), message="m"),
                Diff("extra_column", "security_events", None, "metadata",
                     op=ops.DropColumnOp.from_column_and_tablename(
                         None, "security_events", old.c.metadata), message="m")]

    change = ("ALTER TABLE security_events CHANGE COLUMN metadata event_metadata LONGTEXT "
              "NULL COMMENT 'what''s in it'")
    rename = "ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata"
    # MariaDB's JSON is LONGTEXT; on MySQL a LONGTEXT becomes a Text in the models
    for server, model_type, sql in [((True, (10, 4, 30)), sa.JSON, change),
                                    ((False, (5, 7, 44)), sa.Text, change),
                                    ((True, (10, 11, 9)), sa.JSON, rename),
                                    ((False, (8, 0, 36)), sa.Text, rename)]:
        env = PassEnv("mysql", Renderer("mysql", server))
        [found] = infer_renames(diffs(model_type), env)
        assert found.fix_sql == sql, server
    # MySQL 8 reflects JSON as JSON: a LONGTEXT is not the JSON column renamed
    env = PassEnv("mysql", Renderer("mysql", (False, (8, 0, 36))))
    assert [d.kind for d in infer_renames(diffs(sa.JSON), env)] == ["missing_column",
                                                                    "extra_column"]


def test_a_locked_table_does_not_block_the_check(maria, mdb, make_run):
    """LOCK TABLES ... WRITE in another session (what a long migration holds): MariaDB's
    SHOW CREATE TABLE and information_schema take high-priority metadata locks, so the
    comparison completes, with the right finding, instead of waiting."""
    import pymysql

    name, url = mdb
    maria.sql(INCIDENT_BEFORE, name)
    holder = pymysql.connect(unix_socket=str(maria.socket), user="root", database=name)
    try:
        holder.cursor().execute("LOCK TABLES security_events WRITE")
        run = make_run(url, incident_models(), lock_timeout_ms=1000)
        assert codes(check(run, drift.run_schema_drift)) == ["DRIFT414"]
    finally:
        holder.cursor().execute("UNLOCK TABLES")
        holder.close()


def test_a_read_that_waits_on_a_table_lock_is_db211_lock_timeout(maria, mdb, make_run,
                                                                 driver):
    """A read that does wait - a plain SELECT of the locked table's rows (the migrations
    check reads alembic_version this way) - is cancelled by the sidecar's
    lock_wait_timeout: DB211 with MySQL's advice, not a hang. Error 1205, in PyMySQL's
    and in mysqlclient's exception alike."""
    import pymysql

    name, _ = mdb
    maria.sql(INCIDENT_BEFORE, name)
    holder = pymysql.connect(unix_socket=str(maria.socket), user="root", database=name)
    try:
        holder.cursor().execute("LOCK TABLES security_events WRITE")
        run = make_run(murl(maria, driver, name), lock_timeout_ms=1000)
        assert check(run)["findings"] == []

        def read_rows():
            with database.read_only_connection(run.ctx.engine) as conn:
                conn.exec_driver_sql("SELECT * FROM security_events").fetchall()
            return {"findings": [], "observed": {}}

        out = database.timeouts_named(read_rows, "reading")()
        assert_secret_free(out, password=PASSWORD)
        f = only(out, "DB211")
        assert (f["facts"]["reason"], f["facts"]["dialect"]) == ("lock_timeout", "mysql")
        assert f["exception"] == RAISES[driver]
        assert "Lock wait timeout exceeded" in f["message"]
        assert "SHOW FULL PROCESSLIST" in hint(f)
    finally:
        holder.cursor().execute("UNLOCK TABLES")
        holder.close()


def test_a_statement_past_max_statement_time_is_db211_statement_timeout(maria, mdb,
                                                                        make_run, driver):
    """The sidecar's statement limit is MariaDB's max_statement_time (0.5 s here): a
    statement that runs longer is interrupted by the server with error 1969, DB211
    statement_timeout - through either driver's exception."""
    name, _ = mdb
    run = make_run(murl(maria, driver, name), statement_timeout_ms=500)
    assert check(run)["observed"]["statement_timeout"] == "0.5s"

    def slow_read():
        with database.read_only_connection(run.ctx.engine) as conn:
            conn.exec_driver_sql("SELECT SLEEP(30)").fetchall()
        return {"findings": [], "observed": {}}

    out = database.timeouts_named(slow_read, "reading")()
    assert_secret_free(out, password=PASSWORD)
    f = only(out, "DB211")
    assert (f["facts"]["reason"], f["facts"]["dialect"]) == ("statement_timeout", "mysql")
    assert f["exception"] == RAISES[driver]
    assert "max_statement_time exceeded" in f["message"]


def test_a_dropped_database_is_db205_in_the_next_cycle(maria, mdb, make_run):
    name, url = mdb
    assert check(make_run(url))["findings"] == []
    maria.sql(f"DROP DATABASE `{name}`")
    f = only(check(make_run(url)), "DB205")
    assert f["facts"]["database"] == name


def test_the_general_log_holds_nothing_but_reads(maria, mdb, make_run, driver):
    name, _ = mdb
    maria.sql(INCIDENT_BEFORE, name)
    marker = f"sidecar-read-only-proof-{name}"
    maria.sql(f"SELECT '{marker}'")
    run = make_run(murl(maria, driver, name), incident_models())
    check(run)
    check(run, drift.run_schema_drift)
    run.close()
    sent = [s.strip() for s in maria.statements(USER, after=marker)]
    assert sent, "the general log recorded the sidecar's session"
    allowed = ("SELECT", "SHOW", "SET SESSION", "SET NAMES", "SET AUTOCOMMIT", "ROLLBACK",
               "DESCRIBE", "EXPLAIN")
    writes = [s for s in sent if not s.upper().startswith(allowed)]
    assert writes == [], writes


@pytest.mark.parametrize("driver", ["aiomysql", "asyncmy"])
def test_async_mysql_drivers_through_the_bridge(maria, mdb, make_run, driver):
    pytest.importorskip(driver)
    from sidecar.worker.checks.database.bridge import run_on_database

    name, _ = mdb
    maria.sql(INCIDENT_BEFORE, name)
    run = make_run(maria.url(name, USER, PASSWORD, driver=driver), incident_models())
    out = run_on_database(run.ctx, lambda: check(run))
    obs = out["observed"]
    assert (obs["driver"], obs["read_only"]) == (driver, True) and "greenlet" in \
        obs["async_driver"]
    drifted = run_on_database(run.ctx, lambda: check(run, drift.run_schema_drift))
    assert [f["fix_sql"] for f in drifted["findings"]] == \
        ["ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata"]
    bad = make_run(maria.url(name, USER, "Wrong-pw-2", driver=driver))
    failed = run_on_database(bad.ctx, lambda: database.run_database(bad.ctx))
    assert_secret_free(failed, bad.phases, password="Wrong-pw-2")
    assert only(failed, "DB204")["facts"]["reason"] == "password"


def test_a_string_without_length_names_the_length_the_database_has(maria, mdb, make_run):
    """"VARCHAR requires a length on dialect mysql": a model error only MySQL raises. The
    column is left out of the comparison (DRIFT421) with the length to write."""
    Base = declarative_base()

    class User(Base):
        __tablename__ = "users"
        id = sa.Column(sa.Integer, primary_key=True)
        email = sa.Column(sa.String)

    name, url = mdb
    maria.sql("CREATE TABLE users (id integer PRIMARY KEY AUTO_INCREMENT, "
              "email varchar(200))", name)
    out = check(make_run(url, Base.metadata), drift.run_schema_drift)
    f = only(out, "DRIFT421")
    assert (f["column"], f["facts"]["db_type"], f["facts"]["length"]) == \
        ("email", "VARCHAR(200)", "200")
    assert "write `String(200)`" in hint(f)


@pytest.mark.parametrize("driver_name", ["pymysql", "mysqldb", "aiomysql", "asyncmy"])
def test_a_server_that_accepts_and_never_greets_is_db203(driver_name, tmp_path):
    """A listener that completes the TCP handshake and never sends MySQL's greeting (a hung
    server, a proxy with no backend): the connect timeout must cover the greeting too, or
    the driver waits for it forever. The real CLI, bounded by the subprocess's deadline."""
    import socket
    from urllib.parse import quote

    from tests.support.helpers import FIXTURES, run_cli

    pytest.importorskip({"mysqldb": "MySQLdb"}.get(driver_name, driver_name))
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                         "app.models", "--format", "json", "--check", "database",
                         "--connect-timeout", "1", "--timeout", "40", "--database-url",
                         f"mysql+{driver_name}://{USER}:{quote(PASSWORD, safe='')}"
                         f"@127.0.0.1:{port}/x",
                         timeout=90)
    assert_secret_free(result.stdout, result.stderr, password=PASSWORD)
    (f,) = result.check("database")["findings"]
    assert f["code"] == "DB203", f

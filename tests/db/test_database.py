"""The database check: connecting read-only, and one distinct finding per way it fails.

Each failure test asserts the password is absent from everything emitted (findings,
observed, phases, skip reasons).
"""

from __future__ import annotations

import socket
import sys

import pytest

from sidecar.worker.checks.database import check as database
from sidecar.worker.checks.database import url as db_url
from sidecar.worker.context import Skip
from sidecar.worker.redact import redact_text
from tests.db.db_helpers import APP_PASSWORD, assert_required_facts, assert_secret_free, codes, only

pytestmark = pytest.mark.postgres


def check(run):
    outcome = database.run_database(run.ctx)
    assert_secret_free(outcome, run.phases)
    assert_required_facts(outcome["findings"])
    return outcome


# --- success -------------------------------------------------------------------------------


def test_postgres_read_only_with_timeouts(pgdb, make_run):
    db = pgdb()
    run = make_run(db.url(), statement_timeout_ms=1500, lock_timeout_ms=700)
    out = check(run)
    assert out["findings"] == []
    obs = out["observed"]
    assert obs["dialect"] == "postgresql" and obs["driver"] == "psycopg2"
    assert obs["server_version"].startswith("15.")
    assert obs["read_only"] is True
    assert obs["statement_timeout"] == "1500ms" and obs["lock_timeout"] == "700ms"
    assert obs["latency_ms"] >= 0 and obs["connect_ms"] > 0
    assert "***" in obs["url"]
    assert any(p.startswith("connecting to postgresql+psycopg2://app:***@") for p in run.phases)
    # the session really refuses writes
    from sqlalchemy import exc as sa_exc

    with database.read_only_connection(run.ctx.engine) as conn, \
            pytest.raises(sa_exc.InternalError, match="read-only transaction"):
        conn.exec_driver_sql("CREATE TABLE nope (id int)")


def test_postgres_reports_which_reserved_attribute_columns_exist(pgdb, make_run):
    """For SQLA101's hint: the models check asks, the database check answers read-only."""
    db = pgdb("""
        CREATE TABLE security_events (id serial PRIMARY KEY, metadata json);
        CREATE TABLE packages (id serial PRIMARY KEY, name text);
    """)
    run = make_run(db.url())
    run.ctx.model_columns = [("security_events", "metadata"), ("packages", "registry"),
                             ("no_such_table", "metadata")]
    out = check(run)
    assert out["observed"]["columns_present"] == {
        "security_events.metadata": True, "packages.registry": False,
        "no_such_table.metadata": False}


def test_sqlite_file_opened_read_only(sqlite_file, make_run):
    path = sqlite_file("CREATE TABLE t (id INTEGER PRIMARY KEY);")
    out = check(make_run(f"sqlite:///{path}"))
    assert out["findings"] == []
    assert out["observed"]["dialect"] == "sqlite" and out["observed"]["read_only"] is True


def test_sqlite_relative_path_is_resolved_against_the_app_path(sqlite_file, make_run,
                                                               tmp_path):
    sqlite_file("CREATE TABLE t (id INTEGER PRIMARY KEY);", name="rel.db")
    out = check(make_run("sqlite:///rel.db", app_path=tmp_path))
    assert out["findings"] == []


def test_sqlite_missing_file_is_reported_and_not_created(tmp_path, make_run):
    path = tmp_path / "nope.db"
    out = check(make_run(f"sqlite:///{path}"))
    f = only(out, "DB209")
    assert str(path) in f["message"]
    assert not path.exists()


def test_no_url_skips(make_run):
    with pytest.raises(Skip, match="no database URL"):
        database.run_database(make_run(None).ctx)


# --- drivers -------------------------------------------------------------------------------


def test_bare_postgresql_url_picks_installed_psycopg2_when_psycopg3_is_missing(
        pgdb, make_run, monkeypatch):
    # SQLAlchemy 2.1 maps postgresql:// to psycopg (3); this app only has psycopg2
    monkeypatch.setitem(sys.modules, "psycopg", None)
    db = pgdb()
    out = check(make_run(db.url(driver=None)))
    f = only(out, "DB208")
    assert f["facts"]["default_driver"] == "psycopg" and f["facts"]["driver"] == "psycopg2"
    assert f["facts"]["suggested"] == "postgresql+psycopg2"
    assert out["observed"]["driver"] == "psycopg2" and out["observed"]["driver_substituted"]
    assert out["observed"]["read_only"] is True


def test_no_driver_at_all(make_run, monkeypatch):
    for mod in ("psycopg", "psycopg2", "pg8000", "psycopg2cffi"):
        monkeypatch.setitem(sys.modules, mod, None)
    out = check(make_run(f"postgresql://app:{APP_PASSWORD.replace('@', '%40')}@db/x"))
    f = only(out, "DB206")
    assert f["facts"]["driver"] == "psycopg" and f["facts"]["installed"] == "none"


def test_explicit_driver_not_installed_suggests_the_installed_one(make_run):
    out = check(make_run("postgresql+pg8000://app:pw-Secret-1@db/x"))
    f = only(out, "DB206")
    assert f["facts"]["driver"] == "pg8000"
    assert "psycopg2" in f["facts"]["installed"]
    assert f["facts"]["package"] == "pg8000"


# --- failures ------------------------------------------------------------------------------


def test_connection_refused(pg, make_run):
    port = pgcluster_free_port()
    out = check(make_run(pg.url("postgres", "app", APP_PASSWORD, port=port)))
    f = only(out, "DB201")
    assert f["facts"]["reason"] == "refused" and f["facts"]["port"] == str(port)
    assert make_run(None).ctx.engine is None


def test_stopped_server_then_started_again(pg, pgdb, make_run):
    db = pgdb()
    pg.stop()
    try:
        out = check(make_run(db.url()))
        assert codes(out) == ["DB201"]
    finally:
        pg.start()
    out = check(make_run(db.url()))
    assert out["findings"] == []


def test_wrong_password(pgdb, make_run):
    db = pgdb()
    wrong = "Wr0ng-pa55-Xyz"
    run = make_run(db.url(password=wrong))
    out = database.run_database(run.ctx)
    f = only(out, "DB204")
    assert f["facts"]["reason"] == "password" and f["facts"]["user"] == "app"
    assert_secret_free(out, run.phases, password=wrong)


def test_unknown_role_is_an_authentication_failure(pg, make_run):
    out = check(make_run(pg.url("postgres", "nobody", APP_PASSWORD)))
    assert only(out, "DB204")["facts"]["reason"] in ("role", "password")


def test_missing_database(pg, make_run):
    out = check(make_run(pg.url("no_such_db", "app", APP_PASSWORD)))
    f = only(out, "DB205")
    assert f["facts"]["database"] == "no_such_db"


def test_unknown_host(make_run):
    out = check(make_run(f"postgresql+psycopg2://app:{APP_PASSWORD.replace('@', '%40')}"
                         "@no-such-host.invalid:5432/x", connect_timeout_s=2))
    f = only(out, "DB202")
    assert f["facts"]["host"] == "no-such-host.invalid"


def test_connect_timeout(make_run):
    # a listener that completes the TCP handshake but never speaks: libpq waits for the
    # server's reply until connect_timeout (whole seconds)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        out = check(make_run(f"postgresql+psycopg2://app:{APP_PASSWORD.replace('@', '%40')}"
                             f"@127.0.0.1:{port}/x", connect_timeout_s=1))
    f = only(out, "DB203")
    assert f["facts"]["timeout_s"] == "1.0"


@pytest.mark.parametrize("url, reason", [
    ("not a url at all", "syntax"),
    ("postgresql://app:Secret-pw-12@db:notaport/x", "port"),
    ("postgres://app:Secret-pw-12@db/x", "alias"),
    ("postgresql://app:Secret@pw-12@db/x", "at_sign"),
    ("postgresql+nosuchdriver://app:Secret-pw-12@db/x", "driver_name"),
    ("nosuchdb://app:Secret-pw-12@db/x", "dialect"),
    ("", "empty"),
    ("   ", "empty"),
    ("${DATABASE_URL}", "unexpanded"),
    ("$DATABASE_URL", "unexpanded"),
    ("postgresql://app:${DB_PASSWORD}@db/x", "unexpanded"),
    ("postgresql://app:Secret-pw-12@$(DB_HOST):5432/x", "unexpanded"),
])
def test_malformed_url(make_run, url, reason):
    run = make_run(url)
    out = database.run_database(run.ctx)
    f = only(out, "DB207")
    assert f["facts"]["reason"] == reason
    assert_secret_free(out, run.phases, password="Secret-pw-12")
    assert_secret_free(out, run.phases, password="Secret@pw-12")


def test_a_dollar_inside_a_real_password_is_not_a_variable(make_run):
    url = "postgresql+psycopg2://app:pa$(word)x@127.0.0.1:1/x"
    out = database.run_database(make_run(url).ctx)
    assert codes(out) == ["DB201"]  # parsed, tried, refused: not DB207 unexpanded
    assert_secret_free(out, password="pa$(word)x")
    assert "word" not in str(out)


def test_an_unparseable_url_never_quotes_itself(make_run):
    """SQLAlchemy 1.3/1.4 put the whole URL in the parse error; a URL that does not parse
    has no password redaction could know (tests/test_engine_url_at_import.py runs 1.4)."""
    out = database.run_database(make_run("postgresql:/app:Typo-pw-77@db/app").ctx)
    f = only(out, "DB207")
    assert f["facts"]["reason"] == "syntax" and "Typo-pw-77" not in str(out)


def test_only_mysql_drivers_errors_carry_a_mysql_error_number():
    class Deadlock(Exception):  # pymssql's (1205, b"...deadlock victim...")
        pass

    Deadlock.__module__ = "pymssql._pymssql"
    assert database.mysql_errno(Deadlock(1205, b"deadlock")) is None
    assert database.timeout_reason(Deadlock(1205, b"deadlock")) is None
    import pymysql

    assert database.mysql_errno(pymysql.err.OperationalError(1205, "Lock wait")) == 1205


def test_a_variable_set_to_nothing_is_named(make_run, monkeypatch):
    """compose's `${DATABASE_URL}` with the variable unset: set, and empty - not "no
    database configured" (which skips the checks and can be ready)."""
    monkeypatch.setenv("DATABASE_URL", "")
    out = check(make_run(""))
    f = only(out, "DB207")
    assert (f["facts"]["reason"], f["facts"]["variable"]) == ("empty", "DATABASE_URL")
    assert "DATABASE_URL is set to an empty value" in f["message"]


def test_an_unexpanded_variable_is_named_without_the_text_around_it(make_run):
    out = check(make_run("postgresql://app:${DB_PASSWORD}@db/x"))
    f = only(out, "DB207")
    assert f["facts"]["variable"] == "DB_PASSWORD" and "DB_PASSWORD" in f["message"]


def test_later_checks_skip_with_the_connection_reason(pg, make_run):
    from sidecar.worker.checks.drift import check as drift
    from sidecar.worker.checks.migrations import check as migrations

    run = make_run(pg.url("no_such_db", "app", APP_PASSWORD), alembic_ini=None)
    database.run_database(run.ctx)
    with pytest.raises(Skip, match="DB205") as info:
        database.ensure_engine(run.ctx)
    assert_secret_free(str(info.value))
    run.ctx.models_ok = False
    run.ctx.models_error = "boom"
    with pytest.raises(Skip, match="models did not load"):
        drift.run_schema_drift(run.ctx)
    with pytest.raises(Skip):
        migrations.run_migrations(run.ctx)


# --- statements our session limits cancel --------------------------------------------------


def _cancelled(run, sql: str, during=None) -> BaseException:
    """The real exception of ``sql`` on the run's read-only, time-limited session."""
    from sqlalchemy import exc as sa_exc

    engine = run.ctx.engine
    with database.read_only_connection(engine) as conn, \
            pytest.raises(sa_exc.DBAPIError) as info:
        if during is not None:
            during(conn)
        conn.exec_driver_sql(sql)
    return info.value


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg"])
def test_session_timeouts_are_told_apart_by_sqlstate(pgdb, make_run, driver):
    """lock_timeout is SQLSTATE 55P03, statement_timeout 57014 (psycopg2's ``pgcode``,
    psycopg 3's ``sqlstate``); both are DB211, with the limit that fired."""
    from sqlalchemy import create_engine

    db = pgdb("CREATE TABLE t (id int);")
    run = make_run(db.url(driver=driver), statement_timeout_ms=1000, lock_timeout_ms=200)
    assert check(run)["findings"] == []

    slow = _cancelled(run, "SELECT pg_sleep(30)")
    assert database.sqlstate(slow) == "57014"
    assert database.classify_connect_error(slow) == ("DB211", {"reason": "statement_timeout"})

    locker = create_engine(db.url(driver=driver))
    try:
        with locker.connect() as holder:  # the lock is held until its transaction ends
            holder.exec_driver_sql("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
            blocked = _cancelled(run, "SELECT * FROM t")
            holder.rollback()
    finally:
        locker.dispose()
    assert database.sqlstate(blocked) == "55P03"
    assert database.classify_connect_error(blocked) == ("DB211", {"reason": "lock_timeout"})
    assert database.cancelled_by_server(slow) and database.cancelled_by_server(blocked)


def test_a_cancel_request_is_not_a_statement_timeout(pgdb, make_run):
    """pg_cancel_backend() raises the same 57014 as statement_timeout: not DB211."""
    import threading

    db = pgdb()
    run = make_run(db.url(), statement_timeout_ms=60000)
    assert check(run)["findings"] == []
    cancel_from_another_session = threading.Timer(0.5, db.sql, [
        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
        "WHERE query LIKE 'SELECT pg_sleep(30)%' AND pid <> pg_backend_pid()"])

    cancelled = _cancelled(run, "SELECT pg_sleep(30)",
                           during=lambda conn: cancel_from_another_session.start())
    cancel_from_another_session.join()
    assert database.sqlstate(cancelled) == "57014"
    assert "user request" in str(cancelled)
    assert database.classify_connect_error(cancelled)[0] == "DB299"
    assert database.cancelled_by_server(cancelled)


# --- redaction -----------------------------------------------------------------------------


def test_redact_masks_urls_dsns_and_known_secrets():
    pw = "p@ss/w:rd"
    text = (f"could not connect postgresql://u:{pw}@h/db dsn 'host=h password={pw}' "
            f"and p%40ss%2Fw%3Ard and bare {pw}")
    out = redact_text(text, [pw])
    assert pw not in out and "p%40ss" not in out and "w:rd" not in out
    assert "postgresql://u:***@h/db" in out and "password=***" in out


def test_secrets_of_unparseable_url():
    forms = db_url.secrets_of("postgresql://u:Secret@pw@db/x")
    assert "Secret@pw" in forms


def pgcluster_free_port() -> int:
    from tests.support import pgcluster

    return pgcluster.free_port()


# --- a password with characters other URL readers cut it at (DB214) ------------------------

ODD_PASSWORD = "Hash#and/slash?Q"


@pytest.fixture
def odd_role(pg, pgdb):
    """A role whose password holds '#', '/' and '?', and a database it may connect to."""
    import itertools

    name = f"odd{next(itertools.count())}_{id(pg) % 10000}"
    pg.psql(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') THEN "
            f"CREATE ROLE {name} LOGIN; END IF; END $$;"
            f"ALTER ROLE {name} PASSWORD '{ODD_PASSWORD}'")
    return name, pgdb()


def test_a_password_other_readers_cut_is_a_warning_and_the_check_connects(pg, odd_role,
                                                                          make_run):
    from urllib.parse import urlsplit

    role, db = odd_role
    raw = f"postgresql+psycopg2://{role}:{ODD_PASSWORD}@127.0.0.1:{pg.port}/{db.name}"
    assert urlsplit(raw).password != ODD_PASSWORD  # the claim the finding makes, for urllib
    run = make_run(raw)
    out = database.run_database(run.ctx)
    assert_secret_free(out, run.phases, password=ODD_PASSWORD)
    assert_required_facts(out["findings"])
    f = only(out, "DB214")
    from sidecar.findings.registry import CATALOG

    assert CATALOG["DB214"].severity == "warning"  # the app connects: not a readiness error
    assert f["facts"]["characters"] == "# / ?"
    assert f["facts"]["escapes"] == "# → %23, / → %2F, ? → %3F"
    assert "libpq" in f["message"]
    assert out["observed"]["read_only"] is True  # SQLAlchemy read it: connected


def test_the_hints_encoding_one_liner_gives_a_url_every_reader_agrees_on(pg, odd_role,
                                                                         make_run):
    """The hint's command, run as pasted (the password typed at its prompt), gives the
    encoded form: SQLAlchemy connects without DB214, libpq's psql logs in with it too, and
    Alembic's set_main_option takes it once each '%' is doubled as the hint says."""
    import re
    import shlex
    import subprocess

    from sidecar.findings.codes.database import ENCODE_PASSWORD

    role, db = odd_role
    hint = _hint({"code": "DB214", "facts": {"characters": "# / ?", "escapes": "..."}})
    assert ENCODE_PASSWORD in hint and "%%" in hint
    argv = shlex.split(ENCODE_PASSWORD)
    argv[0] = sys.executable
    done = subprocess.run(argv, input=ODD_PASSWORD + "\n", capture_output=True, text=True,
                          timeout=60)
    encoded = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"[A-Za-z0-9%._~-]+", encoded), encoded
    url = f"postgresql+psycopg2://{role}:{encoded}@127.0.0.1:{pg.port}/{db.name}"
    out = check(make_run(url))
    assert out["findings"] == [] and out["observed"]["read_only"] is True
    psql = subprocess.run(["psql", "-X", "-At", "-c", "SELECT current_user",
                           url.replace("+psycopg2", "")], capture_output=True, text=True,
                          timeout=60)
    assert psql.stdout.strip() == role, psql.stderr
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    assert cfg.get_main_option("sqlalchemy.url") == url


def test_percent_sequences_in_a_rejected_password_are_named(pg, odd_role, make_run):
    """A real password 'Hash%41...' written raw is read as 'HashA...' by SQLAlchemy."""
    role, db = odd_role
    out = check(make_run(f"postgresql+psycopg2://{role}:Hash%41nd@127.0.0.1:{pg.port}/"
                         f"{db.name}"))
    f = only(out, "DB204")
    assert f["facts"]["percent_decoded"] == "yes"
    assert "%25" in _hint(f)


def test_db214_stays_while_the_connection_is_kept(pg, odd_role, make_run):
    """--keep-connection: cycle 2 reuses the engine; the URL's warning is still true."""
    role, db = odd_role
    run = make_run(f"postgresql+psycopg2://{role}:{ODD_PASSWORD}@127.0.0.1:{pg.port}/"
                   f"{db.name}")
    first = database.run_database(run.ctx)
    run.ctx.start_cycle(keep_connection=True)
    engine = run.ctx.engine
    again = database.run_database(run.ctx)
    assert run.ctx.engine is engine  # kept, not reconnected
    assert codes(first) == codes(again) == ["DB214"]
    assert_secret_free(again, run.phases, password=ODD_PASSWORD)


def test_db214_names_libpq_only_where_libpq_reads_another_password(pg, odd_role, make_run):
    role, db = odd_role
    pg.psql(f"ALTER ROLE {role} PASSWORD 'Hash#and?Q'")
    try:
        out = database.run_database(make_run(
            f"postgresql+psycopg2://{role}:Hash#and?Q@127.0.0.1:{pg.port}/{db.name}").ctx)
    finally:
        pg.psql(f"ALTER ROLE {role} PASSWORD '{ODD_PASSWORD}'")
    f = only(out, "DB214")
    assert "libpq" not in f["message"] and "urllib.parse" in f["message"]


def test_percent_sequences_in_the_query_are_not_the_passwords():
    assert db_url.password_characters(
        "postgresql://app:pw@db/x?application_name=a%41b") == ([], False)


def test_a_raw_at_sign_before_a_slash_in_the_password_is_db207(make_run):
    """`p@ss/w`: SQLAlchemy reads password 'p', host 'ss', database 'w@db/x'."""
    out = database.run_database(make_run("postgresql://app:p@ss/w@db/x").ctx)
    assert only(out, "DB207")["facts"]["reason"] == "at_sign"
    assert_secret_free(out, password="p@ss/w")


def test_mysql_read_timeout_is_past_the_statement_and_lock_limits():
    limits = db_url.Limits({"connect_timeout_s": 2, "statement_timeout_ms": 3000,
                            "lock_timeout_ms": 9000})
    from sqlalchemy.engine import make_url

    _, kwargs, _ = db_url.engine_kwargs(make_url("mysql+pymysql://u:p@h/d"), limits, ".")
    assert kwargs["connect_args"]["read_timeout"] == 11
    _, kwargs, _ = db_url.engine_kwargs(make_url("mysql+pymysql://u:p@h/d?read_timeout=60"),
                                        limits, ".")
    assert "read_timeout" not in kwargs["connect_args"]  # the app's own is kept


@pytest.mark.parametrize("url, expected", [
    ("postgresql://app:pw@db/x?application_name=me@host", ([], False)),  # '@' in the query
    ("postgresql://app:plain-pw@db/x", ([], False)),
    ("postgresql://app:p%40ss@db/x", ([], True)),  # encoded: nothing to warn of
    ("postgresql://app:50%off@db/x", (["%"], False)),  # a '%' starting no escape
    ("mysql+pymysql://app:a/b#c@db/x", (["/", "#"], False)),
    ("postgresql://app@db/x", ([], False)),
    ("sqlite:///app.db", ([], False)),
])
def test_password_characters(url, expected):
    assert db_url.password_characters(url) == expected


def _hint(raw):
    from sidecar.findings.registry import CATALOG

    return CATALOG.lookup(raw["code"]).render_hint(raw)


@pytest.mark.parametrize("password", ["a/b", "a/b?c", "50%off"])
def test_libpq_reads_another_password_as_db214_says(password):
    """The finding's claim, against libpq itself: psql never gets to the server."""
    import subprocess
    from urllib.parse import urlsplit

    for other in ("a?b", "a#b"):
        assert urlsplit(f"postgresql://u:{other}@127.0.0.1:1/db").password != other
    done = subprocess.run(["psql", "-X", "-c", "SELECT 1",
                           f"postgresql://u:{password}@127.0.0.1:1/db"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "Connection refused" not in done.stderr, done.stderr


@pytest.mark.parametrize("errno, text, code", [
    # MariaDB Connector/C's words (mysqlclient), read off a real run where reproducible
    (2013, "Lost connection to server at 'handshake: reading initial communication packet', "
           "system error: 110", "DB203"),
    (2002, "Can't connect to server on '10.0.0.99' (110)", "DB203"),
    (2002, "Can't connect to server on '127.0.0.1' (115)", "DB201"),
    (2003, "Can't connect to MySQL server on '127.0.0.1' (111)", "DB201"),
    (2005, "Unknown server host 'db' (-2)", "DB202"),
])
def test_mysql_client_library_connect_failures(errno, text, code):
    class OperationalError(Exception):
        pass

    OperationalError.__module__ = "MySQLdb"
    assert database.classify_connect_error(OperationalError(errno, text))[0] == code

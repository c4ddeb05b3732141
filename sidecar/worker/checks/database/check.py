"""The ``database`` check: connect with the app's URL, read-only and time-limited, and ping.

Leaves on the Context (read by the migrations and schema_drift checks): ``engine`` (only
after a successful connection), ``db_error`` (why there is none, a redacted sentence) and
``secrets`` (the password's forms, for ``scrub`` in every later check). The engine's pool is
closed by a cleanup registered on the Context, at the end of the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import statistics
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from ... import compat
from ...context import CheckOutcome, Context, Skip
from ...protocol import finding
from ...redact import guarded, redact_text, scrub
from . import bridge
from . import url as db_url


def run_database(ctx: Context) -> CheckOutcome:
    def body() -> CheckOutcome:
        findings, observed = _run(ctx)
        return {"findings": findings, "observed": observed}

    return guarded(body, "DB299", "The database check failed unexpectedly", secrets_for(ctx))


def secrets_for(ctx: Context) -> List[str]:
    if ctx.secrets is None:
        ctx.secrets = db_url.secrets_of(ctx.config.get("database_url"))
    return ctx.secrets


def _run(ctx: Context) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    engine, findings, observed = _connect(ctx)
    if engine is None:
        return findings, observed
    with read_only_connection(engine) as conn:
        observed.update(_server_facts(conn))
        observed.update(_latency(conn))
        if ctx.model_columns:
            observed["columns_present"] = _columns_present(conn, ctx.model_columns)
    if observed.get("read_only") is False:
        findings.append(finding(
            "DB210", "The sidecar's session is not read-only "
            "(transaction_read_only is off); it never writes, but cannot prove it.",
            facts={"dialect": observed.get("dialect", "?")}))
    return findings, observed


def _columns_present(conn: Any, wanted: List[Tuple[str, str]]) -> Dict[str, bool]:
    """``{"security_events.metadata": True}`` for the columns the models check asked about
    (a reserved attribute's column: whether renaming it needs a migration). A table the
    database does not have has none of its columns; one that cannot be read is left out."""
    from sqlalchemy import inspect

    inspector = inspect(conn)
    out: Dict[str, bool] = {}
    for table, column in wanted:
        try:
            names = {c["name"] for c in inspector.get_columns(table)} \
                if inspector.has_table(table) else set()
        except Exception:
            continue
        out["%s.%s" % (table, column)] = column in names
    return out


def _connect(ctx: Context) -> Tuple[Any, List[Dict[str, Any]], Dict[str, Any]]:
    """Build the engine and open one connection; on failure, the finding that says why."""
    if ctx.engine is not None:  # kept from an earlier cycle: what connecting said still holds
        return ctx.engine, [dict(f) for f in ctx.db_findings], dict(ctx.db_observed)
    raw_url = ctx.config.get("database_url")
    if raw_url is None:
        ctx.db_error = "no database URL is configured"
        raise Skip("no database URL is configured (set --database-url or DATABASE_URL)")
    secrets = secrets_for(ctx)
    observed: Dict[str, Any] = {}
    findings: List[Dict[str, Any]] = []
    try:
        url = db_url.parse(raw_url)
        observed["url"] = _display(url)
        observed["dialect"] = url.get_backend_name()
        url, choice = db_url.resolve_driver(url)
    except db_url.UrlProblem as problem:
        ctx.db_error = str(problem)
        return None, [_problem_finding(problem, secrets)], observed
    findings.extend(_password_characters(raw_url, url))
    observed["driver"] = choice["driver"]
    if choice.get("app_driver"):  # the app's aiosqlite: the same file through sqlite3
        observed["app_driver"] = choice["app_driver"]
    if bridge.is_async_url(url):
        missing = bridge.greenlet_missing()
        if missing is not None:
            ctx.db_error = "the async driver cannot run without greenlet"
            return None, [*findings, finding(
                "DB206", f"The async driver '{url.get_driver_name()}' needs greenlet "
                f"(SQLAlchemy's asyncio support), which the app's interpreter cannot import "
                f"({missing}).", exception="ModuleNotFoundError",
                facts={"backend": url.get_backend_name(), "package": "greenlet",
                       "suggested": ""})], observed
        # the app's own driver, each check in one greenlet on the worker's event loop
        observed["async_driver"] = "app's own, through SQLAlchemy's greenlet bridge"
    if choice.get("driver_substituted"):
        observed["driver_substituted"] = True
        observed["default_driver"] = choice["default_driver"]
        findings.append(finding(
            "DB208",
            f"'{url.get_backend_name()}://' without a driver means "
            f"'{choice['default_driver']}' in this SQLAlchemy, which is not installed; "
            f"the sidecar used '{choice['driver']}' instead.",
            exception="ModuleNotFoundError",
            facts={"backend": url.get_backend_name(), "default_driver":
                   choice["default_driver"], "driver": choice["driver"],
                   "suggested": f"{url.get_backend_name()}+{choice['driver']}"}))
    limits = db_url.Limits(ctx.config)
    where = observed["url"]
    ctx.emit_phase(f"connecting to {where}")
    try:
        engine, connect_s = _open(url, limits, ctx.app_path, startup_options=True)
    except db_url.UrlProblem as problem:
        ctx.db_error = str(problem)
        return None, [*findings, _problem_finding(problem, secrets)], observed
    except Exception as exc:
        if _pgbouncer_rejects_options(exc):
            try:
                engine, connect_s = _open(url, limits, ctx.app_path, startup_options=False)
                observed["session_settings"] = "set on connect (startup options rejected)"
            except Exception as exc2:
                exc = exc2
                engine = None
        else:
            engine = None
        if engine is None and isinstance(getattr(exc, "orig", None) or exc, MemoryError):
            # app code on the connect path (an engine "connect" listener registered at
            # import) hit the worker's address-space cap: SIDE009, as at import
            ctx.db_error = "the worker ran out of memory while connecting"
            return None, [*findings, finding(
                "SIDE009", f"the worker ran out of memory while connecting to {where}",
                exception="MemoryError", facts={
                    "limit_mb": ctx.config.get("memory_limit_mb") or "?",
                    "phase": f"connecting to {where} (app code on the connect path, such as "
                             "an engine event listener)"})], observed
        if engine is None:
            code, facts = classify_connect_error(exc)
            facts.update(host=url.host or "localhost", port=str(url.port or ""),
                         database=url.database or "", user=url.username or "",
                         timeout_s=str(limits.connect_timeout_s),
                         dialect=url.get_backend_name())
            if facts.get("reason") == "password" and db_url.password_characters(raw_url)[1]:
                facts["percent_decoded"] = "yes"  # %XX in the password: decoded by SQLAlchemy
            message = f"Could not connect to {where}: {_driver_message(exc)}"
            ctx.db_error = f"could not connect to the database ({code})"
            failure = finding(code, message, exception=_exc_name(exc), facts=facts)
            return None, [*findings, failure], observed
    observed["connect_ms"] = round(connect_s * 1000, 1)
    ctx.engine = engine
    ctx.db_observed = dict(observed)
    ctx.db_findings = [dict(f) for f in findings]
    ctx.on_cleanup(lambda: _close(ctx))
    return engine, findings, observed


def _password_characters(raw_url: Any, url: Any) -> List[Dict[str, Any]]:
    """DB214 when the raw password holds characters other URL readers end it at."""
    chars, _ = db_url.password_characters(raw_url)
    if not chars:
        return []
    named = " and ".join(", ".join(f"'{c}'" for c in chars).rsplit(", ", 1))
    # who reads another password, character by character (libpq checked with psql 15:
    # it cuts at '/' only, and refuses a lone '%'; urllib.parse cuts at '/', '?', '#')
    postgres = url.get_backend_name() == "postgresql"
    how = []
    if postgres and "/" in chars:
        how.append("libpq (`psql \"$DATABASE_URL\"`, `pg_isready -d`) ends it at the '/'")
    cut = [c for c in chars if c in "/?#"]
    if cut:
        how.append(f"Python's urllib.parse, like most URL parsers (RFC 3986), ends it at "
                   f"{' or '.join(repr(c) for c in cut)}")
    if "%" in chars:
        how.append("libpq refuses the '%' that starts no %XX escape (\"invalid "
                   "percent-encoded token\")" if postgres else
                   "parsers strict about escapes refuse the '%' that starts no %XX escape")
    return [finding(
        "DB214", f"The password in the database URL has {named} written as is: SQLAlchemy "
        f"reads it up to the '@', but other tools given the same URL do not: "
        f"{'; '.join(how)}.",
        facts={"characters": " ".join(chars),
               "escapes": ", ".join(f"{c} → {db_url.PERCENT_ESCAPES[c]}" for c in chars),
               "dialect": url.get_backend_name()})]


def _open(url: Any, limits: Any, app_path: str, startup_options: bool) -> Tuple[Any, float]:
    from sqlalchemy import create_engine, event

    url, kwargs, listeners = db_url.engine_kwargs(url, limits, app_path, startup_options)
    if bridge.is_async_url(url):
        from sqlalchemy.ext.asyncio import create_async_engine

        # its sync_engine is an Engine like any other, inside the bridge's greenlet
        engine = create_async_engine(url, **kwargs).sync_engine
    else:
        engine = create_engine(url, **kwargs)
    for listener in listeners:
        event.listen(engine, "connect", listener)
    do_connect = bridge.bounded_connect(url.get_driver_name(), limits.connect_timeout_s)
    if do_connect is not None:
        event.listen(engine, "do_connect", do_connect)
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            compat.exec_driver_sql(conn, "SELECT 1")
    except BaseException:
        engine.dispose()
        raise
    return engine, time.perf_counter() - started


def ensure_engine(ctx: Context) -> Any:
    """The run's engine, connecting now if the database check has not; Skip if impossible."""
    if ctx.engine is None and ctx.db_error is None:
        with contextlib.suppress(Skip):
            _connect(ctx)
    if ctx.engine is not None:
        return ctx.engine
    reason = ctx.db_error or "the database is not reachable"
    raise Skip(redact_text(f"{reason}; see the database check", secrets_for(ctx)))


@contextlib.contextmanager
def read_only_connection(engine: Any) -> Iterator[Any]:
    """A connection inside a transaction that is always rolled back, never committed."""
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            yield conn
        finally:
            if trans.is_active:
                trans.rollback()


def _close(ctx: Context) -> None:
    """Close the pool cleanly (no "unexpected EOF" in the PostgreSQL logs)."""
    engine, ctx.engine = ctx.engine, None
    if engine is not None:
        if ctx.async_bridge is not None and bridge.is_async_url(engine.url):
            ctx.async_bridge.run(engine.dispose)  # closing awaits the driver too
        else:
            engine.dispose()


# --- facts ---------------------------------------------------------------------------------


def _server_facts(conn: Any) -> Dict[str, Any]:
    dialect = conn.dialect
    facts: Dict[str, Any] = {"dialect": dialect.name, "driver": dialect.driver}
    info = getattr(dialect, "server_version_info", None)
    if info:
        facts["server_version"] = ".".join(str(p) for p in info)
    if dialect.name == "postgresql":
        row = compat.exec_driver_sql(
            conn, "SELECT current_setting('server_version'), current_database(), "
            "current_setting('transaction_read_only'), current_setting('statement_timeout'), "
            "current_setting('lock_timeout'), current_schema()").fetchone()
        facts.update(server_version=row[0], database=row[1], read_only=row[2] == "on",
                     statement_timeout=row[3], lock_timeout=row[4], default_schema=row[5])
    elif dialect.name == "sqlite":
        import sqlite3

        facts["server_version"] = sqlite3.sqlite_version
        facts["read_only"] = compat.exec_driver_sql(conn, "PRAGMA query_only").scalar() == 1
    elif dialect.name in ("mysql", "mariadb"):
        facts.update(_mysql_facts(conn))
    return facts


def _mysql_facts(conn: Any) -> Dict[str, Any]:
    """Read-only and the session limits as the server has them. The names differ by server:
    ``transaction_read_only`` (MySQL 5.7.20+/8.0, MariaDB 11.1+) or ``tx_read_only`` (MySQL
    5.7, MariaDB before 11.1); ``max_statement_time`` (MariaDB, seconds) or
    ``max_execution_time`` (MySQL, milliseconds)."""
    facts: Dict[str, Any] = {}
    version = str(compat.exec_driver_sql(conn, "SELECT VERSION()").scalar() or "")
    facts["server_version"] = version
    facts["flavor"] = "mariadb" if "mariadb" in version.lower() else "mysql"
    facts["database"] = compat.exec_driver_sql(conn, "SELECT DATABASE()").scalar()
    facts["default_schema"] = facts["database"]
    for name in ("transaction_read_only", "tx_read_only"):
        value = _mysql_variable(conn, name)
        if value is not None:
            facts["read_only"] = bool(int(value))
            break
    if facts["flavor"] == "mariadb":
        value = _mysql_variable(conn, "max_statement_time")
        if value is not None:
            facts["statement_timeout"] = f"{float(value):g}s"
    else:
        value = _mysql_variable(conn, "max_execution_time")
        if value is not None:
            facts["statement_timeout"] = f"{int(value)}ms"
    for name, key in (("lock_wait_timeout", "lock_timeout"),
                      ("innodb_lock_wait_timeout", "row_lock_timeout")):
        value = _mysql_variable(conn, name)
        if value is not None:
            facts[key] = f"{int(float(value))}s"
    return facts


def _mysql_variable(conn: Any, name: str) -> Any:
    """``@@session.<name>``, or None where this server has no such variable (error 1193)."""
    try:
        return compat.exec_driver_sql(conn, f"SELECT @@session.{name}").scalar()
    except Exception:
        return None


def _latency(conn: Any, samples: int = 3) -> Dict[str, Any]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        compat.exec_driver_sql(conn, "SELECT 1").scalar()
        times.append((time.perf_counter() - started) * 1000)
    return {"latency_ms": round(statistics.median(times), 3), "latency_max_ms":
            round(max(times), 3)}


def _display(url: Any) -> str:
    try:
        return url.render_as_string(hide_password=True)
    except AttributeError:  # SQLAlchemy < 1.4.? : repr hides the password
        return repr(url)


# --- classifying failures ------------------------------------------------------------------

# SQLSTATEs of our own session limits firing (PostgreSQL 9.3-17): lock_timeout raises 55P03
# lock_not_available; statement_timeout raises 57014 query_canceled, a code an administrator's
# pg_cancel_backend() shares, so for 57014 only the server's wording tells which it was.
LOCK_NOT_AVAILABLE, QUERY_CANCELED = "55P03", "57014"


def sqlstate(exc: BaseException) -> Optional[str]:
    """The server's SQLSTATE: psycopg2's ``pgcode``, psycopg 3's ``sqlstate``; None for an
    error raised while connecting (psycopg2 has none then) or from a driver without one."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    return code if isinstance(code, str) else None


# MySQL/MariaDB error numbers of our session limits: 1205 lock_wait_timeout or
# innodb_lock_wait_timeout exceeded; 3024 MySQL's max_execution_time; 1969 MariaDB's
# max_statement_time
MYSQL_TIMEOUTS = {1205: "lock_timeout", 3024: "statement_timeout", 1969: "statement_timeout"}


MYSQL_DRIVERS = ("pymysql", "MySQLdb", "mysql", "mariadb", "aiomysql", "asyncmy")


def mysql_errno(exc: BaseException) -> Optional[int]:
    """The MySQL error number (``args[0]`` of PyMySQL's, mysqlclient's and the async
    drivers' errors), or None - also for another driver's integer ``args[0]`` (pymssql's
    1205 is a deadlock, not our lock timeout)."""
    orig = getattr(exc, "orig", None) or exc
    modules = [type(orig).__module__, type(orig.__cause__).__module__ if orig.__cause__
               is not None else ""]
    if not any(m.split(".")[0] in MYSQL_DRIVERS or ".mysql." in m for m in modules):
        return None
    args = getattr(orig, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def timeout_reason(exc: BaseException) -> Optional[str]:
    """``lock_timeout`` / ``statement_timeout`` when one of our session limits cancelled a
    statement: the server answered, but a lock or the load kept the statement waiting."""
    errno = mysql_errno(exc)
    if errno in MYSQL_TIMEOUTS:
        return MYSQL_TIMEOUTS[errno]
    code, text = sqlstate(exc), _driver_message(exc)
    if code == LOCK_NOT_AVAILABLE:
        return "lock_timeout"
    if code == QUERY_CANCELED:
        return "statement_timeout" if "due to statement timeout" in text else None
    if code is None:  # the server's FATAL text is all there is (PostgreSQL 9.3-17 wording)
        if "canceling statement due to lock timeout" in text:
            return "lock_timeout"
        if "canceling statement due to statement timeout" in text:
            return "statement_timeout"
    return None


def timeouts_named(run: Callable[[], CheckOutcome], what: str) -> Callable[[], CheckOutcome]:
    """``run``, with one of our session timeouts firing in it reported as DB211 (the lock or
    the load the app would also wait on), not as the check's generic failure."""

    def body() -> CheckOutcome:
        try:
            return run()
        except Exception as exc:
            reason = timeout_reason(exc)
            if reason is None:
                raise
            return {"findings": [finding(
                "DB211", f"{what}: a statement was cancelled by the sidecar's {reason}: "
                f"{' '.join(_driver_message(exc).split())[:300]}", exception=_exc_name(exc),
                facts={"reason": reason, "dialect": "mysql" if mysql_errno(exc) else
                       "postgresql"})], "observed": {}}

    return body


def cancelled_by_server(exc: BaseException) -> bool:
    """A statement the server cancelled (a timeout or pg_cancel_backend): retrying on the
    same connection, or for another table, would only wait again."""
    if mysql_errno(exc) in MYSQL_TIMEOUTS:
        return True
    code = sqlstate(exc)
    if code is not None:
        return code in (LOCK_NOT_AVAILABLE, QUERY_CANCELED)
    return "canceling statement" in _driver_message(exc)


# (code, reason, pattern) over the driver's message, first match wins. psycopg2 and psycopg
# put the server's FATAL text in the message; connection-time errors have no SQLSTATE in
# psycopg2, so the text is the only portable signal.
_PATTERNS: List[Tuple[str, str, str]] = [
    ("DB203", "timeout", r"timeout expired|timed out|connection timeout|Timeout|"
     # MariaDB Connector/C (mysqlclient): the greeting never came within connect_timeout
     # (2013 "...at 'handshake: reading initial communication packet', system error: 110"),
     # or the TCP connect itself timed out (2002/2003 "Can't connect to server on ... (110)")
     r"reading initial communication packet|Can't connect to (?:MySQL |MariaDB )?server "
     r"on .*\(110\)"),
    ("DB202", "unknown_host", r"could not translate host name|Name or service not known|"
     r"nodename nor servname|Temporary failure in name resolution|getaddrinfo failed|"
     r"No address associated with hostname|Unknown (?:MySQL |MariaDB )?server host|"
     r"failed to resolve host|No such host is known"),
    # MySQL/MariaDB 1044: no such database, or no privilege on it (the server says the same)
    ("DB205", "database_or_grant", r"Access denied for user \S+ to database"),
    ("DB204", "password", r"password authentication failed|Access denied for user|"
     r"authentication failed|no password supplied|fe_sendauth|Login failed for user"),
    ("DB204", "role", r'role "[^"]*" does not exist'),
    ("DB204", "hba", r"no pg_hba\.conf entry"),
    ("DB205", "database", r'database "[^"]*" does not exist|Unknown database'),
    # the role lost CONNECT (42501 insufficient_privilege; no SQLSTATE at connect time in
    # psycopg2, the server's text is all there is)
    ("DB212", "connect_privilege", r"permission denied for database|"
     r"User does not have CONNECT privilege"),
    # 53300 too_many_connections, and the slots kept for superusers
    ("DB213", "slots", r"too many clients already|too many connections for "
     r"(?:role|database)|remaining connection slots are reserved|Too many connections"),
    ("DB201", "starting", r"the database system is (?:starting up|shutting down|"
     r"in recovery mode|not yet accepting connections)"),
    ("DB201", "refused", r"Connection refused|could not connect to server|"
     r"Connect call failed|"  # asyncpg (asyncio's wording)
     # MariaDB Connector/C (mysqlclient's libmariadb) names no server: "Can't connect to
     # server on '127.0.0.1' (115)" (2002), and DB202's "Unknown server host 'db' (-2)"
     r"Can't connect to (?:local )?(?:MySQL |MariaDB )?server|No such file or directory|"
     r"server closed the connection unexpectedly|Is the server running"),
]


ONE_CAUSE = ("DB212", "DB213")  # codes whose hint needs no reason: the code says it all


def classify_connect_error(exc: BaseException) -> Tuple[str, Dict[str, Any]]:
    reason = timeout_reason(exc)
    if reason is not None:
        return "DB211", {"reason": reason}  # the caller adds the URL's dialect
    text = _driver_message(exc)
    for code, reason, pattern in _PATTERNS:
        if re.search(pattern, text):
            return code, ({} if code in ONE_CAUSE else {"reason": reason})
    orig = getattr(exc, "orig", None) or exc
    if isinstance(orig, socket.gaierror):
        return "DB202", {"reason": "unknown_host"}
    if isinstance(orig, (socket.timeout, TimeoutError, asyncio.TimeoutError)):
        return "DB203", {"reason": "timeout"}
    if isinstance(orig, ConnectionRefusedError):
        return "DB201", {"reason": "refused"}
    return "DB299", {"reason": "other", "detail": text[:300]}


def _driver_message(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc)
    # SQLAlchemy 1.4, 2.0 and 2.1 append "(Background on this error at: https://sqlalche.me/
    # e/<version>/<code>)" to an error with a code (tests/sqla_cases.py checks the wording)
    text = re.sub(r"\s*\(Background on this error at:[^)]*\)", "", text)
    return " ".join(text.split())


def _exc_name(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    if orig is not None and type(orig).__module__.startswith("sqlalchemy.") \
            and orig.__cause__ is not None:
        orig = orig.__cause__  # an async driver's error under SQLAlchemy's DBAPI adapter
    cls = type(orig if orig is not None else exc)
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}" if orig is not None else cls.__name__


def _pgbouncer_rejects_options(exc: BaseException) -> bool:
    return "unsupported startup parameter" in _driver_message(exc)


def _problem_finding(problem: db_url.UrlProblem, secrets: List[str]) -> Dict[str, Any]:
    return finding(problem.code, redact_text(str(problem), secrets), exception=problem.exception,
                   facts=scrub(dict(problem.facts), secrets))

"""From the configured URL to an engine that can only read: parsing, driver, session options.

Decisions that are easy to get wrong, with the versions they apply to:
- SQLAlchemy 2.1 maps a bare ``postgresql://`` to psycopg (3), 1.4/2.0 to psycopg2. An app
  with only the other driver installed fails with ModuleNotFoundError deep in create_engine;
  we pick the installed driver of the same backend and say so (``driver_substituted``).
- PostgreSQL session limits go in libpq's startup ``options`` (statement_timeout,
  lock_timeout, default_transaction_read_only) so they hold before the first statement,
  including the dialect's own initialization queries. PgBouncer rejects ``options``
  ("unsupported startup parameter"), so there is a fallback that SETs them on connect.
- SQLite is opened through ``file:...?mode=ro`` so a missing file is not created.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sqlite3
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import quote

from ... import compat, versions
from ...redact import config_secrets, url_password

# Synchronous DBAPI drivers per backend, preferred first: the substitutes for a bare URL
# whose default driver is missing. SQLAlchemy's name for each.
DRIVERS: Dict[str, List[str]] = {
    "postgresql": ["psycopg2", "psycopg", "pg8000", "psycopg2cffi"],
    "mysql": ["mysqldb", "pymysql", "mysqlconnector", "mariadbconnector"],
    "mariadb": ["mysqldb", "pymysql", "mysqlconnector", "mariadbconnector"],
    "mssql": ["pyodbc", "pymssql"],
    "oracle": ["oracledb", "cx_oracle"],
    "sqlite": ["pysqlite"],
}
LIBPQ_DRIVERS = ("psycopg2", "psycopg", "psycopg2cffi")
# Common aliases that SQLAlchemy refuses (Heroku and docker images still print `postgres://`).
DIALECT_ALIASES = {"postgres": "postgresql", "pgsql": "postgresql", "psql": "postgresql"}


class UrlProblem(Exception):
    """The URL cannot be used; ``code`` says why, ``facts`` feed the hint."""

    def __init__(self, code: str, message: str, exception: Optional[str] = None,
                 **facts: Any) -> None:
        super().__init__(message)
        self.code = code
        self.exception = exception
        self.facts = facts


def secrets_of(url_text: Any) -> List[str]:
    """The URL's password as written and as SQLAlchemy reads it, and every other secret the
    configuration carries (``redact.config_secrets``); redaction adds the printed forms."""
    secrets: List[Optional[str]] = [url_password(url_text),
                                    *config_secrets(url_text, dict(os.environ))]
    with contextlib.suppress(Exception):
        secrets.append(compat.make_url(url_text).password)
    return sorted({str(s) for s in secrets if s}, key=len, reverse=True)


# A shell or compose variable left as text: `${DATABASE_URL}`, `$DATABASE_URL`, or inside
# the URL (`postgresql://app:${DB_PASSWORD}@db/app`) - an exec-form CMD, an env_file with
# quotes, or a Kubernetes `$(VAR)` naming a variable defined after it
UNEXPANDED = re.compile(r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?::?[-?+=][^}]*)?\}|"
                        r"\$\((?P<k8s>[A-Za-z_][A-Za-z0-9_]*)\)|"
                        r"^\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)$")
URL_VARIABLES = ("SIDECAR_DATABASE_URL", "DATABASE_URL")


def parse(url_text: Any) -> Any:
    """``make_url`` with our own diagnosis of the usual mistakes."""
    if not isinstance(url_text, str) or not url_text.strip():
        empty = [v for v in URL_VARIABLES if v in os.environ and not os.environ[v].strip()]
        where = f" ({empty[0]} is set to an empty value)" if empty else ""
        raise UrlProblem("DB207", f"The database URL is empty{where}.", reason="empty",
                         variable=empty[0] if empty else "")
    try:
        url = compat.make_url(url_text.strip())
    except Exception as exc:  # ArgumentError, or ValueError for a non-numeric port
        if versions.worker_frame(exc) is not None:
            raise  # raised by sidecar's own code, not by SQLAlchemy reading the URL: SIDE008
        _unexpanded(url_text.strip())
        reason = "port" if isinstance(exc, ValueError) else "syntax"
        # never SQLAlchemy's text: 1.3/1.4 quote the whole URL, password and all, and a URL
        # that does not parse has no password the redaction could know
        raise UrlProblem("DB207", "The database URL cannot be parsed by SQLAlchemy ("
                         + ("the port is not a number" if reason == "port" else
                            "not of the form dialect+driver://user:password@host:port/db")
                         + ").", type(exc).__name__, reason=reason) from None
    # a reference left as text in a part that cannot hold '$' (host, port, database, user),
    # or as the whole password: `pa$(word)x` may be a real password, `${DB_PASSWORD}` is not
    parts = [str(p) for p in (url.host, url.port, url.database, url.username) if p]
    _unexpanded(" ".join(parts))
    if url.password is not None and UNEXPANDED.fullmatch(str(url.password)):
        _unexpanded(str(url.password))
    if (url.host and "@" in url.host) or (
            url.get_backend_name() != "sqlite" and url.password is not None
            and "@" in (url.database or "")):
        # make_url splits at the first '@': a raw '@' in the password leaks into the host,
        # or, after a '/' in the password (`app:p@ss/w@db/x`), into the database name
        raise UrlProblem("DB207", "The database URL has an unescaped '@' in its password or "
                         "user name (the host part would contain '@').", reason="at_sign")
    backend = url.get_backend_name()
    if backend in DIALECT_ALIASES:
        raise UrlProblem("DB207", f"'{backend}://' is not a SQLAlchemy dialect name.",
                         "NoSuchModuleError", reason="alias", backend=backend,
                         suggested=DIALECT_ALIASES[backend])
    return url


# What ends the password for an RFC 3986 reader (libpq's URI parser behind `psql "$URL"` and
# pg_isready -d, urllib.parse, most non-Python tools): SQLAlchemy reads up to the '@' and
# copes, so the app connects, and the same variable breaks the app's other readers.
PASSWORD_DELIMITERS = "/?#"
PERCENT_ESCAPES = {"/": "%2F", "?": "%3F", "#": "%23", "%": "%25"}
_PERCENT_SEQUENCE = re.compile(r"%[0-9A-Fa-f]{2}")


# The password as SQLAlchemy's make_url reads it (1.4-2.1: ``[^@]*`` after ``user:``, up to
# the first '@'), not as the redaction does (up to the last '@', to mask a raw '@' too)
_SQLALCHEMY_PASSWORD = re.compile(r"^[\w+]+://[^:/]*:(?P<password>[^@]*)@")


def password_characters(url_text: Any) -> Tuple[List[str], bool]:
    """(the characters in the URL's raw password that other URL readers cut it at, in order
    of appearance - a '%' that starts no %XX sequence among them -, whether it holds %XX
    sequences SQLAlchemy decodes). Never the password: only which characters."""
    m = _SQLALCHEMY_PASSWORD.match(url_text.strip()) if isinstance(url_text, str) else None
    raw = m["password"] if m else None
    if not raw:
        return [], False
    found = [c for c in PASSWORD_DELIMITERS if c in raw]
    stray = _PERCENT_SEQUENCE.sub("", raw)
    if "%" in stray:  # libpq: "invalid percent-encoded token"; urllib leaves it as text
        found.append("%")
    found.sort(key=raw.find)
    return found, bool(_PERCENT_SEQUENCE.search(raw))


def _unexpanded(text: str) -> None:
    """DB207 ``unexpanded`` when ``text`` holds a ``${VAR}``/``$(VAR)`` (or is ``$VAR``)."""
    names = [m["braced"] or m["k8s"] or m["bare"] for m in UNEXPANDED.finditer(text)]
    if names:
        # the names only: the text around them may be the password
        raise UrlProblem("DB207", "The database URL holds a variable reference that was "
                         f"never expanded ({', '.join(names)}), as literal text.",
                         reason="unexpanded", variable=names[0])


def _driver_loads(url: Any) -> Tuple[Optional[str], Optional[str], bool]:
    """(driver name, None, False) if the URL's dialect and its DBAPI import, else (None,
    error, whether SQLAlchemy has no dialect or driver of that name at all)."""
    from sqlalchemy.exc import NoSuchModuleError  # raised only by the dialect plugin loader

    try:
        dialect_cls = url.get_dialect()
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}", isinstance(exc, NoSuchModuleError)
    loader = getattr(dialect_cls, "import_dbapi", None) or getattr(dialect_cls, "dbapi", None)
    try:
        if loader is not None:
            loader()
    except Exception as exc:  # ImportError, or a broken driver install: no usable driver
        return None, f"{type(exc).__name__}: {exc}", False
    return dialect_cls.driver, None, False


def resolve_driver(url: Any) -> Tuple[Any, Dict[str, Any]]:
    """The URL with a usable driver, and facts about the choice (for observed/findings)."""
    backend = url.get_backend_name()
    explicit = "+" in url.drivername
    driver, error, unknown_name = _driver_loads(url)
    if driver is not None and backend == "sqlite" and getattr(url.get_dialect(), "is_async",
                                                              False):
        # aiosqlite runs the standard sqlite3 module in a thread: the checks open the same
        # file through sqlite3 directly, read-only (sqlite_engine_args)
        return compat.url_set(url, drivername="sqlite"), {
            "driver": "pysqlite", "app_driver": driver, "driver_substituted": False}
    if driver is not None:
        return url, {"driver": driver, "driver_substituted": False}
    if not explicit and backend not in DRIVERS and unknown_name:
        raise UrlProblem("DB207", f"Unknown database dialect '{backend}' in the URL.",
                         "NoSuchModuleError", reason="dialect", backend=backend)
    wanted = url.get_driver_name() if explicit else _default_driver_name(url)
    installed = []
    for candidate in DRIVERS.get(backend, []):
        if candidate == wanted:
            continue
        alt = compat.url_set(url, drivername=f"{backend}+{candidate}")
        if _driver_loads(alt)[0] is not None:
            installed.append(candidate)
    if not explicit and installed:
        chosen = installed[0]
        return compat.url_set(url, drivername=f"{backend}+{chosen}"), {
            "driver": chosen, "driver_substituted": True, "default_driver": wanted,
            "import_error": error, "backend": backend,
        }
    if unknown_name and explicit:
        raise UrlProblem("DB207", f"SQLAlchemy has no driver named '{wanted}' for "
                         f"'{backend}'.", "NoSuchModuleError", reason="driver_name",
                         backend=backend, driver=wanted,
                         known=", ".join(DRIVERS.get(backend, [])) or "?")
    raise UrlProblem(
        "DB206", f"No DBAPI driver for '{url.drivername}' is installed ({error}).",
        "ModuleNotFoundError", backend=backend, driver=wanted,
        installed=", ".join(installed) or "none",
        suggested=f"{backend}+{installed[0]}" if installed else "",
        package=_package_for(backend, wanted),
    )


def _default_driver_name(url: Any) -> str:
    try:
        return url.get_dialect().driver
    except Exception:
        return "?"


def _package_for(backend: str, driver: str) -> str:
    return {
        "psycopg2": "psycopg2-binary", "psycopg": "psycopg[binary]", "pg8000": "pg8000",
        "mysqldb": "mysqlclient", "pymysql": "pymysql",
        "mysqlconnector": "mysql-connector-python", "pyodbc": "pyodbc",
        "pymssql": "pymssql", "oracledb": "oracledb", "cx_oracle": "cx_Oracle",
    }.get(driver, driver)


# --- engine options ------------------------------------------------------------------------


class Limits:
    def __init__(self, config: Dict[str, Any]) -> None:
        self.connect_timeout_s = float(config.get("connect_timeout_s") or 5)
        self.statement_timeout_ms = int(config.get("statement_timeout_ms") or 5000)
        self.lock_timeout_ms = int(config.get("lock_timeout_ms") or 2000)


def pg_settings(limits: Limits) -> List[Tuple[str, str]]:
    return [
        ("statement_timeout", str(limits.statement_timeout_ms)),
        ("lock_timeout", str(limits.lock_timeout_ms)),
        ("idle_in_transaction_session_timeout", str(max(limits.statement_timeout_ms, 10000) * 6)),
        ("default_transaction_read_only", "on"),
    ]


def engine_kwargs(url: Any, limits: Limits, app_path: str,
                  use_startup_options: bool = True) -> Tuple[Any, Dict[str, Any],
                                                             List[Callable[..., None]]]:
    """(url, create_engine kwargs, connect listeners) for a read-only, time-limited engine."""
    backend, driver = url.get_backend_name(), url.get_driver_name()
    kwargs: Dict[str, Any] = {}
    listeners: List[Callable[..., None]] = []
    connect_args: Dict[str, Any] = {}
    if backend == "sqlite":
        return sqlite_engine_args(url, limits, app_path)
    if backend == "postgresql":
        if driver in LIBPQ_DRIVERS:
            connect_args["connect_timeout"] = max(1, round(limits.connect_timeout_s))
            connect_args.setdefault("application_name", "sidecar-healthcheck")
        elif driver == "pg8000":
            connect_args["timeout"] = limits.connect_timeout_s
            connect_args["application_name"] = "sidecar-healthcheck"
        elif driver == "asyncpg":
            # asyncpg.connect(timeout=, server_settings=): the startup parameters libpq's
            # options carry for psycopg, so the limits hold before the first statement
            connect_args["timeout"] = limits.connect_timeout_s
            server = {"application_name": "sidecar-healthcheck"}
            if use_startup_options:
                server.update(pg_settings(limits))
            connect_args["server_settings"] = server
        if driver == "asyncpg":
            if not use_startup_options:
                listeners.append(_pg_set_on_connect(pg_settings(limits)))
        elif driver in LIBPQ_DRIVERS and use_startup_options:
            mine = " ".join(f"-c {k}={v}" for k, v in pg_settings(limits))
            given = url.query.get("options")
            given = given[-1] if isinstance(given, tuple) else given
            connect_args["options"] = f"{given} {mine}" if given else mine
        else:
            listeners.append(_pg_set_on_connect(pg_settings(limits)))
    elif backend in ("mysql", "mariadb"):
        connect_args["connect_timeout"] = max(1, round(limits.connect_timeout_s))
        if driver in ("pymysql", "mysqldb") and "read_timeout" not in url.query:
            # PyMySQL's connect_timeout bounds the TCP connect only: the server's greeting is
            # read with read_timeout (None: for ever). A backstop past the server's own
            # statement and lock limits, so no read of ours is cut short by it (whole
            # seconds); the app's own ?read_timeout= is left as it is.
            connect_args["read_timeout"] = max(1, math.ceil(
                max(limits.statement_timeout_ms, limits.lock_timeout_ms) / 1000
                + limits.connect_timeout_s))
        listeners.append(_mysql_set_on_connect(limits))
    kwargs["connect_args"] = connect_args
    kwargs["pool_pre_ping"] = False
    return url, kwargs, listeners


def _pg_set_on_connect(settings: List[Tuple[str, str]]) -> Callable[..., None]:
    def on_connect(dbapi_conn: Any, record: Any) -> None:
        cur = dbapi_conn.cursor()
        for key, value in settings:
            cur.execute(f"SET SESSION {key} = '{value}'")
        cur.close()
        dbapi_conn.commit()  # end the implicit transaction; SET SESSION values persist

    return on_connect


def _mysql_set_on_connect(limits: Limits) -> Callable[..., None]:
    """Read-only and time-limited before the first statement of every connection. The
    statement limit is ``max_statement_time`` (seconds) on MariaDB 10.1+ and
    ``max_execution_time`` (milliseconds, SELECTs) on MySQL 5.7.8+: the one the server
    lacks fails alone (error 1193) and is skipped. ``lock_wait_timeout`` bounds metadata
    locks (an ALTER TABLE running), ``innodb_lock_wait_timeout`` row locks; both whole
    seconds, at least 1."""
    lock_s = max(1, round(limits.lock_timeout_ms / 1000))

    def on_connect(dbapi_conn: Any, record: Any) -> None:
        cur = dbapi_conn.cursor()
        for stmt in ("SET SESSION TRANSACTION READ ONLY",
                     f"SET SESSION max_statement_time = {limits.statement_timeout_ms / 1000:g}",
                     f"SET SESSION max_execution_time = {limits.statement_timeout_ms}",
                     f"SET SESSION lock_wait_timeout = {lock_s}",
                     f"SET SESSION innodb_lock_wait_timeout = {lock_s}"):
            with contextlib.suppress(Exception):
                cur.execute(stmt)
        cur.close()

    return on_connect


def sqlite_path(url: Any, app_path: str) -> Optional[str]:
    """The file a SQLite URL names (absolute), or None for an in-memory database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    if database.startswith("file:"):
        database = database[5:].split("?", 1)[0]
    if not os.path.isabs(database):
        database = os.path.join(app_path or os.getcwd(), database)
    return os.path.normpath(database)


def sqlite_engine_args(url: Any, limits: Limits, app_path: str) -> Tuple[Any, Dict[str, Any],
                                                                         List[Callable]]:
    path = sqlite_path(url, app_path)
    if path is not None and not os.path.exists(path):
        raise UrlProblem("DB209", f"The SQLite database file {path} does not exist.",
                         path=path)
    busy = max(0.1, limits.lock_timeout_ms / 1000.0)
    target = "file::memory:" if path is None else "file:" + quote(path) + "?mode=ro"

    def creator() -> Any:
        # mode=ro never creates the file (mode=rwc is sqlite3's default for a plain path)
        conn = sqlite3.connect(target, uri=True, timeout=busy, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        return conn

    bare = compat.url_set(url, database=None, query={})
    return bare, {"creator": creator}, []

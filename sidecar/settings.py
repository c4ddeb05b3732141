"""Every check option, from flags or ``SIDECAR_*`` variables, validated once.

One table (``OPTIONS``) drives argparse, the environment lookup and the configuration
reference in docs, so the three cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.findings.model import Severity
from sidecar.findings.registry import CATALOG
from sidecar.worker import registry

MIN_TOKEN_CHARS = 16
MAX_TOKEN_BYTES = 4096  # a token file is one line; /dev/zero must not fill the memory
# Ranges beyond which a value is a mistake, not a choice: a delay below 10 ms is a busy loop,
# a timeout of 1e300 s overflows asyncio's clock, RLIMIT_AS below ~32 MiB cannot start Python
# and above 4 TiB setrlimit refuses on common kernels (so every cycle would fail).
MIN_DELAY_S = 0.01
HOUR_S = 3600.0
DAY_S = 86400.0
INT32_MAX = 2**31 - 1  # PostgreSQL's statement_timeout/lock_timeout are int4 milliseconds
MIN_MEMORY_MB = 32
MAX_MEMORY_MB = 4 * 1024 * 1024


class ConfigError(Exception):
    """A usage or configuration error: one clear line, exit status 2."""


_TARGET = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*)?$")
_CODE = re.compile(r"^[A-Z]+\d{3}$")


def _split_list(value: str) -> list[str]:
    return [v for v in re.split(r"[,\s]+", value.strip()) if v]


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"expected a number of seconds, got {value!r}") from None
    if not number > 0 or number != number or number == float("inf"):
        raise ValueError(f"expected a positive number, got {value!r}")
    return number


def _bounded(parse: Callable[[str], Any], low: float, high: float, unit: str
             ) -> Callable[[str], Any]:
    """``parse``, then a range check: a value far outside what works (``--timeout 1e300``,
    ``--memory-limit 1``, ``SIDECAR_INTERVAL=1e-300``, a busy loop) is a usage error."""

    def bounded(value: str) -> Any:
        number = parse(value)
        if not low <= number <= high:
            raise ValueError(f"expected {_number(low)} to {_number(high)} {unit}, got {value!r}")
        return number

    return bounded


def _number(value: float) -> str:
    return f"{value:g}" if value < 1e6 else f"{int(value):,}"


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None
    if number <= 0:
        raise ValueError(f"expected a positive number, got {value!r}")
    return number


def _severity_overrides(value: str) -> dict[str, Severity]:
    out: dict[str, Severity] = {}
    for item in _split_list(value):
        code, sep, level = item.partition("=")
        if not sep or not _CODE.match(code) or level not in ("error", "warning", "info"):
            raise ValueError(f"expected CODE=error|warning|info, got {item!r}")
        if code not in CATALOG:
            raise ValueError(f"unknown finding code {code!r} (see docs/findings.md)")
        out[code] = level  # type: ignore[assignment]
    return out


def _host(value: str) -> str:
    import ipaddress

    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not re.match(r"^[A-Za-z0-9.-]+$", value) or value.startswith("-"):
            raise ValueError(f"expected an IP address or host name, got {value!r}") from None
    return value


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"expected a port number, got {value!r}") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"expected a port between 0 and 65535, got {value!r}")
    return port


def _ready_severity(value: str) -> str:
    if value not in ("error", "warning"):
        raise ValueError(f"expected error or warning, got {value!r}")
    return value


def _on_off(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("on", "true", "1", "yes"):
        return True
    if lowered in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"expected on or off, got {value!r}")


def _check_name(value: str) -> str:
    if value not in registry.names():
        raise ValueError(f"unknown check {value!r} (known: {', '.join(registry.names())})")
    return value


def _bind_target(value: str) -> tuple[str, str]:
    name, sep, target = value.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.-]*", name.strip()) or \
            not _TARGET.match(target.strip()) or ":" not in target:
        raise ValueError(f"expected NAME=module:attribute (e.g. analytics=app.models:"
                         f"AnalyticsBase), got {value!r}")
    return name.strip(), target.strip()


def _callable_target(value: str) -> str:
    """``module:callable`` (--app-factory, --app-getter): a name the worker imports and calls,
    never code (``create_app()`` is refused: the check makes the calls itself)."""
    text = value.strip()
    if "(" in text:
        raise ValueError(f"expected module:callable without the call's parentheses (the check "
                         f"calls it), got {value!r}")
    if ":" not in text or not _TARGET.match(text):
        raise ValueError(f"expected module:callable (e.g. server.app_factory:create_app), "
                         f"got {value!r}")
    return text


def _format(value: str) -> str:
    if value not in ("text", "json"):
        raise ValueError(f"expected text or json, got {value!r}")
    return value


@dataclass(frozen=True)
class Option:
    """One setting: its flag, its variable(s), how to parse it, and what it is for."""

    dest: str
    flag: str
    env: tuple[str, ...]
    help: str
    parse: Callable[[str], Any] = str
    default: Any = None
    repeatable: bool = False  # --models a --models b; the variable takes a comma list
    split_env: bool = True  # a repeatable option's variable is a comma list (not a URL)
    metavar: str | None = None
    commands: tuple[str, ...] = ("check", "serve", "demo")
    switch: bool = False  # a flag without a value that the command acts on, not a setting
    # a command's own default where it differs (the demo: a quicker loop, on loopback)
    command_defaults: Mapping[str, Any] = field(default_factory=dict)

    def default_for(self, command: str | None) -> Any:
        return self.command_defaults.get(command or "", self.default)


# the demo brings its own app, models, SQLite database and Alembic config: the options that
# choose those, and the PostgreSQL-only limits, are not the demo's
NOT_DEMO = ("check", "serve")


OPTIONS: tuple[Option, ...] = (
    Option("app_path", "--app-path", ("SIDECAR_APP_PATH",),
           "the app's root folder: first on sys.path and the working directory, as the app "
           "itself runs (default: the current folder)", default=".", metavar="DIR",
           commands=NOT_DEMO),
    Option("models", "--models", ("SIDECAR_MODELS",),
           "module(s) that define the models, `pkg.module` or `pkg.module:attr`; repeat the "
           "flag, or separate with commas in the variable", repeatable=True,
           metavar="MODULE", commands=NOT_DEMO),
    Option("python", "--python", ("SIDECAR_PYTHON",),
           "the app's interpreter, which runs the worker (default: the sidecar's own)",
           default=sys.executable, metavar="PATH"),
    Option("timeout_s", "--timeout", ("SIDECAR_TIMEOUT",),
           "seconds one worker run may take before it is killed",
           _bounded(_positive_float, 0.1, DAY_S, "seconds"), 30.0,
           metavar="SECONDS"),
    Option("database_url", "--database-url", ("SIDECAR_DATABASE_URL", "DATABASE_URL"),
           "SQLAlchemy URL of the app's database (checks are skipped without one); repeat as "
           "NAME=URL for each further database (a Flask-SQLAlchemy bind key), or list them in "
           "SIDECAR_DATABASE_URLS (NAME=URL, separated by spaces or newlines)",
           repeatable=True, split_env=False, metavar="[NAME=]URL", commands=NOT_DEMO),
    Option("binds", "--bind", ("SIDECAR_BINDS",),
           "the models of a further database, NAME=module:attribute (a MetaData or a "
           "declarative base the --models import), for apps without Flask-SQLAlchemy's bind "
           "keys; its URL is --database-url NAME=URL; repeatable, or comma-separated",
           _bind_target, repeatable=True, metavar="NAME=MODULE:ATTR", commands=NOT_DEMO),
    Option("factory_target", "--app-factory", ("SIDECAR_APP_FACTORY",),
           "opt-in: the app factory, module:callable (e.g. server.app_factory:create_app); "
           "the app_factory check calls it twice in the worker, and a second app must not "
           "register the models again. This runs the app's own start-up code: it may connect "
           "to the database and start what the app starts (writes through SQLAlchemy are "
           "refused)", _callable_target, metavar="MODULE:CALLABLE", commands=NOT_DEMO),
    Option("getter_target", "--app-getter", ("SIDECAR_APP_GETTER",),
           "opt-in: the function that builds the app once and returns it, module:callable "
           "(e.g. asgi:get_flask_app); the app_factory check calls it from several threads "
           "at once and reports a second app built (a missing lock). Runs the app's start-up "
           "code, as --app-factory does", _callable_target, metavar="MODULE:CALLABLE",
           commands=("check", "serve", "demo")),  # the demo's asgi.py has the racy one
    Option("alembic_ini", "--alembic-ini", ("SIDECAR_ALEMBIC_INI",),
           "Alembic configuration: an ini, a pyproject.toml or a migrations folder (default: "
           "found: alembic.ini, pyproject.toml [tool.alembic] or a Flask-Migrate migrations/ "
           "folder in the app path, else an alembic.ini inside the models' package); repeat "
           "as NAME=PATH for a further database with migrations of its own (else it shares "
           "the default one's, as in a multidb template), or list them in "
           "SIDECAR_ALEMBIC_INIS (NAME=PATH, separated by spaces or newlines)",
           repeatable=True, split_env=False, metavar="[NAME=]PATH", commands=NOT_DEMO),
    Option("connect_timeout_s", "--connect-timeout", ("SIDECAR_CONNECT_TIMEOUT",),
           "seconds to wait for the database connection",
           _bounded(_positive_float, 0.1, HOUR_S, "seconds"), 5.0,
           metavar="SECONDS"),
    Option("statement_timeout_ms", "--statement-timeout-ms", ("SIDECAR_STATEMENT_TIMEOUT_MS",),
           "PostgreSQL statement_timeout for the sidecar's reads",
           _bounded(_positive_int, 1, INT32_MAX, "ms"), 5000,
           metavar="MS", commands=NOT_DEMO),
    Option("lock_timeout_ms", "--lock-timeout-ms", ("SIDECAR_LOCK_TIMEOUT_MS",),
           "PostgreSQL lock_timeout for the sidecar's reads",
           _bounded(_positive_int, 1, INT32_MAX, "ms"), 2000,
           metavar="MS", commands=NOT_DEMO),
    Option("schemas", "--schema", ("SIDECAR_SCHEMAS",),
           "database schema(s) to compare (default: the default schema); repeatable",
           repeatable=True, metavar="NAME"),
    Option("drift_include", "--include-table", ("SIDECAR_INCLUDE_TABLES",),
           "compare only tables matching these globs; repeatable", repeatable=True,
           metavar="GLOB"),
    Option("drift_exclude", "--exclude-table", ("SIDECAR_EXCLUDE_TABLES",),
           "ignore tables matching these globs (alembic_version is always ignored); "
           "repeatable", repeatable=True, metavar="GLOB"),
    Option("severity", "--severity", ("SIDECAR_SEVERITY",),
           "override a code's severity: CODE=error|warning|info; repeatable, or "
           "comma-separated", _severity_overrides, None, repeatable=True,
           metavar="CODE=LEVEL"),
    Option("format", "--format", ("SIDECAR_FORMAT",), "output format: text or json",
           _format, "text", metavar="FORMAT", commands=("check",)),
    Option("checks", "--check", ("SIDECAR_CHECKS",),
           "run only this check and the checks it needs (default: all, see --list-checks); "
           "repeatable", _check_name, repeatable=True, metavar="CHECK", commands=("check",)),
    Option("list_checks", "--list-checks", (),
           "print each check's name and what it does, then exit", commands=("check",),
           switch=True),
    # --- the daemon ------------------------------------------------------------------------
    Option("host", "--host", ("SIDECAR_HOST",),
           "address to listen on; 0.0.0.0 lets kubelet and other containers probe it",
           _host, "0.0.0.0", metavar="ADDR", commands=("serve", "demo"),
           command_defaults={"demo": "127.0.0.1"}),  # a demo on a laptop: loopback only
    Option("port", "--port", ("SIDECAR_PORT",), "TCP port to listen on", _port, 8787,
           metavar="PORT", commands=("serve", "demo")),
    Option("interval_s", "--interval", ("SIDECAR_INTERVAL",),
           "seconds between cycles once ready (±10% jitter)",
           _bounded(_positive_float, MIN_DELAY_S, DAY_S, "seconds"), 60.0,
           metavar="SECONDS", commands=("serve", "demo"), command_defaults={"demo": 10.0}),
    Option("retry_min_s", "--retry-min", ("SIDECAR_RETRY_MIN",),
           "first retry delay while not ready; doubles up to --retry-max",
           _bounded(_positive_float, MIN_DELAY_S, DAY_S, "seconds"),
           1.0, metavar="SECONDS", commands=("serve", "demo")),
    Option("retry_max_s", "--retry-max", ("SIDECAR_RETRY_MAX",),
           "longest retry delay while not ready",
           _bounded(_positive_float, MIN_DELAY_S, DAY_S, "seconds"), 15.0, metavar="SECONDS",
           commands=("serve", "demo"), command_defaults={"demo": 5.0}),
    Option("fail_after", "--fail-after", ("SIDECAR_FAIL_AFTER",),
           "failing cycles in a row before a ready daemon turns not ready",
           _bounded(_positive_int, 1, 10_000, "cycles"), 1,
           metavar="N", commands=("serve", "demo")),
    Option("pass_after", "--pass-after", ("SIDECAR_PASS_AFTER",),
           "passing cycles in a row before a daemon that was ready turns ready again "
           "(the first time is always after one)", _bounded(_positive_int, 1, 10_000, "cycles"),
           1, metavar="N",
           commands=("serve", "demo")),
    Option("ready_checks", "--ready-check", ("SIDECAR_READY_CHECKS",),
           "checks that gate /readyz (default: all); repeatable", _check_name,
           repeatable=True, metavar="CHECK", commands=("serve", "demo")),
    Option("ready_severity", "--ready-severity", ("SIDECAR_READY_SEVERITY",),
           "lowest finding severity that makes a check not ready: error or warning",
           _ready_severity, "error", metavar="LEVEL", commands=("serve", "demo")),
    Option("refresh_min_s", "--refresh-min-interval", ("SIDECAR_REFRESH_MIN_INTERVAL",),
           "POST /refresh is accepted at most once per this many seconds",
           _bounded(_positive_float, MIN_DELAY_S, DAY_S, "seconds"),
           5.0, metavar="SECONDS", commands=("serve", "demo")),
    Option("history", "--history", ("SIDECAR_HISTORY",), "cycles kept in the report's history",
           _bounded(_positive_int, 1, 10_000, "cycles"), 20, metavar="N",
           commands=("serve", "demo")),
    Option("log_format", "--log-format", ("SIDECAR_LOG_FORMAT",), "text or json log lines",
           _format, "text", metavar="FORMAT", commands=("serve", "demo")),
    Option("token_file", "--token-file", ("SIDECAR_TOKEN_FILE",),
           "file holding the bearer token that /diagnose and /refresh require (the token "
           "itself may be given as SIDECAR_TOKEN instead; never as a flag, argv is public)",
           metavar="PATH", commands=("serve", "demo")),
    Option("metrics_auth", "--metrics-auth", ("SIDECAR_METRICS_AUTH",),
           "whether /metrics also requires the token: on or off", _on_off, False,
           metavar="on|off", commands=("serve", "demo")),
    Option("watch", "--watch", ("SIDECAR_WATCH",),
           "re-run when a .py file under the app path changes: on or off", _on_off, True,
           metavar="on|off", commands=("serve", "demo")),
    Option("recycle_after", "--recycle-after", ("SIDECAR_RECYCLE_AFTER",),
           "cycles one worker serves: after a clean import it stays and re-runs the database, "
           "migrations and drift checks on the models it holds; a model file change, a failed "
           "check or a doubled RSS replaces it sooner (1: a fresh worker every cycle)",
           _bounded(_positive_int, 1, 100_000, "cycles"), 60, metavar="N",
           commands=("serve", "demo")),
    Option("keep_connection", "--keep-connection", ("SIDECAR_KEEP_CONNECTION",),
           "whether a resident worker keeps its database connection between cycles: on or "
           "off (off suits pgbouncer and a small max_connections)", _on_off, False,
           metavar="on|off", commands=("serve", "demo")),
    Option("memory_limit_mb", "--memory-limit", ("SIDECAR_MEMORY_LIMIT",),
           "address-space cap for one worker run, in MiB (RLIMIT_AS): an import that leaks "
           "memory beyond it becomes a finding instead of starving the node (virtual memory: "
           "apps that reserve much address space, e.g. CUDA, need more)",
           _bounded(_positive_int, MIN_MEMORY_MB, MAX_MEMORY_MB, "MiB"),
           4096, metavar="MB"),
)


@dataclass(frozen=True)
class Settings:
    app_path: Path
    models: tuple[str, ...]
    python: str = sys.executable
    timeout_s: float = 30.0
    database_url: str | None = field(default=None, repr=False)  # may carry a password
    # further databases by bind name: (("analytics", url), ...), in the order given
    database_binds: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    binds: tuple[tuple[str, str], ...] = ()  # (name, "module:attribute") of --bind
    # "module:callable" of --app-factory / --app-getter (the opt-in app-factory check's)
    factory_target: str | None = None
    getter_target: str | None = None
    alembic_ini: str | None = None
    # further databases' own Alembic configs by bind name: (("analytics", path), ...)
    alembic_binds: tuple[tuple[str, str], ...] = ()
    connect_timeout_s: float = 5.0
    statement_timeout_ms: int = 5000
    lock_timeout_ms: int = 2000
    schemas: tuple[str, ...] = ()
    drift_include: tuple[str, ...] = ()
    drift_exclude: tuple[str, ...] = ()
    severity: Mapping[str, Severity] = field(default_factory=dict)
    format: str = "text"
    checks: tuple[str, ...] = ()  # empty: every check
    # the daemon
    host: str = "0.0.0.0"
    port: int = 8787
    interval_s: float = 60.0
    retry_min_s: float = 1.0
    retry_max_s: float = 15.0
    fail_after: int = 1
    pass_after: int = 1
    ready_checks: tuple[str, ...] = ()
    ready_severity: str = "error"
    refresh_min_s: float = 5.0
    history: int = 20
    log_format: str = "text"
    watch: bool = True
    token: str | None = field(default=None, repr=False)  # never printed
    metrics_auth: bool = False
    memory_limit_mb: int = 4096
    recycle_after: int = 60
    keep_connection: bool = False

    def worker_config(self) -> dict[str, Any]:
        """What the worker needs; sent on its stdin, never on argv (argv is public)."""
        return {
            "app_path": str(self.app_path),
            "checks": [check.name for check in registry.selected(self.checks)],
            "models": list(self.models),
            "database_url": self.database_url,
            "database_binds": dict(self.database_binds),
            "binds": dict(self.binds),
            "factory_target": self.factory_target,
            "getter_target": self.getter_target,
            "alembic_ini": self.alembic_ini,
            "alembic_binds": dict(self.alembic_binds),
            "connect_timeout_s": self.connect_timeout_s,
            "statement_timeout_ms": self.statement_timeout_ms,
            "lock_timeout_ms": self.lock_timeout_ms,
            "schemas": list(self.schemas) or [None],
            "drift_include": list(self.drift_include),
            "drift_exclude": ["alembic_version", *self.drift_exclude],
            "fallback_sys_path": _own_site_packages(),
            "fallback_python": "{}.{}".format(*sys.version_info[:2]),
            "memory_limit_mb": self.memory_limit_mb,
            "keep_connection": self.keep_connection,
            # the worker decides from these which findings stop the later checks
            "severities": CATALOG.severities(self.severity),
        }


def _own_site_packages() -> list[str]:
    """Where the worker may find Alembic if the app has none: ours, appended after the app's."""
    import sysconfig

    paths = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    return sorted(p for p in paths if os.path.isdir(p))


def add_options(parser: argparse.ArgumentParser, command: str = "check") -> None:
    for opt in OPTIONS:
        if command not in opt.commands:
            continue
        env = f" [env: {' / '.join(opt.env)}]" if opt.env else ""
        help_text = f"{opt.help}{_default_text(opt, command)}{env}".replace("%", "%%")
        if opt.switch:
            parser.add_argument(opt.flag, dest=opt.dest, action="store_true", help=help_text)
            continue
        parser.add_argument(
            opt.flag, dest=opt.dest, metavar=opt.metavar,
            action="append" if opt.repeatable else "store", help=help_text,
        )


def _default_text(opt: Option, command: str | None = None) -> str:
    default = opt.default_for(command)
    if opt.dest == "models":
        return " (required)"
    if default is None or default == () or "(default" in opt.help:
        return ""
    value = {True: "on", False: "off"}.get(default, default) if isinstance(
        default, bool) else default
    return f" (default: {value})"


def resolve(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Settings:
    """Flags win over variables, variables over defaults; every value is validated here."""
    environ = os.environ if environ is None else environ
    command = getattr(args, "command", None)  # the subcommand, for its own defaults
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        if opt.switch:
            continue  # acted on by the command before it resolves anything
        raw: Any = getattr(args, opt.dest, None)
        if not hasattr(args, opt.dest):
            values[opt.dest] = opt.default  # not an option of this command
            continue
        source = opt.flag
        if opt.dest in NAMED_PER_DATABASE and raw and all(_NAMED_URL.match(v.strip())
                                                          for v in raw):
            # only further databases as flags: the default one still comes from its variable
            default = next((environ[v] for v in opt.env if environ.get(v, "").strip()),
                           "" if any(v in environ for v in opt.env) else None)
            raw = [default, *raw] if default is not None else raw
        if raw is None:
            for var in opt.env:
                if environ.get(var, "").strip():
                    raw = environ[var].strip()
                    source = var
                    break
            if raw is None and opt.dest == "database_url" and any(
                    var in environ for var in opt.env):
                # set but empty: compose's `${DATABASE_URL}` with the variable unset. Not
                # "no database configured" (checks skipped, ready): the database check
                # reports it (DB207, reason empty)
                raw = ""
            if raw is not None and opt.repeatable:
                raw = _split_list(raw) if opt.split_env else [raw]
        if raw is None:
            values[opt.dest] = opt.default_for(command)
            continue
        try:
            if opt.repeatable:
                values[opt.dest] = tuple(opt.parse(v) for v in raw)
            else:
                values[opt.dest] = opt.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return _validate(values, environ, has_token=hasattr(args, "token_file"),
                     has_database=hasattr(args, "database_url"))


def read_token(environ: Mapping[str, str], path: str | None = None) -> str | None:
    """The bearer token: from the file ``path`` (--token-file) or SIDECAR_TOKEN_FILE names,
    else SIDECAR_TOKEN; None when neither is set. An unreadable file raises OSError.

    The daemon (which validates it) and ``sidecar probe`` (which sends it) read it here.
    A file larger than MAX_TOKEN_BYTES, or not UTF-8 text, raises ValueError.
    """
    path = path or environ.get("SIDECAR_TOKEN_FILE", "").strip()
    if path:
        with open(path, "rb") as handle:
            data = handle.read(MAX_TOKEN_BYTES + 1)
        if len(data) > MAX_TOKEN_BYTES:
            raise ValueError(f"is larger than {MAX_TOKEN_BYTES} bytes (a token is one line)")
        try:
            return data.decode("utf-8").strip() or None
        except UnicodeDecodeError:
            raise ValueError("is not UTF-8 text") from None
    return environ.get("SIDECAR_TOKEN", "").strip() or None


def _token(path: str | None, environ: Mapping[str, str]) -> str | None:
    try:
        token = read_token(environ, path)
    except OSError as exc:
        raise ConfigError(f"--token-file: cannot read {path!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"--token-file: {path!r} {exc}") from None
    if path and len(token or "") < MIN_TOKEN_CHARS:
        raise ConfigError(f"--token-file: the token in {path!r} is shorter than "
                          f"{MIN_TOKEN_CHARS} characters")
    if token and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(f"SIDECAR_TOKEN: use at least {MIN_TOKEN_CHARS} characters")
    return token


# NAME=URL: a bind key, then a URL (or nothing: `analytics=${ANALYTICS_URL}` unset, which the
# database check reports as empty); a plain URL never starts with `word=`
# (a URL's scheme ends at ':' before any '=', so `scheme://...?a=b` is never taken for one;
# `analytics=${ANALYTICS_URL}` is, and its database check reports the text)
_NAMED_URL = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<url>.*)$")


# options given once per database: [NAME=]VALUE flags, and a variable of NAME=VALUE entries
NAMED_PER_DATABASE = {"database_url": ("--database-url", "SIDECAR_DATABASE_URLS", "URL"),
                      "alembic_ini": ("--alembic-ini", "SIDECAR_ALEMBIC_INIS", "PATH")}


def _per_database(dest: str, given: tuple[str, ...], environ: Mapping[str, str]
                  ) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The default database's value and the named ones: the flags' values (flags win, or
    the one variable), then the NAME=VALUE variable (SIDECAR_DATABASE_URLS, ...)."""
    flag, variable, noun = NAMED_PER_DATABASE[dest]
    default: str | None = None
    binds: list[tuple[str, str]] = []
    flagged: list[tuple[str, str]] = []  # the ones the flags named
    named_env = environ.get(variable, "").split()
    for source, values in ((flag, given), (variable, named_env)):
        for value in values:
            match = _NAMED_URL.match(value.strip())
            if match is None:
                if source == variable:
                    raise ConfigError(f"{source}: expected NAME={noun} entries, got one "
                                      "without a name")
                if default is not None:
                    raise ConfigError(f"{flag}: two {noun}s without a NAME= prefix; the "
                                      f"default database takes one, the others NAME={noun}")
                default = value.strip()
                continue
            name = match["name"]
            if any(name == n for n, _ in binds):
                if source == variable and any(name == n for n, _ in flagged):
                    continue  # a flag wins over the variable
                raise ConfigError(f"{source}: the database {name!r} is given twice")
            if dest == "alembic_ini" and not match["url"].strip():
                raise ConfigError(f"{source}: {name}= names no Alembic config (a relative "
                                  "path that contains '=' is written ./like=this)")
            binds.append((name, match["url"]))
        if source == flag:
            flagged = list(binds)
    return default, tuple(binds)


def _validate(values: dict[str, Any], environ: Mapping[str, str],
              has_token: bool = False, has_database: bool = True) -> Settings:
    app_path = Path(values["app_path"]).expanduser()
    if not app_path.exists():
        raise ConfigError(f"--app-path: {str(app_path)!r} does not exist")
    if not app_path.is_dir():
        raise ConfigError(f"--app-path: {str(app_path)!r} is not a directory")
    if not os.access(app_path, os.R_OK | os.X_OK):
        raise ConfigError(f"--app-path: {str(app_path)!r} is not readable")
    models = tuple(values["models"] or ())
    if not models:
        raise ConfigError("--models: no model module given (e.g. --models server.models_sql)")
    for target in models:
        if not _TARGET.match(target):
            raise ConfigError(
                f"--models: {target!r} is not a module path (expected pkg.module or "
                "pkg.module:attribute)"
            )
    python = values["python"]
    found = shutil.which(python)
    if found is None:
        raise ConfigError(f"--python: {python!r} is not an executable interpreter")
    # every option's dest is a Settings field (the token is read from its file instead)
    repeatable = {opt.dest for opt in OPTIONS if opt.repeatable}
    # one value per option, of the option's own type: checked field by field by Settings
    fields: dict[str, Any] = {name: tuple(value or ()) if name in repeatable else value
                              for name, value in values.items() if name != "token_file"}
    default_url, binds = _per_database("database_url", fields["database_url"], environ) \
        if has_database else (None, ())
    default_ini, alembic_binds = _per_database("alembic_ini", fields.get("alembic_ini") or (),
                                               environ)
    for name, _ in alembic_binds:
        if has_database and not any(name == n for n, _ in binds):
            raise ConfigError(f"--alembic-ini {name}=...: no database is named {name!r} "
                              f"(give its URL as --database-url {name}=URL; a relative path "
                              "that contains '=' is written ./like=this)")
    named = [name for name, _ in fields.get("binds") or ()]
    if len(set(named)) != len(named):
        raise ConfigError("--bind: a database is named twice")
    fields.update(
        database_url=default_url,
        database_binds=binds,
        alembic_ini=default_ini or None,
        alembic_binds=alembic_binds,
        app_path=app_path.resolve(),
        python=os.path.abspath(found),  # the worker runs in the app path; keep venv symlinks
        severity={code: level for overrides in fields["severity"]
                  for code, level in overrides.items()},
        retry_max_s=max(values["retry_max_s"], values["retry_min_s"]),
        # only the daemon has a token: `check` must not fail over a variable it never reads
        token=_token(values.get("token_file"), environ) if has_token else None,
    )
    return Settings(**fields)

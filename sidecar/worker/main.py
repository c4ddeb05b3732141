"""Worker entry point: read the config from stdin, run the checks in order, report on the pipe.

The checks and their order are the registry's (``registry.CHECKS``). A failed import does
not stop the database checks (the database's state is worth knowing either way); drift
needs the models and skips with the reason.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import importlib.util
import json
import os
import platform
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from . import compat
from . import versions as supported
from .checks.database.bridge import run_on_database
from .context import Context, Skip
from .protocol import (
    CACHE,
    CHECK,
    DONE,
    HELLO,
    PHASE,
    PROTOCOL_VERSION,
    VERSIONS,
    Channel,
    check_result,
    finding,
)
from .registry import CHECKS, Check, selected
from .writes import WriteGuard, fold_refused_writes


def _versions() -> Dict[str, Optional[str]]:
    out: Dict[str, Optional[str]] = {"python": platform.python_version(),
                                     "python_executable": sys.executable}
    for name in ("sqlalchemy", "alembic"):
        try:
            out[name] = importlib.import_module(name).__version__
        except Exception:
            out[name] = None
    return out


def _app_packages(config: Dict[str, Any]) -> List[List[str]]:
    """[folder, import base] of the targets' packages as this interpreter finds them (no app
    code runs), so the daemon can place a hang in an editable install or a namespace
    portion outside site-packages, where the names alone do not tell."""
    from .source.locate import package_roots, target_packages

    try:
        return [list(pair) for pair in package_roots(target_packages(config.get("models")
                                                                     or []))]
    except Exception:  # a broken finder of the app's: the names still place site-packages
        return []


def _prepare(config: Dict[str, Any]) -> None:
    """Work where the app works: its folder first on sys.path, as ``python -m`` would."""
    app_path = config["app_path"]
    os.chdir(app_path)
    sys.path.insert(0, app_path)
    stderr = sys.__stderr__  # None only without a stderr at all; the runner always gives one
    if stderr is not None:
        faulthandler.enable(file=stderr, all_threads=True)
    timeout = float(config.get("timeout_s") or 0)
    deadline = float(config.get("deadline") or 0)
    if timeout > 0 and deadline > 0 and stderr is not None:
        # Dump every thread's stack shortly before the runner kills us, so a hang is
        # reported with the line it hangs on.
        margin = min(max(0.5, timeout * 0.1), 2.0)
        remaining = deadline - time.time() - margin
        faulthandler.dump_traceback_later(max(remaining, 0.05), exit=False, file=stderr)


# Only these may come from the sidecar's own environment, and only when the app lacks them:
# Alembic and what it imports. Everything else the app imports must be the app's own, or a
# missing dependency of the app would be hidden by ours.
FALLBACK_TOP_LEVEL = ("alembic", "mako", "markupsafe", "typing_extensions", "tomli")


class _FallbackFinder:
    """A last-resort meta path finder serving Alembic from the sidecar's site-packages."""

    def __init__(self, paths: List[str]) -> None:
        self.paths = paths

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.split(".")[0] not in FALLBACK_TOP_LEVEL or "." in name:
            return None  # submodules are found through the package's own __path__
        from importlib.machinery import PathFinder

        return PathFinder.find_spec(name, self.paths)


def _install_alembic_fallback(config: Dict[str, Any]) -> Optional[Dict[str, str]]:
    """Lend sidecar's Alembic when the app can use it; else why not (for SIDE012)."""
    # Packages built for the sidecar's Python may not even import under another one
    # (typing internals differ between 3.8 and 3.11): only lend them to the same version.
    if config.get("fallback_python") != "%d.%d" % sys.version_info[:2]:
        return None
    paths = [p for p in config.get("fallback_sys_path") or [] if p not in sys.path]
    if not paths or importlib.util.find_spec("alembic") is not None:
        return None  # the app's own Alembic comes first anyway
    refused = supported.fallback_refusal(config, paths)
    if refused is None:  # an Alembic that needs a newer SQLAlchemy is not lent
        sys.meta_path.append(_FallbackFinder(paths))
    return refused


def _run_check(ctx: Context, check: Check) -> Tuple[Dict[str, Any], Optional[Dict[str, Any]]]:
    """(the check's result, what it keeps for its next run) — never raises for a check's bug."""
    started = time.monotonic()
    cache = None
    try:
        module_name, func_name = check.run.split(":")
        module = importlib.import_module("." + module_name, __package__)
        func: Callable[[Context], Dict[str, Any]] = getattr(module, func_name)
        outcome = run_on_database(ctx, lambda: func(ctx)) if check.uses_database else func(ctx)
        cache = outcome.get("cache")
        result = check_result(check.name, findings=outcome.get("findings") or [],
                              observed=outcome.get("observed"))
    except Skip as skip:
        result = check_result(check.name, ran=False, reason=str(skip))
    except Exception as exc:  # a sidecar bug must not hide the other checks
        where = supported.worker_frame(exc, innermost=False)
        result = check_result(check.name, findings=[supported.internal_error(exc, where)])
    result["duration_s"] = time.monotonic() - started
    return result, cache


def _no_sqlalchemy(check: Check, first: bool) -> Dict[str, Any]:
    """Without SQLAlchemy in the app's interpreter nothing can run: the first check says so."""
    if not first:
        return check_result(check.name, ran=False,
                            reason="SQLAlchemy is not importable by the app's interpreter")
    try:
        import sqlalchemy  # noqa: F401
        detail = "?"
    except Exception as exc:
        detail = "%s: %s" % (type(exc).__name__, exc)
    return check_result(check.name, findings=[finding(
        "SIDE006", "SQLAlchemy cannot be imported by %s" % sys.executable,
        exception=detail.split(":")[0], facts={"python": sys.executable, "detail": detail})])


def _current_rss_kb() -> Optional[int]:
    """This process's resident set now (``/proc/self/statm``, Linux), for the daemon's
    recycle bound; ``ru_maxrss`` would be the peak, which never shrinks."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") // 1024
    except (OSError, ValueError, IndexError):
        return None


class _Loop:
    """Runs checks in order and reports each on the channel; one per worker."""

    def __init__(self, config: Dict[str, Any], channel: Channel,
                 versions: Dict[str, Optional[str]]) -> None:
        self.config = config
        self.channel = channel
        self.versions = versions
        self.current: Dict[str, Optional[str]] = {"check": None}
        self.ctx = Context(config, self.emit_phase)
        self.fallback_installed = False
        self.guard = WriteGuard()
        if versions["sqlalchemy"] is not None:
            self.guard.install()

    def emit_phase(self, detail: str) -> None:
        self.channel.send(PHASE, check=self.current["check"], detail=detail)

    def run(self, checks: List[Check], caches: Dict[str, Any]) -> List[Dict[str, Any]]:
        ctx, versions, results = self.ctx, self.versions, []
        for check in checks:
            self.current["check"] = check.name
            self.emit_phase("starting")
            if check.uses_alembic and not self.fallback_installed:
                # after the app's imports, before Alembic's
                ctx.alembic_refused = _install_alembic_fallback(self.config)
                self.fallback_installed = True
                versions["alembic"] = _versions()["alembic"]
                self.channel.send(VERSIONS, versions=versions)
            ctx.previous_cache = caches.get(check.name)
            cache = None
            unsupported = supported.unsupported(
                check.name, None if check is checks[0] else checks[0].name,
                versions["sqlalchemy"])
            if versions["sqlalchemy"] is None:
                result = _no_sqlalchemy(check, first=check is checks[0])
            elif unsupported is not None:  # outside 1.3 to 2.x: one SIDE011, no check runs
                result = unsupported
            else:
                self.guard.active = check.imports_app_code  # the app's code runs: refused
                try:
                    result, cache = _run_check(ctx, check)
                finally:
                    self.guard.active = False
                if check.imports_app_code:
                    fold_refused_writes(result, self.guard, ctx.locator)
                    self.guard.secrets = ctx.secrets or []
                    self.guard.attempts = []
            if cache is not None:
                self.channel.send(CACHE, check=check.name, data=cache)
            self.channel.send(CHECK, result=result)
            results.append(result)
        if versions["sqlalchemy"] is not None and \
                compat.unsupported_sqlalchemy(versions["sqlalchemy"]) is None:
            results.extend(self._run_binds(checks, caches))
        return results

    def _run_binds(self, checks: List[Check], caches: Dict[str, Any]) -> List[Dict[str, Any]]:
        """The database checks again for each further database (``--database-url
        NAME=URL``), on the models already held: results named ``<check>:<name>``."""
        results = []
        for name, url in sorted((self.config.get("database_binds") or {}).items()):
            bound = self.ctx.for_bind(name, url)
            for check in checks:
                if not check.uses_database:
                    continue
                label = "%s:%s" % (check.name, name)
                self.current["check"] = label
                self.emit_phase("starting")
                bound.previous_cache = caches.get(label)
                result, cache = _run_check(bound, check)
                result["name"] = label
                if cache is not None:
                    self.channel.send(CACHE, check=label, data=cache)
                self.channel.send(CHECK, result=result)
                results.append(result)
        return results


def _stays_resident(config: Dict[str, Any], loop: _Loop,
                    results: List[Dict[str, Any]]) -> bool:
    """Serve the next cycles from the models held now: only after an import and mapper
    configuration without an error (a broken package is imported afresh every cycle)."""
    if not config.get("resident") or not loop.ctx.models_ok:
        return False
    severities = config.get("severities") or {}
    importing = {check.name for check in CHECKS if check.imports_app_code}
    for result in results:
        if result["name"] in importing and any(
                (f.get("severity") or severities.get(f.get("code"), "error")) == "error"
                for f in result.get("findings") or ()):
            return False
    return True


def _serve(requests: Any, loop: _Loop) -> None:
    """The resident worker: one JSON line per cycle from the daemon (deadline, cache), the
    checks that do not import app code run again on the models held, ``done`` after each.
    Returns when the daemon closes the pipe or says stop."""
    stderr = sys.__stderr__
    while True:
        line = requests.readline()
        if not line:
            return
        request = json.loads(line)
        if request.get("stop"):
            return
        loop.config.update(deadline=request.get("deadline"), timeout_s=request.get("timeout_s"))
        remaining = float(request.get("deadline") or 0) - time.time()
        timeout = float(request.get("timeout_s") or 0)
        if stderr is not None and timeout > 0 and remaining > 0:
            margin = min(max(0.5, timeout * 0.1), 2.0)
            faulthandler.dump_traceback_later(max(remaining - margin, 0.05), exit=False,
                                              file=stderr)
        loop.ctx.start_cycle(keep_connection=bool(loop.config.get("keep_connection")))
        checks = [c for c in selected(request.get("checks") or loop.config.get("checks") or ())
                  if not c.imports_app_code]
        loop.run(checks, request.get("cache") or {})
        if not loop.config.get("keep_connection"):
            loop.ctx.cleanup()
        faulthandler.cancel_dump_traceback_later()
        loop.channel.send(DONE, cycle=request.get("cycle"), resident=True,
                          rss_kb=_current_rss_kb())


def _request_pipe() -> Any:
    """The daemon's requests, on a private copy of stdin; fd 0 becomes /dev/null, so app
    code that reads stdin (or a child it starts) never takes the daemon's next request."""
    private = os.dup(0)  # not inheritable (PEP 446)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    return os.fdopen(private, "rb", 0)


def main() -> int:
    requests = _request_pipe()
    config = json.loads(requests.readline())
    channel = Channel(config.get("result_fd"))
    _prepare(config)
    versions = _versions()
    channel.send(HELLO, protocol=PROTOCOL_VERSION, versions=versions, pid=os.getpid(),
                 app_packages=_app_packages(config))
    loop = _Loop(config, channel, versions)
    results = loop.run(selected(config.get("checks") or ()), config.get("cache") or {})
    resident = _stays_resident(config, loop, results)
    # the database check's pool closed cleanly (no "unexpected EOF" in the logs), and no
    # connection pinned between a resident worker's cycles unless asked (pgbouncer)
    if not (resident and config.get("keep_connection")):
        loop.ctx.cleanup()
    faulthandler.cancel_dump_traceback_later()
    channel.send(DONE, cycle=config.get("cycle"), resident=resident, rss_kb=_current_rss_kb())
    if resident:
        _serve(requests, loop)
        loop.ctx.cleanup()
    channel.close()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # Skip interpreter shutdown: the app's atexit hooks and non-daemon threads are not ours
    # to wait for, and the result is already delivered.
    os._exit(0)
    return 0  # pragma: no cover

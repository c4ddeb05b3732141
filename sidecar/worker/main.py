"""Worker entry point: read the config from stdin, run the checks in order, report on the pipe.

Order matters: import → configure → database → migrations → drift. A failed import does not
stop the database checks (the database's state is worth knowing either way); drift needs the
models and skips with the reason.
"""

from __future__ import annotations

import contextlib
import copy
import faulthandler
import importlib
import json
import os
import platform
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Tuple

from .context import Context, Skip
from .protocol import Channel, finding

# (check name, module in this package, function): run in this order
CHECKS: List[Tuple[str, str, str]] = [
    ("models_import", "checks.models.check", "run_models_import"),
    ("mappers", "checks.models.check", "run_mappers"),
    ("database", "checks.database.check", "run_database"),
    ("migrations", "checks.migrations.check", "run_migrations"),
    ("schema_drift", "checks.drift.check", "run_schema_drift"),
]


def _versions() -> Dict[str, Optional[str]]:
    out: Dict[str, Optional[str]] = {"python": platform.python_version(),
                                     "python_executable": sys.executable}
    for name in ("sqlalchemy", "alembic"):
        try:
            out[name] = importlib.import_module(name).__version__
        except Exception:
            out[name] = None
    return out


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


def _install_alembic_fallback(config: Dict[str, Any]) -> None:
    # Packages built for the sidecar's Python may not even import under another one
    # (typing internals differ between 3.8 and 3.11): only lend them to the same version.
    if config.get("fallback_python") != "%d.%d" % sys.version_info[:2]:
        return
    paths = [p for p in config.get("fallback_sys_path") or [] if p not in sys.path]
    if paths:
        sys.meta_path.append(_FallbackFinder(paths))


def _run_check(ctx: Context, module_name: str, func_name: str) -> Dict[str, Any]:
    started = time.monotonic()
    try:
        module = importlib.import_module("." + module_name, __package__)
        func: Callable[[Context], Dict[str, Any]] = getattr(module, func_name)
        outcome = func(ctx)
        result = {"ran": True, "findings": outcome.get("findings") or [],
                  "observed": outcome.get("observed") or {}}
    except Skip as skip:
        result = {"ran": False, "reason": str(skip), "findings": [], "observed": {}}
    except Exception as exc:  # a sidecar bug must not hide the other checks
        result = {"ran": True, "observed": {}, "findings": [finding(
            "SIDE008", "internal error in check: %s: %s" % (type(exc).__name__, exc),
            exception=type(exc).__name__,
            output="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )]}
    result["duration_s"] = time.monotonic() - started
    return result


def _no_sqlalchemy(name: str) -> Dict[str, Any]:
    """Without SQLAlchemy in the app's interpreter nothing else can run: say so once."""
    if name != "models_import":
        return {"ran": False, "reason": "SQLAlchemy is not importable by the app's interpreter",
                "findings": [], "observed": {}, "duration_s": 0.0}
    try:
        import sqlalchemy  # noqa: F401
        detail = "?"
    except Exception as exc:
        detail = "%s: %s" % (type(exc).__name__, exc)
    return {"ran": True, "observed": {}, "duration_s": 0.0, "findings": [finding(
        "SIDE006", "SQLAlchemy cannot be imported by %s" % sys.executable,
        exception=detail.split(":")[0], facts={"python": sys.executable, "detail": detail})]}


def main() -> int:
    config = json.loads(sys.stdin.read())
    channel = Channel(config.get("result_fd"))
    current: Dict[str, Optional[str]] = {"check": None}

    def emit_phase(detail: str) -> None:
        channel.send("phase", check=current["check"], detail=detail)

    _prepare(config)
    versions = _versions()
    channel.send("hello", versions=versions, pid=os.getpid())
    ctx = Context(config, emit_phase)
    wanted = config.get("checks") or [name for name, _, _ in CHECKS]
    for name, module_name, func_name in CHECKS:
        if name not in wanted:
            continue
        current["check"] = name
        emit_phase("starting")
        if name == "database":
            _install_alembic_fallback(config)  # after the app's imports, before Alembic's
            versions["alembic"] = _versions()["alembic"]
            channel.send("versions", versions=versions)
        if versions["sqlalchemy"] is None:
            result = _no_sqlalchemy(name)
        else:
            result = _run_check(ctx, module_name, func_name)
        if name == "schema_drift" and result["findings"]:
            from .checks.models.check import locate_model_columns

            # the cached comparison (observed.result) shares these dicts: locate copies, so
            # a later reuse is located afresh against the models as they are then
            result["findings"] = copy.deepcopy(result["findings"])
            # pointing at the model is a bonus; never lose the findings over it
            with contextlib.suppress(Exception):
                locate_model_columns(ctx, result["findings"])
        result["name"] = name
        channel.send("check", result=result)
    database = sys.modules.get("%s.checks.database.check" % __package__)
    if database is not None:  # close the connection cleanly (no "unexpected EOF" in PG logs)
        with contextlib.suppress(Exception):
            database.shutdown(ctx)
    channel.send("done")
    channel.close()
    faulthandler.cancel_dump_traceback_later()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    # Skip interpreter shutdown: the app's atexit hooks and non-daemon threads are not ours
    # to wait for, and the result is already delivered.
    os._exit(0)
    return 0  # pragma: no cover

"""What the worker does when the app's SQLAlchemy (or the Alembic it can use) is one a check
cannot run on: one clear finding, never a sidecar ImportError dressed as an app fault.

- SQLAlchemy outside ``compat.SUPPORTED`` (below 1.3, or a major after the newest tested):
  no check runs; the first says so (SIDE011), the others skip pointing at it.
- A check that needs Alembic, in an environment without one, where sidecar's own Alembic
  (the fallback) declares a SQLAlchemy requirement the app's does not meet (Alembic 1.20
  needs SQLAlchemy 2.0; 1.15 to 1.17 need 1.4): the first such check says so (SIDE012, a
  warning: the database may be fine), the others skip pointing at it.
- A crash whose innermost frame is in the worker's own files is sidecar's bug (SIDE008,
  with sidecar's file:line and the versions), whichever check it happened in.

Standard library only at import time, Python 3.8 syntax.
"""

from __future__ import annotations

import os
import platform
import sys
import traceback
from typing import Any, Dict, List, Optional

from . import compat
from .context import Context, Skip
from .protocol import check_result, finding

WORKER_DIR = os.path.dirname(os.path.abspath(__file__))
# the releases whose requirements accept SQLAlchemy 1.3 and 1.4 and Python 3.8: 1.7.7 is
# tested with 1.3.24 (tests/test_sqla13.py); 1.14.1 is the last declaring SQLAlchemy>=1.3.0
# (1.15 declares >=1.4.0 and Python>=3.9)
ALEMBIC_FOR_OLD_SQLALCHEMY = "alembic>=1.7,<1.15"


def library_versions() -> Dict[str, str]:
    """Python, SQLAlchemy and Alembic as this worker has them ("none" if not importable)."""
    out = {"python": platform.python_version()}
    for name in ("sqlalchemy", "alembic"):
        module = sys.modules.get(name)
        out[name] = str(getattr(module, "__version__", "none")) if module else "none"
    return out


def _sqlalchemy_version() -> str:
    module = sys.modules.get("sqlalchemy")
    return str(getattr(module, "__version__", "?"))


# --- SQLAlchemy outside the supported range ------------------------------------------------


def unsupported(check_name: str, first: Optional[str],
                version: Optional[str]) -> Optional[Dict[str, Any]]:
    """The result for ``check_name`` when SQLAlchemy ``version`` is not supported, else None;
    ``first`` names the first check of the run (None: this one), which says why."""
    found = compat.unsupported_sqlalchemy(version)
    if found is None:
        return None
    side, reason = found
    if first is not None:
        return check_result(check_name, ran=False, reason=(
            "SQLAlchemy %s is not supported (supported: %s; see %s)"
            % (version, compat.SUPPORTED_TEXT, first)))
    return check_result(check_name, findings=[finding(
        "SIDE011", "SQLAlchemy %s is not supported by the sidecar's checks: %s; supported: "
        "%s. No check ran." % (version, reason, compat.SUPPORTED_TEXT),
        facts={"sqlalchemy": str(version), "supported": compat.SUPPORTED_TEXT,
               "reason": reason, "side": side, "python": sys.executable})])


# --- a check that needs Alembic ------------------------------------------------------------


def fallback_refusal(config: Dict[str, Any], paths: List[str]) -> Optional[Dict[str, str]]:
    """Why sidecar's own Alembic must not be lent to this app (None: it may be).

    An Alembic whose declared SQLAlchemy requirement the app's SQLAlchemy does not meet
    fails on import (Alembic 1.20 under 1.3: ``cannot import name '_NoneName'``): lending it
    would turn a version mismatch into an ImportError from inside a check.
    """
    found = compat.distribution_requirement(paths, "alembic", "SQLAlchemy")
    if found is None or not found[1]:
        return None
    alembic_version, spec = found
    sqlalchemy_version = _sqlalchemy_version()
    if compat.requirement_met(sqlalchemy_version, spec) is not False:
        return None
    return {"alembic": alembic_version, "requires": "SQLAlchemy" + spec,
            "sqlalchemy": sqlalchemy_version}


def require_alembic(ctx: Context, check_name: str) -> Optional[Dict[str, Any]]:
    """None when Alembic imports; else the check's outcome saying why (SIDE012 once, when
    sidecar's Alembic was withheld for the app's SQLAlchemy) or Skip with the import error."""
    try:
        import alembic  # noqa: F401  (lazily: the app may not have Alembic)
        return None
    except Exception as exc:  # not only ImportError: an Alembic built for another Python
        error = "%s: %s" % (type(exc).__name__, exc)
    refused = ctx.alembic_refused
    if refused is None:  # none lent: the app's Python is another than sidecar's, or no venv
        advice = ""
        if compat.version_tuple(_sqlalchemy_version()) < (2, 0):
            advice = " (for SQLAlchemy %s install '%s' in the app's environment)" % (
                _sqlalchemy_version(), ALEMBIC_FOR_OLD_SQLALCHEMY)
        raise Skip("Alembic cannot be imported by the app's interpreter: %s%s"
                   % (error, advice))
    if ctx.alembic_reported_by is not None:
        raise Skip("no Alembic for SQLAlchemy %s (see %s)"
                   % (refused["sqlalchemy"], ctx.alembic_reported_by))
    ctx.alembic_reported_by = check_name
    old = compat.version_tuple(refused["sqlalchemy"]) < (2, 0)
    return {"findings": [finding(
        "SIDE012", "SQLAlchemy %s is not supported by check %s without an Alembic in the "
        "app's environment: the app has none, and the sidecar's own Alembic %s needs %s."
        % (refused["sqlalchemy"], check_name, refused["alembic"], refused["requires"]),
        facts={"check": check_name, "sqlalchemy": refused["sqlalchemy"],
               "alembic": refused["alembic"], "requires": refused["requires"],
               "python": sys.executable,
               "suggested": ALEMBIC_FOR_OLD_SQLALCHEMY if old else "alembic"})],
        "observed": {"alembic": "none in the app's environment; sidecar's %s not lent "
                     "(needs %s)" % (refused["alembic"], refused["requires"])}}


# --- sidecar's own bugs --------------------------------------------------------------------


def worker_frame(exc: BaseException, innermost: bool = True) -> Optional[str]:
    """``sidecar/worker/<file>:<line>`` of the innermost traceback frame when it is in the
    worker's own files (sidecar's bug, not the app's or the database's), else None; with
    ``innermost=False``, the innermost of the worker's own frames, wherever the raise was."""
    tb = exc.__traceback__
    where = None
    while tb is not None:
        path = os.path.abspath(tb.tb_frame.f_code.co_filename)
        if path.startswith(WORKER_DIR + os.sep):
            where = "sidecar/worker/%s:%d" % (
                os.path.relpath(path, WORKER_DIR).replace(os.sep, "/"), tb.tb_lineno)
        elif innermost:
            where = None
        tb = tb.tb_next
    return where


def internal_error(exc: BaseException, where: Optional[str],
                   detail: Optional[str] = None) -> Dict[str, Any]:
    """SIDE008 for an exception raised in sidecar's own code, with where and the versions.

    ``detail`` replaces ``str(exc)`` (redacted by the caller, when it may hold the URL); the
    traceback goes along only without one (main's loop: the code past the database's).
    """
    text = detail if detail is not None else " ".join(str(exc).split())[:500]
    versions = library_versions()
    raw = finding(
        "SIDE008", "internal error in the sidecar%s: %s: %s" % (
            " at " + where if where else "", type(exc).__name__, text),
        exception=type(exc).__name__,
        facts={"where": where or "?", "versions": "Python %(python)s, SQLAlchemy "
               "%(sqlalchemy)s, Alembic %(alembic)s" % versions})
    if detail is None:
        raw["output"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return raw

"""``sidecar revision`` in the worker: after the schema_drift check's full comparison, the
repair migration for the default database, or why none is written.

Refused, with the reason, when a revision would be wrong rather than missing: the database
is behind its own migrations (the pending ones may be the repair), stamped with a revision
the scripts lack, or never stamped; the scripts have several heads. Nothing here touches the
database: the comparison read it read-only, the file goes to the scripts' folder.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List

from .plan import plan
from .script import RevisionProblem, offline_sql, write

DEFAULT_MESSAGE = "repair schema drift"


def make_revision(ctx: Any, kept: Dict[str, Any], findings: List[Dict[str, Any]],
                  options: Dict[str, Any]) -> Dict[str, Any]:
    diffs = kept.get("diffs")
    renderer = kept.get("renderer")
    if diffs is None or renderer is None:
        return _not_written("the comparison did not run (see the schema_drift check)")
    state = ctx.migration_state or {}
    refusal = _refusal(state, ctx.migration_scripts)
    if refusal:
        return _not_written(refusal)
    allow = bool(options.get("allow_destructive"))
    steps = plan(diffs, renderer, allow, kept.get("model_tables") or {},
                 kept.get("db_enums") or set())
    result: Dict[str, Any] = {
        "written": False,
        "addressed": [{"code": d.code, "message": d.message,
                       "commented_out": bool(s.destructive and not allow),
                       **({"destructive": s.destructive} if s.destructive else {})}
                      for s in steps.steps for d in s.diffs],
        "manual": steps.manual,
    }
    if steps.empty:
        result["reason"] = ("no difference an operation can repair" if steps.manual else
                            "the database matches the models: nothing to repair")
        result["nothing_to_do"] = not steps.manual
        return result
    if options.get("sql"):
        try:
            result["sql"] = offline_sql(renderer.dialect_name, steps, allow)
        except Exception as exc:  # batch mode needs the live table, never reflected here
            result["reason"] = ("the SQL cannot be rendered offline (%s: %s); write the file "
                                "and run the app's `alembic upgrade head --sql`"
                                % (type(exc).__name__, exc))
        return result
    message = str(options.get("message") or DEFAULT_MESSAGE)
    from ..checks.database.check import secrets_for
    from ..redact import redact_text

    # the URL as the report shows it, and any secret in its query string masked too
    source = "the schema_drift comparison of %s" % redact_text(
        str((ctx.db_observed or {}).get("url") or "the database"), secrets_for(ctx))
    try:
        written = write(ctx.migration_scripts, steps, message, allow, source,
                        options.get("output"))
    except RevisionProblem as exc:
        result["reason"] = str(exc)
        return result
    except OSError as exc:  # a read-only app folder in a container: --output FILE
        result["reason"] = "cannot write the revision: %s (give --output FILE)" % exc
        return result
    except Exception as exc:  # the app's template failed to render, Alembic refused...
        result["reason"] = "Alembic could not write the revision: %s: %s" % (
            type(exc).__name__, exc)
        return result
    result.update(written=True, **written)
    result["path"] = os.path.abspath(written["path"])
    return result


def _refusal(state: Dict[str, Any], script: Any) -> str:
    if script is None:
        return ("no Alembic migration scripts were read (see the migrations check): give "
                "--alembic-ini")
    current = state.get("state")
    if current == "behind":
        pending = ", ".join(p["revision"] for p in state.get("pending") or [])
        return ("the database is behind its migrations (pending: %s): apply them first; "
                "the differences may be what they do" % pending)
    if current == "unknown_revision":
        return ("the database is stamped with a revision the scripts do not contain: a "
                "repair written on these scripts would not apply there")
    if current == "no_version_table":
        return ("the database has no alembic_version table: stamp it first (see the "
                "migrations check), or a revision on top of the head would never run")
    if current == "unknown":
        return "the migration state could not be read (see the migrations check)"
    return ""


def _not_written(reason: str) -> Dict[str, Any]:
    return {"written": False, "reason": reason, "addressed": [], "manual": []}

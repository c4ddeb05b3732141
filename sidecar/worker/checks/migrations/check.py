"""The ``migrations`` check: the revision(s) stamped in the database vs the scripts' heads.

Read-only by construction: Alembic's ScriptDirectory reads the version files and a
MigrationContext on our read-only connection reads ``alembic_version``; env.py is never run
(it may run migrations or need the app's settings), so a custom version table set only in
env.py is not seen: the default ``alembic_version`` in the default schema is read.

Leaves ``ctx.migration_state`` for the schema_drift verdict:
``{"state": at_head | behind | unknown_revision | no_version_table, "current": [...],
"heads": [...], "pending": [{"revision", "message"}...]}``.
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Tuple

from ... import versions
from ...context import CheckOutcome, Context, Skip
from ...protocol import finding
from ...redact import guarded
from ..database.check import ensure_engine, read_only_connection, secrets_for

VERSION_TABLE = "alembic_version"


def run_migrations(ctx: Context) -> CheckOutcome:
    return guarded(lambda: _run(ctx), "MIG399", "Reading the migration state failed",
                   secrets_for(ctx))


def find_config(ctx: Context) -> Optional[Tuple[str, str]]:
    """(path, kind) of the Alembic config: the configured ini, alembic.ini, pyproject.toml;
    None if there is none."""
    configured = ctx.config.get("alembic_ini")
    if configured:
        path = configured if os.path.isabs(configured) else os.path.join(ctx.app_path,
                                                                         configured)
        return path, "toml" if path.endswith(".toml") else "ini"
    ini = os.path.join(ctx.app_path, "alembic.ini")
    if os.path.exists(ini):
        return ini, "ini"
    toml = os.path.join(ctx.app_path, "pyproject.toml")
    if os.path.exists(toml):
        with open(toml, encoding="utf-8", errors="replace") as f:
            if "[tool.alembic]" in f.read():
                return toml, "toml"
    return None


def load_scripts(path: str, kind: str) -> Any:
    """Alembic's ScriptDirectory for the config, without running env.py."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(toml_file=path) if kind == "toml" else Config(path)
    location = cfg.get_main_option("script_location")
    if location and ":" not in location and not os.path.isabs(location):
        # Alembic resolves a relative script_location against the current directory; the
        # worker's cwd need not be the app's, so try it next to the config file as well.
        beside = os.path.join(os.path.dirname(os.path.abspath(path)), location)
        if not os.path.isdir(location) and os.path.isdir(beside):
            cfg.set_main_option("script_location", beside)
    return ScriptDirectory.from_config(cfg)


def _run(ctx: Context) -> CheckOutcome:
    found = find_config(ctx)  # first: no configuration means nothing to import
    if found is None:
        raise Skip("no Alembic configuration: no alembic.ini in the app path and "
                   "--alembic-ini / SIDECAR_ALEMBIC_INI is not set")
    no_alembic = versions.require_alembic(ctx, "migrations")  # Skip, or SIDE012 once
    if no_alembic is not None:
        return no_alembic
    path, kind = found
    observed: Dict[str, Any] = {"config": os.path.relpath(path, ctx.app_path)}
    findings: List[Dict[str, Any]] = []
    if not os.path.exists(path):
        return {"findings": [finding("MIG305", f"The Alembic config {path} does not exist.",
                                     exception="FileNotFoundError",
                                     facts={"config": path})], "observed": observed}
    ctx.emit_phase(f"reading migration scripts ({observed['config']})")
    try:
        script = load_scripts(path, kind)
        heads = list(script.get_heads())
    except Exception as exc:
        return {"findings": [finding("MIG305", f"Alembic could not load {path}: {exc}",
                                     exception=type(exc).__name__,
                                     facts={"config": path, "detail": str(exc)})],
                "observed": observed}
    observed["script_location"] = script.dir
    observed["heads"] = heads
    if len(heads) > 1:
        findings.append(finding(
            "MIG303", f"The migration scripts have {len(heads)} heads: {', '.join(heads)}.",
            facts={"heads": " ".join(heads)}))
    engine = ensure_engine(ctx)
    ctx.emit_phase("reading alembic_version")
    current, has_table, table_count = read_current(engine)
    observed["current"] = current
    state: Dict[str, Any] = {"current": current, "heads": heads, "pending": []}
    if not has_table:
        state["state"] = "no_version_table"
        findings.append(finding(
            "MIG304", f"The database has no {VERSION_TABLE} table"
            + (f" but {table_count} other tables" if table_count else " (and no tables)")
            + ": migrations never ran against it, or it was built by create_all().",
            table=VERSION_TABLE, facts={"table_count": str(table_count),
                                        "head": heads[0] if heads else "head"}))
    else:
        unknown = [rev for rev in current if not _known(script, rev)]
        if unknown:
            state["state"] = "unknown_revision"
            findings.append(finding(
                "MIG302", f"The database is stamped with revision {', '.join(unknown)}, which "
                f"the migration scripts in {script.dir} do not contain.",
                facts={"revision": ", ".join(unknown), "heads": " ".join(heads)}))
        else:
            pending = pending_revisions(script, current)
            state["pending"] = pending
            state["state"] = "behind" if pending else "at_head"
            if pending:
                lines = "; ".join(f"{p['revision']} ({p['message']})" for p in pending)
                findings.append(finding(
                    "MIG301", f"The database is {len(pending)} revision(s) behind head "
                    f"{', '.join(heads)} (at {', '.join(current) or 'no revision'}). "
                    f"Pending: {lines}.",
                    facts={"pending": pending, "count": str(len(pending)),
                           "current": ", ".join(current) or "none",
                           "heads": " ".join(heads)}))
    observed["state"] = state["state"]
    observed["pending_count"] = len(state["pending"])
    ctx.migration_state = state
    return {"findings": findings, "observed": observed}


def read_current(engine: Any) -> Tuple[List[str], bool, int]:
    """(revisions in alembic_version, whether the table exists, number of tables)."""
    from alembic.migration import MigrationContext
    from sqlalchemy import inspect

    with read_only_connection(engine) as conn:
        names = inspect(conn).get_table_names()
        if VERSION_TABLE not in names:
            return [], False, len(names)
        mc = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return sorted(mc.get_current_heads()), True, len(names)


def _known(script: Any, rev: str) -> bool:
    try:
        return script.get_revision(rev) is not None
    except Exception:
        return False


def pending_revisions(script: Any, current: List[str]) -> List[Dict[str, str]]:
    """Revisions not yet applied, oldest first, each with its message."""
    applied = set()
    for rev in current:
        for ancestor in script.iterate_revisions(rev, "base"):
            applied.add(ancestor.revision)
    pending = [r for r in script.walk_revisions() if r.revision not in applied]
    pending.reverse()  # walk_revisions goes from the heads down
    return [{"revision": r.revision, "message": (r.doc or "").strip()} for r in pending]

"""The ``migrations`` check: the revision(s) stamped in the database vs the scripts' heads.

Read-only by construction: Alembic's ScriptDirectory reads the version files and a
MigrationContext on our read-only connection reads ``alembic_version``; env.py is never run
(it may run migrations or need the app's settings), so a custom version table set only in
env.py is not seen: the default ``alembic_version`` in the default schema is read.

Which config is used, and how its folders resolve, is ``config.py`` (the order of the
candidates is documented there and in docs/findings.md); ``observed`` names the config, why it
was chosen, the others found and how script_location resolved. When the revisions cannot be
read from the files (env.py sets version_locations at run time, no version files), MIG306 says
so and nothing else is concluded: never a "several heads" or "unknown revision" that only the
static read produced. How the app runs its migrations (``howto.py``) goes into the hints.

Leaves ``ctx.migration_state`` for the schema_drift verdict:
``{"state": at_head | behind | unknown_revision | no_version_table | unknown, "current": [...],
"heads": [...], "pending": [{"revision", "message"}...], "runner": {...}}`` (``runner``: how
the app runs its migrations, see howto.py; ``sidecar.findings.codes.migrations.migrate_command``
turns it into the command).
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from ... import versions
from ...context import CheckOutcome, Context, Skip
from ...protocol import finding
from ...redact import guarded
from ..database.check import ensure_engine, read_only_connection, secrets_for, timeouts_named
from . import envpy
from .config import (
    ConfigProblem,
    Resolved,
    find_candidates,
    load_config,
    option,
    package_dirs,
    resolve,
)
from .howto import runner_facts

VERSION_TABLE = "alembic_version"


def run_migrations(ctx: Context) -> CheckOutcome:
    return guarded(timeouts_named(lambda: _run(ctx), "reading the migration state"), "MIG399",
                   "Reading the migration state failed", secrets_for(ctx))


def _run(ctx: Context) -> CheckOutcome:
    packages = package_dirs(ctx.config.get("models") or [])
    candidates = find_candidates(ctx.app_path, ctx.config.get("alembic_ini"), packages)
    if not candidates:  # first: no configuration means nothing to import
        where = ", ".join(f"{name} ({folder})" for name, folder in packages) or "none"
        raise Skip("no Alembic configuration: no --alembic-ini / SIDECAR_ALEMBIC_INI, no "
                   "alembic.ini, pyproject.toml [tool.alembic] or Flask-Migrate migrations/ "
                   f"folder in the app path, no alembic.ini inside the models' packages "
                   f"({where})")
    no_alembic = versions.require_alembic(ctx, "migrations")  # Skip, or SIDE012 once
    if no_alembic is not None:
        return no_alembic
    chosen = candidates[0]
    observed: Dict[str, Any] = {
        "config": _shown(chosen.path, ctx.app_path), "found_by": chosen.found_by,
        "also_found": [f"{_shown(c.path, ctx.app_path)} ({c.found_by})" for c in candidates[1:]],
    }
    ctx.emit_phase(f"reading migration scripts ({observed['config']})")
    try:
        cfg = load_config(chosen)
        resolved = resolve(chosen, cfg, ctx.app_path, packages)
    except ConfigProblem as exc:
        observed["summary"] = _summary(observed)
        return {"findings": [_mig305(chosen, str(exc), "ConfigProblem")], "observed": observed}
    except Exception as exc:
        observed["summary"] = _summary(observed)
        return {"findings": [_mig305(chosen, f"Alembic could not read it: {exc}",
                                     type(exc).__name__)], "observed": observed}
    observed["script_location"] = _shown(resolved.script_location, ctx.app_path)
    observed["script_location_from"] = resolved.how
    if resolved.version_locations:
        observed["version_locations"] = [_shown(v, ctx.app_path)
                                         for v in resolved.version_locations]
    env = envpy.scan(os.path.join(resolved.script_location, "env.py"))
    try:
        script = scripts_for(resolved, cfg)
        revisions = list(script.walk_revisions())
        heads = list(script.get_heads())
    except Exception as exc:
        observed["summary"] = _summary(observed)
        return {"findings": [_mig305(chosen, f"Alembic could not read the revisions in "
                                     f"{resolved.script_location}: {exc}",
                                     type(exc).__name__)], "observed": observed}
    observed["heads"] = heads
    observed["revision_count"] = len(revisions)
    ctx.migration_scripts = script
    runner = runner_facts(resolved, cfg, env, ctx.app_path, ctx.config.get("database_url"),
                          secrets_for(ctx), list(ctx.config.get("fallback_sys_path") or []),
                          packages)
    observed["runs_with"] = runner["tool"]
    observed["summary"] = _summary(observed)
    unreadable = _unreadable(resolved, env, revisions)
    findings: List[Dict[str, Any]] = []
    if unreadable is None and len(heads) > 1:
        findings.append(finding(
            "MIG303", f"The migration scripts have {len(heads)} heads: {', '.join(heads)}.",
            facts={"heads": " ".join(heads), "runner": runner}))
    engine = ensure_engine(ctx)
    ctx.emit_phase("reading alembic_version")
    current, has_table, table_count = read_current(engine)
    unmanaged_bind = False
    if ctx.config.get("bind"):
        managed, why = manages_bind(ctx.config, cfg, env)
        unmanaged_bind = not managed
        observed["bind_migrated"] = why
        if managed:  # the command's note: one command migrates (or stamps) every database
            runner.update(bind=ctx.config["bind"], multidb=env.multidb)
        if not managed and not has_table:
            raise Skip(f"the '{ctx.config['bind']}' database has no {VERSION_TABLE} table, "
                       f"and these migrations do not manage it ({why}); if it has migrations "
                       f"of its own, give --alembic-ini {ctx.config['bind']}=PATH")
        # stamped while these migrations do not manage it: the same scripts run with its URL
        # (compared as any database), or another set's (MIG302 says both; never a skip:
        # a rollback that left it ahead of the scripts is exactly MIG302's case)
    observed["current"] = current
    # runner: how the app runs its migrations, for hints of other checks (drift's DRIFT431)
    state: Dict[str, Any] = {"current": current, "heads": heads, "pending": [],
                             "runner": runner}
    if unreadable is not None:
        reason, detail = unreadable
        state["state"] = "unknown"
        findings.append(finding(
            "MIG306", f"The migration revisions cannot be read from the files: {detail} The "
            "database's revision ("
            + (", ".join(current) or "none" if has_table else f"no {VERSION_TABLE} table")
            + ") is not compared with the scripts.",
            facts={"reason": reason, "detail": detail, "config": observed["config"],
                   "locations": [_shown(v, ctx.app_path) for v in resolved.version_dirs]}))
    if not has_table:  # true whatever the files say: migrations never ran here
        state["state"] = "no_version_table"
        findings.append(finding(
            "MIG304", f"The database has no {VERSION_TABLE} table"
            + (f" but {table_count} other tables" if table_count else " (and no tables)")
            + ": migrations never ran against it, or it was built by create_all().",
            table=VERSION_TABLE, facts={"table_count": str(table_count),
                                        "head": _stamp_target(heads, unreadable is None),
                                        "runner": runner}))
    elif unreadable is None:  # else MIG306 said it: nothing concluded from a partial read
        unknown = [rev for rev in current if not _known(script, rev)]
        if unknown:
            state["state"] = "unknown_revision"
            facts: Dict[str, Any] = {"revision": ", ".join(unknown), "heads": " ".join(heads)}
            if unmanaged_bind:
                facts.update(bind=ctx.config["bind"], unmanaged="yes")
            findings.append(finding(
                "MIG302", f"The database is stamped with revision {', '.join(unknown)}, which "
                f"the migration scripts in {observed['script_location']} do not contain.",
                facts=facts))
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
                           "heads": " ".join(heads), "runner": runner}))
    observed["state"] = state["state"]
    observed["pending_count"] = len(state["pending"])
    ctx.migration_state = state
    return {"findings": findings, "observed": observed}


def manages_bind(config: Dict[str, Any], cfg: Any, env: envpy.EnvFacts) -> Tuple[bool, str]:
    """(whether the chosen migrations stamp the further database config["bind"], why)."""
    bind = config["bind"]
    if config.get("alembic_own"):
        return True, f"its own Alembic config, --alembic-ini {bind}=PATH"
    if env.multidb == "flask":
        return True, "Flask-Migrate's multidb env.py migrates every SQLALCHEMY_BINDS key"
    if env.multidb == "alembic":
        listed = [n for n in re.split(r",\s*", str(option(cfg, "databases") or "").strip()) if n]
        if bind in listed:
            return True, f"the multidb env.py migrates the ini's databases = {', '.join(listed)}"
        return False, (f"the multidb ini's databases = {', '.join(listed) or '(empty)'} does "
                       f"not name '{bind}'")
    return False, "env.py migrates one database"


def _stamp_target(heads: List[str], readable: bool) -> str:
    """What `stamp` should name: the one head, or Alembic's ``heads`` for all of them."""
    if readable and len(heads) == 1:
        return heads[0]
    return "heads" if readable and heads else "head"


def scripts_for(resolved: Resolved, cfg: Any = None) -> Any:
    """Alembic's ScriptDirectory over the resolved folders, without running env.py.

    Built directly rather than by ``ScriptDirectory.from_config``: that one resolves relative
    paths against the working directory and prepends ``prepend_sys_path`` to sys.path.
    """
    from alembic.script import ScriptDirectory

    kwargs: Dict[str, Any] = {"sourceless": resolved.sourceless}
    # how the app's `alembic revision` names and writes files, for `sidecar revision`
    for name in ("file_template", "timezone", "output_encoding"):
        value = _config_option(cfg, name)
        if value:
            kwargs[name] = value
    slug = _config_option(cfg, "truncate_slug_length")
    if slug and str(slug).isdigit():
        kwargs["truncate_slug_length"] = int(slug)
    if resolved.version_locations:
        kwargs["version_locations"] = resolved.version_locations
    if resolved.recursive:
        kwargs["recursive_version_locations"] = True
    return ScriptDirectory(resolved.script_location, **kwargs)


def _config_option(cfg: Any, name: str) -> Any:
    try:
        return option(cfg, name)
    except Exception:  # an option Alembic cannot interpolate: the default
        return None


def _unreadable(resolved: Resolved, env: envpy.EnvFacts,
                revisions: List[Any]) -> Optional[Tuple[str, str]]:
    """(reason, sentence) when the files cannot say which revisions the app has."""
    if env.runtime_sets:
        sets = ", ".join(f"{name} (line {line})" for name, line in env.runtime_sets)
        return "runtime", (f"{os.path.basename(env.path)} sets {sets} while it runs, so the "
                           "revisions its migrate step sees are not known without running it.")
    if not revisions:
        dirs = resolved.version_dirs
        missing = [d for d in dirs if not os.path.isdir(d)]
        if missing:
            return "no_versions", (f"the version folder {', '.join(missing)} does not exist "
                                   "(generated at deploy time, or not shipped).")
        return "no_revisions", (f"no revision files in {', '.join(dirs)}.")
    return None


def _mig305(chosen: Any, detail: str, exception: str) -> Dict[str, Any]:
    return finding("MIG305", f"The Alembic config {chosen.path} ({chosen.found_by}) cannot be "
                   f"used: {detail}", exception=exception,
                   facts={"config": chosen.path, "detail": detail})


def _shown(path: str, base: str) -> str:
    """A path relative to the app path when it is inside it, else absolute."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    return os.path.abspath(path) if rel.startswith("..") else rel


def _summary(observed: Dict[str, Any]) -> str:
    """One line for the text report: which config, found how, resolved how."""
    line = f"config {observed['config']} ({observed['found_by']})"
    if observed.get("script_location"):
        line += (f"; scripts {observed['script_location']} "
                 f"({observed['script_location_from']})")
    if "heads" in observed:
        line += f"; heads {', '.join(observed['heads']) or 'none'}"
    if observed.get("also_found"):
        line += f"; also found, not used: {'; '.join(observed['also_found'])}"
    return line


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

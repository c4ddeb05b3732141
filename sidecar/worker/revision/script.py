"""The revision file itself: the plan's steps inside the app's own ``script.py.mako``.

Written with Alembic's ``ScriptDirectory.generate_revision`` - the app's template, its file
naming, its versions folder - on a ScriptDirectory built from the files (env.py is never
run: it may connect or migrate). ``down_revision`` is the scripts' one head. ``sql`` renders
the same upgrade offline (Alembic's as_sql mode for the database's dialect), so what is
printed is what the file would do; nothing runs against the database.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import os
import textwrap
from typing import Any, Dict, List, Optional

from .plan import Plan

INDENT = "    "


class RevisionProblem(Exception):
    """The revision cannot be written (several heads, no template, a custom layout)."""


# SQLite's batch mode recreates a table (create the copy, move the rows, DROP the old one):
# with the app's PRAGMA foreign_keys=ON, the DROP cascades into the rows of every table that
# references it. The pragma cannot change inside a transaction: an autocommit block.
SQLITE_FK_OFF = ('with op.get_context().autocommit_block():\n'
                 '    op.execute("PRAGMA foreign_keys=OFF")  # batch mode copies tables: '
                 'no cascade into the rows that reference them')
SQLITE_FK_ON = ('with op.get_context().autocommit_block():\n'
                '    op.execute("PRAGMA foreign_keys=ON")')


def upgrade_code(plan: Plan, allow_destructive: bool) -> str:
    """The body of ``upgrade()``: each step under a comment naming its finding."""
    lines: List[str] = []
    batch = plan.sqlite_batch and any(
        "batch_alter_table" in s.python and not (s.destructive and not allow_destructive)
        for s in plan.steps)
    if batch:
        lines.extend(SQLITE_FK_OFF.splitlines())
    for step in plan.steps:
        lines.append("# " + _one_line(step.label))
        if step.destructive and not allow_destructive:
            lines.append("# WARNING: %s. Written commented out: uncomment it once the data "
                         "is saved or known to be unneeded (or run `sidecar revision "
                         "--allow-destructive`)." % step.destructive)
            lines.extend("# " + line for line in step.python.splitlines())
        else:
            if step.destructive:
                lines.append("# WARNING: %s." % step.destructive)
            lines.extend(step.python.splitlines())
    if batch:
        lines.extend(SQLITE_FK_ON.splitlines())
    for item in plan.manual:
        lines.append("# NOT DONE HERE, %s: %s" % (item["code"], _one_line(item["step"])))
    return _body(lines)


def downgrade_code(plan: Plan, allow_destructive: bool) -> str:
    """The reverse steps, last first; a step with no reverse says so."""
    lines: List[str] = []
    for step in reversed(plan.steps):
        if step.destructive and not allow_destructive:
            continue  # its upgrade is commented out: nothing to undo
        lines.append("# undo " + _one_line(step.label)[:100])
        if step.reverse:
            lines.extend(step.reverse.splitlines())
        else:
            lines.append("# no automatic reverse: undo by hand if you need to")
    return _body(lines)


def _body(lines: List[str]) -> str:
    if not any(line.strip() and not line.lstrip().startswith("#") for line in lines):
        lines.append("pass")
    return "\n".join(INDENT + line if line else "" for line in lines)


def header(message: str, plan: Plan, addressed_by: str, allow_destructive: bool = False
           ) -> str:
    """The docstring's text after the first line: what this revision addresses, what not."""
    out = [message, "", "Written by `sidecar revision` from %s on %s." % (
        addressed_by, datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"
                                                                           " UTC"))]
    if plan.steps:
        out += ["", "Addresses:"]
        for step in plan.steps:
            mark = ""
            if step.destructive:
                mark = (" (destructive: written as an operation, --allow-destructive)"
                        if allow_destructive else " (destructive: commented out)")
            out.append("- " + _one_line(step.label) + mark)
    if plan.manual:
        out += ["", "Does not address (manual steps):"]
        out += ["- %s %s -> %s" % (m["code"], _one_line(m["message"]), _one_line(m["step"]))
                for m in plan.manual]
    # inside the template's docstring: a backslash would start an escape
    return "\n".join(out).replace("\\", "\\\\")


def _one_line(text: str) -> str:
    return " ".join(str(text).replace('"""', "'''").split())


def write(script: Any, plan: Plan, message: str, allow_destructive: bool,
          source: str, output: Optional[str] = None) -> Dict[str, Any]:
    """Write the revision; returns its path, id and down_revision."""
    heads = list(script.get_heads())
    if len(heads) > 1:
        raise RevisionProblem("the migration scripts have %d heads (%s): merge them first "
                              "(`alembic merge heads`), then write the repair on the merge"
                              % (len(heads), ", ".join(heads)))
    template = os.path.join(script.dir, "script.py.mako")
    if not os.path.isfile(template):
        raise RevisionProblem("%s has no script.py.mako, the template Alembic writes "
                              "revisions from" % script.dir)
    from alembic.util import rev_id as new_rev_id

    revision = new_rev_id()
    upgrades = upgrade_code(plan, allow_destructive)
    downgrades = downgrade_code(plan, allow_destructive)
    imports = "\n".join(plan.imports)
    text = header(message, plan, source, allow_destructive)
    kwargs: Dict[str, Any] = {"upgrades": upgrades.strip("\n")[len(INDENT):] if upgrades
                              else "pass",
                              "downgrades": downgrades.strip("\n")[len(INDENT):],
                              "imports": imports}
    path = output or ""
    try:
        if output:  # --output FILE: rendered with the same template, written where asked
            path = _render_to(script, template, output, revision, heads, text, kwargs)
        else:
            # the first line only: Alembic names the file after the message's words
            made = script.generate_revision(revision, message,
                                            head=heads[0] if heads else "base", **kwargs)
            path = made.path
        with open(path, encoding="utf-8") as f:
            written = f.read()
        if output is None and text != message and message in written:
            written = written.replace(message, text, 1)  # the docstring's first line
            with open(path, "w", encoding="utf-8") as f:
                f.write(written)
        if plan.steps and plan.steps[0].python.splitlines()[0] not in written:
            raise RevisionProblem("%s has no ${upgrades} where this revision's operations "
                                  "go (a custom template, e.g. Flask-Migrate's multidb one "
                                  "with upgrade_<engine>())" % template)
        compile(written, path, "exec")  # what Alembic will import: valid, or not written
    except BaseException:
        # no half-written revision left behind: a new head with no operations, or a file
        # every alembic command fails to import
        if not path:  # generate_revision raised after writing: find its file by the id
            found = [os.path.join(d, n) for d in _version_dirs(script)
                     for n in os.listdir(d) if n.startswith(revision)]
            path = found[0] if found else ""
        if path and os.path.isfile(path):
            os.remove(path)
        raise
    return {"path": path, "revision": revision, "down_revision": heads[0] if heads else None}


def _version_dirs(script: Any) -> List[str]:
    dirs = [str(d) for d in (getattr(script, "_version_locations", None) or [script.versions])]
    return [d for d in dirs if os.path.isdir(d)]


def _render_to(script: Any, template: str, output: str, revision: str, heads: List[str],
               text: str, kwargs: Dict[str, Any]) -> str:
    from alembic.util import format_as_comma, template_to_file

    down = heads[0] if heads else None
    # what ScriptDirectory.generate_revision hands the template (Alembic 1.x): the
    # `comma` filter of `${down_revision | comma,n}` among them
    template_to_file(template, output, script.output_encoding, up_revision=revision,
                     down_revision=down, branch_labels=(), depends_on=None,
                     create_date=datetime.datetime.now(), comma=format_as_comma,
                     message=text, **kwargs)
    return output


def offline_sql(renderer_dialect: str, plan: Plan, allow_destructive: bool) -> str:
    """The upgrade's SQL, as `alembic upgrade --sql` would print it for this dialect."""
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    buf = io.StringIO()
    context = MigrationContext.configure(
        dialect_name=renderer_dialect,
        opts={"as_sql": True, "output_buffer": buf, "literal_binds": True,
              "transactional_ddl": renderer_dialect != "mysql"})
    ops = Operations(context)
    import sqlalchemy as sa

    namespace: Dict[str, Any] = {"op": ops, "sa": sa}
    for module in ("mysql", "postgresql", "sqlite"):
        with contextlib.suppress(Exception):
            namespace[module] = __import__("sqlalchemy.dialects." + module,
                                           fromlist=[module])
    code = textwrap.dedent(upgrade_code(plan, allow_destructive))
    # BEGIN ... COMMIT around it, as `alembic upgrade --sql` writes (an autocommit block
    # inside commits and reopens), so the output can be piped into psql as it is
    with context.begin_transaction():
        exec(compile(code, "<sidecar revision>", "exec"), namespace)  # our rendered ops
    return buf.getvalue()

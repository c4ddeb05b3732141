"""``sidecar revision``: the Alembic revision that brings the database to the models.

It runs every check once, as ``sidecar check`` does (same options), with the schema_drift
check asked to keep its differences' Alembic ops; the worker turns them into a revision
file in the app's versions folder (sidecar/worker/revision/). Nothing runs against the
database: the comparison reads it read-only, and ``--sql`` prints the upgrade's SQL instead
of writing a file.

Exit codes: 0 a revision was written (or printed with --sql, or there is nothing to
repair), 1 none could be written (the reason is printed: broken models, an unreachable
database, pending migrations, several heads...), 2 usage, 3 output failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from sidecar.worker import registry

EXIT_OK, EXIT_NOT_WRITTEN, EXIT_OUTPUT = 0, 1, 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-m", "--message", default=None,
                        help="the revision's message (default: 'repair schema drift')")
    parser.add_argument("--output", default=None, metavar="FILE",
                        help="write the revision to FILE instead of the versions folder")
    parser.add_argument("--sql", action="store_true",
                        help="print the upgrade's SQL (offline) instead of writing a file")
    parser.add_argument("--allow-destructive", action="store_true",
                        help="write dropped tables and columns and narrowed types as "
                        "operations, not commented out")


def run(args: argparse.Namespace) -> int:
    import os

    from sidecar.cli.main import _emit
    from sidecar.cycle import reaper
    from sidecar.cycle.diagnosis import cycle
    from sidecar.settings import ConfigError, resolve

    args.command = "check"  # the same options as `sidecar check`
    if args.sql and args.output:
        raise ConfigError("--sql prints the SQL and writes no file: give --sql or --output")
    if args.output:  # the shell's folder, not --app-path (where the worker runs)
        args.output = os.path.abspath(args.output)
    settings = resolve(args)
    reaper.become_subreaper()
    options = {"message": args.message, "output": args.output, "sql": bool(args.sql),
               "allow_destructive": bool(args.allow_destructive)}
    report, _ = asyncio.run(cycle(settings, {"revision": options}))
    drift = report.check(_drift_name())
    revision: dict[str, Any] = dict((drift.observed if drift else {}).get("revision") or {})
    if not revision:
        revision = {"written": False, "reason": _why_no_comparison(report)}
    # a further database's drift (schema_drift:<bind>): no revision here repairs it
    others = [c for c in report.checks if registry.base_name(c.name) == _drift_name()
              and c.name != _drift_name() and c.status == "fail"]
    for check in others:
        revision.setdefault("manual", []).append({
            "code": check.findings[0].code if check.findings else "DRIFT4xx",
            "message": f"{check.name}: the '{check.name.split(':', 1)[1]}' database differs "
                       "from its models",
            "step": "not written: sidecar revision repairs the default database only; run "
                    "that database's own migrations tool"})
    if others and revision.get("nothing_to_do"):
        revision["nothing_to_do"] = False
        revision["reason"] = "the default database matches its models; another does not"
    if settings.format == "json":
        text = json.dumps({"revision": revision, "report": report.to_dict()}, indent=2) + "\n"
    else:
        text = render_text(revision, report)
    if not _emit(text):
        return EXIT_OUTPUT
    done = revision.get("written") or revision.get("nothing_to_do") or "sql" in revision
    return EXIT_OK if done else EXIT_NOT_WRITTEN


def _drift_name() -> str:
    """The check whose comparison the revision comes from (named by the registry)."""
    return next(c.name for c in registry.CHECKS if c.counts_schema_differences)


def _why_no_comparison(report: Any) -> str:
    drift = report.check(_drift_name())
    if drift is not None and drift.reason:
        return f"the schema comparison did not run: {drift.reason}"
    errors = [f for f in report.findings if f.severity == "error"]
    if errors:
        first = errors[0]
        return f"the schema comparison did not run: {first.code} {first.message}"
    return "the schema comparison did not run"


def render_text(revision: dict[str, Any], report: Any) -> str:
    lines = []
    sql = "sql" in revision
    note = "-- " if sql else "  "  # after SQL, notes are SQL comments: pipe it to psql as is
    if revision.get("written"):
        lines.append(f"sidecar: wrote {revision['path']} (revision {revision['revision']}, "
                     f"down_revision {revision.get('down_revision') or 'none'})")
    elif "sql" in revision:
        lines.append(revision["sql"].rstrip("\n"))
        lines.append("-- sidecar: the upgrade's SQL, rendered offline; nothing was run")
    else:
        lines.append(f"sidecar: no revision written: {revision.get('reason')}")
    done = "done" if revision.get("written") or sql else "would do"
    for item in revision.get("addressed") or []:
        mark = "commented out (destructive)" if item.get("commented_out") else done
        lines.append(f"{note}{mark}: {item['code']} {item['message']}")
        if item.get("destructive"):
            lines.append(f"{note}  warning: {item['destructive']}")
    for item in revision.get("manual") or []:
        lines.append(f"{note}manual: {item['code']} {item['message']}")
        lines.append(f"{note}  {item['step']}")
    if revision.get("written"):
        lines.append("Review it, then apply it with the app's migration command (e.g. "
                     "`alembic upgrade head`); `sidecar check` confirms.")
    return "\n".join(lines) + "\n"

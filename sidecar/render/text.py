"""The Report for humans: what to read at 3 a.m., errors first, colour only on a terminal.

Each finding reads: its code and title, where (file:line, class.attribute), the fix, the
SQL, then what happened (the exception), so the first three lines name the place and the
edit."""

from __future__ import annotations

import re
import textwrap
from typing import Any

from sidecar.findings.model import CheckResult, Finding, Report

_COLOURS = {"error": "31", "warning": "33", "info": "36", "fail": "31", "warn": "33",
            "pass": "32", "skip": "90"}
_MARK = {"pass": "ok", "warn": "warn", "fail": "FAIL", "skip": "skip"}
_ORDER = {"error": 0, "warning": 1, "info": 2}


# C0/C1 controls but newline and tab, and the bidi overrides/isolates (Trojan Source): the
# app's output, exception text and names reach a terminal, where ESC sequences could
# rewrite the screen and bidi controls reorder what on-call reads
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                     "\u2066-\u2069]")


def safe(text: str | None) -> str:
    """``text`` with every control character shown as its escape (``\\x1b``, ``\\u202e``)."""
    if not text:
        return text or ""
    return _UNSAFE.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _paint(text: str, key: str, colour: bool) -> str:
    return f"\033[{_COLOURS.get(key, '0')}m{text}\033[0m" if colour else text


def _indent(text: str, prefix: str = "      ") -> str:
    return "\n".join(
        textwrap.fill(line, width=100, initial_indent=prefix, subsequent_indent=prefix,
                      break_long_words=False, break_on_hyphens=False) if line.strip() else ""
        for line in text.splitlines()
    )


def render_finding(f: Finding, colour: bool = False) -> str:
    head = f"  {_paint(f.severity.upper(), f.severity, colour)} {f.code} {safe(f.title)}"
    # where, then what to change, then why: the first lines are what on-call acts on
    lines = [head]
    if f.where:
        lines.append(f"      at {safe(f.where)}")
    if f.hint:
        lines.append(_indent(f"fix: {safe(f.hint)}"))
    if f.fix_sql:
        lines.append(_indent(f"sql: {safe(f.fix_sql)}"))
    for place in f.related:
        lines.append(_indent(f"also: {safe(str(place))}", "      "))
    message = f.message if not f.exception else f"{f.exception}: {f.message}"
    lines.append(_indent(safe(message)))
    if f.facts.get("alembic_op"):
        lines.append(_indent(f"alembic: {safe(str(f.facts['alembic_op']))}"))
    if f.output:
        tail = "\n".join(safe(line) for line in f.output.strip().splitlines()[-12:])
        lines.append("      output (tail):")
        lines.append(textwrap.indent(tail, "        | "))
    if f.docs:
        lines.append(f"      docs: {f.docs}")
    if f.facts.get("sqlalchemy_docs"):  # SQLAlchemy's own page for its error code
        lines.append(f"      sqlalchemy: {f.facts['sqlalchemy_docs']}")
    return "\n".join(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _names(items: list[str], limit: int = 3) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", +{len(items) - limit} more" if len(items) > limit else "")


def coverage_line(observed: dict[str, Any]) -> str | None:
    """What a comparison actually covered, in one line: "compared 64 tables, 512 columns in
    3 MetaData (1 table shared); not compared: 1 column (flows.id)". None without
    ``observed["coverage"]`` (the schema_drift check's)."""
    cov = observed.get("coverage")
    if not isinstance(cov, dict):
        return None
    text = (f"compared {_plural(int(cov.get('tables') or 0), 'table')}, "
            f"{_plural(int(cov.get('columns') or 0), 'column')} in "
            f"{int(cov.get('metadata') or 0)} MetaData")
    if cov.get("shared_tables"):
        text += f" ({_plural(int(cov['shared_tables']), 'table')} in several)"
    if observed.get("reused"):
        text += f", reused from {observed.get('last_full_compare') or 'the last compare'}"
    gaps = []
    for key, word in (("tables_not_compared", "table"), ("columns_not_compared", "column")):
        items = list(cov.get(key) or [])
        if items:
            gaps.append(f"{_plural(len(items), word)} ({_names(items)})")
    partly = list(cov.get("indexes_not_compared") or [])
    if partly:
        gaps.append(f"the indexes and constraints of {_plural(len(partly), 'table')} "
                    f"({_names(partly)})")
    if gaps:
        text += "; not compared: " + ", ".join(gaps)
    skipped = []
    if cov.get("tables_excluded"):
        skipped.append(f"{_plural(len(cov['tables_excluded']), 'table')} by the table filters")
    if cov.get("model_views"):
        skipped.append(f"{_plural(len(cov['model_views']), 'table')} that the database has "
                       "as views")
    if skipped:
        text += "; left out: " + ", ".join(skipped)
    return text


def render_check(check: CheckResult, colour: bool = False) -> str:
    mark = _paint(_MARK[check.status], check.status, colour)
    head = f"[{mark}] {check.name} ({check.duration_s:.2f}s)"
    if check.status == "skip" and check.reason:
        head += f": skipped, {safe(check.reason)}"
    lines = [head]
    if check.observed.get("summary"):  # what the check looked at, one line (migrations: the
        lines.append(f"      {safe(str(check.observed['summary']))}")  # config used and why)
    coverage = coverage_line(check.observed) if check.status != "skip" else None
    if coverage:
        lines.append(_indent(safe(coverage), "  "))
    body = [render_finding(f, colour)
            for f in sorted(check.findings, key=lambda f: _ORDER[f.severity])]
    return "\n".join([*lines, *body])


def render(report: Report, colour: bool = False) -> str:
    """Blocking problem first: a one-line verdict, then each check with its findings."""
    errors = [f for f in report.findings if f.severity == "error"]
    verdict = {"fail": "NOT READY", "warn": "ready, with warnings", "pass": "ready",
               "skip": "nothing checked"}[report.status]
    lines = [f"sidecar: {_paint(verdict, report.status, colour)} — "
             f"{len(errors)} error(s), "
             f"{sum(f.severity == 'warning' for f in report.findings)} warning(s) "
             f"in {report.duration_s:.2f}s at {report.started_at}"]
    if errors:
        lines.append(f"first problem: {safe(errors[0].summary())}")
    lines.append("")
    lines.extend(render_check(c, colour) for c in report.checks)
    v = report.versions
    lines.append("")
    lines.append(f"sidecar {v.get('sidecar')} · app Python {v.get('python')} · "
                 f"SQLAlchemy {v.get('sqlalchemy')} · Alembic {v.get('alembic')}")
    return "\n".join(lines) + "\n"

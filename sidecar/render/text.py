"""The Report for humans: what to read at 3 a.m., errors first, colour only on a terminal."""

from __future__ import annotations

import re
import textwrap

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
    lines = [head]
    if f.where:
        lines.append(f"      at {safe(f.where)}")
    message = f.message if not f.exception else f"{f.exception}: {f.message}"
    lines.append(_indent(safe(message)))
    if f.hint:
        lines.append(_indent(f"fix: {safe(f.hint)}"))
    if f.fix_sql:
        lines.append(_indent(f"sql: {safe(f.fix_sql)}"))
    if f.facts.get("alembic_op"):
        lines.append(_indent(f"alembic: {safe(str(f.facts['alembic_op']))}"))
    if f.output:
        tail = "\n".join(safe(line) for line in f.output.strip().splitlines()[-12:])
        lines.append("      output (tail):")
        lines.append(textwrap.indent(tail, "        | "))
    if f.docs:
        lines.append(f"      docs: {f.docs}")
    return "\n".join(lines)


def render_check(check: CheckResult, colour: bool = False) -> str:
    mark = _paint(_MARK[check.status], check.status, colour)
    head = f"[{mark}] {check.name} ({check.duration_s:.2f}s)"
    if check.status == "skip" and check.reason:
        head += f": skipped, {safe(check.reason)}"
    if check.observed.get("summary"):  # what the check looked at, one line (migrations: the
        head += f"\n      {safe(str(check.observed['summary']))}"  # config used and why)
    body = [render_finding(f, colour)
            for f in sorted(check.findings, key=lambda f: _ORDER[f.severity])]
    return "\n".join([head, *body])


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

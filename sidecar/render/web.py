"""The Report for HTTP clients: JSON with its age, health+json, and an HTML page.

Pure functions of (Report, meta); the server only picks one by format/Accept.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from sidecar.findings.model import Finding, Report
from sidecar.render.text import coverage_line
from sidecar.render.text import render as render_text


@dataclass(frozen=True)
class Meta:
    """Facts about the cached result, stated in every answer."""

    taken_at: str
    age_s: float
    ready: bool
    cycles: int
    history: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {"taken_at": self.taken_at, "age_s": round(self.age_s, 3), "ready": self.ready,
                "cycles": self.cycles, "history": list(self.history)}


def as_json(report: Report, meta: Meta) -> dict[str, Any]:
    """``sidecar check --format json``'s shape, plus the result's age and the history."""
    return {**report.to_dict(), **meta.to_dict()}


def as_text(report: Report, meta: Meta) -> str:
    head = (f"result taken at {meta.taken_at}, {meta.age_s:.1f}s ago · cycle {meta.cycles} · "
            f"readiness: {'ready' if meta.ready else 'NOT READY'}\n")
    lines = [head, render_text(report)]
    if meta.history:
        lines.append("history (newest first):")
        for h in meta.history:
            changes = "; ".join(h["changes"]) if h["changes"] else "no change"
            lines.append(f"  {h['started_at']} {h['status']:<4} {h['duration_s']:.2f}s "
                         f"worker={h['worker']} ready={'yes' if h['ready'] else 'no'}: "
                         f"{changes}")
    return "\n".join(lines) + "\n"


_HEALTH_STATUS = {"pass": "pass", "warn": "warn", "fail": "fail", "skip": "pass"}


def as_health(report: Report, meta: Meta, service: str = "sidecar") -> dict[str, Any]:
    """draft-inadarei-api-health-check: status, version, checks keyed by component."""
    checks: dict[str, list[dict[str, Any]]] = {}
    for check in report.checks:
        first = next(iter(check.findings), None)
        entry: dict[str, Any] = {
            "componentType": "component",
            "status": _HEALTH_STATUS[check.status],
            "observedValue": round(check.duration_s, 4),
            "observedUnit": "s",
            "time": meta.taken_at,
        }
        if first is not None:
            entry["output"] = first.summary()
        elif check.reason:
            entry["output"] = f"skipped: {check.reason}"
        checks[f"{check.name}:status"] = [entry]
    return {
        "status": "pass" if meta.ready else "fail",
        "version": "1",
        "releaseId": str(report.versions.get("sidecar") or ""),
        "serviceId": service,
        "description": "SQLAlchemy model, database and schema checks",
        "notes": [f"result taken at {meta.taken_at}, {meta.age_s:.1f}s ago"],
        "checks": checks,
    }


_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
header{padding:18px 28px;color:#fff}
header.ready{background:#1a7f37} header.notready{background:#c62828}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;opacity:.9}
main{padding:12px 28px 40px;max-width:1100px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;margin:14px 0;padding:12px 16px}
h2{font-size:17px;margin:0 0 6px} .st{font-size:12px;padding:2px 8px;border-radius:10px;
margin-left:8px;vertical-align:middle;color:#fff}
.pass{background:#1a7f37}.warn{background:#b26a00}.fail{background:#c62828}.skip{background:#777}
.finding{border-left:4px solid #999;padding:6px 12px;margin:10px 0}
.finding.error{border-color:#c62828}.finding.warning{border-color:#b26a00}
.finding.info{border-color:#2d6fb8}
.code{font-weight:600} .where{font-family:ui-monospace,monospace;background:#f0f2f5;
padding:1px 5px;border-radius:4px} pre{background:#f0f2f5;padding:8px;overflow:auto;
font-size:13px;white-space:pre-wrap} .hint{margin:6px 0;white-space:pre-wrap}
.muted{color:#666;font-size:13px}
table{border-collapse:collapse;font-size:13px} td,th{padding:3px 10px;text-align:left;
border-bottom:1px solid #eee}
"""


def _finding_html(f: Finding) -> str:
    e = html.escape
    parts = [
        f'<div class="finding {e(f.severity)}" data-code="{e(f.code)}">',
        f'<div><span class="code">{e(f.code)}</span> {e(f.severity.upper())} — {e(f.title)}'
        + (f' <span class="where">{e(f.where)}</span>' if f.where else "") + "</div>",
        f"<div>{e(f.exception + ': ') if f.exception else ''}{e(f.message)}</div>",
    ]
    for place in f.related:
        parts.append(f'<div class="related">also: <span class="where">{e(place.location)}'
                     f"</span>{' (' + e(place.role) + ')' if place.role else ''}</div>")
    if f.hint:
        parts.append(f'<div class="hint"><b>Fix:</b> {e(f.hint)}</div>')
    if f.fix_sql:
        parts.append(f"<pre>{e(f.fix_sql)}</pre>")
    if f.facts.get("alembic_op"):
        parts.append(f"<pre>{e(str(f.facts['alembic_op']))}</pre>")
    if f.output:
        parts.append(f"<details><summary>app output (tail)</summary><pre>{e(f.output)}</pre>"
                     "</details>")
    if f.docs:
        parts.append(f'<div class="muted">docs: {e(f.docs)}</div>')
    parts.append("</div>")
    return "\n".join(parts)


def as_html(report: Report, meta: Meta, refresh_s: int = 10) -> str:
    e = html.escape
    errors = [f for f in report.findings if f.severity == "error"]
    banner = "ready" if meta.ready else "notready"
    title = "Ready" if meta.ready else "NOT READY"
    first = f"First problem: {errors[0].summary()}" if errors else "No blocking problem."
    sections = []
    for check in report.checks:
        coverage = coverage_line(check.observed) if check.status != "skip" else None
        body = (f'<div class="muted coverage">{e(coverage)}</div>' if coverage else "") + \
            "".join(_finding_html(f) for f in check.findings)
        if check.status == "skip" and check.reason:
            body += f'<div class="muted">skipped: {e(check.reason)}</div>'
        elif not check.findings:
            body += '<div class="muted">no findings</div>'
        sections.append(
            f'<section id="check-{e(check.name)}"><h2>{e(check.name)}<span class="st '
            f'{e(check.status)}">{e(check.status)}</span> <span class="muted">'
            f"{check.duration_s:.2f}s</span></h2>{body}</section>")
    rows = "".join(
        f"<tr><td>{e(h['started_at'])}</td><td>{e(h['status'])}</td>"
        f"<td>{h['duration_s']:.2f}s</td><td>{'yes' if h['ready'] else 'no'}</td>"
        f"<td>{e('; '.join(h['changes']) or 'no change')}</td></tr>" for h in meta.history)
    v = report.versions
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="refresh" content="{refresh_s}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sidecar: {e(title)}</title><style>{_CSS}</style></head>
<body><header class="{banner}"><h1 id="status">{e(title)}</h1>
<p>{e(first)}</p>
<p class="age">Result taken at {e(meta.taken_at)}, <span id="age">{meta.age_s:.0f}</span>s ago ·
cycle {meta.cycles} · refreshes every {refresh_s}s</p></header>
<main>{''.join(sections)}
<section><h2>History</h2><table><tr><th>started</th><th>status</th><th>took</th>
<th>ready</th><th>changes</th></tr>{rows}</table></section>
<p class="muted">sidecar {e(str(v.get('sidecar')))} · app Python {e(str(v.get('python')))} ·
SQLAlchemy {e(str(v.get('sqlalchemy')))} · Alembic {e(str(v.get('alembic')))}</p>
</main></body></html>
"""

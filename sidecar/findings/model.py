"""The data model every check produces and every renderer reads.

Findings are small frozen values (Django's check messages are the model): tests compare them
with ``==``, renderers are pure functions of a ``Report``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Status = Literal["pass", "warn", "fail", "skip"]

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
STATUS_RANK = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}


@dataclass(frozen=True)
class Finding:
    """One problem: what broke, where, why, and the fix."""

    code: str
    severity: Severity
    title: str
    message: str
    exception: str | None = None
    file: str | None = None
    line: int | None = None
    class_name: str | None = None
    attribute: str | None = None
    table: str | None = None
    column: str | None = None
    hint: str | None = None
    fix_sql: str | None = None
    docs: str | None = None
    output: str | None = None
    facts: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def location(self) -> str | None:
        """``file:line`` (or just the file) for humans."""
        if self.file is None:
            return None
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def obj(self) -> str | None:
        """``Class.attribute`` or ``table.column``, whichever is known."""
        if self.class_name:
            return f"{self.class_name}.{self.attribute}" if self.attribute else self.class_name
        if self.table:
            return f"{self.table}.{self.column}" if self.column else self.table
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "exception": self.exception,
            "file": self.file,
            "line": self.line,
            "class": self.class_name,
            "attribute": self.attribute,
            "table": self.table,
            "column": self.column,
            "hint": self.hint,
            "fix_sql": self.fix_sql,
            "docs": self.docs,
            "output": self.output,
            "facts": dict(self.facts),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        return cls(
            code=data["code"],
            severity=data["severity"],
            title=data["title"],
            message=data["message"],
            exception=data.get("exception"),
            file=data.get("file"),
            line=data.get("line"),
            class_name=data.get("class"),
            attribute=data.get("attribute"),
            table=data.get("table"),
            column=data.get("column"),
            hint=data.get("hint"),
            fix_sql=data.get("fix_sql"),
            docs=data.get("docs"),
            output=data.get("output"),
            facts=dict(data.get("facts") or {}),
        )


def status_for(findings: list[Finding]) -> Status:
    """A check fails on an error, warns on a warning, passes otherwise."""
    worst = max((SEVERITY_RANK[f.severity] for f in findings), default=0)
    return {2: "fail", 1: "warn"}.get(worst, "pass")  # type: ignore[return-value]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one named check in one cycle."""

    name: str
    status: Status
    duration_s: float
    findings: tuple[Finding, ...] = ()
    observed: dict[str, Any] = field(default_factory=dict, compare=False)
    reason: str | None = None  # why a check was skipped

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_s": round(self.duration_s, 4),
            "reason": self.reason,
            "findings": [f.to_dict() for f in self.findings],
            "observed": dict(self.observed),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            status=data["status"],
            duration_s=float(data.get("duration_s") or 0.0),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings") or ()),
            observed=dict(data.get("observed") or {}),
            reason=data.get("reason"),
        )


@dataclass(frozen=True)
class Report:
    """One cycle's result: the only thing renderers and probes read."""

    status: Status
    checks: tuple[CheckResult, ...]
    started_at: str
    duration_s: float
    versions: dict[str, str | None] = field(default_factory=dict, compare=False)

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks for f in c.findings]

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 4),
            "versions": dict(self.versions),
            "checks": [c.to_dict() for c in self.checks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        return cls(
            status=data["status"],
            checks=tuple(CheckResult.from_dict(c) for c in data["checks"]),
            started_at=data["started_at"],
            duration_s=float(data["duration_s"]),
            versions=dict(data.get("versions") or {}),
        )


def overall_status(checks: list[CheckResult] | tuple[CheckResult, ...]) -> Status:
    """The worst status among checks that ran; ``skip`` only if nothing ran."""
    ran = [c.status for c in checks if c.status != "skip"]
    if not ran:
        return "skip"
    return max(ran, key=STATUS_RANK.__getitem__)


def replace(finding: Finding, **changes: Any) -> Finding:
    """``dataclasses.replace`` re-exported so callers need not import dataclasses."""
    return dataclasses.replace(finding, **changes)

"""The data model every check produces and every renderer reads.

Findings are small frozen values (Django's check messages are the model): tests compare them
with ``==``, renderers are pure functions of a ``Report``. The JSON form (``--format json``,
/diagnose) is derived from the fields, in their order: a field's ``json`` metadata names it
when the Python name differs (``class_name`` is ``class``, a keyword).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
Status = Literal["pass", "warn", "fail", "skip"]

SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}
STATUS_RANK = {"skip": 0, "pass": 1, "warn": 2, "fail": 3}
STRICT_ENV = "SIDECAR_STRICT_FINDINGS"


def strict_by_default() -> bool:
    """Whether an unknown key in a raw finding raises (the test suite sets the variable)."""
    return os.environ.get(STRICT_ENV) == "1"


@dataclass(frozen=True)
class Related:
    """A second place that matters to a finding: the other side of a relationship, the
    first definition of a duplicated table or class, the second import of a module."""

    file: str
    line: int | None = None
    role: str = ""

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.location} ({self.role})" if self.role else self.location

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | Related) -> Related:
        if isinstance(data, Related):
            return data
        return cls(file=str(data["file"]), line=data.get("line"), role=str(data.get("role") or ""))


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
    class_name: str | None = field(default=None, metadata={"json": "class"})
    attribute: str | None = None
    table: str | None = None
    column: str | None = None
    hint: str | None = None
    fix_sql: str | None = None
    docs: str | None = None
    output: str | None = None
    related: tuple[Related, ...] = ()  # {file, line, role} in the JSON form
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

    @property
    def where(self) -> str | None:
        """``file:line (Class.attribute)``, or whichever of the two is known."""
        if self.location and self.obj:
            return f"{self.location} ({self.obj})"
        return self.location or self.obj

    def summary(self) -> str:
        """``CODE title at file:line (Class.attribute)``: the one line that names a finding
        (first problem, /readyz?verbose, the health output, the not-ready log line)."""
        return f"{self.code} {self.title}" + (f" at {self.where}" if self.where else "")

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], strict: bool | None = None) -> Finding:
        """A Finding from its JSON form (the worker's raw finding, completed by the catalog).

        A key that is no field is a bug in whoever wrote it: ``strict`` (default: the
        ``SIDECAR_STRICT_FINDINGS`` variable, which the test suite sets) raises; otherwise
        the key is kept under ``facts``, so nothing the worker said is lost or crashes a cycle.
        """
        names = {_json_name(f): f.name for f in dataclasses.fields(cls)}
        unknown = {key: value for key, value in data.items() if key not in names}
        if unknown and (strict_by_default() if strict is None else strict):
            raise ValueError(f"unknown keys in a finding: {', '.join(sorted(unknown))}")
        values = {names[key]: value for key, value in data.items() if key in names}
        values["facts"] = {**unknown, **(data.get("facts") or {})}
        values["related"] = tuple(Related.from_dict(r) for r in data.get("related") or ())
        return cls(**values)


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
    # keyword-only so that it can stand here, where the JSON form puts it
    reason: str | None = field(default=None, kw_only=True)  # why a check was skipped
    findings: tuple[Finding, ...] = ()
    observed: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


@dataclass(frozen=True, kw_only=True)
class Report:
    """One cycle's result: the only thing renderers and probes read."""

    status: Status
    started_at: str
    duration_s: float
    versions: dict[str, str | None] = field(default_factory=dict, compare=False)
    checks: tuple[CheckResult, ...]  # last in the JSON form: the long part

    @property
    def findings(self) -> list[Finding]:
        return [f for c in self.checks for f in c.findings]

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return _as_dict(self)


def overall_status(checks: list[CheckResult] | tuple[CheckResult, ...]) -> Status:
    """The worst status among checks that ran; ``skip`` only if nothing ran."""
    ran = [c.status for c in checks if c.status != "skip"]
    if not ran:
        return "skip"
    return max(ran, key=STATUS_RANK.__getitem__)


def replace(finding: Finding, **changes: Any) -> Finding:
    """``dataclasses.replace`` re-exported so callers need not import dataclasses."""
    return dataclasses.replace(finding, **changes)


def _json_name(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("json", f.name))


def _as_dict(value: Any) -> dict[str, Any]:
    return {_json_name(f): _as_json(getattr(value, f.name)) for f in dataclasses.fields(value)}


def _as_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return _as_dict(value)
    if isinstance(value, tuple):
        return [_as_json(v) for v in value]
    if isinstance(value, dict):
        return dict(value)  # facts, observed, versions: already JSON, copied
    if isinstance(value, float):
        return round(value, 4)  # durations: more digits are noise
    return value

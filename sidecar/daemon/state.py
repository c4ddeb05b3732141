"""What the daemon knows between cycles: the latest Report, readiness, history, counters.

Probes and scrapes only *read* this; only the scheduler writes it. Readiness is derived from
the Report through a policy (which checks gate it, at which severity) and flap damping.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from sidecar.findings.model import CheckResult, Finding, Report
from sidecar.worker.registry import base_name


@dataclass(frozen=True)
class ReadinessPolicy:
    checks: tuple[str, ...] = ()  # empty: every check gates readiness
    severity: str = "error"  # "error": warnings pass; "warning": warnings fail too
    fail_after: int = 1
    pass_after: int = 1

    def gates(self, name: str) -> bool:
        return not self.checks or base_name(name) in self.checks  # a bind's, by its check

    def blocking(self, check: CheckResult) -> list[Finding]:
        """The findings that make this check not ready (empty: the check passes)."""
        levels = ("error",) if self.severity == "error" else ("error", "warning")
        return [f for f in check.findings if f.severity in levels]

    def check_ok(self, check: CheckResult) -> bool:
        return not self.blocking(check)


@dataclass(frozen=True)
class CycleSummary:
    """One line of history: what a cycle found and what changed since the one before."""

    started_at: str
    status: str
    duration_s: float
    ready: bool
    outcome: str
    changes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "status": self.status,
                "duration_s": round(self.duration_s, 3), "ready": self.ready,
                "worker": self.outcome, "changes": list(self.changes)}


def _finding_keys(report: Report | None) -> set[str]:
    if report is None:
        return set()
    return {f"{c.name}:{f.code}:{f.location or f.obj or ''}" for c in report.checks
            for f in c.findings}


def diff(old: Report | None, new: Report) -> tuple[str, ...]:
    """Human lines: status changes per check, findings that appeared or went away."""
    changes: list[str] = []
    old_status = {c.name: c.status for c in old.checks} if old else {}
    for check in new.checks:
        before = old_status.get(check.name)
        if before is not None and before != check.status:
            changes.append(f"{check.name}: {before} -> {check.status}")
    before_keys, after_keys = _finding_keys(old), _finding_keys(new)
    changes += [f"+ {k}" for k in sorted(after_keys - before_keys)]
    changes += [f"- {k}" for k in sorted(before_keys - after_keys)]
    return tuple(changes[:20])


@dataclass
class DaemonState:
    policy: ReadinessPolicy
    history_size: int = 20
    report: Report | None = None
    report_at: float | None = None  # wall clock (time.time) when the report was taken
    ready: bool = False
    ever_ready: bool = False
    stopping: bool = False
    cycle_running: bool = False
    cycles: int = 0
    failed_cycles: int = 0  # cycles that raised inside the daemon (not the app's faults)
    loop_alive: bool = False
    last_success_at: float | None = None
    worker_runs: Counter = field(default_factory=Counter)
    worker_spawns: int = 0  # fresh workers started: each imported the models
    resident_cycles: int = 0  # cycles a resident worker served without importing
    transitions: Counter = field(default_factory=Counter)
    history: deque = field(default_factory=deque)
    started_at: float = field(default_factory=time.time)
    _streak_ok: int = 0
    _streak_fail: int = 0

    def gating_checks(self) -> list[CheckResult]:
        return [] if self.report is None else self.gating_checks_of(self.report)

    def record(self, report: Report, outcome: str) -> tuple[bool, bool]:
        """Store a cycle's report; returns (was_ready, is_ready) after flap damping."""
        was_ready = self.ready
        passing = all(self.policy.check_ok(c) for c in self.gating_checks_of(report))
        if passing:
            self._streak_ok += 1
            self._streak_fail = 0
        else:
            self._streak_fail += 1
            self._streak_ok = 0
        if not self.ready and passing:
            needed = self.policy.pass_after if self.ever_ready else 1
            self.ready = self._streak_ok >= needed
        elif self.ready and not passing:
            self.ready = self._streak_fail < self.policy.fail_after
        changes = diff(self.report, report)
        self.report = report
        self.report_at = time.time()
        self.cycles += 1
        self.worker_runs[outcome] += 1
        if passing:
            self.last_success_at = self.report_at
        if self.ready:
            self.ever_ready = True
        if was_ready != self.ready:
            self.transitions["ready" if self.ready else "not_ready"] += 1
        self.history.appendleft(CycleSummary(report.started_at, report.status,
                                             report.duration_s, self.ready, outcome, changes))
        while len(self.history) > self.history_size:
            self.history.pop()
        return was_ready, self.ready

    def gating_checks_of(self, report: Report) -> list[CheckResult]:
        return [c for c in report.checks if self.policy.gates(c.name)]

    def age_s(self) -> float | None:
        return None if self.report_at is None else max(0.0, time.time() - self.report_at)

    def blocking_findings(self) -> list[tuple[str, Finding]]:
        return [(c.name, f) for c in self.gating_checks() for f in self.policy.blocking(c)]

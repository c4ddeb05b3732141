"""Prometheus exposition built at scrape time from the daemon's state (read only).

One collector turns the latest Report into metric families, as client_python's custom
collectors do; nothing is incremented from elsewhere in the code.
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

import sidecar
from sidecar.daemon.state import DaemonState
from sidecar.worker.registry import CHECKS, base_name

# the checks whose findings feed sidecar_schema_drift_objects{kind}
SCHEMA_DIFFERENCE_CHECKS = frozenset(c.name for c in CHECKS if c.counts_schema_differences)
STATUSES = ("pass", "warn", "fail", "skip")
OUTCOMES = ("ok", "timeout", "crashed", "exited", "no_result", "spawn_failed")


class ReportCollector(Collector):
    def __init__(self, state: DaemonState) -> None:
        self.state = state

    def collect(self) -> Iterator:
        state = self.state
        report = state.report
        yield GaugeMetricFamily("sidecar_ready", "1 when every readiness check passes.",
                                value=1.0 if state.ready else 0.0)
        yield GaugeMetricFamily("sidecar_up", "1 while the daemon's cycle loop runs.",
                                value=1.0 if state.loop_alive else 0.0)
        yield CounterMetricFamily("sidecar_cycle_errors",
                                  "Cycles that failed inside the daemon (a sidecar bug).",
                                  value=float(state.failed_cycles))

        status = GaugeMetricFamily("sidecar_check_status",
                                   "1 for the check's current status, 0 for the others.",
                                   labels=["check", "status"])
        duration = GaugeMetricFamily("sidecar_check_duration_seconds",
                                     "How long the check took in the last cycle.",
                                     labels=["check"])
        findings = GaugeMetricFamily("sidecar_findings",
                                     "Findings in the last cycle by check, code and severity.",
                                     labels=["check", "code", "severity"])
        drift = GaugeMetricFamily("sidecar_schema_drift_objects",
                                  "Schema differences in the last cycle, by kind.",
                                  labels=["kind"])
        if report is not None:
            kinds: Counter = Counter()
            for check in report.checks:
                for s in STATUSES:
                    status.add_metric([check.name, s], 1.0 if check.status == s else 0.0)
                duration.add_metric([check.name], check.duration_s)
                counts = Counter((f.code, f.severity) for f in check.findings)
                for (code, severity), n in sorted(counts.items()):
                    findings.add_metric([check.name, code, severity], float(n))
                if base_name(check.name) in SCHEMA_DIFFERENCE_CHECKS:
                    kinds.update(str(f.facts.get("kind") or f.code) for f in check.findings)
            for kind, n in sorted(kinds.items()):
                drift.add_metric([kind], float(n))
        yield from (status, duration, findings, drift)

        yield GaugeMetricFamily("sidecar_last_run_timestamp_seconds",
                                "Unix time the last cycle's result was taken (0: none yet).",
                                value=state.report_at or 0.0)
        yield GaugeMetricFamily("sidecar_last_success_timestamp_seconds",
                                "Unix time of the last cycle that passed readiness (0: never).",
                                value=state.last_success_at or 0.0)
        yield GaugeMetricFamily("sidecar_cycle_running", "1 while a cycle is running.",
                                value=1.0 if state.cycle_running else 0.0)
        runs = CounterMetricFamily("sidecar_worker_runs", "Worker runs by outcome.",
                                   labels=["outcome"])
        for outcome in OUTCOMES:
            runs.add_metric([outcome], float(state.worker_runs.get(outcome, 0)))
        yield runs
        yield CounterMetricFamily("sidecar_worker_spawns",
                                  "Fresh workers started; each one imports the models.",
                                  value=float(state.worker_spawns))
        yield CounterMetricFamily("sidecar_worker_resident_cycles",
                                  "Cycles served by a resident worker on the models it "
                                  "already held (no import).",
                                  value=float(state.resident_cycles))
        transitions = CounterMetricFamily("sidecar_state_transitions",
                                          "Readiness changes, by the state entered.",
                                          labels=["to"])
        for to in ("ready", "not_ready"):
            transitions.add_metric([to], float(state.transitions.get(to, 0)))
        yield transitions
        yield CounterMetricFamily("sidecar_cycles", "Cycles run since start.",
                                  value=float(state.cycles))
        yield GaugeMetricFamily("sidecar_start_time_seconds", "Unix time the daemon started.",
                                value=state.started_at)
        versions = report.versions if report is not None else {}
        yield InfoMetricFamily("sidecar_build", "Versions of sidecar and of what it checks.",
                               value={"version": sidecar.__version__,
                                      "python_version": platform.python_version(),
                                      "app_python_version": str(versions.get("python") or ""),
                                      "sqlalchemy_version":
                                          str(versions.get("sqlalchemy") or ""),
                                      "alembic_version": str(versions.get("alembic") or "")})


def exposition(state: DaemonState) -> bytes:
    """The text exposition format (a fresh registry: nothing global, nothing shared)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ReportCollector(state))
    return generate_latest(registry)


"""The fault matrix: what each fault must do to the daemon, and the table docs show.

Each fault test reports what it observed through ``record``; the observation must equal the
row below (readiness, finding code, metric change), or the test fails. "recovery" says how
readiness comes back; the tests wait for it under a generous deadline against hangs and do
not time it (a loaded machine is slower, not broken): the seconds it took are kept in the
results file as ``observed_recovery_s``, not claimed in the table.
``scripts/gen_reliability_doc.py`` renders docs/reliability.md's table from the recorded
results, and tests/reliability/test_matrix_doc.py checks the committed table
still lists every row here, as rendered.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("SIDECAR_RELIABILITY_RESULTS")
               or ROOT / ".pytest_cache" / "reliability" / "results.json")
SURVIVED = "yes"  # livez 200 throughout, exit 0 on SIGTERM, no orphan, no zombie


@dataclass(frozen=True)
class Fault:
    id: str
    fault: str
    readiness: str  # what /readyz answers while the fault lasts
    code: str  # the finding on /diagnose ("—": none)
    hint: str  # a phrase the finding's hint must contain
    metric: str  # the change on /metrics
    recovery: str  # how readiness comes back


FAULTS: tuple[Fault, ...] = (
    Fault("db-down-at-start", "PostgreSQL down when the daemon starts", "503", "DB201",
          "pg_isready", 'sidecar_ready 0; sidecar_findings{code="DB201"} 1',
          "—"),
    Fault("db-comes-back", "PostgreSQL started after the daemon", "200", "—", "—",
          'sidecar_ready 0→1; sidecar_state_transitions{to="ready"} +1',
          "ready again once the server accepts connections, no restart"),
    Fault("db-goes-down", "PostgreSQL stopped while the daemon is ready", "503", "DB201",
          "pg_isready", 'sidecar_ready 1→0; sidecar_state_transitions{to="not_ready"} +1',
          "not ready after the stop; ready again after the restart"),
    Fault("catalog-lock", "ACCESS EXCLUSIVE lock held on pg_catalog.pg_class "
          "(lock_timeout 500 ms)", "503", "DB211", "pg_blocking_pids",
          'sidecar_findings{code="DB211"} 1; sidecar_worker_runs_total{outcome="timeout"} 0',
          "ready again once the lock is released"),
    Fault("slow-statement", "a statement slower than statement_timeout 500 ms (it waits "
          "behind a lock on pg_namespace; lock_timeout 10 s)", "503", "DB211", "statement_timeout",
          'sidecar_findings{code="DB211"} 1; sidecar_worker_runs_total{outcome="timeout"} 0',
          "ready again once the statement can run"),
    Fault("server-frozen", "PostgreSQL frozen (SIGSTOP): accepts TCP, never answers",
          "503", "DB203", "firewall",
          'sidecar_findings{code="DB203"} 1; sidecar_worker_runs_total{outcome="timeout"} 0',
          "ready again after SIGCONT"),
    Fault("wrong-password", "wrong password in the URL", "503", "DB204", "password",
          'sidecar_findings{code="DB204"} 1', "— (a configuration fault: fix the secret)"),
    Fault("db-dropped", "the app's database dropped while ready", "503", "DB205",
          "createdb", 'sidecar_ready 1→0; sidecar_findings{code="DB205"} 1',
          "ready again once it is re-created"),
    Fault("import-hangs", "model import hangs (and starts a child process)", "503",
          "SIDE001", "--timeout",
          'sidecar_worker_runs_total{outcome="timeout"} +1 per cycle',
          "— (the worker and its child are killed at --timeout 2 s)"),
    Fault("import-segfault", "model import segfaults", "503", "SIDE002", "C extension",
          'sidecar_worker_runs_total{outcome="crashed"} +1 per cycle', "—"),
    Fault("import-sys-exit", "model import calls sys.exit(3)", "503", "SIDE003",
          "sys.exit()", 'sidecar_findings{code="SIDE003"} 1', "—"),
    Fault("import-os-exit", "model import calls os._exit(4)", "503", "SIDE003",
          "sys.exit()", 'sidecar_worker_runs_total{outcome="exited"} +1 per cycle', "—"),
    Fault("import-flood", "model import writes ~20 MB to stdout", "200", "SIDE004",
          "log level", 'sidecar_findings{code="SIDE004",severity="warning"} 1; daemon '
          "RSS +< 50 MiB", "— (a warning: ready)"),
    Fault("import-leaks-memory", "model import leaks memory past --memory-limit 256",
          "503", "SIDE009", "--memory-limit", 'sidecar_findings{code="SIDE009"} 1',
          "— (the worker gets MemoryError; the daemon's RSS is unaffected)"),
    Fault("model-edited", "a model file edited to broken and back while serving "
          "(--interval 300: only the file watch triggers)", "503", "SQLA101", "metadata",
          'sidecar_ready 1→0→1; sidecar_state_transitions{to="not_ready"} +1',
          "not ready after the bad edit; ready again after the fix"),
    Fault("sigterm-mid-cycle", "SIGTERM while a worker (and its child) runs", "503",
          "—", "—", "— (the process exits)",
          "exit status 0 without waiting for the worker (--timeout 60); worker group killed"),
    Fault("disk-full", "every write fails: stdout/stderr on /dev/full, RLIMIT_FSIZE 0, "
          "read-only TMPDIR", "200", "—", "—", "sidecar_ready 1",
          "— (the daemon needs no file: ready, serving, exit 0)"),
    # issue 11: what a red team broke
    Fault("app-writes-at-import", "the app's import runs an INSERT on PostgreSQL (the worker "
          "inherits DATABASE_URL)", "503", "SIDE013", "migration",
          'sidecar_findings{code="SIDE013"} 1',
          "— (refused: the row count is unchanged over 20 cycles)"),
    Fault("daemonized-child", "the app's import double-forks a setsid child that holds the "
          "worker's stdout", "200", "—", "—",
          'sidecar_worker_runs_total{outcome="timeout"} 0',
          "— (each run's tagged processes killed and reaped; fds flat)"),
    Fault("idle-connections", "1,100 silent TCP connections under a 1,024-fd limit", "200",
          "—", "—", "sidecar_ready 1",
          "— (the oldest slow connection makes room; every probe answered)"),
    Fault("sighup-mid-cycle", "SIGHUP while a worker runs", "503", "—", "—",
          "— (the process exits)", "exit status 0, like SIGTERM; worker group killed"),
    # MariaDB (tests/reliability/test_faults_mariadb.py, PyMySQL)
    Fault("mariadb-goes-down", "MariaDB stopped while the daemon is ready", "503", "DB201",
          "mariadb-admin ping", "sidecar_ready 1→0", "ready again after the restart"),
    Fault("mariadb-wrong-password", "MariaDB: wrong password in the URL", "503", "DB204",
          "ALTER USER", 'sidecar_findings{code="DB204"} 1',
          "— (a configuration fault: fix the secret)"),
    Fault("mariadb-db-dropped", "MariaDB: the app's database dropped while ready", "503",
          "DB205", "CREATE DATABASE", 'sidecar_ready 1→0; sidecar_findings{code="DB205"} 1',
          "ready again once it is re-created"),
    Fault("mariadb-locked-table", "MariaDB: LOCK TABLES ... WRITE held on the app's table",
          "200", "—", "—", 'sidecar_worker_runs_total{outcome="timeout"} 0',
          "— (reflection takes high-priority metadata locks: never blocked)"),
)
BY_ID = {f.id: f for f in FAULTS}

HEADER = ("| fault | /readyz | finding | hint mentions | metric change | recovery | "
          "daemon survives |\n| --- | --- | --- | --- | --- | --- | --- |")


def row(fault: Fault, observed: dict | None = None) -> str:
    """One table row; from an observation (which equals the spec once its test passed)."""
    o = observed or asdict(fault)
    cells = [f"{o['fault']} <a id=\"{fault.id}\"></a>", o["readiness"],
             f"`{o['code']}`" if o["code"] != "—" else "—",
             f"`{o['hint']}`" if o["hint"] != "—" else "—", o["metric"], o["recovery"],
             o.get("survived", SURVIVED)]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def table(results: dict[str, dict] | None = None) -> str:
    lines = [HEADER]
    for fault in FAULTS:
        lines.append(row(fault, (results or {}).get(fault.id)))
    return "\n".join(lines)


def load() -> dict:
    try:
        return json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {}


def save(key: str, value: dict) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = load()
    data[key] = value
    tmp = RESULTS.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(RESULTS)


def record(fault_id: str, *, readiness: int | str, code: str, hint: str | None,
           metric: str, recovery_s: float | None = None, survived: bool = True,
           **observed: object) -> None:
    """Check an observation against the matrix and store it for the docs."""
    spec = BY_ID[fault_id]
    assert str(readiness) == spec.readiness, f"{fault_id}: /readyz {readiness}"
    assert code == spec.code, f"{fault_id}: finding {code}, expected {spec.code}"
    if spec.hint != "—":
        assert hint and spec.hint in hint, f"{fault_id}: hint lacks {spec.hint!r}: {hint}"
    assert metric == spec.metric, f"{fault_id}: metric {metric!r} != {spec.metric!r}"
    assert survived, f"{fault_id}: the daemon did not survive"
    save(fault_id, {**asdict(spec), "survived": SURVIVED, "passed": True,
                    "observed_recovery_s": None if recovery_s is None else round(recovery_s, 2),
                    "observed": {k: v for k, v in observed.items()},
                    "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})

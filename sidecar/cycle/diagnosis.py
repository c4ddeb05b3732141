"""One diagnosis cycle: run the worker, turn what it said (or didn't) into a Report."""

from __future__ import annotations

import os
import platform
import signal
import time
from datetime import datetime, timezone
from typing import Any

import sidecar
from sidecar.cycle import tracebacks
from sidecar.cycle.resident import ResidentPool
from sidecar.cycle.runner import WORKER_DIR, WorkerRun, memory_limit, run_worker
from sidecar.findings.model import (
    CheckResult,
    Finding,
    Report,
    overall_status,
    replace,
    status_for,
)
from sidecar.findings.registry import CATALOG
from sidecar.settings import Settings
from sidecar.worker import protocol, registry
from sidecar.worker.redact import config_secrets, redact_text, scrub

OUTPUT_TAIL_CHARS = 2000  # what a finding carries; the docker health log keeps 4 KiB
FLOOD_BYTES = 1024 * 1024


async def diagnose(settings: Settings) -> Report:
    """Run one cycle; every fault of the app becomes a finding, never an exception."""
    report, _ = await cycle(settings)
    return report


async def cycle(settings: Settings, extra_config: dict[str, Any] | None = None,
                pool: ResidentPool | None = None) -> tuple[Report, WorkerRun]:
    """One cycle, also returning what the runner saw (the daemon counts outcomes). With a
    ``pool`` (the daemon), a resident worker may serve it (sidecar/cycle/resident.py)."""
    started_at = datetime.now(timezone.utc)
    t0 = time.monotonic()
    config = dict(settings.worker_config(), **(extra_config or {}))
    if pool is None:
        run = await run_worker(settings.python, config, settings.timeout_s,
                               preexec=memory_limit(settings.memory_limit_mb))
    else:
        run = await pool.run(settings.python, config, settings.timeout_s,
                             settings.memory_limit_mb)
    report = build_report(settings, run, started_at, time.monotonic() - t0)
    if pool is not None:
        await pool.settle(any(c.status == "fail" for c in report.checks))
    return report, run


def build_report(settings: Settings, run: WorkerRun, started_at: datetime,
                 duration_s: float) -> Report:
    urls = [settings.database_url, *(url for _, url in settings.database_binds)]
    secrets = tuple(s for s in (*(s for url in urls for s in config_secrets(url, dict(os.environ))),
                                settings.token) if s)
    selected = registry.selected(settings.checks)
    names = [check.name for check in selected]
    results = {c["name"]: c for c in run.checks}  # empty from a worker of another protocol
    mismatch = _protocol_mismatch(run)
    fault = mismatch or _runner_fault(settings, run)
    fault_check = None
    if fault is not None:  # blamed on the check it happened in, else on the first one
        phase_check = None if mismatch else run.last_phase.get("check")
        # a further database's check ("schema_drift:analytics") is blamed by its own name
        fault_check = phase_check if phase_check and registry.base_name(
            phase_check) in names else names[0]
    if mismatch:
        not_reached = f"the worker speaks another protocol (see {fault_check})"
    elif fault:
        not_reached = f"the worker did not reach this check ({fault_check} failed: {run.outcome})"
    else:
        not_reached = "not run"
    output_tail = _output_tail(run, secrets)
    # what the database check saw of the reserved-name findings' columns
    present = next((c["observed"]["columns_present"] for c in run.checks
                    if (c.get("observed") or {}).get("columns_present")), None)
    checks: list[CheckResult] = []
    # a database check run again for a further database reports as "<check>:<bind>", after
    # its own result, in the worker's order
    order = [(check, name) for check in selected
             for name in [check.name, *(c["name"] for c in run.checks
                                        if c["name"].startswith(check.name + ":"))]]
    if fault_check and all(name != fault_check for _, name in order):
        # the bind check the worker died in sent no result: it still gets the fault
        at = max(i for i, (check, _) in enumerate(order)
                 if check.name == registry.base_name(fault_check))
        order.insert(at + 1, (order[at][0], fault_check))
    for check, name in order:
        raw_result = results.get(name)
        if raw_result is None:
            if fault_check != name:
                checks.append(CheckResult(name, "skip", 0.0, reason=not_reached))
                continue
            # the check the worker died in took the whole run
            raw_result = protocol.check_result(name, duration_s=run.duration_s)
        raws = list(raw_result.get("findings") or [])
        if name == fault_check and fault is not None:
            raws.append(fault)
        if name == (fault_check or names[0]) and run.output_bytes > FLOOD_BYTES:
            raws.append(_flood(run, fault_check))
        tail = output_tail if check.imports_app_code else None
        if present:
            raws = [_with_column_presence(raw, present) for raw in raws]
        findings = [_finding(raw, settings, secrets, tail) for raw in raws]
        # a check that skipped itself still fails when the run's fault (a timeout after its
        # result, a child holding the pipes) is blamed on it: the fault must not vanish
        if not raw_result.get("ran", True) and not (name == fault_check and fault):
            checks.append(CheckResult(name, "skip", float(raw_result.get("duration_s") or 0),
                                      reason=redact_text(str(raw_result.get("reason")),
                                                         secrets)))
            continue
        observed = dict(raw_result.get("observed") or {})
        checks.append(CheckResult(
            name, status_for(findings), float(raw_result.get("duration_s") or 0.0),
            findings=tuple(findings), observed=scrub(observed, secrets),
        ))
    versions: dict[str, str | None] = {"sidecar": sidecar.__version__,
                                       "sidecar_python": platform.python_version()}
    versions.update({k: v for k, v in run.versions.items() if k != "python_executable"})
    return Report(status=overall_status(checks), checks=tuple(checks), versions=versions,
                  started_at=started_at.isoformat(timespec="seconds"), duration_s=duration_s)


def _with_column_presence(raw: dict[str, Any], present: dict[str, bool]) -> dict[str, Any]:
    """SQLA101/116's hint says "no migration needed" only when the column exists: the
    models check runs first, so the database check's answer is joined here."""
    key = f"{raw.get('table')}.{raw.get('column')}"
    if raw.get("code") not in ("SQLA101", "SQLA116") or key not in present:
        return raw
    return {**raw, "facts": {**(raw.get("facts") or {}), "db_has_column": present[key]}}


def _finding(raw: dict[str, Any], settings: Settings, secrets: tuple[str, ...],
             output_tail: str | None) -> Finding:
    raw = scrub(raw, secrets)
    found = CATALOG.to_finding(raw, settings.severity)
    if output_tail and found.output is None and (found.severity == "error"
                                                   or found.code == "SIDE004"):
        found = replace(found, output=output_tail)
    return found


def _output_tail(run: WorkerRun, secrets: tuple[str, ...]) -> str | None:
    err = tracebacks.strip_dumps(run.stderr.text()).strip()
    out = run.stdout.text().strip()
    parts = [f"[stderr]\n{err[-OUTPUT_TAIL_CHARS:]}" if err else "",
             f"[stdout]\n{out[-OUTPUT_TAIL_CHARS // 2:]}" if out else ""]
    text = "\n".join(p for p in parts if p)
    return redact_text(text, secrets) if text else None


def _stuck_at(run: WorkerRun, settings: Settings) -> tuple[dict[str, Any], str]:
    roots = (run.hello or {}).get("app_packages") or ()
    frame = tracebacks.user_frame_from_dump(run.stderr.text(), str(settings.app_path),
                                            settings.models, roots)
    if frame is None:
        return {}, ""
    rel, line = frame
    source = ""
    # the file is relative to the app path, or to the folder of an installed package
    for base in [str(settings.app_path), *(str(r[1]) for r in roots if len(r) == 2)]:
        try:
            with open(os.path.join(base, rel), encoding="utf-8") as fh:
                source = fh.read().splitlines()[line - 1].strip()
            break
        except (OSError, IndexError, UnicodeDecodeError):
            continue
    text = f"It was at {rel}:{line}" + (f" (`{source}`)." if source else ".")
    return {"file": rel, "line": line}, text


def _protocol_mismatch(run: WorkerRun) -> dict[str, Any] | None:
    """SIDE010 when the worker said hello in another protocol (its results are not read)."""
    if run.hello is None or run.protocol_ok:
        return None
    theirs = run.hello.get("protocol")
    return {"code": "SIDE010", "message": f"the worker speaks protocol {theirs or 'unknown'}, "
            f"this daemon {protocol.PROTOCOL_VERSION}; its results were not read",
            "facts": {"worker_protocol": str(theirs or "unknown"),
                      "daemon_protocol": str(protocol.PROTOCOL_VERSION),
                      "worker_dir": WORKER_DIR}}


def _runner_fault(settings: Settings, run: WorkerRun) -> dict[str, Any] | None:
    """A finding for a worker that timed out, crashed, exited or went silent."""
    phase = run.last_phase.get("detail") or "starting the worker"
    check = run.last_phase.get("check")
    phase_text = f"{check}: {phase}" if check else phase
    if run.outcome == "ok":
        return None
    if run.outcome == "spawn_failed":
        return {"code": "SIDE007", "message": f"could not start {settings.python}: {run.error}",
                "facts": {"python": settings.python, "detail": run.error}}
    where, stuck = _stuck_at(run, settings)
    facts: dict[str, Any] = {"phase": phase_text, "stuck_at": stuck}
    if not run.versions and run.outcome != "timeout":
        # never said hello: not a Python that can run the worker (or it died on the way up)
        detail = (run.stderr.text().strip().splitlines() or [f"exit status {run.returncode}"])
        return {"code": "SIDE007", "message": f"{settings.python} did not start the worker",
                "facts": {"python": settings.python, "detail": detail[-1][:300]}}
    if run.outcome in ("crashed", "exited") and _out_of_memory(run):
        facts["limit_mb"] = settings.memory_limit_mb
        return {"code": "SIDE009", "message": f"the worker ran out of memory ({phase_text}) "
                f"and ended with status {run.returncode}", **where, "facts": facts}
    if run.outcome == "timeout":
        facts["timeout_s"] = settings.timeout_s
        return {"code": "SIDE001", "message": f"no result after {settings.timeout_s:g} s "
                f"({phase_text}); the worker was killed", **where, "facts": facts}
    if run.outcome == "crashed":
        signum = -(run.returncode or 0)
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        facts["signal"] = name
        return {"code": "SIDE002", "message": f"the worker died with {name} ({phase_text})",
                **where, "facts": facts}
    if run.outcome == "exited":
        facts["exit_code"] = run.returncode
        return {"code": "SIDE003", "message": f"the worker exited with status "
                f"{run.returncode} without a result ({phase_text})", **where, "facts": facts}
    facts["exit_code"] = run.returncode
    return {"code": "SIDE005", "message": f"the worker ended without a result ({phase_text})",
            **where, "facts": facts}


OUT_OF_MEMORY = ("MemoryError", "Cannot allocate memory", "std::bad_alloc",
                 "out of memory")


def _out_of_memory(run: WorkerRun) -> bool:
    """A worker that died allocating: Python's MemoryError escaped, or a C library gave up."""
    tail = run.stderr.text()[-4096:]
    return any(marker in tail for marker in OUT_OF_MEMORY)


def import_run_findings(run: WorkerRun) -> list[dict[str, Any]]:
    """What the runner saw of a fresh worker's import that a resident worker's later
    cycles must still report with the import's results: an output flood (SIDE004)."""
    if run.output_bytes <= FLOOD_BYTES:
        return []
    first = next(c.name for c in registry.CHECKS if c.imports_app_code)
    return [dict(_flood(run, first), output=_output_tail(run, ()))]


def _flood(run: WorkerRun, check: str | None) -> dict[str, Any]:
    phase = f"{check}: {run.last_phase.get('detail')}" if check else "the worker's run"
    return {"code": "SIDE004", "message": f"the app wrote {run.output_bytes:,} bytes of output "
            f"({run.stdout.total:,} to stdout, {run.stderr.total:,} to stderr)",
            "facts": {"output_bytes": f"{run.output_bytes:,}", "phase": phase,
                      "kept_bytes": f"{len(run.stdout.data) + len(run.stderr.data):,}"}}

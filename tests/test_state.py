"""Readiness policy, flap damping and retry backoff, as pure logic."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sidecar.daemon.scheduler import Scheduler
from sidecar.daemon.state import DaemonState, ReadinessPolicy, diff
from sidecar.findings.model import CheckResult, Finding, Report
from sidecar.settings import Settings


def _report(*checks: CheckResult) -> Report:
    return Report(status="pass", checks=checks, started_at="2026-01-01T00:00:00+00:00",
                  duration_s=0.1)


def _check(name: str, severity: str | None = None) -> CheckResult:
    findings = (Finding("X100", severity, "t", "m"),) if severity else ()
    status = {"error": "fail", "warning": "warn", None: "pass"}[severity]
    return CheckResult(name, status, 0.01, findings)


GOOD = _report(_check("models_import"), _check("database"))
BAD = _report(_check("models_import", "error"), _check("database"))
WARN = _report(_check("models_import", "warning"), _check("database"))


def test_first_ready_after_one_pass_then_damped() -> None:
    state = DaemonState(ReadinessPolicy(fail_after=2, pass_after=3))
    assert state.record(BAD, "ok") == (False, False)
    assert state.record(GOOD, "ok") == (False, True), "starting: ready after one pass"
    assert state.record(BAD, "ok") == (True, True), "one failure is damped (fail_after=2)"
    assert state.record(BAD, "ok") == (True, False)
    assert state.record(GOOD, "ok") == (False, False), "needs 3 passes once it was ready"
    assert state.record(GOOD, "ok") == (False, False)
    assert state.record(GOOD, "ok") == (False, True)
    assert state.transitions == {"ready": 2, "not_ready": 1}


def test_warnings_pass_by_default_and_fail_when_asked() -> None:
    assert DaemonState(ReadinessPolicy()).record(WARN, "ok")[1] is True
    assert DaemonState(ReadinessPolicy(severity="warning")).record(WARN, "ok")[1] is False


def test_only_gating_checks_decide() -> None:
    bad_db = _report(_check("models_import"), _check("database", "error"))
    assert DaemonState(ReadinessPolicy(checks=("models_import",))).record(bad_db, "ok")[1]
    assert not DaemonState(ReadinessPolicy()).record(bad_db, "ok")[1]


def test_history_is_bounded_and_says_what_changed() -> None:
    state = DaemonState(ReadinessPolicy(), history_size=3)
    for report in (GOOD, BAD, GOOD, BAD, GOOD):
        state.record(report, "ok")
    assert len(state.history) == 3
    assert state.history[0].changes == ("models_import: fail -> pass",
                                        "- models_import:X100:")
    assert diff(None, BAD) == ("+ models_import:X100:",)


def test_backoff_doubles_to_the_cap_then_interval_when_ready(tmp_path: Path) -> None:
    settings = Settings(app_path=tmp_path, models=("m",), retry_min_s=1.0, retry_max_s=5.0,
                        interval_s=60.0)
    state = DaemonState(ReadinessPolicy())

    async def delays() -> list[float]:
        scheduler = Scheduler(settings, state)
        out = [scheduler.next_delay() for _ in range(5)]
        state.ready = True
        out.append(scheduler.next_delay())
        state.ready = False
        out.append(scheduler.next_delay())
        return out

    got = asyncio.run(delays())
    for value, nominal in zip(got, [1, 2, 4, 5, 5, 60, 1], strict=True):
        assert nominal * 0.9 <= value <= nominal * 1.1, (got, nominal)


def test_a_failing_cycle_does_not_end_the_loop(tmp_path: Path) -> None:
    """A bug inside a cycle (here: raised by the cycle itself) is logged and counted; the
    loop goes on, and only a loop that really ended makes the daemon not alive."""
    settings = Settings(app_path=tmp_path, models=("m",), retry_min_s=0.01, retry_max_s=0.01,
                        watch=False)
    state = DaemonState(ReadinessPolicy())

    async def scenario() -> tuple[int, bool, bool]:
        scheduler = Scheduler(settings, state)
        calls = 0

        async def broken_cycle() -> None:
            nonlocal calls
            calls += 1
            if calls >= 3:
                state.stopping = True
            raise OSError(24, "Too many open files")

        scheduler.run_cycle = broken_cycle  # type: ignore[method-assign]
        scheduler.start()
        alive_while_running = state.loop_alive
        await asyncio.wait_for(asyncio.gather(*scheduler._tasks), 5)
        return calls, alive_while_running, state.loop_alive

    calls, alive_while_running, alive_after = asyncio.run(scenario())
    assert calls == 3 and state.failed_cycles == 3
    assert alive_while_running and not alive_after

"""The worker may hang, segfault, exit or flood; the sidecar turns each into a finding."""

from __future__ import annotations

import subprocess
import time

from tests.support import helpers
from tests.support.helpers import FIXTURES, CliResult, assert_required_facts, marked_line


def check_fixture(name: str, **kwargs) -> CliResult:
    """The fixture's report; every finding in it carries the facts its hint needs."""
    result = helpers.check_fixture(name, **kwargs)
    assert_required_facts(result.findings())
    return result


def _models_import(result):
    return result.check("models_import")


def test_hang_is_killed_at_the_timeout_and_located() -> None:
    # the fixture sleeps 10**6 s: a finished run (check_fixture's deadline is the timeout
    # + 30 s) with SIDE001 means the worker was killed
    result = check_fixture("hangs", timeout_s=3)
    assert result.returncode == 1
    finding = result.findings("SIDE001")[0]
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / "hangs")
    assert "time.sleep(10**6)" in finding["hint"]
    assert "importing app.models" in finding["message"]
    # the checks the worker never reached say why
    assert result.check("mappers")["status"] == "skip"
    assert "timeout" in result.check("mappers")["reason"]


def _pgrep(pattern: str) -> list[str]:
    proc = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return proc.stdout.split()


def test_timeout_kills_the_whole_process_group() -> None:
    import os

    marker = str(900000 + os.getpid() % 90000)  # unique to this test run
    result = check_fixture("hangs_with_child", timeout_s=2,
                           env={"FIXTURE_SLEEP_SECONDS": marker})
    assert result.findings("SIDE001")
    deadline = time.monotonic() + 30  # against a hang: the group is killed at once
    while _pgrep(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _pgrep(f"sleep {marker}") == []


def test_segfault_is_a_crash_finding_with_the_line() -> None:
    result = check_fixture("segfault")
    assert result.returncode == 1
    finding = result.findings("SIDE002")[0]
    assert finding["facts"]["signal"] == "SIGSEGV"
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / "segfault")


def test_sys_exit_is_reported_with_status_and_line() -> None:
    result = check_fixture("sys_exit")
    assert result.returncode == 1
    finding = result.findings("SIDE003")[0]
    assert finding["facts"]["exit_code"] == 3
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / "sys_exit")


def test_os_exit_is_reported_by_the_runner() -> None:
    result = check_fixture("os_exit")
    assert result.returncode == 1
    finding = result.findings("SIDE003")[0]
    assert finding["facts"]["exit_code"] == 4
    assert "status 4" in finding["message"]


def test_output_flood_is_a_warning_with_the_tail() -> None:
    result = check_fixture("flood")
    finding = result.findings("SIDE004")[0]
    assert finding["severity"] == "warning"
    assert "LAST-LINE-OF-FLOOD" in finding["output"]
    assert len(finding["output"]) < 8000, "the tail is capped"
    # the models still loaded after the flood, and the JSON result was not confused by stdout
    assert result.check("mappers")["status"] == "pass"


def test_app_output_tail_is_attached_to_the_import_finding() -> None:
    finding = check_fixture("prints_then_fails").findings("SQLA199")[0]
    assert "connecting to redis at redis://cache:6379" in finding["output"]


def test_interpreter_that_cannot_run_the_worker(tmp_path) -> None:
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'not python' >&2\nexit 7\n")
    fake.chmod(0o755)
    result = check_fixture("good_plain", python=str(fake))
    assert result.returncode == 1
    finding = result.findings("SIDE007")[0]
    assert "not python" in finding["hint"]


def test_interpreter_without_sqlalchemy(tmp_path) -> None:
    import sys

    venv = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    result = check_fixture("good_plain", python=str(venv / "bin" / "python"))
    assert result.returncode == 1
    finding = result.findings("SIDE006")[0]
    assert str(venv) in finding["hint"]


def test_timeout_covers_feeding_the_config(tmp_path) -> None:
    """An interpreter that never reads its stdin must not hang the cycle on a full pipe."""
    import asyncio

    from sidecar.cycle.runner import run_worker

    stuck = tmp_path / "python"
    stuck.write_text("#!/bin/sh\nexec sleep 60\n")
    stuck.chmod(0o755)
    config = {"app_path": str(tmp_path), "cache": {"schema_drift": {"result": ["x" * 1000] * 300}}}
    # the stuck interpreter exits on its own after 60 s: "timeout" means the runner's
    # deadline fired first, feeding included
    run = asyncio.run(run_worker(str(stuck), config, timeout_s=1.5))
    assert run.outcome == "timeout"

"""Issue 11 items 4-6: every process a worker starts dies with it, a finished worker is not a
timeout, a timeout never vanishes, and SIGHUP or SIGKILL of the daemon leaves no worker.

The apps are written into tmp_path; every process carries the daemon's tag (procs.TAG_VAR),
inherited through the worker, so an orphan is found whoever its parent is now."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from sidecar.cli.main import build_parser
from sidecar.cycle.diagnosis import build_report
from sidecar.cycle.runner import WorkerRun
from sidecar.settings import resolve
from sidecar.worker import protocol
from tests.reliability import procs
from tests.reliability.conftest import FAST
from tests.reliability.matrix import record
from tests.support.helpers import ROOT, run_cli

pytestmark = pytest.mark.reliability

MODELS = '''
from sqlalchemy import Column, Integer
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"
    id = Column(Integer, primary_key=True)
'''

# A double fork with setsid: the grandchild leaves the worker's process group and session,
# and holds the worker's stdout and stderr (what a daemonizing library does, minus the
# redirection to /dev/null that a careful one would do).
DAEMONIZE = '''
import os, time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(300)
        os._exit(0)
    os._exit(0)
os.wait()
'''

SLEEPS = '''
import os, pathlib, time
pathlib.Path(os.environ["APP_STARTED"]).write_text(str(os.getpid()))
time.sleep(60)
'''


def _app(tmp_path: Path, prelude: str) -> Path:
    app = tmp_path / "app_root"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "models.py").write_text(textwrap.dedent(prelude) + textwrap.dedent(MODELS))
    return app


def _runs(d, outcome: str) -> float:
    return d.metrics().get(f'sidecar_worker_runs_total{{outcome="{outcome}"}}', 0.0)


def test_a_daemonized_child_is_killed_after_each_cycle(daemon, tmp_path):
    app = _app(tmp_path, DAEMONIZE)
    d = daemon("--app-path", str(app), "--models", "app.models", *FAST)
    d.wait_ready()
    d.wait_for(lambda: d.metrics()["sidecar_cycles_total"] >= 2, 60, "two cycles")
    fds_early = procs.fd_count(d.pid)
    cycles_early = d.metrics()["sidecar_cycles_total"]
    d.wait_for(lambda: d.metrics()["sidecar_cycles_total"] >= cycles_early + 6, 90,
               "six more cycles")
    # between cycles: nothing of the app is left, wherever it was re-parented
    d.wait_for(lambda: not [p for p in procs.tagged(d.tag) if p.pid != d.pid
                            and p.pid not in procs.descendants(d.pid)], 10, "no orphans")
    timeouts = _runs(d, "timeout")
    assert timeouts == 0, "a finished worker was counted as a timeout"
    readiness = d.readyz()
    fds_late = procs.fd_count(d.pid)
    assert fds_late <= fds_early + 2, (fds_early, fds_late)  # not two more per cycle
    d.assert_healthy_process()
    d.stop_and_check()
    record("daemonized-child", readiness=readiness, code="—", hint=None,
           metric=f'sidecar_worker_runs_total{{outcome="timeout"}} {timeouts:g}',
           fds=f"{fds_early} → {fds_late}")


def test_check_with_a_daemonized_child_is_not_a_timeout(tmp_path):
    app = _app(tmp_path, DAEMONIZE)
    tag = f"check-{time.time_ns()}"
    result = run_cli("check", "--app-path", str(app), "--models", "app.models",
                     "--timeout", "60", "--format", "json", env={procs.TAG_VAR: tag},
                     timeout=120)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "SIDE001" not in result.stdout
    assert procs.wait_no_tagged(tag, timeout=10) == []


def test_sighup_stops_like_sigterm_and_kills_the_running_worker(daemon, tmp_path):
    app = _app(tmp_path, SLEEPS)
    started = tmp_path / "started"
    d = daemon("--app-path", str(app), "--models", "app.models", "--timeout", "120",
               "--watch", "off", env={"APP_STARTED": str(started)})
    d.wait_for(started.exists, 60, "the worker inside the app's import")
    readiness = d.readyz()  # the first cycle is still running
    took = d.stop(signal.SIGHUP, timeout=30)
    assert d.proc.returncode == 0, (d.proc.returncode, d.log[-10:])
    assert procs.wait_no_tagged(d.tag, timeout=10) == []
    print(f"\nSIGHUP: stopped in {took:.2f} s")
    record("sighup-mid-cycle", readiness=readiness, code="—", hint=None,
           metric="— (the process exits)", stop_s=round(took, 2))


def test_sigkill_of_the_daemon_takes_the_worker_with_it(daemon, tmp_path):
    app = _app(tmp_path, SLEEPS)
    started = tmp_path / "started"
    d = daemon("--app-path", str(app), "--models", "app.models", "--timeout", "120",
               "--watch", "off", env={"APP_STARTED": str(started)})
    d.wait_for(started.exists, 60, "the worker inside the app's import")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(30)
    assert procs.wait_no_tagged(d.tag, timeout=10) == [], "the worker outlived the daemon"


def test_a_timeout_blamed_on_a_skipped_check_keeps_its_finding():
    """Issue 11 item 5: the worker's last phase was a check that skipped itself (no database
    URL), then the run timed out: the timeout is a failing finding, not a vanished one."""
    args = build_parser().parse_args(["check", "--app-path", str(ROOT / "tests" / "fixtures"
                                                                  / "good_plain"),
                                      "--models", "app.models"])
    settings = resolve(args, {})
    skipped = protocol.check_result("database", duration_s=0.0)
    skipped.update(ran=False, reason="no database URL given")
    run = WorkerRun("timeout", -9, 30.0, events=[
        {"event": protocol.HELLO, "protocol": protocol.PROTOCOL_VERSION, "versions": {}},
        {"event": protocol.PHASE, "check": "database", "detail": "skipping"},
        {"event": protocol.CHECK, "result": skipped},
    ])
    report = build_report(settings, run, datetime.now(timezone.utc), 30.0)
    database = report.check("database")
    assert database is not None and database.status == "fail", database
    assert [f.code for f in database.findings] == ["SIDE001"]
    assert report.has_errors()


def test_python_without_prctl_still_runs():
    """The reaper is Linux-only; its module imports and does nothing harmful elsewhere."""
    code = ("import sys; sys.platform = 'darwin'; import sidecar.cycle.reaper as r; "
            "assert r._PRCTL is None and r.become_subreaper() is False; r.die_with_parent()")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)

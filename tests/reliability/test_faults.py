"""The fault matrix, fault by fault, against a real daemon and a real PostgreSQL.

Each test injects one fault, reads /readyz, /diagnose and /metrics as a probe would, removes
the fault where it can be removed, and checks that the daemon lived through it: /livez
answers, no zombie, no orphan, exit status 0 on SIGTERM with nothing left carrying its tag.
What it saw is recorded (``matrix.record``) for docs/reliability.md.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg2
import pytest

from tests.reliability import procs
from tests.reliability.conftest import (
    APP_PASSWORD,
    FAST,
    app_url,
    copy_fixture,
    new_database,
)
from tests.reliability.matrix import record
from tests.support.helpers import ROOT

pytestmark = pytest.mark.reliability
APPS = Path(__file__).resolve().parent / "apps"


def msum(m: dict[str, float], name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    total = 0.0
    for key, value in m.items():
        base, _, rest = key.partition("{")
        if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()):
            total += value
    return total


def _db_daemon(daemon, app, pg, dbname, *extra: str, password: str = APP_PASSWORD):
    return daemon("--app-path", str(app), "--models", "app.models",
                  "--database-url", app_url(pg, dbname, password), *FAST, *extra)


def _superuser(pg, dbname):
    """pg_class is per database: the lock must be taken in the app's database."""
    conn = psycopg2.connect(host=str(pg.base), port=pg.port, user="postgres", dbname=dbname)
    conn.autocommit = False
    return conn


def _cycle_s(d) -> float:
    return float(d.report()["duration_s"])


# --- the database: down, back, locked, slow, frozen, refused, dropped --------------------


def test_database_down_at_start_then_coming_back(daemon, running_pg, app_db, items_app):
    pg = running_pg
    pg.stop()
    d = _db_daemon(daemon, items_app, pg, app_db)
    d.wait_code("DB201")
    m = d.metrics()
    d.assert_healthy_process()
    down = {"readiness": d.readyz(), "code": "DB201", "hint": d.finding("DB201")["hint"],
            "metric": f'sidecar_ready {m["sidecar_ready"]:g}; sidecar_findings{{code="DB201"}} '
                      f'{msum(m, "sidecar_findings", code="DB201"):g}'}
    pg.start()
    took = d.wait_ready()
    m2 = d.metrics()
    gained = (msum(m2, "sidecar_state_transitions_total", to="ready")
              - msum(m, "sidecar_state_transitions_total", to="ready"))
    back = {"readiness": d.readyz(), "code": "—" if not d.findings() else d.findings()[0]["code"],
            "hint": None, "recovery_s": took,
            "metric": f'sidecar_ready {m["sidecar_ready"]:g}→{m2["sidecar_ready"]:g}; '
                      f'sidecar_state_transitions{{to="ready"}} +{gained:g}'}
    d.assert_healthy_process()
    d.stop_and_check()
    record("db-down-at-start", **down)
    record("db-comes-back", **back)


def test_database_going_down_while_ready(daemon, running_pg, app_db, items_app):
    pg = running_pg
    d = _db_daemon(daemon, items_app, pg, app_db)
    d.wait_ready()
    m = d.metrics()
    pg.stop()
    detect = d.wait_ready(False)
    d.wait_code("DB201")
    m2 = d.metrics()
    lost = (msum(m2, "sidecar_state_transitions_total", to="not_ready")
            - msum(m, "sidecar_state_transitions_total", to="not_ready"))
    obs = {"readiness": d.readyz(), "code": "DB201", "hint": d.finding("DB201")["hint"],
           "metric": f'sidecar_ready {m["sidecar_ready"]:g}→{m2["sidecar_ready"]:g}; '
                     f'sidecar_state_transitions{{to="not_ready"}} +{lost:g}'}
    d.assert_healthy_process()
    pg.start()
    back = d.wait_ready()
    d.assert_healthy_process()
    d.stop_and_check()
    record("db-goes-down", recovery_s=max(detect, back), detect_s=round(detect, 2), **obs)


@pytest.mark.parametrize("fault,table,extra,reason", [
    # backend start-up itself reads pg_class: the lock_timeout fires while connecting
    ("catalog-lock", "pg_class", (), "lock_timeout"),
    # the dialect's first query reads pg_namespace; with a long lock_timeout the statement
    # simply runs too long, and statement_timeout fires
    ("slow-statement", "pg_namespace",
     ("--lock-timeout-ms", "10000", "--statement-timeout-ms", "500"), "statement_timeout"),
])
def test_lock_on_a_catalog_table_and_a_slow_statement(daemon, running_pg, app_db, items_app,
                                                      fault, table, extra, reason):
    pg = running_pg
    d = _db_daemon(daemon, items_app, pg, app_db, *extra)
    d.wait_ready()
    holder = _superuser(pg, app_db)
    try:
        holder.cursor().execute(f"LOCK TABLE pg_catalog.{table} IN ACCESS EXCLUSIVE MODE")
        finding, cycle, obs = _timed_out_cycle(d, "DB211")
        assert finding["facts"]["reason"] == reason
    finally:
        holder.rollback()
        holder.close()
    back = d.wait_ready()
    d.assert_healthy_process()
    d.stop_and_check()
    record(fault, recovery_s=back, cycle_s=round(cycle, 2), **obs)


def _timed_out_cycle(d, code: str) -> tuple[dict, float, dict]:
    """Wait for a timeout finding. The database's own timeout ended the cycle, not the
    worker's --timeout (no run killed), whatever the machine's load made it last.

    Returns (finding, cycle seconds, the matrix row's observations).
    """
    d.wait_code(code, timeout=60)
    finding = d.finding(code)
    cycle = _cycle_s(d)
    m = d.metrics()
    killed = msum(m, "sidecar_worker_runs_total", outcome="timeout")
    obs = {"readiness": d.readyz(), "code": code, "hint": finding["hint"],
           "metric": f'sidecar_findings{{code="{code}"}} '
                     f'{msum(m, "sidecar_findings", code=code):g}; '
                     f'sidecar_worker_runs_total{{outcome="timeout"}} {killed:g}'}
    d.assert_healthy_process()
    return finding, cycle, obs

def test_frozen_server_connect_timeout_fires(daemon, running_pg, app_db, items_app):
    pg = running_pg
    d = _db_daemon(daemon, items_app, pg, app_db)
    d.wait_ready()
    postmaster = int((pg.data / "postmaster.pid").read_text().split()[0])
    os.kill(postmaster, signal.SIGSTOP)
    try:
        _, cycle, obs = _timed_out_cycle(d, "DB203")
    finally:
        os.kill(postmaster, signal.SIGCONT)
    back = d.wait_ready()
    d.assert_healthy_process()
    d.stop_and_check()
    record("server-frozen", recovery_s=back, cycle_s=round(cycle, 2), **obs)


def test_wrong_password(daemon, running_pg, app_db, items_app):
    d = _db_daemon(daemon, items_app, running_pg, app_db, password="not-the-password")
    d.wait_code("DB204")
    m = d.metrics()
    obs = {"readiness": d.readyz(), "code": "DB204", "hint": d.finding("DB204")["hint"],
           "metric": f'sidecar_findings{{code="DB204"}} '
                     f'{msum(m, "sidecar_findings", code="DB204"):g}'}
    d.assert_healthy_process()
    d.stop_and_check()
    record("wrong-password", **obs)


def test_database_dropped_while_running(daemon, running_pg, items_app):
    pg = running_pg
    dbname = new_database(pg)
    d = _db_daemon(daemon, items_app, pg, dbname)
    d.wait_ready()
    m = d.metrics()
    pg.psql(f'DROP DATABASE "{dbname}" WITH (FORCE)')
    d.wait_code("DB205")
    m2 = d.metrics()
    obs = {"readiness": d.readyz(), "code": "DB205", "hint": d.finding("DB205")["hint"],
           "metric": f'sidecar_ready {m["sidecar_ready"]:g}→{m2["sidecar_ready"]:g}; '
                     f'sidecar_findings{{code="DB205"}} '
                     f'{msum(m2, "sidecar_findings", code="DB205"):g}'}
    d.assert_healthy_process()
    pg.create_database(dbname, owner="relapp")
    pg.psql("SET ROLE relapp; CREATE TABLE items (id serial PRIMARY KEY, name varchar(100))",
            dbname)
    back = d.wait_ready()
    d.assert_healthy_process()
    d.stop_and_check()
    record("db-dropped", recovery_s=back, **obs)


# --- the app's model import: hang, crash, exit, flood, leak -------------------------------


IMPORT = ("--models", "app.models", "--interval", "0.5", "--retry-min", "0.2", "--retry-max",
          "0.5", "--watch", "off")


def _per_cycle(m: dict[str, float], outcome: str) -> str:
    runs = msum(m, "sidecar_worker_runs_total", outcome=outcome)
    cycles = m["sidecar_cycles_total"]
    assert runs == cycles and cycles >= 1, (runs, cycles)
    return f'sidecar_worker_runs_total{{outcome="{outcome}"}} +1 per cycle'


@pytest.mark.parametrize("fault,fixture,code,outcome,timeout", [
    ("import-hangs", "hangs_with_child", "SIDE001", "timeout", "2"),
    ("import-segfault", "segfault", "SIDE002", "crashed", "10"),
    ("import-sys-exit", "sys_exit", "SIDE003", None, "10"),
    ("import-os-exit", "os_exit", "SIDE003", "exited", "10"),
])
def test_model_import_faults(daemon, tmp_path, fault, fixture, code, outcome, timeout):
    app = copy_fixture(fixture, tmp_path / fixture)
    d = daemon("--app-path", str(app), *IMPORT, "--timeout", timeout)
    d.wait_code(code, timeout=60)
    # two more cycles: the daemon keeps going, and keeps nothing of the dead workers
    cycles = d.metrics()["sidecar_cycles_total"]
    d.wait_for(lambda: d.metrics()["sidecar_cycles_total"] >= cycles + 2, 60, "more cycles")
    m = d.metrics()
    metric = (_per_cycle(m, outcome) if outcome else
              f'sidecar_findings{{code="{code}"}} {msum(m, "sidecar_findings", code=code):g}')
    obs = {"readiness": d.readyz(), "code": code, "hint": d.finding(code)["hint"],
           "metric": metric}
    d.assert_healthy_process()
    d.stop_and_check()
    record(fault, cycles=int(m["sidecar_cycles_total"]), **obs)


def test_output_flood_is_capped(daemon, tmp_path):
    app = copy_fixture("flood", tmp_path / "flood")
    d = daemon("--app-path", str(app), *IMPORT, "--timeout", "20")
    d.wait_code("SIDE004", timeout=60)
    rss0 = procs.rss_kib(d.pid)
    cycles = d.metrics()["sidecar_cycles_total"]
    d.wait_for(lambda: d.metrics()["sidecar_cycles_total"] >= cycles + 3, 60, "more cycles")
    grown_mib = (procs.rss_kib(d.pid) - rss0) / 1024
    assert grown_mib < 50, f"RSS grew {grown_mib:.0f} MiB"
    m = d.metrics()
    finding = d.finding("SIDE004")
    assert len(finding["output"]) < 8000
    n = msum(m, "sidecar_findings", code="SIDE004", severity="warning")
    obs = {"readiness": d.readyz(), "code": "SIDE004", "hint": finding["hint"],
           "metric": f'sidecar_findings{{code="SIDE004",severity="warning"}} {n:g}; daemon '
                     "RSS +< 50 MiB"}
    d.assert_healthy_process()
    d.stop_and_check()
    record("import-flood", rss_growth_mib=round(grown_mib, 1), **obs)


def test_memory_leak_hits_the_worker_cap(daemon):
    d = daemon("--app-path", str(APPS / "leaks_memory"), *IMPORT, "--timeout", "20",
               "--memory-limit", "256")
    rss0 = procs.rss_kib(d.pid)
    d.wait_code("SIDE009", timeout=60)
    finding = d.finding("SIDE009")
    assert (finding["file"], finding["line"]) == ("app/models.py", 22)
    assert procs.rss_kib(d.pid) - rss0 < 30 * 1024, "the daemon's own memory is unaffected"
    m = d.metrics()
    obs = {"readiness": d.readyz(), "code": "SIDE009", "hint": finding["hint"],
           "metric": f'sidecar_findings{{code="SIDE009"}} '
                     f'{msum(m, "sidecar_findings", code="SIDE009"):g}'}
    d.assert_healthy_process()
    d.stop_and_check()
    record("import-leaks-memory", **obs)


def test_model_file_edited_to_broken_and_back(daemon, items_app):
    models = items_app / "app" / "models.py"
    good = models.read_text()
    d = daemon("--app-path", str(items_app), "--models", "app.models", "--interval", "300",
               "--retry-min", "0.2", "--retry-max", "1", "--watch", "on")
    d.wait_ready()
    m = d.metrics()
    models.write_text(good + "    metadata = Column(String(50))\n")
    broke = d.wait_ready(False)
    d.wait_code("SQLA101")
    finding = d.finding("SQLA101")
    m2 = d.metrics()
    models.write_text(good)
    fixed = d.wait_ready()
    m3 = d.metrics()
    lost = (msum(m2, "sidecar_state_transitions_total", to="not_ready")
            - msum(m, "sidecar_state_transitions_total", to="not_ready"))
    obs = {"readiness": 503, "code": "SQLA101", "hint": finding["hint"],
           "metric": f'sidecar_ready {m["sidecar_ready"]:g}→{m2["sidecar_ready"]:g}→'
                     f'{m3["sidecar_ready"]:g}; sidecar_state_transitions{{to="not_ready"}} '
                     f"+{lost:g}"}
    d.assert_healthy_process()
    d.stop_and_check()
    record("model-edited", recovery_s=max(broke, fixed), broke_s=round(broke, 2),
           fixed_s=round(fixed, 2), **obs)


# --- the daemon's own life: SIGTERM mid-cycle, nowhere to write ---------------------------


def test_sigterm_during_a_cycle(daemon, tmp_path):
    app = copy_fixture("hangs_with_child", tmp_path / "hangs_with_child")
    d = daemon("--app-path", str(app), *IMPORT, "--timeout", "60")
    d.wait_for(lambda: any("987654" in p.cmd for p in procs.tagged(d.tag)), 60,
               "the app's child process")
    assert d.metrics()["sidecar_cycle_running"] == 1
    readiness = d.readyz()
    took = d.stop_and_check()  # its 30 s deadline < the worker's --timeout 60
    record("sigterm-mid-cycle", readiness=readiness, code="—", hint=None,
           metric="— (the process exits)", recovery_s=took)


def test_disk_full_writes_nothing_it_needs(running_pg, app_db, items_app):
    """stdout/stderr on /dev/full (ENOSPC), every regular-file write killing the process
    (RLIMIT_FSIZE 0: SIGXFSZ), and a read-only TMPDIR/HOME: still ready, serving, exit 0."""
    from tests.reliability.procs import TAG_VAR
    from tests.support.pgcluster import free_port

    port = free_port()
    tag = "diskfull-" + os.urandom(6).hex()
    readonly = Path(tempfile.mkdtemp(prefix="sidecar-ro-"))
    readonly.chmod(0o555)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    env.update(TMPDIR=str(readonly), HOME=str(readonly), PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=str(ROOT), **{TAG_VAR: tag})

    def no_file_writes() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    full = open("/dev/full", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "sidecar", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--app-path", str(items_app), "--models", "app.models",
         "--database-url", app_url(running_pg, app_db), *FAST],
        stdin=subprocess.DEVNULL, stdout=full, stderr=full, env=env, cwd=str(readonly),
        preexec_fn=no_file_writes)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(base + path, timeout=3) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
        except OSError:
            return 0, ""

    try:
        deadline = time.monotonic() + 60
        while get("/readyz")[0] != 200 and time.monotonic() < deadline:
            assert proc.poll() is None, f"the daemon died: status {proc.returncode}"
            time.sleep(0.1)
        status, _ = get("/readyz")
        metrics = get("/metrics")[1]
        assert "sidecar_ready 1.0" in metrics
        assert get("/diagnose")[0] == 200

        def cycles() -> float:
            line = next(x for x in get("/metrics")[1].splitlines()
                        if x.startswith("sidecar_cycles_total "))
            return float(line.split()[1])

        before = cycles()
        # more cycles, each logging to /dev/full: wait for one (a deadline against hangs,
        # not a speed claim: a loaded machine may take long for one cycle)
        deadline = time.monotonic() + 60
        while cycles() <= before and time.monotonic() < deadline:
            assert proc.poll() is None, f"the daemon died: status {proc.returncode}"
            time.sleep(0.2)
        assert cycles() > before
        assert get("/livez") == (200, "ok\n")
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert procs.wait_no_tagged(tag) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        full.close()
        shutil.rmtree(readonly, ignore_errors=True)
    record("disk-full", readiness=status, code="—", hint=None, metric="sidecar_ready 1")

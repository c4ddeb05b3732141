"""The resident worker: later cycles on the models already imported, and every fault of a
fresh worker still a finding when it happens in a resident one (issue 12).

The cycles run through the daemon's own path (``cycle(..., pool=)``, which the scheduler
calls) against a real SQLite file. The fixture's connect listener is app code that runs in
every cycle, the way engine event hooks registered at import do.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from sidecar.cycle.diagnosis import cycle
from sidecar.cycle.resident import ResidentPool
from sidecar.settings import Settings
from tests.support.helpers import FIXTURES, marked_line

FIXTURE = FIXTURES / "resident_faults"


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER NOT NULL PRIMARY KEY, "
                     "email VARCHAR(200) NOT NULL)")
    files = {"db": db, "fault": tmp_path / "fault.txt", "imports": tmp_path / "imports.log",
             "connects": tmp_path / "connects.log"}
    monkeypatch.setenv("RESIDENT_FAULT_FILE", str(files["fault"]))
    monkeypatch.setenv("RESIDENT_IMPORTS_FILE", str(files["imports"]))
    monkeypatch.setenv("RESIDENT_CONNECTS_FILE", str(files["connects"]))
    return files


def _settings(app: dict[str, Path], **changes: Any) -> Settings:
    return Settings(app_path=FIXTURE, models=("app.models",),
                    database_url=f"sqlite:///{app['db']}", **changes)


def _lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def _cycles(settings: Settings, pool: ResidentPool, count: int,
                  before: Any = None) -> list[tuple[Any, Any]]:
    out = []
    caches: dict[str, Any] = {}
    for i in range(count):
        if before is not None:
            before(i)
        report, run = await cycle(settings, extra_config={"cache": dict(caches)}, pool=pool)
        caches.update(run.caches)
        out.append((report, run))
    return out


def _statuses(report: Any) -> dict[str, str]:
    return {c.name: c.status for c in report.checks}


def test_later_cycles_reuse_the_imported_models(app: dict[str, Path]) -> None:
    settings = _settings(app, recycle_after=10)
    pool = ResidentPool(settings.recycle_after)
    try:
        runs = asyncio.run(_run_and_close(settings, pool, 4))
    finally:
        asyncio.run(pool.close())
    assert len(_lines(app["imports"])) == 1, "imported once for four cycles"
    pids = {run.hello["pid"] for _, run in runs}
    assert len(pids) == 1
    for report, _ in runs:
        assert report.status == "pass", _statuses(report)
        # the import's results are in every report, as a fresh worker's would be
        assert _statuses(report)["models_import"] == "pass"
        assert _statuses(report)["schema_drift"] == "pass"
    assert pool.spawns == 1 and pool.resident_cycles == 3
    assert len({tuple(sorted(report.versions.items())) for report, _ in runs}) == 1
    # no pinned connection between cycles: one connect per cycle
    assert len(_lines(app["connects"])) >= 4


async def _run_and_close(settings: Settings, pool: ResidentPool, count: int,
                         before: Any = None) -> list[tuple[Any, Any]]:
    try:
        return await _cycles(settings, pool, count, before)
    finally:
        await pool.close()


def test_versions_learnt_after_hello_stay_in_later_reports(app: dict[str, Path],
                                                           sqla20_python: str) -> None:
    """An app without Alembic gets sidecar's (the same Python): its version is only known
    after hello, from the first cycle's ``versions`` event; later cycles report it too."""
    settings = _settings(app, recycle_after=10, python=sqla20_python)
    runs = asyncio.run(_run_and_close(settings, ResidentPool(10), 3))
    assert runs[1][1].hello["pid"] == runs[0][1].hello["pid"]
    alembic = {report.versions.get("alembic") for report, _ in runs}
    assert len(alembic) == 1 and None not in alembic, alembic


def test_recycle_after_one_is_a_fresh_worker_every_cycle(app: dict[str, Path]) -> None:
    settings = _settings(app, recycle_after=1)
    runs = asyncio.run(_run_and_close(settings, ResidentPool(1), 3))
    assert len(_lines(app["imports"])) == 3
    assert len({run.hello["pid"] for _, run in runs}) == 3


def test_recycle_after_n_cycles_and_on_a_source_change(app: dict[str, Path]) -> None:
    settings = _settings(app, recycle_after=3)
    pool = ResidentPool(3)

    def before(i: int) -> None:
        if i == 4:
            pool.invalidate("the model sources changed")

    runs = asyncio.run(_run_and_close(settings, pool, 6, before))
    pids = [run.hello["pid"] for _, run in runs]
    # 0 fresh, 1-2 resident, 3 recycled, 4 fresh (source change), 5 resident
    assert pids[0] == pids[1] == pids[2] != pids[3]
    assert pids[4] not in (pids[0], pids[3]) and pids[4] == pids[5]
    assert len(_lines(app["imports"])) == 3


def test_keep_connection_connects_once(app: dict[str, Path]) -> None:
    settings = _settings(app, recycle_after=10, keep_connection=True)
    runs = asyncio.run(_run_and_close(settings, ResidentPool(10), 4))
    assert all(report.status == "pass" for report, _ in runs)
    assert len(set(_lines(app["connects"]))) == 1  # one worker
    # the first cycle's database, migrations and drift checks may each connect once
    # through the one pool; later cycles reuse the kept connection
    first = len(_lines(app["connects"]))
    assert first <= 2, _lines(app["connects"])


def test_a_failed_check_replaces_the_resident_worker(app: dict[str, Path]) -> None:
    settings = _settings(app, recycle_after=10)
    pool = ResidentPool(10)

    def before(i: int) -> None:
        if i == 2:
            app["db"].rename(app["db"].with_suffix(".gone"))  # the database is gone
        if i == 3:
            app["db"].with_suffix(".gone").rename(app["db"])

    runs = asyncio.run(_run_and_close(settings, pool, 5, before))
    pids = [run.hello["pid"] for _, run in runs]
    assert runs[2][0].status == "fail"
    assert pids[0] == pids[1] == pids[2]
    assert pids[3] != pids[2], "after a failed check the next cycle imports afresh"
    assert runs[4][0].status == "pass" and pids[4] == pids[3]


FAULTS = {
    # fault -> (code, run outcome, report status); a flood is a warning, as at import
    "hang": ("SIDE001", "timeout", "fail"),
    "segv": ("SIDE002", "crashed", "fail"),
    "exit": ("SIDE003", "exited", "fail"),
    "sys_exit": ("SIDE003", "exited", "fail"),
    "flood": ("SIDE004", "ok", "warn"),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_in_a_resident_cycle_is_a_finding_and_the_next_is_fresh(
        app: dict[str, Path], fault: str) -> None:
    code, outcome, status = FAULTS[fault]
    settings = _settings(app, recycle_after=10, timeout_s=4.0)
    pool = ResidentPool(10)

    def before(i: int) -> None:
        app["fault"].write_text(fault if i == 1 else "")

    runs = asyncio.run(_run_and_close(settings, pool, 3, before))
    (ok, first), (broken, run), (healed, fresh) = runs
    assert ok.status == "pass"
    assert run.hello["pid"] == first.hello["pid"], "the fault hit the resident worker"
    assert run.outcome == outcome
    found = [f for f in broken.findings if f.code == code]
    assert found, [(f.code, f.message) for f in broken.findings]
    assert broken.status == status
    if fault == "hang":  # killed at the deadline, with the line that hung
        assert (found[0].file, found[0].line) == marked_line(FIXTURE)
    if status == "fail":
        assert fresh.hello["pid"] != run.hello["pid"]
    assert healed.status == "pass", _statuses(healed)


def test_memory_growth_in_a_resident_cycle_is_a_finding(app: dict[str, Path]) -> None:
    settings = _settings(app, recycle_after=10, memory_limit_mb=512)
    pool = ResidentPool(10)

    def before(i: int) -> None:
        app["fault"].write_text("memory" if i == 1 else "")

    runs = asyncio.run(_run_and_close(settings, pool, 3, before))
    broken = runs[1][0]
    assert broken.status == "fail"
    codes = {f.code for f in broken.findings}
    assert "SIDE009" in codes, codes
    assert runs[2][0].status == "pass"
    assert runs[2][1].hello["pid"] != runs[1][1].hello["pid"]


# --- through the daemon: `sidecar serve`, real HTTP on loopback ----------------------------


def _metric(daemon: Any, name: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    status, body = daemon.get("/metrics")
    assert status == 200
    return next(s.value for family in text_string_to_metric_families(body)
                for s in family.samples if s.name == name)


def test_a_model_change_is_picked_up_by_a_fresh_worker_within_an_interval(
        app: dict[str, Path], tmp_path: Path) -> None:
    from tests.support.daemon import Daemon, alive, copy_app, descendants

    source = copy_app(FIXTURE, tmp_path / "src")
    with Daemon("--app-path", str(source), "--models", "app.models",
                "--database-url", f"sqlite:///{app['db']}", "--interval", "1",
                "--watch", "on") as daemon:
        daemon.wait_for(lambda: daemon.get("/readyz")[0] == 200, 60, "ready")
        daemon.wait_for(lambda: _metric(daemon, "sidecar_worker_resident_cycles_total") >= 2,
                        60, "resident cycles")
        assert _metric(daemon, "sidecar_worker_spawns_total") == 1
        assert len(_lines(app["imports"])) == 1
        resident = list(descendants(daemon.proc.pid))
        assert len(resident) == 1, "the resident worker waits between cycles"
        models = source / "app" / "models.py"
        models.write_text(models.read_text().replace(
            '    email = Column(String(200), nullable=False)',
            '    email = Column(String(200), nullable=False)\n    metadata = Column(String(50))'))
        daemon.wait_for(lambda: daemon.get("/readyz")[0] == 503, 60, "the change seen")
        assert _metric(daemon, "sidecar_worker_spawns_total") >= 2
        assert any("model sources changed" in line for line in daemon.log)
        _, body = daemon.get("/readyz?verbose")
        assert "SQLA101" in body, body
        daemon.stop(timeout=60)
    time.sleep(0.2)
    assert alive(resident) == [], "the old resident worker is gone"


def test_stopping_the_daemon_kills_the_resident_worker(app: dict[str, Path]) -> None:
    from tests.support.daemon import Daemon, alive, descendants

    daemon = Daemon("--app-path", str(FIXTURE), "--models", "app.models",
                    "--database-url", f"sqlite:///{app['db']}", "--interval", "300")
    try:
        daemon.wait_for(lambda: daemon.get("/readyz")[0] == 200, 60, "ready")
        tree = list(descendants(daemon.proc.pid))
        assert len(tree) == 1
    finally:
        daemon.stop(timeout=60)
    assert daemon.proc.returncode == 0
    time.sleep(0.2)
    assert alive(tree) == []

"""`sidecar serve` against real HTTP on loopback: probes, diagnose, metrics, refresh, stop."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import Daemon, alive, copy_app, descendants
from tests.support.helpers import EXAMPLES, FIXTURES, ROOT

BROKEN = ["--app-path", str(EXAMPLES / "broken_reserved"), "--models", "server.models_sql",
          "--interval", "300", "--retry-min", "60", "--retry-max", "60"]


@pytest.fixture(scope="module")
def broken() -> Daemon:
    with Daemon(*BROKEN, "--refresh-min-interval", "30") as daemon:
        daemon.wait_first_cycle()
        yield daemon


def _metrics(daemon: Daemon) -> dict[str, list]:
    status, body = daemon.get("/metrics")
    assert status == 200
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def _value(samples, **labels) -> float:
    return next(s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items()))


# --- probes ----------------------------------------------------------------------------------


def test_livez_and_healthz_answer_ok(broken: Daemon) -> None:
    for path in ("/livez", "/healthz"):
        status, headers, body = broken.request(path)
        assert (status, body) == (200, "ok\n")
        assert headers["Cache-Control"] == "no-store"


def test_readyz_fails_and_verbose_names_the_check(broken: Daemon) -> None:
    status, headers, body = broken.request("/readyz")
    assert status == 503
    assert headers["Cache-Control"] == "no-store"
    assert "[-]models_import failed" in body
    status, body = broken.get("/readyz?verbose")
    assert status == 503
    assert ("[-]models_import failed: SQLA101 Reserved attribute name on a declarative class "
            "at server/models_sql.py:98 (SecurityEvent.metadata)") in body
    assert "[+]mappers ok" in body
    assert body.strip().endswith("readyz check failed")
    assert len(body) < 2048, "probe bodies stay short"


def test_readyz_single_check_and_unknown_check(broken: Daemon) -> None:
    assert broken.get("/readyz/models_import")[0] == 503
    assert broken.get("/readyz/mappers")[0] == 200
    status, body = broken.get("/readyz/nosuch")
    assert status == 404 and "models_import" in body


def test_readyz_exclude(broken: Daemon) -> None:
    status, body = broken.get("/readyz?exclude=models_import&verbose")
    assert status == 200, body
    assert "[+]models_import excluded: ok" in body
    status, body = broken.get("/readyz?exclude=models_import&exclude=nosuch")
    assert status == 200
    assert "no matches for 'nosuch'" in body


# --- /diagnose -------------------------------------------------------------------------------


def test_diagnose_text_has_line_hint_and_age(broken: Daemon) -> None:
    status, headers, body = broken.request("/diagnose")
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain")
    assert "server/models_sql.py:98" in body
    assert 'event_metadata = db.Column("metadata", db.JSON, nullable=True)' in body
    assert "s ago" in body and "result taken at" in body
    assert body.index("first problem") < body.index("[FAIL] models_import")
    assert "history (newest first)" in body


def test_diagnose_json_has_the_check_shape_plus_age(broken: Daemon) -> None:
    for kwargs in ({"headers": {"Accept": "application/json"}}, {}):
        path = "/diagnose" if kwargs else "/diagnose?format=json"
        status, _headers, body = broken.request(path, **kwargs)
        assert status == 200
        report = json.loads(body)
        assert report["status"] == "fail"
        assert {"checks", "started_at", "duration_s", "versions", "taken_at", "age_s",
                "history"} <= set(report)
        finding = report["checks"][0]["findings"][0]
        assert (finding["code"], finding["line"], finding["class"]) == (
            "SQLA101", 98, "SecurityEvent")
        assert report["history"][0]["worker"] == "ok"


def test_diagnose_health_json(broken: Daemon) -> None:
    status, headers, body = broken.request(
        "/diagnose", headers={"Accept": "application/health+json"})
    assert status == 503
    assert headers["Content-Type"].startswith("application/health+json")
    doc = json.loads(body)
    assert doc["status"] == "fail"
    assert doc["checks"]["models_import:status"][0]["status"] == "fail"
    assert "SQLA101" in doc["checks"]["models_import:status"][0]["output"]


def test_diagnose_html_and_bad_format(broken: Daemon) -> None:
    status, headers, body = broken.request("/diagnose", headers={"Accept": "text/html"})
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "NOT READY" in body and 'http-equiv="refresh"' in body
    assert "server/models_sql.py:98" in body
    status, body = broken.get("/diagnose?format=yaml")
    assert status == 400 and "text, json, html, health" in body


# --- /metrics --------------------------------------------------------------------------------


def test_metrics_describe_the_cached_report(broken: Daemon) -> None:
    m = _metrics(broken)
    assert m["sidecar_ready"][0].value == 0
    assert _value(m["sidecar_check_status"], check="models_import", status="fail") == 1
    assert _value(m["sidecar_findings"], check="models_import", code="SQLA101",
                  severity="error") == 1
    assert _value(m["sidecar_worker_runs_total"], outcome="ok") >= 1
    assert _value(m["sidecar_state_transitions_total"], to="not_ready") == 0
    assert m["sidecar_last_run_timestamp_seconds"][0].value > time.time() - 600
    info = m["sidecar_build_info"][0].labels
    assert info["sqlalchemy_version"] and info["version"]
    assert "sidecar_check_duration_seconds" in m


def test_metrics_pass_promtool(broken: Daemon) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if _in_ci():
            pytest.fail("promtool missing in CI (scripts/test.sh installs Debian's prometheus)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    _, body = broken.get("/metrics")
    proc = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _in_ci() -> bool:
    import os

    return os.environ.get("CI") == "true"


# --- refresh, probe storm ----------------------------------------------------------------------


def test_probe_storm_runs_no_worker(broken: Daemon) -> None:
    """10,000 probes: answered from the cached report, no cycle, no worker."""
    before = _metrics(broken)
    cycles = before["sidecar_cycles_total"][0].value
    script = (
        "import asyncio, aiohttp, sys\n"
        "async def main():\n"
        "    async with aiohttp.ClientSession() as s:\n"
        "        async def worker(n):\n"
        "            for _ in range(n):\n"
        "                async with s.get(sys.argv[1]) as r:\n"
        "                    await r.read(); assert r.status == 503\n"
        "        await asyncio.gather(*(worker(250) for _ in range(40)))\n"
        "asyncio.run(main())\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, broken.base + "/readyz"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    after = _metrics(broken)
    assert after["sidecar_cycles_total"][0].value == cycles
    assert sum(s.value for s in after["sidecar_worker_runs_total"]) == sum(
        s.value for s in before["sidecar_worker_runs_total"])


def test_refresh_is_rate_limited(broken: Daemon) -> None:
    cycles = _metrics(broken)["sidecar_cycles_total"][0].value
    status, _, _ = broken.request("/refresh", method="POST")
    assert status == 202
    status, headers, _body = broken.request("/refresh", method="POST")
    assert status == 429 and int(headers["Retry-After"]) >= 1
    broken.wait_for(lambda: _metrics(broken)["sidecar_cycles_total"][0].value == cycles + 1,
                    what="the refreshed cycle")
    assert broken.get("/refresh")[0] == 405  # GET must not trigger work


# --- behaviour over time ---------------------------------------------------------------------


def test_fixing_the_model_on_disk_turns_ready_without_restart(tmp_path: Path) -> None:
    app = copy_app(EXAMPLES / "broken_reserved", tmp_path / "app")
    with Daemon("--app-path", str(app), "--models", "server.models_sql", "--retry-min", "30",
                "--retry-max", "30") as daemon:
        daemon.wait_first_cycle()
        assert daemon.get("/readyz")[0] == 503
        models = app / "server" / "models_sql.py"
        fixed = '    event_metadata = db.Column("metadata", db.JSON'
        models.write_text(models.read_text().replace("    metadata = db.Column(db.JSON", fixed))
        # retries are 30 s apart: the log line proves the file watch started the cycle
        daemon.wait_for(lambda: daemon.get("/readyz")[0] == 200, 60, "ready")
        assert any("model sources changed" in line for line in daemon.log)
        assert any("-> ready" in line for line in daemon.log)
        m = _metrics(daemon)
        assert _value(m["sidecar_state_transitions_total"], to="ready") == 1


def test_first_cycle_pending_is_503_but_alive() -> None:
    args = ["--app-path", str(FIXTURES / "hangs"), "--models", "app.models", "--timeout", "30"]
    with Daemon(*args) as daemon:
        assert daemon.get("/livez") == (200, "ok\n")
        status, body = daemon.get("/readyz")
        assert status == 503 and "first cycle pending" in body
        assert daemon.get("/diagnose")[0] == 503
        assert daemon.get("/diagnose?format=json")[0] == 503


def _pgrep(pattern: str) -> list[str]:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True,
                          text=True).stdout.split()


def test_sigterm_during_a_cycle_kills_the_worker_and_exits_without_waiting() -> None:
    # the worker may run 600 s: stopping before the 60 s deadline means nobody waited for it
    args = ["--app-path", str(FIXTURES / "hangs_with_child"), "--models", "app.models",
            "--timeout", "600"]
    daemon = Daemon(*args)

    def ours() -> list[int]:
        return [pid for pid, cmd in descendants(daemon.proc.pid).items()
                if cmd.startswith("sleep 987654")]

    daemon.wait_for(lambda: bool(ours()), 10, "the worker's child")
    tree = list(descendants(daemon.proc.pid))  # worker, its child, and nothing else of ours
    daemon.stop(timeout=60)
    assert daemon.proc.returncode == 0
    time.sleep(0.2)
    assert alive(tree) == [], "the worker's process group was killed"
    assert any("stopping" in line for line in daemon.log)


def test_json_logs_one_line_per_state_change() -> None:
    with Daemon(*BROKEN, "--log-format", "json") as daemon:
        daemon.wait_first_cycle()
        daemon.wait_for(lambda: any('"not_ready"' in line for line in daemon.log), 5, "log")
    records = [json.loads(line) for line in daemon.log if line.startswith("{")]
    assert records and all("ts" in r and "level" in r for r in records)
    change = next(r for r in records if r.get("event") == "not_ready")
    assert change["code"] == "SQLA101"
    assert "server/models_sql.py:98" in change["reason"]


# --- bad start ---------------------------------------------------------------------------------


def test_port_in_use_is_one_line_exit_2() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "sidecar", "serve", *BROKEN, "--host", "127.0.0.1", "--port",
             str(port)], capture_output=True, text=True, timeout=20, cwd=ROOT)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"sidecar: error: --port: 127.0.0.1:{port} is already in use")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(("args", "word"), [
    (["--port", "99999"], "--port"), (["--interval", "0"], "--interval"),
    (["--ready-check", "nosuch"], "--ready-check"), (["--watch", "maybe"], "--watch"),
    (["--app-path", "/nonexistent"], "--app-path"),
])
def test_bad_serve_options_exit_2(args: list[str], word: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "sidecar", "serve", *BROKEN, *args],
                          capture_output=True, text=True, timeout=20, cwd=ROOT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and word in lines[0], proc.stderr


# --- sidecar probe ---------------------------------------------------------------------------


def _probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sidecar", "probe", *args],
                          capture_output=True, text=True, timeout=20, cwd=ROOT)


def test_probe_against_live_daemons(broken: Daemon, tmp_path: Path) -> None:
    proc = _probe(broken.base + "/readyz?verbose")
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("NOT READY")
    assert lines[1].startswith("[-]models_import failed: SQLA101")
    assert "event_metadata" in proc.stdout, "the fix is in the health log"
    assert len(proc.stdout.encode()) <= 4096 + 1

    good = ["--app-path", str(FIXTURES / "good_plain"), "--models", "app.models"]
    with Daemon(*good) as daemon:
        daemon.wait_first_cycle()
        ok = _probe(daemon.base + "/readyz?verbose")
        assert ok.returncode == 0, ok.stdout
        assert ok.stdout.startswith("ready")


def test_probe_when_nothing_listens() -> None:
    from tests.support.pgcluster import free_port

    proc = _probe(f"http://127.0.0.1:{free_port()}/readyz", "--timeout", "2")
    assert proc.returncode == 1
    assert proc.stdout.startswith("NOT READY: cannot reach")
    assert len(proc.stdout.strip().splitlines()) == 1


# --- access ----------------------------------------------------------------------------------

TOKEN = "tok-5e3a9c1f-only-for-tests"


def test_token_protects_diagnose_and_refresh_and_withholds_reasons(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with Daemon(*BROKEN, "--token-file", str(token_file), "--metrics-auth", "on") as daemon:
        daemon.wait_first_cycle()
        auth = {"Authorization": f"Bearer {TOKEN}"}
        status, headers, _ = daemon.request("/diagnose")
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert daemon.get("/diagnose", headers={"Authorization": "Bearer wrong"})[0] == 401
        assert daemon.get("/diagnose", headers=auth)[0] == 200
        assert daemon.request("/refresh", method="POST")[0] == 401
        assert daemon.get("/metrics")[0] == 401
        assert daemon.get("/metrics", headers=auth)[0] == 200
        status, body = daemon.get("/readyz?verbose")
        assert status == 503 and "[-]models_import failed: reason withheld" in body
        assert "SQLA101" not in body
        assert "SQLA101" in daemon.get("/readyz?verbose", headers=auth)[1]
        assert "reason withheld" in daemon.get("/readyz/models_import")[1]
        assert daemon.get("/livez") == (200, "ok\n")
        # the probe beside the daemon reads the token and keeps the diagnosis in the health log
        probe = subprocess.run([sys.executable, "-m", "sidecar", "probe",
                                daemon.base + "/readyz?verbose"], capture_output=True,
                               text=True, timeout=20, cwd=ROOT,
                               env={"PATH": "/usr/bin:/bin", "SIDECAR_TOKEN": TOKEN})
        assert "SQLA101" in probe.stdout and "event_metadata" in probe.stdout
    assert TOKEN not in "\n".join(daemon.log)


def test_metrics_stay_open_by_default_with_a_token() -> None:
    with Daemon(*BROKEN, env={"SIDECAR_TOKEN": TOKEN}) as daemon:
        daemon.wait_first_cycle()
        assert daemon.get("/metrics")[0] == 200
        assert daemon.get("/diagnose")[0] == 401


def test_short_token_is_refused() -> None:
    proc = subprocess.run([sys.executable, "-m", "sidecar", "serve", *BROKEN],
                          capture_output=True, text=True, timeout=20, cwd=ROOT,
                          env={"PATH": "/usr/bin:/bin", "SIDECAR_TOKEN": "short"})
    assert proc.returncode == 2 and "SIDECAR_TOKEN" in proc.stderr


def test_log_says_when_the_reason_changes(tmp_path: Path) -> None:
    """Not ready for one reason, then for another: the log line on-call reads follows."""
    app = copy_app(EXAMPLES / "broken_reserved", tmp_path / "app")
    with Daemon("--app-path", str(app), "--models", "server.models_sql",
                "--retry-min", "0.3", "--retry-max", "0.5") as daemon:
        daemon.wait_for(lambda: any("SQLA101" in line for line in daemon.log), 15, "log")
        models = app / "server" / "models_sql.py"
        # the reserved name is fixed, but the module now fails for another reason
        text = models.read_text().replace(
            "    metadata = db.Column(db.JSON", "    event_metadata = db.Column(db.JSON")
        models.write_text(text + "\n\nraise RuntimeError('cache unavailable')\n")
        daemon.wait_for(lambda: any("still not ready" in line and "SQLA199" in line
                                    for line in daemon.log), 15, "the new reason")


def test_reused_drift_result_points_at_the_current_line(tmp_path: Path) -> None:
    """A cached comparison (same schema, same models) is reused — but located afresh, so an
    edit that only moves lines does not leave the report pointing at the old ones."""
    import json as _json
    import os

    app = copy_app(EXAMPLES / "good", tmp_path / "app")
    url = f"sqlite:///{tmp_path / 'app.db'}"
    env = dict(os.environ, DATABASE_URL=url, PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([sys.executable, "-m", "alembic", "-c", str(app / "alembic.ini"),
                    "upgrade", "0001"], check=True, env=env, cwd=app, capture_output=True)
    with Daemon("--app-path", str(app), "--models", "server.models_sql", "--models",
                "server.models_plain", "--database-url", url, "--retry-min", "30",
                "--retry-max", "30") as daemon:
        daemon.wait_first_cycle()

        def rename() -> tuple[dict, dict]:
            report = _json.loads(daemon.get("/diagnose?format=json")[1])
            drift = next(c for c in report["checks"] if c["name"] == "schema_drift")
            return next(f for f in drift["findings"] if f["code"] == "DRIFT414"), drift

        first, drift = rename()
        assert drift["observed"]["reused"] is False
        models = app / "server" / "models_sql.py"
        models.write_text("# moved\n# down\n" + models.read_text())
        daemon.wait_for(lambda: rename()[1]["observed"]["reused"] is True, 15, "reuse")
        again, _ = rename()
        assert again["line"] == first["line"] + 2

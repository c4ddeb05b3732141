"""`sidecar demo`: the incident end to end on an embedded SQLite database."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.helpers import ROOT, run_cli


def test_demo_once_shows_the_incident() -> None:
    result = run_cli("demo", "--once", timeout=120)
    assert result.returncode == 1, result.stderr
    out = result.stdout
    assert "SQLA101" in out and "server/models_sql.py:98" in out
    assert "MIG301" not in out  # at head: the rename migration was never written


def test_demo_help_lists_only_what_the_demo_honours_with_its_real_defaults() -> None:
    result = run_cli("demo", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())  # argparse wraps lines
    # the demo brings its own app, models, SQLite database and Alembic config
    for flag in ("--app-path", "--models", "--database-url", "--alembic-ini",
                 "--statement-timeout-ms", "--lock-timeout-ms", "--format"):
        assert flag not in text, flag
    for flag, default in (("--host ADDR", "127.0.0.1"), ("--interval SECONDS", "10.0"),
                          ("--retry-max SECONDS", "5.0")):
        entry = text[text.index(flag + " "):]
        assert f"(default: {default})" in entry[:entry.index("[env:")], flag


def test_demo_defaults_are_the_ones_it_uses_and_options_override_them() -> None:
    from sidecar.cli.main import build_parser
    from sidecar.settings import resolve

    defaults = resolve(build_parser().parse_args(["demo"]), environ={})
    assert (defaults.host, defaults.interval_s, defaults.retry_max_s) == ("127.0.0.1", 10.0, 5.0)
    given = resolve(build_parser().parse_args(["demo", "--interval", "60"]),
                    environ={"SIDECAR_HOST": "0.0.0.0", "DATABASE_URL": "sqlite:///x.db"})
    assert (given.host, given.interval_s, given.database_url) == ("0.0.0.0", 60.0, None)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _start_demo(*args: str) -> tuple[subprocess.Popen, list[str], str, Path]:
    """`sidecar demo --port 0 ARGS`: the process, its stderr lines (still growing), the
    base URL and the app folder its banner names."""
    proc = subprocess.Popen([sys.executable, "-m", "sidecar", "demo", "--port", "0", *args],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    deadline = time.monotonic() + 30
    port = app = None
    while time.monotonic() < deadline and not (port and app):
        text = "".join(lines)
        m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", text)
        port = m and m.group(1)
        m = re.search(r"served from (\S+)", text)
        app = m and Path(m.group(1))
        time.sleep(0.1)
    if not (port and app):
        proc.kill()
        raise AssertionError("".join(lines))
    return proc, lines, f"http://127.0.0.1:{port}", app


def test_demo_walkthrough_fix_the_model_then_see_the_rename() -> None:
    proc, lines, base, app = _start_demo()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and _get(base + "/readyz")[1].startswith("[-]first"):
            time.sleep(0.1)
        assert "SQLA101" in _get(base + "/readyz?verbose")[1]
        # the banner's own instruction: rename the attribute (and so the column)
        models = app / "server" / "models_sql.py"
        models.write_text(models.read_text().replace(
            "    metadata = db.Column(db.JSON", "    event_metadata = db.Column(db.JSON"))

        def drift_codes() -> list[str]:
            _status, body = _get(base + "/diagnose?format=json")
            report = json.loads(body)
            return [f["code"] for c in report["checks"] for f in c["findings"]]

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "DRIFT414" not in drift_codes():
            time.sleep(0.2)
        codes = drift_codes()
        assert "DRIFT414" in codes and "SQLA101" not in codes and "MIG301" not in codes
        # the banner's last two steps, as printed: write the migration, apply it
        banner = "".join(lines)
        steps = [line.strip() for line in banner.splitlines()
                 if " -m sidecar revision " in line or " -m alembic upgrade head" in line]
        assert len(steps) == 2, banner
        for step in steps:
            done = subprocess.run(step, shell=True, capture_output=True, text=True,
                                  timeout=120)
            assert done.returncode == 0, done.stdout + done.stderr
        written = list((app / "migrations" / "versions").glob("*rename_security_events*"))
        assert len(written) == 1 and "new_column_name='event_metadata'" in \
            written[0].read_text()
        deadline = time.monotonic() + 30  # the daemon's next cycle: ready, no restart
        while time.monotonic() < deadline and _get(base + "/readyz")[0] != 200:
            time.sleep(0.2)
        assert _get(base + "/readyz")[0] == 200, _get(base + "/readyz?verbose")[1]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0
    assert not app.exists(), "the demo removes its temporary folder"



def test_demo_with_the_getter_shows_the_race_once_the_models_import() -> None:
    """`sidecar demo --app-getter asgi:get_flask_app`: the demo's asgi.py is the incident's
    unguarded getter; after the model fix its race (SQLA182) is reported at its def."""
    proc, lines, base, app = _start_demo("--app-getter", "asgi:get_flask_app")
    try:
        assert "SQLA182" in "".join(lines)  # the banner says what --app-getter adds
        models = app / "server" / "models_sql.py"
        models.write_text(models.read_text().replace(
            "    metadata = db.Column(db.JSON", "    event_metadata = db.Column(db.JSON"))

        def race() -> list[dict]:
            _status, body = _get(base + "/diagnose?format=json")
            report = json.loads(body)
            return [f for c in report.get("checks") or [] for f in c["findings"]
                    if f["code"] == "SQLA182"]  # no "checks" before the first cycle

        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and not race():
            time.sleep(0.3)
        found = race()
        assert found and found[0]["file"] == "asgi.py", found
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0

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
    assert "MIG301" in out and "0002" in out


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_demo_walkthrough_fix_the_model_then_see_the_rename() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sidecar", "demo", "--port", "0"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            cwd=ROOT)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        port = app = None
        while time.monotonic() < deadline and not (port and app):
            text = "".join(lines)
            m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", text)
            port = m and m.group(1)
            m = re.search(r"served from (\S+)", text)
            app = m and Path(m.group(1))
            time.sleep(0.1)
        assert port and app, "".join(lines)
        base = f"http://127.0.0.1:{port}"
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
        assert "DRIFT414" in codes and "MIG301" in codes and "SQLA101" not in codes
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(10)
    assert proc.returncode == 0
    assert not app.exists(), "the demo removes its temporary folder"


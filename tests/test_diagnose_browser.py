"""/diagnose's HTML page in a real headless browser (Debian's chromium)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.daemon import Daemon
from tests.support.helpers import EXAMPLES

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def _chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium missing in CI (scripts/test.sh installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    return exe


def _run(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=60)


def test_diagnose_page_renders_the_finding_in_a_browser(tmp_path: Path) -> None:
    exe = _chromium()
    args = ["--app-path", str(EXAMPLES / "broken_reserved"), "--models", "server.models_sql"]
    with Daemon(*args) as daemon:
        daemon.wait_first_cycle()
        url = daemon.base + "/diagnose?format=html"
        dom = _run(exe, tmp_path / "profile", "--dump-dom", url)
        assert dom.returncode == 0, dom.stderr[-2000:]
        html = dom.stdout
        assert '<h1 id="status">NOT READY</h1>' in html
        assert 'data-code="SQLA101"' in html
        assert "server/models_sql.py:98" in html
        assert 'event_metadata = db.Column("metadata", db.JSON, nullable=True)' in html
        assert 'id="check-models_import"' in html and "History" in html
        shot = tmp_path / "diagnose.png"
        proc = _run(exe, tmp_path / "profile2", f"--screenshot={shot}",
                    "--window-size=1200,900", url)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert shot.exists() and shot.stat().st_size > 10_000
        if os.environ.get("SIDECAR_KEEP_SCREENSHOT"):
            shutil.copy(shot, os.environ["SIDECAR_KEEP_SCREENSHOT"])

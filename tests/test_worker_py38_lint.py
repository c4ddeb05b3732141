"""The worker's "Python 3.8 syntax" rule is enforced by tools, not by review.

ruff lints sidecar/worker/ with target py38 (pyproject's per-file-target-version): 3.9+
syntax and PEP 585/604 annotations without ``from __future__ import annotations`` fail.
ruff does not see a PEP 585 generic used at runtime (``dict[str, int]()``) nor a 3.9+ stdlib
call: the second mypy run of scripts/test.sh (``--python-version 3.8 sidecar/worker``) does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.helpers import ROOT

WORKER_FILE = "sidecar/worker/_py38_probe.py"  # never written: ruff reads it from stdin
DAEMON_FILE = "sidecar/_py38_probe.py"

OK_ON_38 = '''
from typing import Dict, List


def count(items: List[str]) -> Dict[str, int]:
    if (n := len(items)) > 2:  # the walrus is 3.8
        return {"n": n}
    return {}
'''
NOT_ON_38 = {
    "match": '''
def name(x: int) -> str:
    match x:
        case 1:
            return "one"
    return "other"
''',
    "parenthesized with": '''
def read() -> None:
    with (open("a") as fa, open("b") as fb):
        print(fa, fb)
''',
    "PEP 585 annotation": '''
def total(a: list[int]) -> int:
    return sum(a)
''',
    "PEP 604 annotation": '''
def first(a: int | None) -> int:
    return a or 0
''',
}


def _ruff(source: str, filename: str) -> subprocess.CompletedProcess[str]:
    """ruff on ``source`` as if it were ``filename`` in the repo (its per-file settings)."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--stdin-filename", filename,
         "-"], input=source, capture_output=True, text=True, cwd=ROOT, timeout=120)


def test_ruff_accepts_3_8_code_in_the_worker() -> None:
    result = _ruff(OK_ON_38, WORKER_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_rejects_3_9_plus_code_in_the_worker_only() -> None:
    for what, source in NOT_ON_38.items():
        in_worker = _ruff(source, WORKER_FILE)
        assert in_worker.returncode == 1, f"{what}: {in_worker.stdout}{in_worker.stderr}"
        assert "3.8" in in_worker.stdout or "FA102" in in_worker.stdout, in_worker.stdout
        # the daemon is 3.11: the same code is fine there, so it is the worker's target
        in_daemon = _ruff(source, DAEMON_FILE)
        assert in_daemon.returncode == 0, f"{what}: {in_daemon.stdout}"


def test_mypy_as_3_8_rejects_runtime_generics_and_newer_stdlib(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text('COUNTS = dict[str, int]()\nSTEM = "v1.py".removesuffix(".py")\n')
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--python-version", "3.8", "--no-incremental",
         "--cache-dir", str(tmp_path / "cache"), str(probe)],
        capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert '"dict" is not subscriptable' in result.stdout, result.stdout
    assert 'has no attribute "removesuffix"' in result.stdout, result.stdout

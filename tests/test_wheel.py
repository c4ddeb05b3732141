"""What a user installs is complete: the built wheel, installed with its dependencies into a
fresh venv, runs ``sidecar demo --once`` from any folder (the example ships inside).

Heavy (a wheel build, a venv, its dependencies from the package index): the venv is cached
under .test-venvs, keyed by a hash of everything the wheel is built from.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import VENVS
from tests.support.helpers import ROOT

pytestmark = pytest.mark.slow

INPUTS = ("pyproject.toml", "README.md", "sidecar")


def _input_files() -> list[Path]:
    files = []
    for name in INPUTS:
        path = ROOT / name
        found = [path] if path.is_file() else sorted(path.rglob("*"))
        files += [p for p in found if p.is_file() and "__pycache__" not in p.parts
                  and p.suffix != ".pyc"]
    return files


def _inputs_hash() -> str:
    digest = hashlib.sha256()
    for path in _input_files():
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd,
                          timeout=900)
    assert proc.returncode == 0, f"{args}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding only the built wheel (with the demo extra) and its dependencies."""
    target = VENVS / f"wheel-{_inputs_hash()}"
    done = target / ".installed"  # written last: a half-built venv is built again
    if done.exists():
        return target
    for old in VENVS.glob("wheel-*"):  # one cached build is enough
        shutil.rmtree(old, ignore_errors=True)
    # build from a copy of the inputs: setuptools leaves build/ and *.egg-info where it runs
    src = tmp_path_factory.mktemp("wheel-src")
    for path in _input_files():
        dest = src / path.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    dist = tmp_path_factory.mktemp("wheel-dist")
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
         "--no-deps", "-w", dist, src)
    (wheel,) = dist.glob("sqla_sidecar-*.whl")
    _run(sys.executable, "-m", "venv", target)
    # with its dependencies, from the package index as pip is configured: what a user gets
    _run(target / "bin" / "python", "-m", "pip", "install", "-q",
         "--disable-pip-version-check", f"{wheel}[demo]")
    done.write_text(wheel.name + "\n")
    return target


def _user_env() -> dict[str, str]:
    """A user's shell: none of the suite's settings, nothing pointing at the checkout."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SIDECAR_", "COVERAGE_")) and k not in ("PYTHONPATH",
                                                                      "DATABASE_URL")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def test_the_installed_wheel_runs_the_demo_from_any_folder(wheel_venv: Path,
                                                            tmp_path: Path) -> None:
    python = wheel_venv / "bin" / "python"
    where = subprocess.run([python, "-c", "import sidecar; print(sidecar.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=_user_env(),
                           check=True, timeout=60).stdout.strip()
    assert Path(where).is_relative_to(wheel_venv), f"not the wheel's sidecar: {where}"
    proc = subprocess.run([wheel_venv / "bin" / "sidecar", "demo", "--once"],
                          capture_output=True, text=True, cwd=tmp_path, env=_user_env(),
                          timeout=180)
    # exit 1: the demo's example is broken on purpose
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "SQLA101" in proc.stdout and "server/models_sql.py:98" in proc.stdout, proc.stdout
    # at head: the demo's rename migration was never written (sidecar revision writes it)
    assert "MIG301" not in proc.stdout and "migrations" in proc.stdout, proc.stdout
    assert list(tmp_path.iterdir()) == [], "the demo leaves nothing in the working folder"

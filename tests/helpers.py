"""Shared helpers for tests: run the real CLI, find the line a fixture marks as the bug."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.findings.model import STRICT_ENV

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "examples" / "backend"
MARK = "# <- SIDECAR"


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def check(self, name: str) -> dict[str, Any]:
        return next(c for c in self.report["checks"] if c["name"] == name)

    def findings(self, code: str | None = None) -> list[dict[str, Any]]:
        out = [f for c in self.report["checks"] for f in c["findings"]]
        return [f for f in out if code is None or f["code"] == code]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60,
            cwd: Path | None = None) -> CliResult:
    """The real command line, in a subprocess, as a user or CI would run it."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("SIDECAR_") or k == STRICT_ENV}
    full_env.pop("DATABASE_URL", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "sidecar", *args], capture_output=True, text=True,
        timeout=timeout, env=full_env, cwd=cwd or ROOT,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def check_fixture(name: str, *extra: str, python: str | None = None,
                  timeout_s: float = 20, env: dict[str, str] | None = None) -> CliResult:
    args = ["check", "--app-path", str(FIXTURES / name), "--models", "app.models",
            "--format", "json", "--timeout", str(timeout_s), *extra]
    if python:
        args += ["--python", python]
    return run_cli(*args, timeout=timeout_s + 30, env=env)


def marked_line(fixture_dir: Path) -> tuple[str, int]:
    """(file relative to the app path, line) of the statement the fixture marks as the bug."""
    for path in sorted(fixture_dir.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if MARK in line:
                return str(path.relative_to(fixture_dir)), number
    raise AssertionError(f"no '{MARK}' marker in {fixture_dir}")

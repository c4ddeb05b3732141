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

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
EXAMPLES = ROOT / "sidecar" / "examples" / "backend"
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


def assert_required_facts(findings: list[dict[str, Any]]) -> None:
    """Every finding carries each fact its catalog entry declares as required (``facts=``):
    a hint never shows "?" for something the worker (or the runner) forgot to send."""
    from sidecar.findings.registry import CATALOG

    for f in findings:
        entry = CATALOG.lookup(f["code"])
        sent = f.get("facts") or {}
        missing = [name for name in entry.facts if name not in sent]
        assert not missing, f"{f['code']} came without {missing}: {f}"


def declared_raw(entry: Any, optional: bool = True, **facts: Any) -> dict[str, Any]:
    """A raw finding for a catalog ``Entry``: every field, and exactly the facts the entry
    declares (dummy values, or the entry's samples), updated with ``facts``."""
    raw: dict[str, Any] = {name: f"<{name}>" for name in ("file", "class", "attribute",
                                                          "table", "column", "fix_sql")}
    raw.update(code=entry.code, message="m", line=7)
    names = entry.facts + (entry.optional if optional else ())
    raw["facts"] = {name: entry.samples.get(name, f"<{name}>") for name in names}
    raw["facts"].update(facts)
    return raw

"""Every module imports on its own, in a fresh interpreter: no import cycle hides behind the
order in which the rest of the suite happens to import things."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _modules() -> list[str]:
    names = []
    for path in sorted((ROOT / "sidecar").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__main__" or parts[:2] == ("sidecar", "examples"):
            continue  # runs the CLI; the demo's example app is data, imported as an app
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _import_alone(name: str) -> tuple[str, int, str]:
    proc = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    last_line = (proc.stderr.strip().splitlines() or [""])[-1]
    return name, proc.returncode, last_line


def test_every_module_imports_on_its_own() -> None:
    modules = _modules()
    assert len(modules) > 30
    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [(n, err) for n, rc, err in pool.map(_import_alone, modules) if rc]
    assert failures == []

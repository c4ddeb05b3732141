"""Every module of the test suite is imported under one name only.

A second ``sys.path`` entry (``tests/`` or ``tests/db``) made ``tests/pgcluster.py`` importable
as both ``tests.pgcluster`` and ``pgcluster``: two module objects, two copies of its state —
the bug SQLA114 reports in users' code. The shared helpers live in ``tests/support`` and are
imported as ``tests.support.X``; these tests keep it that way.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from tests.support.helpers import ROOT

TESTS = ROOT / "tests"
# the apps under test, not the suite: double_import imports a file twice on purpose
APPS = (TESTS / "fixtures", TESTS / "reliability" / "apps", TESTS / "heldout" / "cases")

PATH_EDITS = ("sys.path.insert", "sys.path.append", "sys.path.extend")
# Collect the whole suite (every test module and conftest is imported), then list the
# modules that come from tests/.
COLLECT = r"""
import json, sys
import pytest
pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", sys.argv[1]])
names = {n: getattr(m, "__file__", None) for n, m in list(sys.modules.items())}
print("\n" + json.dumps({n: f for n, f in names.items() if f}))
"""


def _suite_modules(names: dict[str, str]) -> dict[str, list[str]]:
    """file -> the module names it is loaded under, for the suite's own files."""
    by_file: dict[str, list[str]] = defaultdict(list)
    for name, file in names.items():
        path = Path(file).resolve()
        if path.is_relative_to(TESTS) and not any(path.is_relative_to(a) for a in APPS):
            by_file[str(path.relative_to(ROOT))].append(name)
    return by_file


def _twice(by_file: dict[str, list[str]]) -> dict[str, list[str]]:
    return {f: sorted(n) for f, n in by_file.items() if len(n) > 1}


def test_no_test_module_is_loaded_under_two_names_after_collecting_the_suite() -> None:
    proc = subprocess.run([sys.executable, "-c", COLLECT, str(TESTS)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    names = json.loads(proc.stdout.strip().splitlines()[-1])
    by_file = _suite_modules(names)
    assert "tests/support/pgcluster.py" in by_file, proc.stdout[-2000:] + proc.stderr
    assert _twice(by_file) == {}


def test_no_test_module_is_loaded_under_two_names_in_this_run() -> None:
    names = {n: m.__file__ for n, m in list(sys.modules.items())
             if getattr(m, "__file__", None)}
    assert _twice(_suite_modules(names)) == {}


def _path_edits_and_bare_imports(tree: ast.AST, bare: set[str]) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        edits_path = (
            (isinstance(node, ast.Call) and ast.unparse(node.func) in PATH_EDITS)
            or (isinstance(node, ast.Assign)
                and any(ast.unparse(t).startswith("sys.path") for t in node.targets)))
        if edits_path:
            found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, f"import {a.name}") for a in node.names
                      if a.name.split(".")[0] in bare]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module.split(".")[0] in bare):
            found.append((node.lineno, f"from {node.module} import ..."))
    return found


def test_helpers_are_imported_as_tests_support() -> None:
    """No test module puts a folder on sys.path, and none imports a helper by its bare name
    (``import pgcluster``, ``from db_helpers import ...``). Child scripts (strings run in
    another interpreter) are not imports of the suite and are not looked at."""
    bare = {p.stem for p in TESTS.rglob("*.py") if p.stem != "__init__"
            and not any(p.is_relative_to(a) for a in APPS)} - {"conftest"}
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if any(path.is_relative_to(a) for a in APPS):
            continue
        tree = ast.parse(path.read_text(), str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line}: {what}"
                      for line, what in _path_edits_and_bare_imports(tree, bare)]
    assert offenders == []

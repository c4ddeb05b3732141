"""The check registry is the one place that names checks: its entries are sound, and no code
outside it (and the check modules themselves) branches on a check's name."""

from __future__ import annotations

import ast
import importlib

import pytest

from sidecar.findings.registry import CATALOG
from sidecar.worker import registry
from sidecar.worker.registry import CHECKS
from tests.support.helpers import ROOT


def test_names_are_unique_and_needs_run_earlier() -> None:
    names = registry.names()
    assert len(names) == len(set(names))
    for index, check in enumerate(CHECKS):
        assert check.description and "\n" not in check.description, check.name
        for need in check.needs:
            assert need in names[:index], f"{check.name} needs {need}, which runs later"


@pytest.mark.parametrize("check", CHECKS, ids=registry.names())
def test_each_check_runs_a_function_of_the_worker(check: registry.Check) -> None:
    module, _, function = check.run.partition(":")
    assert callable(getattr(importlib.import_module(f"sidecar.worker.{module}"), function))


def test_selected_adds_what_a_check_needs_in_run_order() -> None:
    assert registry.selected() == list(CHECKS)
    for check in CHECKS:
        chosen = [c.name for c in registry.selected([check.name])]
        assert chosen[-1] == check.name
        assert chosen == [n for n in registry.names() if n in chosen]  # run order
        for name in chosen:  # every need of every chosen check is chosen too
            assert set(registry.get(name).needs) <= set(chosen)
    with pytest.raises(KeyError):
        registry.selected(["nosuch"])


def test_catalog_entries_name_registered_checks() -> None:
    assert {entry.check for entry in CATALOG.values()} <= set(registry.names())


def _names_in_code(path, names: set[str]) -> list[str]:
    """Check names as string constants in a module: not its docstrings; in the catalog, not
    the check an ``Entry(...)`` belongs to (documentation, checked above) nor a fact that
    happens to share a name (``facts.get("database")``)."""
    tree = ast.parse(path.read_text())
    catalog = path.parent.name == "codes" and path.parent.parent.name == "findings"
    allowed: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            allowed.add(id(body[0].value))  # a docstring
        if not (catalog and isinstance(node, ast.Call) and node.args):
            continue
        if getattr(node.func, "id", None) == "Entry" and len(node.args) >= 4:
            allowed.add(id(node.args[3]))  # Entry(code, title, severity, check, ...)
            for kw in node.keywords:  # fact names (facts=("database",)), not checks
                if kw.arg in ("facts", "optional", "samples"):
                    allowed.update(id(n) for n in ast.walk(kw.value))
        if getattr(node.func, "attr", None) == "get":
            allowed.add(id(node.args[0]))
    return [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in names
            and id(node) not in allowed]


def test_no_code_outside_the_registry_names_a_check() -> None:
    """A check's behaviour is data on its Check or a hook its module owns, not an ``if``."""
    names = set(registry.names())
    checks_dir = ROOT / "sidecar" / "worker" / "checks"
    found = []
    for path in sorted((ROOT / "sidecar").rglob("*.py")):
        if path.name == "registry.py" and path.parent.name == "worker":
            continue
        if checks_dir not in path.parents:
            found += _names_in_code(path, names)
    assert found == []

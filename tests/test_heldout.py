"""The held-out corpus (tests/heldout/): broken model packages written the way other projects
write models, scored with scripts/score_heldout.py on SQLAlchemy 2.0 and 2.1.

Issue 10's acceptance: the exact statement and class on at least 95% of them, and the first
lines of each finding naming the place and the edit. tests/heldout/threshold.json holds the
rates the tree must not fall below (the baseline measured when the corpus was written, raised
as the diagnosis improves); every case must really break under plain SQLAlchemy (--verify).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.score_heldout import (
    CASES,
    Expect,
    control_row,
    engineer_ok,
    load_cases,
    score,
    statement_span,
)
from tests.support.helpers import ROOT

HELDOUT = ROOT / "tests" / "heldout"
THRESHOLD = json.loads((HELDOUT / "threshold.json").read_text())
STYLES = {"flask", "declarativebase", "legacy", "core", "sqlmodel-free"}


def _score(python: str | None) -> dict[str, Any]:
    args = [sys.executable, str(ROOT / "scripts" / "score_heldout.py"), "--json", "--verify",
            "--jobs", "2"]
    if python:
        args += ["--python", python]
    # a deadline against a hung run, not a speed claim
    proc = subprocess.run(args, capture_output=True, text=True, timeout=1200, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.slow  # ~70 `sidecar check` runs per SQLAlchemy version
@pytest.mark.parametrize("version", ["sqla21", "sqla20"])
def test_heldout_corpus_rates(version: str, request: pytest.FixtureRequest) -> None:
    python = request.getfixturevalue("sqla20_python") if version == "sqla20" else None
    result = _score(python)
    assert result["sqlalchemy"].startswith({"sqla21": "2.1.", "sqla20": "2.0."}[version])
    totals, rows = result["totals"], result["rows"]
    assert totals["errors"] == 0, [r for r in rows if r["error"]]
    assert totals["unbroken"] == [], "cases that do not break under plain SQLAlchemy"
    assert totals["broken_controls"] == [], "controls that break under plain SQLAlchemy"
    assert totals["cases"] >= 40
    missed = sorted(f"{r['case']}: expected {r['expected']}, got {r['got']}"
                    for r in rows if not r["exact"])
    wanted = THRESHOLD[version]
    # a package that works on this SQLAlchemy held NOT READY; the known ones are listed
    assert set(totals["false_alarms"]) <= set(wanted["known_false_alarms"])
    assert totals["exact"] >= wanted["exact"], "\n".join(missed)
    assert totals["engineer"] >= wanted["engineer"], "\n".join(
        f"{r['case']}: {r['first_lines']}" for r in rows if not r["engineer"])


def test_every_case_is_well_formed() -> None:
    """case.json names a statement that exists, in a style and family of the corpus, and the
    corpus covers several variants per family across the model styles."""
    cases = load_cases()
    assert len(cases) >= 40
    families: dict[str, set[str]] = {}
    for case in cases:
        assert case.style in STYLES, case.name
        assert case.models and all(m.startswith("app.") for m in case.models), case.name
        assert bool(case.expect) == (case.family != "healthy"), case.name
        for e in case.expect:
            path = case.path / e.file
            assert path.is_file(), f"{case.name}: {e.file}"
            assert 1 <= e.line <= len(path.read_text().splitlines()), f"{case.name}: {e.line}"
        assert len(list(case.path.rglob("*.py"))) >= 3, f"{case.name}: too small to be an app"
        families.setdefault(case.family, set()).add(case.style)
    thin = {f for f, s in families.items() if len(s) < 2}
    assert thin == set(), "families written in one model style only"
    assert {c.style for c in cases} >= {"flask", "declarativebase", "legacy", "core"}


def test_no_case_carries_a_marker() -> None:
    """Code written by others has no test markers for sidecar to read."""
    marked = [str(p.relative_to(CASES)) for p in CASES.rglob("*.py")
              if "SIDECAR" in p.read_text() or "#@E" in p.read_text()]
    assert marked == []


# -- the scorer itself, on data made here: it must be able to say no


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.py"
    path.write_text(text)
    return path


def test_statement_span_covers_one_statement(tmp_path: Path) -> None:
    path = _write(tmp_path, (
        "class User(Base):\n"                          # 1
        "    __tablename__ = 'users'\n"                # 2
        "    orders = relationship(\n"                 # 3
        "        'Order',\n"                           # 4
        "    )\n"                                      # 5
        "    x = 1\n"))                                # 6
    assert statement_span(path, 1) == (1, 1)  # a class: its header, not its body
    assert statement_span(path, 3) == (3, 5)
    assert statement_span(path, 4) == (3, 5)
    assert statement_span(path, 6) == (6, 6)


def test_statement_span_of_a_core_column_is_the_column(tmp_path: Path) -> None:
    path = _write(tmp_path, (
        "accounts = Table(\n"                                      # 1
        "    'accounts',\n"                                        # 2
        "    metadata,\n"                                          # 3
        "    Column('id', Integer, primary_key=True),\n"           # 4
        "    Column('owner_id', Integer,\n"                        # 5
        "           ForeignKey('users.id')),\n"                    # 6
        ")\n"))                                                    # 7
    assert statement_span(path, 1) == (1, 7)  # the table as a whole
    assert statement_span(path, 5) == (5, 6)  # that column only


def _finding(**kw: Any) -> dict[str, Any]:
    base = {"code": "SQLA104", "severity": "error", "title": "Relationship to a class that does "
            "not exist", "message": "expression 'Ordr' failed to locate a name",
            "file": "app/models/user.py", "line": 3, "class": "User", "attribute": "orders",
            "hint": "Rename `Ordr` to `Order` in app/models/user.py:3."}
    return {**base, **kw}


def _report(*findings: dict[str, Any], status: str = "fail") -> dict[str, Any]:
    return {"status": status, "checks": [{"name": "mappers", "findings": list(findings)}]}


def test_score_needs_the_statement_and_the_class(tmp_path: Path) -> None:
    app = tmp_path / "missing_class_case"
    (app / "app" / "models").mkdir(parents=True)
    (app / "app" / "models" / "user.py").write_text(
        "class User(Base):\n    id = Column(Integer)\n    orders = relationship(\n"
        "        'Ordr')\n")
    (app / "case.json").write_text(json.dumps({
        "models": ["app.models"], "style": "legacy", "family": "missing_class",
        "expect": [{"file": "app/models/user.py", "line": 3, "class": "User",
                    "attribute": "orders"}]}))
    case = load_cases(tmp_path)[0]
    codes = {"SQLA104", "SQLA199"}
    assert score(case, _report(_finding()), codes).exact
    assert score(case, _report(_finding(line=4)), codes).exact  # same statement
    assert not score(case, _report(_finding(line=1)), codes).exact  # the class line
    assert not score(case, _report(_finding(**{"class": "Order"})), codes).exact
    assert not score(case, _report(_finding(severity="info")), codes).exact
    generic = score(case, _report(_finding(code="SQLA199", line=None, file=None)), codes)
    assert generic.generic and not generic.exact
    assert not score(case, _report(_finding(), status="warn"), codes).not_ready


def test_an_error_on_a_healthy_package_is_a_false_alarm(tmp_path: Path) -> None:
    app = tmp_path / "healthy_case"
    (app / "app").mkdir(parents=True)
    (app / "case.json").write_text(json.dumps({
        "models": ["app.models"], "style": "flask", "family": "healthy", "expect": []}))
    case = load_cases(tmp_path)[0]
    assert control_row(case, _report(_finding())).false_alarm
    assert not control_row(case, _report(_finding(severity="warning"), status="warn")).false_alarm
    assert not control_row(case, _report(status="pass")).false_alarm


def test_engineer_needs_the_place_and_an_edit_in_the_first_lines() -> None:
    e = Expect(file="app/models/user.py", line=3, cls="User", span=(3, 5))
    assert engineer_ok(["  ERROR SQLA104 Relationship to a class that does not exist",
                        "      at app/models/user.py:3 (User.orders)",
                        "      fix: rename 'Ordr' to `Order`"], e)
    # the place but no edit (the fix comes after a long message)
    assert not engineer_ok(["  ERROR SQLA104 Relationship to a class that does not exist",
                            "      at app/models/user.py:3 (User.orders)",
                            "      InvalidRequestError: When initializing mapper, add it"], e)
    # a command that shows the traceback again is not an edit
    assert not engineer_ok(["  ERROR SQLA199 Unexpected exception while loading the models",
                            "      at app/models/user.py:3",
                            "      fix: Read the exception. `python -c 'import app.models'`"], e)
    # an edit but another place
    assert not engineer_ok(["  ERROR SQLA104 x", "      at app/models/user.py:33 (User)",
                            "      fix: rename `Ordr` to `Order`"], e)

"""The classifier against real SQLAlchemy errors and warnings, under every supported version.

tests/sqla_cases.py provokes each problem in a few lines (declarative classes built in place,
no fixture app) and classifies it in-process with the worker's code; this runs it once per
version, in that version's interpreter (the suite's own has 2.1). What the rules read lives
in worker/compat.py; a SQLAlchemy release that moves it fails here, in milliseconds, rather
than turning a precise finding into a generic SQLA199.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.helpers import ROOT

# the codes classify.py derives from SQLAlchemy's own exceptions and warnings
SQLALCHEMY_CODES = {f"SQLA1{n:02d}" for n in (*range(1, 11), 16, *range(40, 47),
                                               *range(50, 54), *range(60, 67), *range(70, 74))}


# venv fixture (tests/conftest.py; sqla21 is the suite's own) -> the SQLAlchemy it has
VERSIONS = {"sqla21": "2.1.", "sqla14": "1.4.", "sqla20": "2.0.", "py38": "1.4.",
            "sqla13": "1.3.", "sqla13_py38": "1.3."}


@pytest.fixture(params=[
    "sqla21",
    pytest.param("sqla14", marks=pytest.mark.slow),  # slow: may build the venv
    pytest.param("sqla20", marks=pytest.mark.slow),
    pytest.param("py38", marks=pytest.mark.slow),  # and the worker's code on Python 3.8
    # 1.3: declarative in sqlalchemy.ext.declarative (compat.MOVED_IN_14), no registry
    pytest.param("sqla13", marks=pytest.mark.slow),
    pytest.param("sqla13_py38", marks=pytest.mark.slow),
])
def version_python(request: pytest.FixtureRequest) -> tuple[str, str]:
    python = sys.executable if request.param == "sqla21" else request.getfixturevalue(
        f"{request.param}_python")
    return VERSIONS[request.param], python


def test_every_rule_reads_what_this_sqlalchemy_gives(version_python) -> None:
    version, python = version_python
    proc = subprocess.run(
        [python, str(ROOT / "tests" / "sqla_cases.py"), str(ROOT / "sidecar" / "worker")],
        capture_output=True, text=True, timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["sqlalchemy"].startswith(version)
    cases = result["cases"]
    failed = {name: case["error"] for name, case in cases.items() if case["error"]}
    assert not failed, "\n".join(f"--- {name}\n{error}" for name, error in failed.items())
    # a code only checked by cases of a newer SQLAlchemy is generic (SQLA199) on this one
    too_new = {code for name, code in result.get("too_new", {}).items()} - {None}
    covered = {case["code"] for case in cases.values()} - {None}
    assert covered | too_new == SQLALCHEMY_CODES
    assert not too_new or result["sqlalchemy"].startswith("1.3"), too_new

"""docs/reliability.md's matrix cannot drift from the tests: every fault of the matrix has its
row, rendered exactly as the generator renders a passing result."""

from __future__ import annotations

import re

from tests.reliability import matrix
from tests.support.helpers import ROOT

DOC = (ROOT / "docs" / "reliability.md").read_text()


def _block(name: str) -> str:
    m = re.search(rf"<!-- {name}:start[^>]*-->\n(.*?)\n<!-- {name}:end -->", DOC, re.S)
    assert m, f"docs/reliability.md has no {name} block"
    return m.group(1)


def test_every_fault_has_its_row_as_generated():
    table = _block("matrix")
    assert table == matrix.table(), "stale matrix: run scripts/gen_reliability_doc.py"
    for fault in matrix.FAULTS:
        assert f'<a id="{fault.id}"></a>' in table


def test_every_fault_has_a_test():
    sources = "\n".join(p.read_text() for p in (ROOT / "tests" / "reliability").glob("test_*.py"))
    for fault in matrix.FAULTS:
        assert f'"{fault.id}"' in sources, f"no test records {fault.id}"


def test_soak_numbers_are_published():
    assert "open fds" in _block("soak")


def test_access_section_says_who_can_reach_what():
    section = DOC[DOC.index("## Who can reach what"):]
    for needle in ("0.0.0.0:8787", "/livez", "/readyz", "/metrics", "/diagnose", "/refresh",
                   "SIDECAR_TOKEN", "--token-file", "--metrics-auth", "reason withheld"):
        assert needle in section, needle

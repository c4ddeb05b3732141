"""Codes, docs and the worker stay in sync: every code the worker can emit is documented."""

from __future__ import annotations

import re

import pytest

from sidecar.findings.catalog import CATALOG, GENERIC, to_finding
from tests.support.helpers import ROOT

DOCS = (ROOT / "docs" / "findings.md").read_text()


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_code_has_a_docs_section(code: str) -> None:
    assert f'<a id="{code.lower()}"></a>' in DOCS, f"docs/findings.md lacks a section for {code}"
    assert re.search(rf"^## {code} ", DOCS, re.M), f"docs/findings.md lacks a '## {code}' heading"


def test_docs_document_no_unknown_code() -> None:
    documented = set(re.findall(r"^## ([A-Z]+\d{3}) ", DOCS, re.M))
    assert documented <= set(CATALOG), documented - set(CATALOG)


def test_every_code_the_worker_emits_is_in_the_catalog() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "sidecar").rglob("*.py"))
    emitted = set(re.findall(r"[\"']((?:SQLA|SIDE|DB|MIG|DRIFT)\d{3})[\"']", sources))
    assert emitted - set(CATALOG) == set()


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_hint_renders_with_sparse_facts(code: str) -> None:
    """A finding with only a code and a message still gets a hint, never a crash."""
    finding = to_finding({"code": code, "message": "m"})
    assert finding.hint
    assert finding.docs == f"docs/findings.md#{code.lower()}"


def test_unknown_code_falls_back_to_the_generic_entry() -> None:
    finding = to_finding({"code": "NOPE999", "message": "something odd"})
    assert finding.code == GENERIC
    assert finding.message == "something odd"


def test_severity_override() -> None:
    assert to_finding({"code": "SQLA101", "message": "m"}, {"SQLA101": "info"}).severity == "info"


def test_timeout_hint_depends_on_where_the_time_went() -> None:
    importing = to_finding({"code": "SIDE001", "message": "m", "facts": {
        "phase": "models_import: importing app.models", "timeout_s": 30, "stuck_at": ""}})
    comparing = to_finding({"code": "SIDE001", "message": "m", "facts": {
        "phase": "schema_drift: comparing", "timeout_s": 30, "stuck_at": ""}})
    assert "Import-time code" in importing.hint
    assert "--include-table" in comparing.hint and "Import-time" not in comparing.hint

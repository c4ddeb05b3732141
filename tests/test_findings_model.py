"""The JSON form of findings, check results and reports: derived from the dataclasses, the
shape `--format json` and /diagnose have always had, and no key of a raw finding lost; and
the one line that names a finding everywhere (``Finding.summary``)."""

from __future__ import annotations

import html

import pytest

from sidecar.findings.model import (
    CheckResult,
    Finding,
    Related,
    Report,
    replace,
    strict_by_default,
)
from sidecar.findings.registry import CATALOG
from sidecar.render import text, web

FINDING = Finding("SQLA101", "error", "Reserved attribute name", "m", exception="E",
                  file="app/models.py", line=12, class_name="User", attribute="metadata",
                  hint="rename it", docs="docs/findings.md#sqla101", facts={"kind": "Column"})
FINDING_JSON = {
    "code": "SQLA101", "severity": "error", "title": "Reserved attribute name", "message": "m",
    "exception": "E", "file": "app/models.py", "line": 12, "class": "User",
    "attribute": "metadata", "table": None, "column": None, "hint": "rename it",
    "fix_sql": None, "docs": "docs/findings.md#sqla101", "output": None, "related": [],
    "facts": {"kind": "Column"},
}


def test_finding_json_keys_values_and_order() -> None:
    data = FINDING.to_dict()
    assert data == FINDING_JSON
    assert list(data) == list(FINDING_JSON)


def test_report_json_keys_values_and_order() -> None:
    check = CheckResult("models_import", "fail", 0.123456, (FINDING,), {"modules": 3})
    skipped = CheckResult("database", "skip", 0.0, reason="no database URL")
    report = Report(status="fail", started_at="2026-01-01T00:00:00+00:00", duration_s=1.234567,
                    versions={"sidecar": "0.1.0"}, checks=(check, skipped))
    data = report.to_dict()
    assert list(data) == ["status", "started_at", "duration_s", "versions", "checks"]
    assert data["duration_s"] == 1.2346
    assert data["checks"][0] == {"name": "models_import", "status": "fail", "duration_s": 0.1235,
                                 "reason": None, "findings": [FINDING_JSON],
                                 "observed": {"modules": 3}}
    assert list(data["checks"][1]) == ["name", "status", "duration_s", "reason", "findings",
                                       "observed"]
    assert data["checks"][1]["reason"] == "no database URL"


def test_finding_round_trips_through_json() -> None:
    again = Finding.from_dict(FINDING.to_dict())
    assert again == FINDING and again.facts == FINDING.facts


RELATED = [{"file": "app/models.py", "line": 30, "role": "the other side, Post.author"},
           {"file": "app/mixins.py", "line": None, "role": ""}]


def test_related_locations_round_trip_and_render() -> None:
    finding = Finding.from_dict({**FINDING_JSON, "related": RELATED})
    assert finding.related == (Related("app/models.py", 30, "the other side, Post.author"),
                               Related("app/mixins.py"))
    assert finding.to_dict()["related"] == RELATED
    assert Finding.from_dict(finding.to_dict()) == finding
    rendered = text.render_finding(finding)
    lines = rendered.splitlines()
    # place, fix, then the other places: the first three lines say what to edit and where
    also = next(i for i, line in enumerate(lines) if "also: app/models.py:30" in line)
    fix = next(i for i, line in enumerate(lines) if line.strip().startswith("fix:"))
    assert fix == 2 and also > fix, lines
    assert "(the other side, Post.author)" in lines[also]
    assert "also: app/mixins.py" in rendered
    page = web._finding_html(finding)
    assert 'also: <span class="where">app/models.py:30</span> (the other side, Post.author)' \
        in page
    assert "also" not in text.render_finding(FINDING)


def test_class_is_the_json_name_of_class_name() -> None:
    assert Finding.from_dict({**FINDING_JSON, "class": "Order"}).class_name == "Order"
    with pytest.raises(ValueError, match="class_name"):
        Finding.from_dict({**FINDING_JSON, "class_name": "Order"}, strict=True)


def test_unknown_key_is_an_error_when_strict() -> None:
    with pytest.raises(ValueError, match="unknown keys in a finding: colum, lineno"):
        Finding.from_dict({**FINDING_JSON, "colum": "email", "lineno": 3}, strict=True)


def test_unknown_key_is_kept_under_facts_otherwise() -> None:
    found = Finding.from_dict({**FINDING_JSON, "colum": "email", "kind": "other"}, strict=False)
    assert found.facts == {"colum": "email", "kind": "Column"}  # the finding's own facts win
    assert found == FINDING


def test_the_suite_runs_strict_through_the_catalog() -> None:
    """conftest sets the variable; every CLI, daemon and worker a test starts inherits it."""
    assert strict_by_default()
    with pytest.raises(ValueError, match="tabel"):
        CATALOG.to_finding({"code": "SQLA101", "message": "m", "tabel": "users"})


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, "SQLA101 Reserved attribute name at app/models.py:12 (User.metadata)"),
    ({"class_name": None}, "SQLA101 Reserved attribute name at app/models.py:12"),
    ({"file": None, "class_name": None, "table": "users", "column": "email"},
     "SQLA101 Reserved attribute name at users.email"),
    ({"file": None, "class_name": None}, "SQLA101 Reserved attribute name"),
], ids=["location-and-object", "location", "object", "neither"])
def test_summary(changes: dict, expected: str) -> None:
    assert replace(FINDING, **changes).summary() == expected


def test_every_renderer_names_a_finding_by_its_summary() -> None:
    check = CheckResult("models_import", "fail", 0.1, (FINDING,))
    report = Report(status="fail", started_at="2026-01-01T00:00:00+00:00", duration_s=0.2,
                    checks=(check,))
    meta = web.Meta(taken_at="2026-01-01T00:00:01+00:00", age_s=1.0, ready=False, cycles=1,
                    history=())
    line = FINDING.summary()
    assert f"first problem: {line}\n" in text.render(report)
    assert f"      at {FINDING.where}\n" in text.render(report)
    assert web.as_health(report, meta)["checks"]["models_import:status"][0]["output"] == line
    page = web.as_html(report, meta)
    assert f"First problem: {html.escape(line)}" in page
    assert f'<span class="where">{html.escape(FINDING.where or "")}</span>' in page

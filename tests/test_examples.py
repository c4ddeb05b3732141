"""The bundled example backend: the incident's failures, reported the way on-call needs them."""

from __future__ import annotations

from tests.support.helpers import EXAMPLES, FIXTURES, check_fixture, marked_line, run_cli


def _check(variant: str, *models: str):
    args = ["check", "--app-path", str(EXAMPLES / variant), "--format", "json"]
    for m in models:
        args += ["--models", m]
    return run_cli(*args)


def _line_of(path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_incident_reserved_metadata_is_named_exactly() -> None:
    """Acceptance: the exact line, the class, the attribute, and the hint."""
    result = _check("broken_reserved", "server.models_sql")
    assert result.returncode == 1
    finding = result.findings("SQLA101")[0]
    models = EXAMPLES / "broken_reserved" / "server" / "models_sql.py"
    assert finding["file"] == "server/models_sql.py"
    assert finding["line"] == _line_of(models, "metadata = db.Column(db.JSON")
    assert finding["class"] == "SecurityEvent"
    assert finding["attribute"] == "metadata"
    assert 'event_metadata = db.Column("metadata", db.JSON, nullable=True)' in finding["hint"]


def test_incident_double_import_names_both_modules_and_the_cause() -> None:
    result = _check("broken_double_import", "server.app")
    assert result.returncode == 1
    finding = result.findings("SQLA102")[0]
    assert finding["table"] == "business"
    names = [m["name"] for m in finding["facts"]["modules"]]
    assert names == ["server.models_sql", "models_sql"]
    entries = [m["path_entry"] for m in finding["facts"]["modules"]]
    assert entries[0] == str(EXAMPLES / "broken_double_import")
    assert entries[1] == str(EXAMPLES / "broken_double_import" / "server")
    app_py = EXAMPLES / "broken_double_import" / "server" / "app.py"
    assert f"server/app.py:{_line_of(app_py, 'import models_sql as')}" in finding["hint"]


def test_incident_retry_reports_the_root_cause_first() -> None:
    result = _check("broken_import_retry", "asgi")
    codes = [f["code"] for f in result.findings() if f["severity"] == "error"]
    assert codes[0] == "SQLA101", codes
    assert "SQLA102" in codes
    table = result.findings("SQLA102")[0]
    assert "imported again after an import of it failed" in table["hint"]


def test_reimport_after_failure_fixture() -> None:
    result = check_fixture("reimport_after_failure")
    first = next(f for f in result.findings() if f["severity"] == "error")
    assert (first["file"], first["line"]) == marked_line(FIXTURES / "reimport_after_failure")
    assert result.findings("SQLA103")[0]["facts"]["module"] == "app.entities"


def test_good_example_passes() -> None:
    result = _check("good", "server.models_sql", "server.models_plain")
    assert result.returncode == 0, result.stdout
    observed = result.check("mappers")["observed"]
    assert observed["tables"] == 7
    assert len(observed["metadata"]) == 2

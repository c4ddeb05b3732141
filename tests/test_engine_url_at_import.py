"""SQLA118: the models build an engine at import from a URL that cannot be used - the
compose classics (an empty `${DATABASE_URL}`, `postgres://`, a variable left as text) -
located at the create_engine() line, the variable named, the URL never printed."""

from __future__ import annotations

import pytest

from tests.support.helpers import FIXTURES, check_fixture, marked_line

FIXTURE = "engine_url_at_import"
PASSWORD = "Hunter2-Secret-77"


@pytest.mark.parametrize("value, reason", [
    ("", "empty"),
    ("${DATABASE_URL}", "unexpanded"),
    (f"postgres://app:{PASSWORD}@db:5432/app", "alias"),
    (f"postgresql://app:{PASSWORD}@db:port/app", "port"),
    (f"postgresql:/app:{PASSWORD}@db/app", "syntax"),  # 1.4 quotes it whole in its error
])
@pytest.mark.parametrize("version", ["current", "sqla14"])
def test_located_at_create_engine_with_the_variable(value, reason, version, request):
    python = None if version == "current" else request.getfixturevalue("sqla14_python")
    if version == "sqla14" and reason == "port":
        pytest.skip("1.4 accepts a non-numeric port until it connects")
    result = check_fixture(FIXTURE, "--check", "models_import", python=python,
                           env={"DATABASE_URL": value})
    assert PASSWORD not in result.stdout + result.stderr
    found = result.findings("SQLA118")
    assert len(found) == 1, [f["code"] for f in result.findings()]
    f = found[0]
    assert (f["file"], f["line"]) == marked_line(FIXTURES / FIXTURE)
    assert f["facts"]["reason"] == reason
    assert f["facts"]["variable"] == "DATABASE_URL"
    if reason == "alias":
        assert 'url.replace("postgres://", "postgresql://", 1)' in f["hint"]
    assert result.returncode == 1


def test_a_good_url_imports(tmp_path):
    result = check_fixture(FIXTURE, "--check", "models_import",
                           env={"DATABASE_URL": f"sqlite:///{tmp_path}/x.db"})
    assert result.returncode == 0 and result.findings() == []


def test_the_database_check_never_quotes_an_unparseable_url(sqla14_python):
    result = check_fixture(FIXTURE, "--check", "database", python=sqla14_python,
                           env={"DATABASE_URL": f"postgresql:/app:{PASSWORD}@db/app"})
    assert PASSWORD not in result.stdout + result.stderr
    assert [f["code"] for f in result.findings()] == ["DB207"]

"""SQLModel apps, diagnosed like any declarative app: its common mistakes located at the
field's own line (SQLModel builds every Column and relationship() inside its metaclass, so
SQLAlchemy's objects are recorded at the ``class`` line) with SQLModel's spelling of the fix,
and drift on a SQLModel app's database."""

from __future__ import annotations

import sqlite3

import pytest

from tests.support.helpers import FIXTURES, check_fixture, marked_line

pytest.importorskip("sqlmodel")


@pytest.mark.parametrize("fixture, code, facts, words", [
    ("sqlmodel_foreign_key_table", "SQLA110", {"suggested_target": "team.id",
                                                "style": "sqlmodel"},
     ['Field(..., foreign_key="team.id")', "lower case and singular"]),
    ("sqlmodel_back_populates_typo", "SQLA108", {"closest": "team", "style": "sqlmodel"},
     ['back_populates="team"']),
    ("sqlmodel_unmappable_type", "SQLA176", {"python_type": "dict", "sql_type": "JSON"},
     ["Field(sa_type=JSON)"]),
])
def test_mistake_located_at_the_field_with_sqlmodels_fix(fixture, code, facts, words):
    result = check_fixture(fixture)
    errors = [f for f in result.findings() if f["severity"] == "error"]
    assert [f["code"] for f in errors] == [code], [(f["code"], f["message"]) for f in errors]
    f = errors[0]
    assert (f["file"], f["line"]) == marked_line(FIXTURES / fixture)
    marker = (FIXTURES / fixture / f["file"]).read_text().splitlines()[f["line"] - 1]
    cls, attribute = marker.split("# <- SIDECAR: ")[1].split()[1].split(".")
    assert (f["class"], f["attribute"]) == (cls, attribute)
    for key, value in facts.items():
        assert f["facts"][key] == value, (key, f["facts"])
    for word in words:
        assert word in f["hint"], f["hint"]


def test_a_correct_sqlmodel_app_passes():
    result = check_fixture("sqlmodel_good")
    assert result.returncode == 0
    assert [f for f in result.findings() if f["severity"] == "error"] == []


def test_drift_on_a_sqlmodel_apps_database(tmp_path):
    """The tutorial's tables with `secret_name` still called `alias` in the database."""
    db = tmp_path / "heroes.db"
    with sqlite3.connect(db) as conn:
        conn.executescript("""
            CREATE TABLE team (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL,
                               headquarters VARCHAR NOT NULL);
            CREATE INDEX ix_team_name ON team (name);
            CREATE TABLE hero (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL,
                               alias VARCHAR NOT NULL, age INTEGER,
                               team_id INTEGER REFERENCES team (id));
            CREATE INDEX ix_hero_name ON hero (name);
            CREATE INDEX ix_hero_age ON hero (age);
        """)
    result = check_fixture("sqlmodel_good", "--database-url", f"sqlite:///{db}")
    renames = result.findings("DRIFT414")
    assert [f["fix_sql"] for f in renames] == \
        ["ALTER TABLE hero RENAME COLUMN alias TO secret_name"], result.findings()
    assert result.returncode == 1

"""SQLA101's fix line: the worker reads the statement's AST, the daemon writes the hint from
those facts (no parsing of source text in the daemon)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from sidecar.findings.registry import CATALOG
from sidecar.worker.source.locate import Locator


def facts_of(tmp_path, source: str) -> dict | None:
    path = tmp_path / "models.py"
    path.write_text(textwrap.dedent(source))
    locator = Locator(str(tmp_path))
    stmt = locator.tree(str(path)).body[-1]
    assert isinstance(stmt, ast.Assign | ast.AnnAssign)
    return locator.assigned_call(str(path), stmt)


@pytest.mark.parametrize("source, facts", [
    ("metadata = db.Column(db.JSON, nullable=True)  # the incident",
     {"callee": "db.Column", "named": False, "args": "db.JSON, nullable=True",
      "annotation": None, "mapped": False}),
    ("metadata = Column('metadata', JSON)",
     {"callee": "Column", "named": True, "args": "JSON", "annotation": None, "mapped": False}),
    ("metadata: Mapped[dict] = mapped_column()",
     {"callee": "mapped_column", "named": False, "args": "", "annotation": "Mapped[dict]",
      "mapped": True}),
    ("metadata: orm.Mapped[dict] = orm.mapped_column(JSON, **opts)",
     {"callee": "orm.mapped_column", "named": False, "args": "JSON, **opts",
      "annotation": "orm.Mapped[dict]", "mapped": True}),
    ("""\
     metadata = sa.Column(
         sa.JSON,
         nullable = True,
         default=lambda: {"a": 1},
     )""",
     {"callee": "sa.Column", "named": False,
      "args": 'sa.JSON, nullable=True, default=lambda: {"a": 1}', "annotation": None,
      "mapped": False}),
    ("metadata = deferred(Column(JSON))",
     {"callee": "deferred", "named": False, "args": "Column(JSON)", "annotation": None,
      "mapped": False}),
    ("metadata = JSON_COLUMN", None),
])
def test_worker_sends_the_ast_facts_of_the_assignment(tmp_path, source, facts) -> None:
    assert facts_of(tmp_path, source) == facts


def hint(attribute: str, call: dict | None, cls: str = "SecurityEvent") -> str:
    return CATALOG.to_finding({"code": "SQLA101", "message": "m", "file": "server/models_sql.py",
                       "line": 98, "class": cls, "attribute": attribute,
                       "facts": {"column_call": call}}).hint


def test_incident_hint_keeps_the_database_column() -> None:
    text = hint("metadata", {"callee": "db.Column", "named": False,
                             "args": "db.JSON, nullable=True", "annotation": None,
                             "mapped": False})
    assert text.startswith(
        "Rename the attribute and keep the database column in server/models_sql.py:98: "
        '`event_metadata = db.Column("metadata", db.JSON, nullable=True)` — the table keeps '
        "its 'metadata' column, so no migration is needed.")


def test_mapped_annotation_is_kept_in_the_fix() -> None:
    text = hint("metadata", {"callee": "mapped_column", "named": False, "args": "",
                             "annotation": "Mapped[dict]", "mapped": True})
    assert '`event_metadata: Mapped[dict] = mapped_column("metadata")`' in text


@pytest.mark.parametrize("call", [
    None,  # not a call
    {"callee": "Column", "named": True, "args": "JSON", "annotation": None, "mapped": False},
    {"callee": "deferred", "named": False, "args": "Column(JSON)", "annotation": None,
     "mapped": False},
])
def test_other_values_get_the_general_fix(call) -> None:
    assert 'pass the column name explicitly: `event_metadata = Column("metadata", ...)`' in \
        hint("metadata", call)

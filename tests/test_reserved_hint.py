"""SQLA101's fix line: the worker reads the statement's AST, the daemon writes the hint from
those facts (no parsing of source text in the daemon)."""

from __future__ import annotations

import ast
import re
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
        '`event_metadata = db.Column("metadata", db.JSON, nullable=True)` — where the table '
        "already has its 'metadata' column this needs no migration. Where that column does "
        "not exist yet")


def test_mapped_annotation_is_kept_in_the_fix() -> None:
    text = hint("metadata", {"callee": "mapped_column", "named": False, "args": "",
                             "annotation": "Mapped[dict]", "mapped": True})
    assert '`event_metadata: Mapped[dict] = mapped_column("metadata")`' in text


def test_a_value_that_is_not_a_column_call_gets_words_not_code() -> None:
    for call in (None, {"callee": "deferred", "named": False, "args": "Column(JSON)",
                        "annotation": None, "mapped": False}):
        text = hint("metadata", call)
        assert "passing its name, 'metadata', as the first argument" in text
        assert "`metadata =" not in text


def python_snippets(text: str) -> list[str]:
    """The hint's pasteable statements: backticked code that assigns."""
    return [s for s in re.findall(r"`([^`]+)`", text) if " = " in s and "ALTER" not in s]


# (statement in the class body, the database column it maps)
VARIANTS = [
    ("metadata = db.Column(db.JSON, nullable=True)", "metadata"),
    ("metadata = Column(JSON)", "metadata"),
    ("metadata = sa.Column(sa.JSON, nullable=False)", "metadata"),
    ('metadata = Column("metadata", JSON)', "metadata"),
    ('metadata = db.Column("meta", db.JSON)', "meta"),
    ('metadata = Column("event_metadata", JSON)', "event_metadata"),
    ("metadata: Mapped[dict] = mapped_column(JSON)", "metadata"),
    ('metadata: Mapped[dict] = mapped_column("metadata", JSON, nullable=True)', "metadata"),
    ('metadata: Mapped[dict] = mapped_column("meta_json")', "meta_json"),
    ("metadata: Mapped[Optional[dict]] = mapped_column()", "metadata"),
    ("metadata: orm.Mapped[dict] = orm.mapped_column(sa.JSON)", "metadata"),
]


@pytest.mark.parametrize("present", [None, True, False])
@pytest.mark.parametrize(("source", "column"), VARIANTS)
def test_every_variant_of_the_fix_is_valid_and_keeps_the_right_names(
        tmp_path, source: str, column: str, present) -> None:
    """Never `metadata = Column("event_metadata", ...)` (attribute and column swapped): each
    snippet parses in a class body, binds a new attribute, names the real database column
    (or none), and keeps a Mapped[] annotation."""
    from sidecar.worker.checks.models.classify import reserved_facts

    path = tmp_path / "models.py"
    path.write_text(f"class SecurityEvent(Base):\n    {source}\n")
    locator = Locator(str(tmp_path))
    stmt = locator.tree(str(path)).body[0].body[0]
    facts = reserved_facts(locator, str(path), stmt)
    if present is not None:
        facts["db_has_column"] = present
    text = CATALOG.to_finding({"code": "SQLA101", "message": "m", "file": "app/models.py",
                               "line": 2, "class": "SecurityEvent", "attribute": "metadata",
                               "facts": facts}).hint
    snippets = python_snippets(text)
    assert snippets, text
    for snippet in snippets:
        body = ast.parse(textwrap.indent(snippet, "    ").join(["class X:\n", "\n"]))
        assign = body.body[0].body[0]
        target = assign.target if isinstance(assign, ast.AnnAssign) else assign.targets[0]
        assert target.id != "metadata", text
        call = assign.value
        named = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) \
            else None
        if present is False and column == "metadata":
            assert named is None, text  # nothing to keep: the column is new
        assert named in (column, None), text
        if "Mapped[" in source:
            assert isinstance(assign, ast.AnnAssign) and "Mapped[" in ast.unparse(
                assign.annotation), text
    if present is True:
        assert "no migration is needed" in text
    if present is None and column == "metadata":
        assert "does not exist yet" in text, text


def test_incident_hint_when_the_database_has_the_column() -> None:
    call = {"callee": "db.Column", "named": False, "args": "db.JSON, nullable=True",
            "annotation": None, "mapped": False}
    text = CATALOG.to_finding({"code": "SQLA101", "message": "m",
                               "file": "server/models_sql.py", "line": 98,
                               "class": "SecurityEvent", "attribute": "metadata",
                               "facts": {"column_call": call, "db_has_column": True}}).hint
    assert text.startswith(
        "Rename the attribute and keep the database column in server/models_sql.py:98: "
        '`event_metadata = db.Column("metadata", db.JSON, nullable=True)` — the table has '
        "its 'metadata' column (seen by the database check), so no migration is needed.")


def test_registry_column_is_a_warning_that_names_the_version() -> None:
    finding = CATALOG.to_finding({
        "code": "SQLA116", "message": "m", "file": "app/models.py", "line": 5,
        "class": "Package", "attribute": "registry",
        "facts": {"sqlalchemy_version": "2.0", "column_call": {
            "callee": "Column", "named": False, "args": "String(100)", "annotation": None,
            "mapped": False}}})
    assert finding.severity == "warning"
    assert finding.hint.startswith("Rename it before upgrading SQLAlchemy — not an error on "
                                   "this version: SQLAlchemy 2.0 accepts it")
    assert '`package_registry = Column("registry", String(100))`' in finding.hint

"""Configure-time failures located at the statement to edit, every one of them.

``configure_mappers()`` runs after the import, so no app frame is on its stack, and it stops
at the first broken mapper. The fixtures here (``configure_*``) break relationships in mixins
in their own files, in ``declared_attr`` functions, in an abstract base in another module, in
string arguments and annotations, in several model styles; each marks *every* statement that
must be edited with ``# <- SIDECAR: [CODE] Class.attribute ...``. The report must have one
error finding per marker, at its file:line, naming that class and attribute — no more.
"""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import helpers
from tests.support.helpers import FIXTURES, MARK, assert_required_facts

# `# <- SIDECAR: [CODE] Class.attribute`, `Class` (the class line) or `-` (no class: Core)
MARKER = re.compile(re.escape(MARK) + r":\s*(?:(?P<code>[A-Z]+\d{3})\s+)?"
                    r"(?:-|(?P<cls>\w+)(?:\.(?P<attr>\w+))?)(?:\s|$)")


def markers(fixture: Path) -> list[dict[str, object]]:
    """Every marked statement: file (relative to the app path), line, code, class, attribute."""
    out = []
    for path in sorted(fixture.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found = MARKER.search(line)
            if found:
                out.append({"file": str(path.relative_to(fixture)), "line": number,
                            "code": found["code"], "class": found["cls"],
                            "attribute": found["attr"]})
    assert out, f"no '{MARK}: Class.attribute' marker in {fixture}"
    return out


# fixture -> SQLAlchemy versions it imports under (DeclarativeBase/Mapped[] need 2.0)
FIXTURE_VERSIONS = {
    "configure_mixin_file": ("1.4", "2.0", "2.1"),
    "configure_declared_attr": ("1.4", "2.0", "2.1"),
    # 1.4 wants a mixin's or abstract base's ForeignKey column in a declared_attr (below)
    "configure_base_other_module": ("2.0", "2.1"),
    "configure_string_arguments": ("1.4", "2.0", "2.1"),
    "configure_two_broken": ("1.4", "2.0", "2.1"),
    "configure_mapped_annotations": ("2.0", "2.1"),
    "configure_flask_mixin": ("1.4", "2.0", "2.1"),
    "configure_generic_unknown": ("1.4", "2.0", "2.1"),
    "configure_other_side_fails": ("1.4", "2.0", "2.1"),
    "configure_event_listener_fails": ("1.4", "2.0", "2.1"),
    "configure_called_at_import": ("1.4", "2.0", "2.1"),
    # broken packages of the common failure families, one mistake each, written the way
    # third-party apps write models
    "located_core_table_fk_missing": ("1.4", "2.0", "2.1"),
    "located_delete_orphan_many_to_one": ("1.4", "2.0", "2.1"),
    "located_duplicate_class_name": ("1.4", "2.0", "2.1"),
    "located_flask_ambiguous_fk": ("1.4", "2.0", "2.1"),
    "located_flask_secondary_typo": ("1.4", "2.0", "2.1"),
    "located_foreign_keys_string_typo": ("1.4", "2.0", "2.1"),
    "located_joined_inheritance_no_fk": ("1.4", "2.0", "2.1"),
    "located_lambda_argument_names_nothing": ("1.4", "2.0", "2.1"),
    "located_mixin_declared_attr_back_populates_typo": ("2.0", "2.1"),
    "located_mixin_mapped_column_fk_bad_column": ("2.0", "2.1"),
    "located_order_by_missing_attribute": ("1.4", "2.0", "2.1"),
    "located_polymorphic_on_missing": ("2.0", "2.1"),
    "located_relationship_to_unmapped": ("1.4", "2.0", "2.1"),
    "located_relationship_without_mapped": ("2.0", "2.1"),
    "located_remote_side_typo": ("1.4", "2.0", "2.1"),
    "located_table_args_index_missing_column": ("1.4", "2.0", "2.1"),
    "located_two_mixins_two_errors": ("1.4", "2.0", "2.1"),
    "located_unresolvable_annotation": ("2.0", "2.1"),
    "located_sti_column_conflict": ("1.4", "2.0", "2.1"),
    "located_missing_tablename": ("1.4", "2.0", "2.1"),
    "located_both_sides_many_to_one": ("1.4", "2.0", "2.1"),
    "located_mapped_int_relationship": ("2.0", "2.1"),
    "located_dataclass_field_order": ("2.0", "2.1"),
    "located_secondary_no_join": ("1.4", "2.0", "2.1"),
    "located_flask_secondary_string_no_fk": ("1.4", "2.0", "2.1"),
    "located_core_index_missing_column": ("1.4", "2.0", "2.1"),
    # 1.4 only warns of a repeated column (SAWarning / SADeprecationWarning: SQLA120/121)
    "located_duplicate_column_declarative": ("2.0", "2.1"),
    "located_duplicate_column_core": ("2.0", "2.1"),
    "located_duplicate_column_mapped": ("2.0", "2.1"),
    "located_table_and_tablename": ("1.4", "2.0", "2.1"),
    "located_flask_backref_conflict_two_models": ("1.4", "2.0", "2.1"),
    "located_order_by_missing_column": ("1.4", "2.0", "2.1"),
    "located_assoc_object_bad_fk": ("1.4", "2.0", "2.1"),
    "located_registry_mapped_decorator": ("1.4", "2.0", "2.1"),
    "located_declared_attr_table_args": ("1.4", "2.0", "2.1"),
    "located_mapped_column_fk_core_target": ("2.0", "2.1"),
    "located_two_files_two_errors": ("1.4", "2.0", "2.1"),
    "located_hybrid_mixin_mapped_column_dup": ("2.0", "2.1"),
    "located_viewonly_primaryjoin_multiline": ("1.4", "2.0", "2.1"),
}


def assert_each_marker_found(fixture: str, python: str | None = None) -> list[dict]:
    result = helpers.check_fixture(fixture, python=python)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    # import-time failures of the same families (declarative raises while the class body
    # runs) are in models_import
    findings = result.check("models_import")["findings"] + result.check("mappers")["findings"]
    assert_required_facts(findings)
    errors = [f for f in findings if f["severity"] == "error"]
    places = [(f["file"], f["line"], f["class"], f["attribute"], f["code"]) for f in errors]
    expected = markers(FIXTURES / fixture)
    for mark in expected:
        matching = [f for f in errors if (f["file"], f["line"]) == (mark["file"], mark["line"])]
        assert matching, f"nothing at {mark['file']}:{mark['line']}; found {places}"
        finding = matching[0]
        assert (finding["class"], finding["attribute"]) == (mark["class"], mark["attribute"]), \
            finding
        if mark["code"]:
            assert finding["code"] == mark["code"], finding
    # every independent problem once: no second finding for the same mistake
    assert len(errors) == len(expected), places
    return errors


@pytest.mark.parametrize("fixture", sorted(FIXTURE_VERSIONS))
def test_configure_failure_located_at_each_marked_statement(fixture: str) -> None:
    assert_each_marker_found(fixture)


@pytest.mark.slow
@pytest.mark.parametrize("venv", ["sqla14_python", "sqla20_python", "py38_python"])
@pytest.mark.parametrize("fixture", sorted(FIXTURE_VERSIONS))
def test_configure_failure_located_on_other_versions(fixture: str, venv: str,
                                                      request: pytest.FixtureRequest) -> None:
    """1.4 and 2.0 under Python 3.11; 1.4 under Python 3.8 (the worker's oldest Python,
    whose frames report other lines for multi-line calls)."""
    version = {"sqla14_python": "1.4", "sqla20_python": "2.0", "py38_python": "1.4"}[venv]
    if version not in FIXTURE_VERSIONS[fixture]:
        pytest.skip(f"{fixture} needs SQLAlchemy {FIXTURE_VERSIONS[fixture][0]}+")
    if venv == "py38_python" and "flask" in fixture:
        pytest.skip("the Python 3.8 venv has SQLAlchemy only (tests/conftest.py)")
    assert_each_marker_found(fixture, python=request.getfixturevalue(venv))


@pytest.mark.slow
def test_foreign_key_column_on_abstract_base_under_14_is_located_at_the_column(
        sqla14_python: str) -> None:
    """1.4 raises while declarative copies the base's columns (at import, at the subclass's
    ``class`` line): the finding is at the column in the other module."""
    result = helpers.check_fixture("configure_base_other_module", python=sqla14_python)
    [finding] = [f for f in result.findings() if f["severity"] == "error"]
    base = (FIXTURES / "configure_base_other_module" / "app" / "base.py").read_text()
    line = 1 + base.splitlines().index(
        '    account_id = Column(Integer, ForeignKey("accounts.id"), nullable=False)')
    assert (finding["file"], finding["line"]) == ("app/base.py", line), finding
    # the class whose body to edit: the abstract base (the mapped class is related)
    assert (finding["class"], finding["attribute"]) == ("AccountOwned", "account_id")
    assert "declared_attr" in finding["message"]


def test_mixin_finding_names_the_mapped_class_as_related() -> None:
    """At the mixin's line; the mapped class that inherits it is the second place."""
    finding = assert_each_marker_found("configure_mixin_file")[0]
    assert finding["file"] == "app/mixins.py"
    assert finding["facts"]["declared_in"] == "TenantOwnedMixin"
    models = (FIXTURES / "configure_mixin_file" / "app" / "models.py").read_text().splitlines()
    invoice_line = next(n for n, text in enumerate(models, 1) if text.startswith("class Invoice"))
    assert {"file": "app/models.py", "line": invoice_line,
            "role": "mapped class Invoice, which inherits it"} in finding["related"]


def test_text_report_shows_the_related_place() -> None:
    result = helpers.run_cli("check", "--app-path", str(FIXTURES / "configure_mixin_file"),
                             "--models", "app.models")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.strip().startswith("at app/mixins.py:"))
    assert lines[at + 1].strip().startswith("fix:"), lines[at:at + 3]  # the edit comes first
    also = [line for line in lines[at + 1:] if line.strip().startswith("also: ")]
    assert also and also[0].strip().startswith("also: app/models.py:"), lines[at:at + 12]


# --- SQLA199 at configure time: located, and a reproduction command that runs -------------


def test_generic_configure_failure_is_located_and_its_command_reproduces_it() -> None:
    [finding] = assert_each_marker_found("configure_generic_unknown")
    assert finding["code"] == "SQLA199"
    assert finding["exception"] == "LoaderStrategyException"
    command = finding["facts"]["reproduce"]
    assert f"`{command}`" in finding["hint"]
    assert "reproduce_after" not in finding["facts"]
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    last = proc.stderr.splitlines()[-1]
    assert last.endswith(f"LoaderStrategyException: {finding['message']}"), proc.stderr


def test_generic_failure_after_another_says_which_one_the_command_shows() -> None:
    errors = assert_each_marker_found("configure_string_arguments")
    generic = [f for f in errors if f["code"] == "SQLA199"]
    if not generic:
        pytest.skip("a specific code covers this failure now")
    first = errors[0]
    assert first["code"] != "SQLA199"
    note = f"{first['code']} at {first['file']}:{first['line']}"
    assert generic[0]["facts"]["reproduce_after"] == note
    assert f"It stops at the first failing mapper, {note}" in generic[0]["hint"]
    proc = subprocess.run(["sh", "-c", generic[0]["facts"]["reproduce"]], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    assert first["message"] in proc.stderr.splitlines()[-1]


def test_generic_import_failure_command_reproduces_it() -> None:
    result = helpers.check_fixture("generic_exception")
    finding = result.findings("SQLA199")[0]
    command = finding["facts"]["reproduce"]
    assert "configure_mappers" not in command
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1].startswith("FileNotFoundError: "), proc.stderr


# --- the recorder changes nothing for the app, and only runs in the worker ---------------

RECORDER_PROBE = r"""
import json, pickle, sys
sys.path.insert(0, sys.argv[1])
import sqlalchemy as sa
from sqlalchemy.orm import Session, column_property, declarative_base, relationship
from sidecar.worker.source import origins

from sidecar.worker.compat import construction_hooks

before = {(cls, name): cls.__dict__[name] for cls, name, _ in construction_hooks()}
origins.install(lambda filename: filename == __file__)
Base = declarative_base()

class Parent(Base):
    __tablename__ = "parent"
    id = sa.Column(sa.Integer, primary_key=True)
    children = relationship("Child", back_populates="parent", order_by="Child.id")

class Child(Base):
    __tablename__ = "child"
    id = sa.Column(sa.Integer, primary_key=True)
    parent_id = sa.Column(sa.ForeignKey("parent.id"))
    parent = relationship(Parent, back_populates="children")
    label = column_property(sa.literal_column("'kid'"))

recorded = origins.locate(Parent.__mapper__.relationships["children"])
recorded_property = origins.locate(Child.__mapper__.attrs["label"])
patched = origins.installed()
origins.uninstall()
restored = all(cls.__dict__[name] is original for (cls, name), original in before.items())
engine = sa.create_engine("sqlite://")
Base.metadata.create_all(engine)
with Session(engine) as session:
    session.add(Parent(id=1, children=[Child(id=2), Child(id=3)]))
    session.commit()
    kids = [c.id for c in session.get(Parent, 1).children]
column = pickle.loads(pickle.dumps(Child.__table__.c.parent_id))
table = pickle.loads(pickle.dumps(Parent.__table__))
print(json.dumps({"recorded": recorded[1] if recorded else None, "patched": patched,
                  "recorded_property": recorded_property[1] if recorded_property else None,
                  "restored": restored, "kids": kids, "column": str(column.type),
                  "table_columns": [c.name for c in table.columns],
                  "init_name": sa.Column.__init__.__qualname__}))
"""


def test_recorder_is_invisible_to_the_app_and_removed_after(tmp_path: Path) -> None:
    import json

    probe = tmp_path / "probe.py"
    probe.write_text(RECORDER_PROBE)
    proc = subprocess.run([sys.executable, str(probe), str(helpers.ROOT)], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    line = 1 + RECORDER_PROBE.splitlines().index(
        '    children = relationship("Child", back_populates="parent", order_by="Child.id")')
    assert out["recorded"] == line
    assert out["recorded_property"] == 1 + RECORDER_PROBE.splitlines().index(
        """    label = column_property(sa.literal_column("'kid'"))""")
    assert out["patched"] and out["restored"]
    assert out["kids"] == [2, 3]
    assert out["column"] == "INTEGER" and out["table_columns"] == ["id"]
    assert out["init_name"] == "Column.__init__"


def test_recorder_is_not_active_in_the_daemon_process() -> None:
    import sqlalchemy

    from sidecar.worker.source import origins

    assert not origins.installed()
    assert "sidecar" not in sqlalchemy.Column.__init__.__code__.co_filename
    column = sqlalchemy.Column("x", sqlalchemy.Integer)
    assert origins.locate(column) is None
    assert pickle.loads(pickle.dumps(column)).name == "x"


# --- related: the second place that matters ----------------------------------------------

# fixture -> (code, file of the related place, the code on its line, the role's first words)
RELATED_CASES = {
    "conflicting_backref": ("SQLA109", "app/models.py", '    user = relationship("User")',
                            "the existing Address.user"),
    "back_populates_mismatch": ("SQLA108", "app/models.py", "class User(Base):",
                                "class User, which has no 'author'"),
    "duplicate_table": ("SQLA102", "app/models.py", "class Business(Base):",
                        "the first definition of table 'business'"),
    "double_import": ("SQLA102", "app/models.py", "import entities as legacy_entities",
                      "the import that loads the module a second time"),
    "ambiguous_foreign_keys": ("SQLA106", "app/models.py", "    reporter_id = Column(",
                               "a foreign key to users: Ticket.reporter_id"),
    "no_foreign_key": ("SQLA107", "app/models.py", "class Customer(Base):",
                       "the target class Customer"),
    "configure_declared_attr": ("SQLA106", "app/models.py",
                                '        return Column(Integer, ForeignKey("users.id"))',
                                "a foreign key to users: Comment.created_by_id"),
    "configure_two_broken": ("SQLA108", "app/models.py", "class Order(Base):",
                             "class Order, which has no 'customer'"),
    "located_duplicate_class_name": (None, "app/admin.py", "class User(Base):",
                                     "one of the classes named User: app.admin.User"),
    "configure_other_side_fails": (None, "app/models.py",
                                   '    author = relationship("Author", back_populates="books")',
                                   "the other side, Book.author"),
    "configure_flask_mixin": ("SQLA109", "app/models.py",
                              '    items = db.relationship("Item", back_populates="user")',
                              "the existing User.items"),
}


def markers_finding(fixture: str, python: str | None = None) -> dict:
    """The finding at the fixture's first marker."""
    first = markers(FIXTURES / fixture)[0]
    return next(f for f in assert_each_marker_found(fixture, python)
                if (f["file"], f["line"]) == (first["file"], first["line"]))


@pytest.mark.parametrize("fixture", sorted(RELATED_CASES))
def test_related_place(fixture: str) -> None:
    assert_related_place(fixture)


@pytest.mark.slow
@pytest.mark.parametrize("venv", ["sqla14_python", "sqla20_python", "py38_python"])
@pytest.mark.parametrize("fixture", sorted(RELATED_CASES))
def test_related_place_on_other_versions(fixture: str, venv: str,
                                         request: pytest.FixtureRequest) -> None:
    if venv == "py38_python" and "flask" in fixture:
        pytest.skip("the Python 3.8 venv has SQLAlchemy only (tests/conftest.py)")
    assert_related_place(fixture, request.getfixturevalue(venv))


def assert_related_place(fixture: str, python: str | None = None) -> None:
    code, file, text, role = RELATED_CASES[fixture]
    source = (FIXTURES / fixture / file).read_text().splitlines()
    line = next(n for n, code_line in enumerate(source, 1) if code_line.startswith(text))
    finding = helpers.check_fixture(fixture, python=python).findings(code)[0] if code else \
        markers_finding(fixture, python)
    places = [(r["file"], r["line"]) for r in finding["related"]]
    assert (file, line) in places, finding["related"]
    related = finding["related"][places.index((file, line))]
    assert related["role"].startswith(role), related


def test_configure_time_warning_is_located_with_the_relationship_it_overlaps() -> None:
    """SAWarnings raised while the mappers configure have no app frame either."""
    result = helpers.check_fixture("configure_overlaps_warning")
    [mark] = markers(FIXTURES / "configure_overlaps_warning")
    [finding] = [f for f in result.check("mappers")["findings"] if "conflicts" in f["message"]]
    assert finding["severity"] == "warning"
    assert (finding["file"], finding["line"]) == (mark["file"], mark["line"])
    assert (finding["class"], finding["attribute"]) == ("Address", "user")
    source = (FIXTURES / "configure_overlaps_warning/app/models.py").read_text().splitlines()
    line = 1 + source.index('    addresses = relationship("Address")')
    assert {"file": "app/models.py", "line": line,
            "role": "User.addresses, which writes the same column"} in finding["related"]

"""The worker under the app's own interpreter with SQLAlchemy 1.4 and 2.0 (2.1 is ours).

Messages differ by version — 2.0 raises InvalidRequestError for a reserved 'metadata', 1.4
words it differently, 2.1 only warns — and every variant must point at the same line.
"""

from __future__ import annotations

import pytest

from tests.support.helpers import FIXTURES, assert_required_facts, check_fixture, marked_line

pytestmark = pytest.mark.slow

# fixtures that reproduce on every version, with their code
PORTABLE = {
    "reserved_metadata_plain": "SQLA101",
    "reserved_metadata_flask": "SQLA101",
    "double_import": "SQLA102",
    "duplicate_table": "SQLA102",
    "relationship_missing_class": "SQLA104",
    "missing_primary_key": "SQLA105",
    "ambiguous_foreign_keys": "SQLA106",
    "no_foreign_key": "SQLA107",
    "back_populates_mismatch": "SQLA108",
    "conflicting_backref": "SQLA109",
    "foreign_key_missing_table": "SQLA110",
    "foreign_key_missing_column": "SQLA110",
    "missing_dependency": "SQLA111",
    "syntax_error": "SQLA112",
    "sys_exit": "SIDE003",
    # issue 10's failure families in the styles 1.4 also has
    "sti_column_conflict_flask": "SQLA140",
    "joined_inheritance_no_fk_plain": "SQLA141",
    "joined_inheritance_ambiguous": "SQLA142",
    "polymorphic_duplicate_identity": "SQLA145",
    "self_referential_no_remote_side": "SQLA160",
    "self_referential_flask": "SQLA160",
    "primaryjoin_missing_attribute": "SQLA163",
    "order_by_missing_attribute_flask": "SQLA163",
    "secondary_missing_table": "SQLA164",
    "relationship_unmapped_class": "SQLA165",
    "duplicate_class_names": "SQLA166",
    "column_beside_table": "SQLA170",
    "tuple_attribute_flask": "SQLA171",
    "tuple_attribute_mixin": "SQLA171",
    "sti_table_args_flask": "SQLA172",
    "declared_attr_no_return": "SQLA146",
    "duplicate_user_flask": "SQLA166",
    "joined_flask_split": "SQLA141",
    "orphan_flask_backref": "SQLA161",
    "poly_dup_flask_split": "SQLA145",
    "primaryjoin_and": "SQLA163",
    "secondary_flask": "SQLA164",
    "table_plus_column_flask": "SQLA170",
    "unmapped_dataclass": "SQLA165",
}

# 2.0-style models (DeclarativeBase, Mapped[], MappedAsDataclass), and a mixin whose first
# problem on 1.4 is another line (its ForeignKey column, which 2.0 accepts)
SQLA20_ONLY = {
    "sti_column_conflict_declarative": "SQLA140",
    "joined_inheritance_no_fk_mapped": "SQLA141",
    "mixin_relationship_own_file": "SQLA143",
    "mixin_relationship_mapped": "SQLA143",
    "mapped_missing_column": "SQLA150",
    "mapped_missing_relationship": "SQLA150",
    "annotation_undefined": "SQLA151",
    "annotation_unmappable_dict": "SQLA152",
    "dataclass_field_order": "SQLA153",
    "delete_orphan_many_to_one": "SQLA161",
    "annotation_typo_enum": "SQLA151",
    "dataclass_default_factory": "SQLA153",
    "joined_ambiguous_mapped": "SQLA142",
    "list_annotation": "SQLA152",
    "mixin_flask_core": "SQLA143",
    "optional_without_mapped": "SQLA150",
    "reserved_mapped_named": "SQLA101",
    "self_ref_mapped": "SQLA160",
    "sti_pkg_mapped": "SQLA140",
    "sti_table_args_mapped": "SQLA172",
    "tuple_mapped": "SQLA171",
}


@pytest.fixture(params=["sqla14", "sqla20"])
def app_python(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param, request.getfixturevalue(f"{request.param}_python")


@pytest.mark.parametrize("fixture", sorted(PORTABLE))
def test_same_finding_on_every_sqlalchemy_version(app_python, fixture: str) -> None:
    name, python = app_python
    result = check_fixture(fixture, python=python)
    assert result.returncode == 1, result.stdout
    expected_version = {"sqla14": "1.4.", "sqla20": "2.0."}[name]
    assert result.report["versions"]["sqlalchemy"].startswith(expected_version)
    found = result.findings(PORTABLE[fixture])
    assert found, [f["code"] for f in result.findings()]
    assert_required_facts(result.findings())
    assert (found[0]["file"], found[0]["line"]) == marked_line(FIXTURES / fixture)


@pytest.mark.parametrize("fixture", sorted(SQLA20_ONLY))
def test_same_finding_on_sqlalchemy_20(sqla20_python: str, fixture: str) -> None:
    result = check_fixture(fixture, python=sqla20_python)
    assert result.returncode == 1, result.stdout
    assert result.report["versions"]["sqlalchemy"].startswith("2.0.")
    found = result.findings(SQLA20_ONLY[fixture])
    assert found, [f["code"] for f in result.findings()]
    assert_required_facts(result.findings())
    assert (found[0]["file"], found[0]["line"]) == marked_line(FIXTURES / fixture)


def test_every_family_written_correctly_has_no_finding_on_20(sqla20_python: str) -> None:
    result = check_fixture("good_families", python=sqla20_python)
    assert result.returncode == 0, result.stdout
    assert result.findings() == []


def test_mixin_foreign_key_column_needs_declared_attr_on_14_only(sqla14_python: str) -> None:
    """1.4 refuses a ForeignKey Column on a mixin (2.0 copies it): the finding is at that
    Column's line in the mixin's file, with the declared_attr rewrite."""
    finding = check_fixture("mixin_relationship_own_file", python=sqla14_python).findings(
        "SQLA143")[0]
    assert (finding["file"], finding["line"]) == ("app/mixins.py", 8)
    assert (finding["class"], finding["attribute"]) == ("TenantOwned", "tenant_id")
    assert "def tenant_id(cls):" in finding["hint"]


@pytest.mark.parametrize("app", ["sqla14", "sqla20"])
def test_registry_column_works_here_so_it_is_a_warning(request, app: str) -> None:
    """1.4 and 2.0 accept `registry = Column(...)`: a working app is not held NOT READY."""
    result = check_fixture("reserved_registry_plain",
                           python=request.getfixturevalue(f"{app}_python"))
    assert result.returncode == 0, result.stdout
    assert not result.findings("SQLA101")
    finding = result.findings("SQLA116")[0]
    assert finding["severity"] == "warning"
    assert (finding["file"], finding["line"]) == marked_line(
        FIXTURES / "reserved_registry_plain")
    version = result.report["versions"]["sqlalchemy"][:3]
    assert f"SQLAlchemy {version} accepts it silently" in finding["hint"]


def test_sqlalchemy_20_raises_for_reserved_metadata(sqla20_python: str) -> None:
    finding = check_fixture("reserved_metadata_flask", python=sqla20_python).findings(
        "SQLA101")[0]
    assert finding["exception"] == "InvalidRequestError"
    assert "is reserved when using the Declarative API" in finding["message"]
    assert finding["class"] == "SecurityEvent"


def test_good_package_passes_on_sqlalchemy_14(sqla14_python: str) -> None:
    result = check_fixture("good_plain", python=sqla14_python)
    assert result.returncode == 0, result.stdout
    assert result.check("mappers")["observed"]["mapped_classes"] >= 2


def test_python38_app_without_alembic(py38_python: str, tmp_path) -> None:
    """The worker's syntax runs on 3.8, and the sidecar's own Alembic (built for its Python)
    is not lent to another Python: migrations/drift skip with a reason instead of failing."""
    import sqlite3

    result = check_fixture("reserved_metadata_plain", python=py38_python)
    assert result.report["versions"]["python"].startswith("3.8.")
    finding = result.findings("SQLA101")[0]
    assert (finding["file"], finding["line"]) == marked_line(
        FIXTURES / "reserved_metadata_plain")
    db = tmp_path / "app.db"
    sqlite3.connect(db).executescript("CREATE TABLE users (id INTEGER PRIMARY KEY);")
    good = check_fixture("good_plain", "--database-url", f"sqlite:///{db}", python=py38_python)
    statuses = {c["name"]: c["status"] for c in good.report["checks"]}
    assert statuses["database"] == "pass", good.stdout
    assert statuses["schema_drift"] == "skip"
    assert "Alembic cannot be imported" in good.check("schema_drift")["reason"]
    assert good.returncode == 0, good.stdout

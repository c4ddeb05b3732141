"""One test per finding code: a fixture app that reproduces the bug, and the exact place.

Each fixture marks its offending line with ``# <- SIDECAR``; the finding must point there —
never at the ``class`` line when the message names an attribute, never inside SQLAlchemy.
"""

from __future__ import annotations

import ast
import json
import re
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from tests.support import helpers
from tests.support.helpers import FIXTURES, CliResult, assert_required_facts, marked_line


def check_fixture(name: str, *extra: str) -> CliResult:
    """The fixture's report; every finding in it carries the facts its hint needs."""
    result = helpers.check_fixture(name, *extra)
    assert_required_facts(result.findings())
    return result


def run_cli(*args: str) -> CliResult:
    result = helpers.run_cli(*args)
    assert_required_facts(result.findings())
    return result


# fixture -> (code, class, attribute, words the hint must contain)
CASES = {
    "reserved_metadata_plain": ("SQLA101", "SecurityEvent", "metadata",
                                ['event_metadata = Column("metadata", JSON)']),
    "reserved_metadata_flask": ("SQLA101", "SecurityEvent", "metadata",
                                ['event_metadata = db.Column("metadata", db.JSON']),
    "reserved_metadata_declarative_base": ("SQLA101", "SecurityEvent", "metadata",
                                           ['mapped_column("metadata"']),
    "duplicate_table": ("SQLA102", None, None, ["business"]),
    "double_import": ("SQLA102", "Business", None,
                      ["'app.entities'", "'entities'", "app/models.py:17"]),
    "relationship_missing_class": ("SQLA104", None, None, ["Adress"]),
    "missing_primary_key": ("SQLA105", "AuditEntry", None, ["primary_key=True"]),
    "ambiguous_foreign_keys": ("SQLA106", "Ticket", "assignee",
                               ['`assignee = relationship("User", '
                                'foreign_keys="[Ticket.assignee_id]")`',
                                "foreign_keys=[assignee_id]"]),
    "no_foreign_key": ("SQLA107", "Order", "customer_id",
                       ['customer_id = Column(Integer, ForeignKey("customers.id"))']),
    "back_populates_mismatch": ("SQLA108", None, None, ["back_populates"]),
    "conflicting_backref": ("SQLA109", "User", "addresses", ["backref 'user'"]),
    "foreign_key_missing_table": ("SQLA110", "Invoice", "account_id", ["accounts.id"]),
    "foreign_key_missing_column": ("SQLA110", "LoginSession", "user_uuid", ["users.uuid"]),
    "missing_dependency": ("SQLA111", None, None, ["stripe_payments_sdk"]),
    "syntax_error": ("SQLA112", None, None, ["Fix the syntax"]),
    "generic_exception": ("SQLA199", None, None, ["app/models.py"]),
    # issue 10's failure families, several model styles each
    "sti_column_conflict_declarative": ("SQLA140", "Manager", "title",
                                        ["use_existing_column=True"]),
    "sti_column_conflict_flask": ("SQLA140", "BugTicket", "status", ["Ticket.status"]),
    "joined_inheritance_no_fk_plain": ("SQLA141", "CardPayment", "id", [
        '`id = Column(Integer, ForeignKey("payments.id"), primary_key=True)`']),
    "joined_inheritance_no_fk_mapped": ("SQLA141", "Laptop", "asset_id", [
        '`asset_id: Mapped[int] = mapped_column(ForeignKey("assets.asset_id"), '
        'primary_key=True)`']),
    "joined_inheritance_ambiguous": ("SQLA142", "Contract", None,
                                     ['{"inherit_condition": id == Document.id}']),
    "mixin_relationship_own_file": ("SQLA143", "TenantOwned", "tenant",
                                    ["def tenant(cls):", 'return relationship("Tenant")']),
    "mixin_relationship_mapped": ("SQLA143", "AuditMixin", "created_by",
                                  ['def created_by(cls) -> Mapped["User"]:']),
    "polymorphic_duplicate_identity": ("SQLA145", "Refund", "__mapper_args__", ["Charge"]),
    "mapped_missing_column": ("SQLA150", "Article", "title",
                              ["`title: Mapped[str] = mapped_column(String(200))`"]),
    "mapped_missing_relationship": ("SQLA150", "Book", "author", [
        '`author: Mapped["Author"] = relationship(back_populates="books")`']),
    "annotation_undefined": ("SQLA151", "Order", "status", ["`OrderStatus`", "TYPE_CHECKING"]),
    "annotation_unmappable_dict": ("SQLA152", "Workspace", "settings", [
        "`settings: Mapped[dict] = mapped_column(JSON, nullable=True)`"]),
    "dataclass_field_order": ("SQLA153", "Task", "title", [
        "`title: Mapped[str] = mapped_column(String(200), kw_only=True)`"]),
    "self_referential_no_remote_side": ("SQLA160", "Category", "parent", [
        'remote_side="Category.id"']),
    "self_referential_flask": ("SQLA160", "Employee", "manager", [
        '`manager = db.relationship("Employee", back_populates="reports", '
        'remote_side="Employee.id")`']),
    "delete_orphan_many_to_one": ("SQLA161", "Comment", "post", [
        "single_parent=True)`", "on `Post`"]),
    "primaryjoin_missing_attribute": ("SQLA163", "Customer", "orders",
                                      ["`Order.customer`", "customer_id"]),
    "order_by_missing_attribute_flask": ("SQLA163", "Conversation", "messages",
                                         ["created_at"]),
    "secondary_missing_table": ("SQLA164", "User", "roles", ['secondary="user_role"']),
    "relationship_unmapped_class": ("SQLA165", "Cart", "items", ["app.schemas"]),
    "duplicate_class_names": ("SQLA166", "Subscription", "customer", [
        '`customer = relationship("app.billing.Customer")`', "app/crm.py:8"]),
    "column_beside_table": ("SQLA170", "Project", "archived", [
        '`Column("archived", Boolean, default=False)`']),
    "tuple_attribute_flask": ("SQLA171", "Product", "sku", [
        "`sku = db.Column(db.String(40), unique=True)`"]),
    "declared_attr_no_return": ("SQLA146", "SoftDelete", "deleted_by_id",
                                ["returns None (no"]),
    "sti_table_args_flask": ("SQLA172", "BusinessAccount", "__table_args__",
                             ["`Account`'s `__table_args__`"]),
    "tuple_attribute_mixin": ("SQLA171", "Timestamped", "updated_at", [
        "`updated_at = Column(DateTime, onupdate=func.now())`"]),
    # more variants, other layouts: models packages, mixins under app/core, split modules
    "annotation_typo_enum": ("SQLA151", "Device", "status", ["`Stauts`"]),
    "dataclass_default_factory": ("SQLA153", "Job", "name", ["kw_only=True)`"]),
    "duplicate_user_flask": ("SQLA166", "Session", "user", [
        '`user = db.relationship("app.auth.User")`']),
    "joined_ambiguous_mapped": ("SQLA142", "Leaf", None, ["id == Node.id"]),
    "joined_flask_split": ("SQLA141", "Bus", "id", [
        '`id = db.Column(db.Integer, db.ForeignKey("vehicle.id"), primary_key=True)`']),
    "list_annotation": ("SQLA152", "Article", "tags", [
        "`tags: Mapped[list] = mapped_column(JSON, default=list)`"]),
    "mixin_flask_core": ("SQLA143", "HasOwner", "owner", ['return db.relationship("User")']),
    "optional_without_mapped": ("SQLA150", "Member", "nickname", [
        "`nickname: Mapped[Optional[str]] = mapped_column(String(50), nullable=True)`"]),
    "orphan_flask_backref": ("SQLA161", "Pet", "user", ["single_parent=True)`"]),
    "poly_dup_flask_split": ("SQLA145", "Logout", "__mapper_args__", ["Login"]),
    "primaryjoin_and": ("SQLA163", "Customer", "open_invoices", ["`Invoice.voided`", "is_void"]),
    "reserved_mapped_named": ("SQLA101", "Upload", "metadata", [
        '`upload_metadata: Mapped[dict] = mapped_column("meta", JSON)`']),
    "secondary_flask": ("SQLA164", "Post", "tags", ['secondary="posts_tags"']),
    "self_ref_mapped": ("SQLA160", "Folder", "parent", ['remote_side="Folder.id")`']),
    "sti_pkg_mapped": ("SQLA140", "Customer", "email", ["use_existing_column=True"]),
    "sti_table_args_mapped": ("SQLA172", "Circle", "__table_args__", ["`Shape`"]),
    "table_plus_column_flask": ("SQLA170", "LegacyOrder", "total", [
        '`db.Column("total", db.Numeric(10, 2))`']),
    "tuple_mapped": ("SQLA171", "Account", "email", ["`email = mapped_column(String(200))`"]),
    "unmapped_dataclass": ("SQLA165", "Person", "addresses", ["`Address`"]),
    # the mixin's own line, one attribute name for every class that inherits it; with
    # Flask-SQLAlchemy 3.1 nothing raises (the column is dropped), found by inspection
    "reserved_metadata_mixin_file": ("SQLA101", "Order", "metadata", [
        '`integration_data_metadata = db.Column("metadata", db.JSON, nullable=True)`']),
    # a loader executing a model file by its path: the loader's line, and what to do there
    "double_import_loader": ("SQLA102", None, None, [
        "'ext_billing_models'", "'app.models.billing_models'", "importlib.import_module"]),
    "located_duplicate_column_declarative": ("SQLA174", "Account", "contact_email", [
        '`contact_email = synonym("email")`']),
    "located_duplicate_column_mapped": ("SQLA174", "Product", "code", ['`code = synonym("sku")`']),
    "located_duplicate_column_core": ("SQLA174", None, None, ['`Column("created_at", ...)`']),
    # configure-time and import-time failures that had only the generic code
    "env_variable_missing": ("SQLA117", None, None, ["Set `DATABASE_URL`",
                                                     'os.environ.get("DATABASE_URL")']),
    "env_variable_missing_config": ("SQLA117", "Config", "SECRET_KEY", [
        "Set `FLASK_SECRET_KEY`", "envFrom:"]),
    "located_missing_tablename": ("SQLA147", "Setting", None, ['`__tablename__ = "setting"`',
                                                               "`__abstract__ = True`"]),
    "located_table_args_index_missing_column": ("SQLA175", "Product", "__table_args__", [
        "Remove 'name' from the Index", "the whole Index", "(its columns: id, sku)"]),
    "located_core_index_missing_column": ("SQLA175", None, None, [
        "Change 'finished' to 'finished_at' in the Index"]),
}

# SQLAlchemy says nothing (a tuple on a mixin is never scanned): found from the class dicts
FOUND_BY_INSPECTION = {"tuple_attribute_mixin", "declared_attr_no_return",
                       "reserved_metadata_mixin_file"}

# fixture -> (code, class, attribute, words): works on this SQLAlchemy, so a warning (exit 0)
WARNING_CASES = {
    "polymorphic_no_on_flask": ("SQLA144", "Notification", "__mapper_args__",
                                ["`kind = db.Column(db.String(50))`"]),
    "overlapping_relationships": ("SQLA162", "Address", "user", ['overlaps="addresses"']),
    "table_args_beside_table": ("SQLA173", "Item", "__table_args__", ["Table('items', ...)"]),
    "overlaps_mapped": ("SQLA162", "Player", "team", ['overlaps="players"']),
    "reserved_registry_plain": ("SQLA116", "Package", "registry", [
        '`package_registry = Column("registry", String(100))`']),
}


@pytest.mark.parametrize("fixture", sorted(CASES))
def test_finding_points_at_the_offending_statement(fixture: str) -> None:
    code, cls, attribute, hint_words = CASES[fixture]
    result = check_fixture(fixture)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    found = result.findings(code)
    assert found, f"no {code} in {[f['code'] for f in result.findings()]}"
    finding = found[0]
    file, line = marked_line(FIXTURES / fixture)
    assert (finding["file"], finding["line"]) == (file, line), finding
    if cls:
        assert finding["class"] == cls
    if attribute:
        assert finding["attribute"] == attribute
    assert finding["severity"] == "error"
    if fixture not in FOUND_BY_INSPECTION:
        assert finding["exception"], "the exception (or warning) class is named"
    for words in hint_words:
        assert words in finding["hint"], finding["hint"]
    assert finding["docs"] == f"docs/findings.md#{code.lower()}"


@pytest.mark.parametrize("fixture", sorted(WARNING_CASES))
def test_a_construct_that_works_is_a_warning_at_its_statement(fixture: str) -> None:
    code, cls, attribute, hint_words = WARNING_CASES[fixture]
    result = check_fixture(fixture)
    assert result.returncode == 0, result.stdout
    finding = result.findings(code)[0]
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / fixture), finding
    assert (finding["class"], finding["attribute"]) == (cls, attribute)
    assert finding["severity"] == "warning"
    for words in hint_words:
        assert words in finding["hint"], finding["hint"]


def hint_code(hint: str) -> list[str]:
    """The code a hint asks to paste: backticked statements, and an indented block."""
    snippets = [s for s in re.findall(r"`([^`]+)`", hint)
                if re.match(r"^[A-Za-z_][\w.]*(: .+)? = ", s)]
    # a keyword argument to add to the call: valid inside relationship(...)
    snippets += [f"relationship({s})" for s in re.findall(r"`([^`]+)`", hint)
                 if re.match(r"^[a-z_]+=\S", s)]
    # a call to paste into another call (a Column into its Table(...))
    snippets += [s for s in re.findall(r"`([^`]+)`", hint)
                 if re.match(r"^[A-Za-z_][\w.]*\(.*\)$", s)]
    block = re.search(r"\n((?: +\S.*\n?)+)$", hint)
    if block:
        snippets.append(textwrap.dedent(block.group(1)))
    return snippets


FAMILY_FIXTURES = sorted(
    name for name, case in {**CASES, **WARNING_CASES}.items()
    if case[0] in {"SQLA101", "SQLA106", "SQLA107", "SQLA116", "SQLA174"}
    or "SQLA140" <= case[0] < "SQLA199")


@pytest.mark.parametrize("fixture", FAMILY_FIXTURES)
def test_hint_code_is_valid_python_in_a_class_body(fixture: str) -> None:
    """Each snippet parses where it goes (the class body, at its indentation), and a
    rewrite of the marked statement binds the same attribute (never the reserved name)."""
    code, _, _, words = {**CASES, **WARNING_CASES}[fixture]
    finding = check_fixture(fixture).findings(code)[0]
    snippets = hint_code(finding["hint"])
    if any("`" in w and ("=" in w or "(" in w) for w in words):  # it expects code
        assert snippets, finding["hint"]
    for snippet in snippets:
        tree = ast.parse("class Model:\n" + textwrap.indent(snippet, "    "))
        stmt = tree.body[0].body[0]
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and code in ("SQLA101", "SQLA116"):
            target = stmt.targets[0] if isinstance(stmt, ast.Assign) else stmt.target
            assert target.id != finding["attribute"], snippet


def test_sqlalchemy_error_code_is_a_fact_and_a_line() -> None:
    result = check_fixture("delete_orphan_many_to_one")
    finding = result.findings("SQLA161")[0]
    assert finding["facts"]["sqlalchemy_docs"].startswith("https://sqlalche.me/e/")
    assert finding["facts"]["sqlalchemy_docs"].endswith("/bbf0")
    text = helpers.run_cli("check", "--app-path", str(FIXTURES / "delete_orphan_many_to_one"),
                           "--models", "app.models").stdout
    assert "sqlalchemy: https://sqlalche.me/e/" in text


def test_reserved_metadata_hint_is_the_incident_fix() -> None:
    """The hint keeps the database column, so no migration is needed (the seed's Migration 70
    would not have been necessary)."""
    finding = check_fixture("reserved_metadata_flask").findings("SQLA101")[0]
    assert 'event_metadata = db.Column("metadata", db.JSON, nullable=True)' in finding["hint"]
    assert "no migration" in finding["hint"]


def test_flask_sqlalchemy_followup_error_is_folded_into_one_finding() -> None:
    """On SQLAlchemy 2.1 the SAWarning is followed by an AttributeError inside
    Flask-SQLAlchemy; the user gets one finding at their line, not a second generic one."""
    result = check_fixture("reserved_metadata_flask")
    assert [f["code"] for f in result.findings() if f["severity"] == "error"] == ["SQLA101"]
    finding = result.findings("SQLA101")[0]
    assert "AttributeError" in finding["exception"]


def test_missing_dependency_names_the_package() -> None:
    finding = check_fixture("missing_dependency").findings("SQLA111")[0]
    assert "'stripe_payments_sdk'" in finding["hint"]
    assert finding["facts"]["missing_module"] == "stripe_payments_sdk"


def test_syntax_error_quotes_the_offending_text() -> None:
    finding = check_fixture("syntax_error").findings("SQLA112")[0]
    file, line = marked_line(FIXTURES / "syntax_error")
    source = (FIXTURES / "syntax_error" / file).read_text().splitlines()[line - 1]
    code_part = source.split("#")[0].strip()
    assert code_part in finding["hint"] or code_part in finding["message"]


def test_generic_exception_keeps_class_and_message() -> None:
    finding = check_fixture("generic_exception").findings("SQLA199")[0]
    assert finding["exception"] == "FileNotFoundError"
    assert "settings.json" in finding["message"]
    # the statement that raised is in the first words of the fix
    assert finding["hint"].startswith("Fix `with open(os.path.join("), finding["hint"]


def test_generic_reproduction_command_runs(tmp_path) -> None:
    """The hint's command is real Python: run with the app path as the working directory, it
    reproduces the same exception (the generic code at import, and at configure time)."""
    finding = check_fixture("generic_exception").findings("SQLA199")[0]
    command = re.search(r"run `([^`]+)`", finding["hint"], re.IGNORECASE).group(1)
    assert "-c 'import app.models'" in command
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert "FileNotFoundError" in proc.stderr and "settings.json" in proc.stderr
    app = tmp_path / "app"
    app.mkdir()
    (app / "__init__.py").write_text("")
    (app / "models.py").write_text(
        "from sqlalchemy import Column, Integer\n"
        "from sqlalchemy.orm import declarative_base, relationship\n"
        "Base = declarative_base()\n\n\n"
        "class Thing(Base):\n"
        "    __tablename__ = 'things'\n"
        "    id = Column(Integer, primary_key=True)\n"
        "    parts = relationship('Thing', primaryjoin=lambda: 1 / 0)\n")
    result = run_cli("check", "--app-path", str(tmp_path), "--models", "app.models",
                     "--format", "json")
    generic = result.findings("SQLA199")[0]
    command = re.search(r"run `([^`]+)`", generic["hint"], re.IGNORECASE).group(1)
    assert "configure_mappers()" in command
    proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert "ZeroDivisionError" in proc.stderr, proc.stderr


def test_good_package_passes_and_reports_what_it_found() -> None:
    result = check_fixture("good_plain")
    assert result.returncode == 0, result.stdout
    mappers = result.check("mappers")
    assert mappers["status"] == "pass"
    assert mappers["observed"]["mapped_classes"] >= 2
    assert mappers["observed"]["tables"] >= 2


def test_models_spread_over_several_modules() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "good_multi"), "--models",
                     "app.models.users", "--models", "app.models.orders", "--format", "json")
    assert result.returncode == 0, result.stdout
    assert result.check("models_import")["observed"]["imported"] == [
        "app.models.users", "app.models.orders"]
    names = result.check("mappers")["observed"]["class_names"]
    assert any(n.endswith("User") for n in names) and any(n.endswith("Order") for n in names)


def test_module_level_metadata_is_discovered() -> None:
    result = check_fixture("good_metadata_only")
    assert result.returncode == 0, result.stdout
    assert result.check("mappers")["observed"]["tables"] >= 1


def test_no_models_is_an_error_saying_what_was_imported_and_looked_for() -> None:
    result = check_fixture("no_models")
    assert result.returncode == 1, result.stdout
    found = result.findings("SQLA130")[0]
    assert found["severity"] == "error"
    assert "app.models (" in found["message"] and "models.py)" in found["message"]
    for looked_for in ("MetaData", "Table", "registry", "declarative base",
                       "Flask-SQLAlchemy db"):
        assert looked_for in found["message"]
    assert result.check("schema_drift")["status"] != "pass"


def test_module_that_does_not_exist_is_a_finding() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.nosuchmodule", "--format", "json")
    assert result.returncode == 1
    finding = result.findings("SQLA115")[0]
    assert "app.nosuchmodule" in finding["hint"]


def test_attribute_target_that_does_not_exist() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.models:NoSuchBase", "--format", "json")
    assert result.returncode == 1
    assert result.findings("SQLA113")[0]["attribute"] == "NoSuchBase"


def test_attribute_target_names_the_metadata_source() -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.models:Base", "--format", "json")
    assert result.returncode == 0, result.stdout
    sources = [m["source"] for m in result.check("mappers")["observed"]["metadata"]]
    assert any(s.startswith("app.models:Base") for s in sources)


def test_an_error_in_the_mappers_stops_drift_and_severity_decides_what_is_an_error(
        tmp_path) -> None:
    """The worker blocks on the effective severity it is sent, not on a list of codes."""
    db = tmp_path / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)")
    url = ["--database-url", f"sqlite:///{db}"]
    blocked = check_fixture("foreign_key_missing_table", *url)
    assert blocked.findings("SQLA110")[0]["severity"] == "error"
    drift = blocked.check("schema_drift")
    assert drift["status"] == "skip" and "mappers" in drift["reason"], drift
    relaxed = check_fixture("foreign_key_missing_table", *url, "--severity", "SQLA110=warning")
    assert relaxed.findings("SQLA110")[0]["severity"] == "warning"
    assert relaxed.check("schema_drift")["status"] != "skip", relaxed.check("schema_drift")


MAPPERS = """
import json, sys
from sidecar.worker.checks.models import check
from sidecar.worker.context import Context
sys.path.insert(0, sys.argv[1])
ctx = Context({"app_path": sys.argv[1], "models": ["app.models"],
               "severities": json.loads(sys.argv[2])}, lambda detail: None)
check.run_models_import(ctx)
codes = [f["code"] for f in check.run_mappers(ctx)["findings"]]
print(json.dumps({"codes": codes, "models_ok": ctx.models_ok}))
"""


@pytest.mark.parametrize(("severities", "models_ok"), [
    ({"SQLA110": "warning"}, True),
    ({"SQLA110": "error"}, False),
    ({}, False),  # a code the daemon sent no severity for counts as an error
])
def test_the_worker_blocks_on_the_severities_in_its_config(severities, models_ok) -> None:
    app = FIXTURES / "foreign_key_missing_table"
    proc = subprocess.run([sys.executable, "-c", MAPPERS, str(app), json.dumps(severities)],
                          capture_output=True, text=True, timeout=60, cwd=helpers.ROOT)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out == {"codes": ["SQLA110"], "models_ok": models_ok}


@pytest.mark.parametrize("has_column", [True, False])
def test_reserved_hint_follows_what_the_database_has(tmp_path, has_column: bool) -> None:
    """"No migration is needed" only when the database check saw the column; a column the
    database does not have yet is named after the new attribute instead."""
    db = tmp_path / "app.db"
    column = "metadata" if has_column else "details"
    with sqlite3.connect(db) as conn:
        conn.execute(f"CREATE TABLE security_events (id INTEGER PRIMARY KEY, {column} JSON)")
    result = check_fixture("reserved_metadata_plain", "--database-url", f"sqlite:///{db}")
    finding = result.findings("SQLA101")[0]
    assert (finding["table"], finding["column"]) == ("security_events", "metadata")
    assert result.check("database")["observed"]["columns_present"] == {
        "security_events.metadata": has_column}
    if has_column:
        assert 'event_metadata = Column("metadata", JSON)' in finding["hint"]
        assert "seen by the database check), so no migration is needed" in finding["hint"]
    else:
        assert "`event_metadata = Column(JSON)`" in finding["hint"]
        assert "no migration is needed" not in finding["hint"]
        assert "no 'metadata' column yet" in finding["hint"]


def test_only_sqlalchemys_own_codes_become_links() -> None:
    """``SystemExit("bye").code`` is a string too: no sqlalche.me link for it."""
    from sqlalchemy import exc

    from sidecar.worker import compat

    assert compat.sqlalchemy_docs(SystemExit("bye")) is None
    assert compat.sqlalchemy_docs(exc.ArgumentError("x", code="bbf0")) == (
        f"https://sqlalche.me/e/{exc._version_token}/bbf0")


def test_every_family_written_correctly_has_no_finding() -> None:
    """The constructs the family rules look at, done right (declared_attr mixins in their
    own file, STI and joined inheritance, remote_side, secondary, type_annotation_map,
    __table__, __table_args__ with __tablename__): not one finding, ready."""
    result = check_fixture("good_families")
    assert result.returncode == 0, result.stdout
    assert result.findings() == []
    assert result.check("mappers")["observed"]["mapped_classes"] == 6

"""Codes, docs and the worker stay in sync: every code the worker can emit is documented, and
every hint reads only the facts its entry declares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from string import Formatter

import pytest

from sidecar.findings.catalog import FIELDS, Entry, UndeclaredFact
from sidecar.findings.codes.models import TWO_MODULES
from sidecar.findings.registry import CATALOG
from sidecar.settings import Settings
from sidecar.worker.registry import names as check_names
from tests.support.helpers import ROOT, declared_raw

DOCS = (ROOT / "docs" / "findings.md").read_text()


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_every_code_has_a_docs_section(code: str) -> None:
    assert f'<a id="{code.lower()}"></a>' in DOCS, f"docs/findings.md lacks a section for {code}"
    assert re.search(rf"^## {code} ", DOCS, re.M), f"docs/findings.md lacks a '## {code}' heading"


def test_docs_document_no_unknown_code() -> None:
    documented = set(re.findall(r"^## ([A-Z]+\d{3}) ", DOCS, re.M))
    assert documented <= set(CATALOG), documented - set(CATALOG)


def test_docs_are_what_the_generator_writes() -> None:
    proc = subprocess.run([sys.executable, "scripts/gen_findings_docs.py", "--check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_docs_contents_list_every_code() -> None:
    listed = re.findall(r"^\| \[([A-Z]+\d{3})\]\(#([a-z]+\d{3})\) \| ", DOCS, re.M)
    assert [code for code, _ in listed] == list(CATALOG)
    assert all(anchor == code.lower() for code, anchor in listed)


def test_every_code_the_worker_emits_is_in_the_catalog() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "sidecar").rglob("*.py"))
    emitted = set(re.findall(r"[\"']((?:SQLA|SIDE|DB|MIG|DRIFT)\d{3})[\"']", sources))
    assert emitted - set(CATALOG) == set()


FINDINGS_MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
    for p in (ROOT / "sidecar" / "findings").rglob("*.py"))


@pytest.mark.parametrize("module", FINDINGS_MODULES)
def test_every_findings_module_imports_on_its_own(module: str) -> None:
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("family", CATALOG.families, ids=lambda f: f.prefix)
def test_each_family_holds_only_its_own_codes(family) -> None:
    letters, hundreds = re.match(r"([A-Z]+)(\d)xx$", family.prefix).groups()
    for entry in family.entries:
        assert re.match(rf"{letters}{hundreds}\d\d$", entry.code), entry.code
        assert entry.check in check_names(), entry.code


# --- hints read only what their entry declares --------------------------------------------


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_hint_renders_with_exactly_the_declared_facts(code: str) -> None:
    """Facts raises UndeclaredFact on any other name, for templates and functions alike."""
    entry = CATALOG[code]
    assert entry.render_hint(declared_raw(entry))
    assert entry.render_hint(declared_raw(entry, optional=False))


@pytest.mark.parametrize("code", sorted(c for c in CATALOG if isinstance(CATALOG[c].hint, str)))
def test_a_template_declares_exactly_the_facts_it_names(code: str) -> None:
    entry = CATALOG[code]
    named = {name for _, name, _, _ in Formatter().parse(str(entry.hint)) if name}
    assert named - set(FIELDS) == set(entry.facts) | set(entry.optional)


# the other wordings of hint functions, so an undeclared read in any branch fails too
BRANCHES = [
    ("SQLA101", {}, "passing its name"),
    ("SQLA101", {"db_has_column": True}, "seen by the database check"),
    ("SQLA101", {"db_has_column": False}, "column yet (seen by the database check)"),
    ("SQLA101", {"column_name": "meta", "column_call": {
        "callee": "Column", "named": True, "args": "JSON"}}, '= Column("meta", JSON)`'),
    ("SQLA116", {"sqlalchemy_version": "2.1"}, "only warns"),
    ("SQLA153", {"kw_only": True, "column_call": {"callee": "mapped_column", "args": ""}},
     "it stays required"),
    ("SQLA153", {"kw_only": False, "column_call": {"callee": "mapped_column", "args": ""}},
     "default=None)`"),
    ("SQLA102", {"reimported": ["app.entities"], "first_error": "SQLA101 at x"},
     "imported again"),
    ("SQLA102", {}, "two classes map the table"),
    ("SQLA102", {"modules": [{"name": "app.models.billing", "path_entry": "/srv"},
                             {"name": "ext_billing", "path_entry": "/srv/app/models",
                              "loaded_by_path": True}],
                 "second_import": "app/plugins.py:16"}, "Make the loader at app/plugins.py:16"),
    ("SQLA148", {"closest": "type"}, '`"polymorphic_on": "type"`'),
    ("SQLA148", {"closest": None}, "Add the discriminator column"),
    ("SQLA148", {"closest": None, "column_callee": "mapped_column"},
     ": Mapped[str] = mapped_column(String(50))`"),
    ("SQLA175", {"closest": "published"}, "to 'published'"),
    ("SQLA175", {"closest": None}, "or declare that column"),
    ("SQLA199", {"statement": "engine = connect()"}, "Fix `engine = connect()` at"),
    ("SQLA199", {"statement": "x = (\n 1)"}, "Read the exception at"),
    ("SQLA103", {"modules": list(TWO_MODULES)}, "imported twice"),
    ("SQLA114", {"second_import": "app/models.py:17"}, "The second import happens at"),
    ("SQLA180", {"defined_in": "create_app"}, "Move class <class> out of `create_app()`"),
    ("SQLA180", {"module_file": "app/models.py", "statement": "importlib.reload(models)"},
     "Remove `importlib.reload(models)`"),
    ("SQLA180", {}, "callable twice in one process"),
    ("SQLA181", {"call": "second"}, "only warned"),
    ("SQLA182", {"kind": "unguarded", "check_text": "if _app is None:", "check_at": "a.py:9",
                 "fixed_code": "_app_lock = threading.Lock()\n\ndef get_app():"},
     "a.py:9) before any had set"),
    ("SQLA182", {"kind": "unguarded", "fixed_code": "a = 1\nb = 2"}, ":\n\n    a = 1\n    b = 2\n"),
    ("SQLA182", {"kind": "unguarded"}, "(double-checked locking). Or build"),
    ("SQLA182", {"kind": "no_recheck", "lock_text": "with _lock:", "lock_at": "a.py:10"},
     "Check again inside the lock"),
    ("SQLA182", {"kind": "cached", "cache_text": "@functools.lru_cache", "cache_at": "a.py:8"},
     "does not lock"),
    ("SQLA182", {"kind": "uncached"}, "on every call"),
    ("SQLA182", {"ran_again": "app.models", "raised": "InvalidRequestError: x"},
     "The models ran again too (app.models)"),
    *[("SQLA184", {"missing": missing}, word) for missing, word in [
        ("module", "cannot be imported"), ("attribute", "has no"),
        ("callable", "is not a function"), ("arguments", "needs arguments")]],
    ("SIDE001", {"phase": "app_factory: calling asgi:get_flask_app() from 4 threads at once"},
     "never released"),
    ("SIDE001", {"phase": "schema_drift: comparing"}, "--include-table"),
    ("SIDE001", {"phase": "models_import: importing app.models"}, "Import-time code"),
    ("SIDE013", {"import_failed": "yes"}, "could not be checked"),
    ("SIDE013", {"import_failed": "no"}, "caught the refusal"),
    ("DB204", {"reason": "role"}, "CREATE ROLE"),
    ("DB204", {"reason": "hba"}, "pg_hba.conf"),
    ("DB206", {"suggested": ""}, "name another installed driver"),
    *[("DB207", {"reason": reason}, word) for reason, word in [
        ("alias", "does not accept"), ("at_sign", "Percent-encode"), ("port", "number"),
        ("driver_name", "known ones"), ("dialect", "not a SQLAlchemy dialect"),
        ("empty", "--database-url"), ("syntax", "Use the form")]],
    ("DB211", {"reason": "lock_timeout"}, "--lock-timeout-ms"),
    ("DB211", {"reason": "statement_timeout"}, "--statement-timeout-ms"),
    ("DRIFT401", {"alembic_op": "op.create_table(" + "x" * 200 + ")"}, "complete in facts"),
    ("DRIFT404", {"blocks_inserts": True}, "NOT NULL without a default"),
    ("DRIFT414", {"type_changed": True}, "the type also differs"),
    ("DRIFT415", {"missing_type": True}, "Create the type"),
    ("DRIFT415", {"missing_values": [], "extra_values": ["legacy"]}, "cannot drop"),
    ("DRIFT415", {"missing_values": [], "extra_values": []}, "Make the database enum"),
]


@pytest.mark.parametrize(("code", "facts", "words"), BRANCHES)
def test_every_wording_of_a_hint_function_reads_declared_facts(code: str, facts: dict,
                                                               words: str) -> None:
    entry = CATALOG[code]
    assert words in entry.render_hint(declared_raw(entry, optional=False, **facts))


def test_drift_hint_without_sql_points_at_batch_mode() -> None:
    entry = CATALOG["DRIFT405"]
    raw = declared_raw(entry)
    raw["fix_sql"] = None
    assert "batch mode" in entry.render_hint(raw)


def test_reading_an_undeclared_fact_is_an_error() -> None:
    template = Entry("TEST101", "t", "error", "mappers", "reads {target}")
    with pytest.raises(UndeclaredFact, match="target"):
        template.render_hint({"facts": {"target": "Address"}})
    function = Entry("TEST102", "t", "error", "mappers", lambda f: str(f.get("target")))
    with pytest.raises(UndeclaredFact, match="target"):
        function.render_hint({"facts": {"target": "Address"}})


def test_a_missing_required_fact_shows_and_a_missing_optional_one_leaves_no_gap() -> None:
    required = Entry("TEST103", "t", "error", "mappers", "reads {target} here",
                     facts=("target",))
    assert required.render_hint({"facts": {}}) == "reads ? here"
    optional = Entry("TEST104", "t", "error", "mappers", "reads {target} here",
                     optional=("target",))
    assert optional.render_hint({}) == "reads here"
    assert optional.render_hint({"facts": {"target": "x"}}) == "reads x here"


# --- to_finding, severities -------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_hint_renders_with_sparse_facts(code: str) -> None:
    """A finding with only a code and a message still gets a hint, never a crash."""
    finding = CATALOG.to_finding({"code": code, "message": "m"})
    assert finding.hint
    assert finding.docs == f"docs/findings.md#{code.lower()}"


def test_unknown_code_falls_back_to_the_generic_entry() -> None:
    finding = CATALOG.to_finding({"code": "NOPE999", "message": "something odd"})
    assert finding.code == CATALOG.generic.code == "SQLA199"
    assert finding.message == "something odd"


def test_severity_override() -> None:
    finding = CATALOG.to_finding({"code": "SQLA101", "message": "m"}, {"SQLA101": "info"})
    assert finding.severity == "info"


def test_the_worker_gets_every_codes_effective_severity() -> None:
    settings = Settings(app_path=Path("."), models=("app.models",),
                        severity={"SQLA120": "error", "SQLA110": "warning"})
    severities = settings.worker_config()["severities"]
    assert set(severities) == set(CATALOG)
    assert severities["SQLA120"] == "error" and severities["SQLA110"] == "warning"
    assert severities["SQLA121"] == "info" and severities["SQLA104"] == "error"


def test_timeout_hint_depends_on_where_the_time_went() -> None:
    importing = CATALOG.to_finding({"code": "SIDE001", "message": "m", "facts": {
        "phase": "models_import: importing app.models", "timeout_s": 30, "stuck_at": ""}})
    comparing = CATALOG.to_finding({"code": "SIDE001", "message": "m", "facts": {
        "phase": "schema_drift: comparing", "timeout_s": 30, "stuck_at": ""}})
    assert "Import-time code" in importing.hint
    assert "--include-table" in comparing.hint and "Import-time" not in comparing.hint

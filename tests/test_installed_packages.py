"""An app installed as a package is as much the app as a source tree under the app path.

Each project in tests/fixtures/installed/ is really installed (``pip install --no-deps``, a
wheel build or ``pip install -e``) into a venv the suite makes and caches under
SIDECAR_TEST_VENVS, keyed by a hash of the fixture sources; sidecar then checks it with
``--python <that venv> --models <its modules>`` from a folder that is not the source. Two
venvs: ``good`` (the fixtures as written) and ``broken`` (every line marked ``# <- SIDECAR:
planted as `...`: CODE at Class.attribute`` replaced by the planted statement).

For each project: good → no SQLA130 and drift compares against a real SQLite file created
from the models' own ``metadata.create_all``; a column renamed behind the app's back → exit 1
with the rename; the planted bug → the finding's file is the installed file relative to the
package root (``pkg/models.py``), with the line and the class.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy

from tests.conftest import VENVS
from tests.support.helpers import FIXTURES, ROOT, CliResult, assert_required_facts, run_cli

INSTALLED = FIXTURES / "installed"
# (fixture project, installed editable?) in install order: acme_core before acme_billing
PROJECTS = (
    ("shop_wheel", False), ("shop_editable", True), ("src_layout", True),
    ("acme_core", False), ("acme_billing", True), ("flask_shop", False),
    ("core_tables", False), ("lazy_models", False), ("no_models_installed", False),
)
REQUIREMENTS = (f"SQLAlchemy=={sqlalchemy.__version__}", "Flask-SQLAlchemy==3.1.1",
                "setuptools>=64", "wheel")
PLANT = re.compile(r"# <- SIDECAR: planted as `(?P<stmt>[^`]+)`: (?P<code>\w+) at "
                   r"(?P<owner>\w+)(?:\.(?P<attr>\w+))?")


@dataclass(frozen=True)
class Scenario:
    project: str  # the fixture project (its first planted line is this scenario's bug)
    models: tuple[str, ...]  # the --models values
    metadata: str  # "module:expression" of the MetaData (or list) that creates the database
    tables: tuple[str, ...]  # every table the models define: what discovery must find
    renamed: tuple[str, str, str]  # table, column in the models, its new name in the DB
    model_file: str | None  # where drift findings on that table point (None: Core only)
    binds: tuple[str, ...] = ()  # Flask-SQLAlchemy bind keys, given the same database's URL


SCENARIOS = {
    "wheel": Scenario("shop_wheel", ("shopwheel.models",), "shopwheel.models:Base.metadata",
                      ("customers", "orders"),
                      ("customers", "display_name", "full_name"), "shopwheel/models.py"),
    "editable": Scenario("shop_editable", ("shopedit.models",), "shopedit.models:Base.metadata",
                         ("accounts", "invoices"),
                         ("accounts", "plan", "plan_code"), "shopedit/models.py"),
    "src_layout": Scenario("src_layout", ("srcshop.models",), "srcshop.models:Base.metadata",
                           ("products", "suppliers"),
                           ("products", "sku", "stock_code"), "srcshop/models.py"),
    "namespace": Scenario("acme_billing", ("acme.billing.models",),
                          "acme.billing.models:Base.metadata", ("ledger_entries", "ledgers"),
                          ("ledger_entries", "memo", "note"), "acme/billing/models.py"),
    "flask_sqlalchemy": Scenario("flask_shop", ("flaskshop.models",),
                                 # binds share the test's one database file
                                 "flaskshop.models:list(db.metadatas.values())",
                                 ("addresses", "audit_events", "users"),
                                 ("addresses", "street", "street_line"), "flaskshop/models.py",
                                 binds=("audit",)),
    "core_tables": Scenario("core_tables", ("coreshop.tables",), "coreshop.tables:metadata",
                            ("audit_log", "stock", "warehouses"),
                            ("warehouses", "city", "town"), None),
    "lazy_models": Scenario("lazy_models", ("lazyshop.models",),
                            "lazyshop.models:base.Base.metadata", ("posts", "tags"),
                            ("posts", "title", "headline"), "lazyshop/models/posts.py"),
    "lazy_exports": Scenario("lazy_models", ("lazyshop.catalog",),
                             "lazyshop.catalog:Item.metadata", ("categories", "items"),
                             ("items", "name", "title"), "lazyshop/catalog/items.py"),
}


def _fixture_key(variant: str) -> str:
    digest = hashlib.sha256()
    for part in (variant, *REQUIREMENTS, repr(PROJECTS), sys.version, str(ROOT)):
        digest.update(part.encode() + b"\0")
    for path in sorted(INSTALLED.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(INSTALLED)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _plant(project_dir: Path) -> None:
    """Replace each ``planted as`` line's statement by the planted one (indent and marker kept)."""
    for path in project_dir.rglob("*.py"):
        lines = path.read_text().splitlines(keepends=True)
        for i, line in enumerate(lines):
            m = PLANT.search(line)
            if m:
                indent = line[: len(line) - len(line.lstrip())]
                lines[i] = f"{indent}{m['stmt']}  {line[m.start():].rstrip()}\n"
        path.write_text("".join(lines))


def _pip(python: Path, *args: str) -> None:
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *args], check=True, timeout=600)


def _venv(variant: str) -> Path:
    """The cached venv with every fixture project installed (``broken``: with the plants)."""
    key = _fixture_key(variant)
    target = VENVS / f"installed-{variant}-{key}"
    python = target / "bin" / "python"
    if (target / ".complete").exists():
        return python
    for stale in VENVS.glob(f"installed-{variant}-*"):
        shutil.rmtree(stale)
    subprocess.run([sys.executable, "-m", "venv", str(target)], check=True, timeout=300)
    _pip(python, *REQUIREMENTS)
    for project, editable in PROJECTS:
        source = target / "src" / project  # an editable install keeps pointing here
        shutil.copytree(INSTALLED / project, source,
                        ignore=shutil.ignore_patterns("__pycache__"))
        if variant == "broken":
            _plant(source)
        _pip(python, "--no-deps", "--no-build-isolation", *(["-e"] if editable else []),
             str(source))
        if not editable:
            shutil.rmtree(source)  # what runs is site-packages' copy, nothing else
    (target / ".complete").write_text(key)
    return python


@pytest.fixture(scope="module")
def good_python() -> Path:
    return _venv("good")


@pytest.fixture(scope="module")
def broken_python() -> Path:
    return _venv("broken")


def _check(python: Path, workdir: Path, models: tuple[str, ...], *extra: str) -> CliResult:
    """``sidecar check`` the installed package from ``workdir``, which holds no source."""
    args = ["check", "--python", str(python), "--app-path", str(workdir), "--format", "json",
            "--timeout", "60"]
    for target in models:
        args += ["--models", target]
    result = run_cli(*args, *extra, cwd=workdir, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    assert_required_facts(result.findings())
    return result


def _database(python: Path, workdir: Path, scenario: Scenario) -> str:
    """A SQLite file made by the models' own ``metadata.create_all`` (the test's database)."""
    path = workdir / "app.sqlite"
    module, _, expression = scenario.metadata.partition(":")
    script = (f"from {module} import *\n"  # a lazy package's __all__ loads its models
              "from sqlalchemy import create_engine\n"
              f"found = {expression}\n"
              f"engine = create_engine({'sqlite:///' + str(path)!r})\n"
              "for md in found if isinstance(found, list) else [found]:\n"
              "    md.create_all(engine)\n")
    subprocess.run([str(python), "-c", script], check=True, timeout=120, cwd=workdir)
    return f"sqlite:///{path}"


def _marked(project: str, target: str) -> dict[str, str | int | None]:
    """The planted line in ``target``'s module or package: file relative to the package
    root, line, code, class, attribute."""
    root = INSTALLED / project
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            m = PLANT.search(line)
            if m:
                rel = path.relative_to(root)
                if rel.parts[0] == "src":
                    rel = rel.relative_to("src")
                if not str(rel).startswith(target.replace(".", "/")):
                    continue
                return {"file": str(rel), "line": number, "code": m["code"],
                        "owner": m["owner"], "attribute": m["attr"]}
    raise AssertionError(f"no planted line in {project}")


def test_the_venv_holds_each_kind_of_install(good_python: Path) -> None:
    """What the scenarios claim to cover: copies in site-packages, an editable install by a
    ``.pth`` path entry (the src/ layout) and by setuptools' finder hook (the others)."""
    site = next(good_python.parent.parent.glob("lib/python*/site-packages"))
    assert (site / "shopwheel" / "models.py").is_file()
    assert (site / "acme" / "core" / "base.py").is_file()
    pth = (site / "__editable__.src_shop-1.0.0.pth").read_text().strip()
    assert pth.endswith("src") and Path(pth, "srcshop", "models.py").is_file()
    assert (site / "__editable___shop_editable_1_0_0_finder.py").is_file()
    assert (site / "__editable___acme_billing_1_0_0_finder.py").is_file()
    assert not (site / "acme" / "billing").exists()  # the namespace has two portions


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_installed_models_are_found_and_compared(name: str, good_python: Path,
                                                 tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    url = _database(good_python, tmp_path, scenario)
    result = _check(good_python, tmp_path, scenario.models, "--database-url", url,
                    *_bind_urls(scenario, url))
    assert result.returncode == 0, result.stdout
    assert not result.findings("SQLA130")
    mappers = result.check("mappers")["observed"]
    assert sorted(mappers["table_names"]) == sorted(scenario.tables)
    for name in ["schema_drift", *(f"schema_drift:{b}" for b in scenario.binds)]:
        drift = result.check(name)
        assert drift["status"] == "pass", drift
        assert not drift["findings"]


def _bind_urls(scenario: Scenario, url: str) -> list[str]:
    """Each bind's URL: the one database file, which holds every bind's tables here."""
    return [arg for bind in scenario.binds for arg in ("--database-url", f"{bind}={url}")]


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_column_renamed_behind_the_installed_apps_back(name: str, good_python: Path,
                                                         tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    url = _database(good_python, tmp_path, scenario)
    table, column, new = scenario.renamed
    with sqlite3.connect(tmp_path / "app.sqlite") as conn:
        conn.execute(f'ALTER TABLE "{table}" RENAME COLUMN "{column}" TO "{new}"')
    result = _check(good_python, tmp_path, scenario.models, "--database-url", url,
                    *_bind_urls(scenario, url))
    assert result.returncode == 1, result.stdout
    errors = [f for f in result.check("schema_drift")["findings"] if f["severity"] == "error"]
    assert errors, result.check("schema_drift")
    rename = errors[0]
    assert rename["table"] == table
    assert column in rename["message"] and new in rename["message"], rename
    if scenario.model_file is not None:  # an ORM table: the finding points at the model
        assert rename["file"] == scenario.model_file, rename


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_planted_bug_in_an_installed_package_is_located(name: str, broken_python: Path,
                                                          tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    marked = _marked(scenario.project, scenario.models[0])
    result = _check(broken_python, tmp_path, scenario.models)
    assert result.returncode == 1, result.stdout
    found = result.findings(str(marked["code"]))
    assert found, [(f["code"], f["message"]) for f in result.findings()]
    finding = found[0]
    assert (finding["file"], finding["line"]) == (marked["file"], marked["line"]), finding
    if scenario.model_file is not None:
        assert finding["class"] == marked["owner"], finding
        assert finding["attribute"] == marked["attribute"], finding
    else:  # a Core Table: the table (and column)
        assert (finding["table"], finding["column"]) == (marked["owner"], marked["attribute"])


@pytest.mark.parametrize(("target", "empty"), [("emptyshop.schemas", False),
                                               ("emptyshop.db", True)])
def test_models_that_map_nothing_are_an_error(target: str, empty: bool, good_python: Path,
                                              tmp_path: Path) -> None:
    result = _check(good_python, tmp_path, (target,))
    assert result.returncode == 1, result.stdout
    finding = result.findings("SQLA130")[0]
    assert finding["severity"] == "error"
    module_file = target.replace(".", "/") + ".py"
    assert target in finding["message"] and module_file in finding["message"], finding
    for looked_for in ("MetaData", "Table", "registry", "declarative base",
                       "Flask-SQLAlchemy db"):
        assert looked_for in finding["message"]
    assert ("emptyshop.db:Base.metadata" in finding["hint"]) is empty, finding["hint"]
    assert result.check("schema_drift")["status"] == "skip"


def test_a_target_spelled_through_src_is_imported_under_the_apps_own_name(
        good_python: Path, tmp_path: Path) -> None:
    """``--models src.ledger.models`` when the app imports itself as ``ledger.*``
    (``PYTHONPATH=src``): importing the spelling would run models.py twice and redefine its
    table (SQLA102/SQLA114 blaming the app for the worker's import); the worker imports the
    file under the app's name instead, and says so."""
    app = FIXTURES / "src_spelling"
    result = run_cli("check", "--python", str(good_python), "--app-path", str(app),
                     "--models", "src.ledger.models", "--models", "src.ledger.reports",
                     "--format", "json", cwd=tmp_path, timeout=120,
                     env={"PYTHONPATH": str(app / "src")})
    assert result.returncode == 0, result.stdout
    assert result.findings() == []
    observed = result.check("models_import")["observed"]
    assert observed["imported_as"] == {"src.ledger.models": "ledger.models",
                                       "src.ledger.reports": "ledger.reports"}
    assert result.check("mappers")["observed"]["class_names"] == ["ledger.models.Account"]

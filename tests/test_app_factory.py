"""The app-factory check (opt-in): a second app must not register the models again, and a
getter called from several threads at once must build one app — the incident's
``get_flask_app()`` race, reported in every run because the check makes it certain (a gate
holds the builder until every thread is inside), never because a run happened to be slow.

Fixtures: ``tests/fixtures/app_factory_*`` and ``app_getter_*`` (one app root each, the
statement to edit marked ``# <- SIDECAR``, a second place ``# <- CAUSE``).
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.settings import ConfigError, Settings, resolve
from tests.support.helpers import (
    EXAMPLES,
    FIXTURES,
    ROOT,
    assert_required_facts,
    check_fixture,
    marked_line,
    run_cli,
)

FACTORY = ("--app-factory", "app.factory:create_app")
RUNS = 20  # the determinism loop: the racy getters are reported in each of these runs


def _getter(name: str = "get_flask_app") -> tuple[str, str]:
    return "--app-getter", f"app.asgi:{name}"


def _causes(fixture: str) -> list[tuple[str, int]]:
    """The ``# <- CAUSE`` lines: the second place a finding names (``related``)."""
    root = FIXTURES / fixture
    return [(str(path.relative_to(root)), number)
            for path in sorted(root.rglob("*.py"))
            for number, line in enumerate(path.read_text().splitlines(), 1)
            if "# <- CAUSE" in line]


def _only(result, code: str) -> dict:
    check = result.check("app_factory")
    assert [f["code"] for f in check["findings"]] == [code], check
    assert_required_facts(check["findings"])
    return check["findings"][0]


def _related(finding: dict) -> list[tuple[str, int]]:
    return [(r["file"], r["line"]) for r in finding.get("related") or ()]


# --- opt-in ----------------------------------------------------------------------------------


def test_skipped_unless_asked_for() -> None:
    result = check_fixture("good_plain")
    assert result.returncode == 0, result.stdout
    check = result.check("app_factory")
    assert check["status"] == "skip" and "--app-factory" in check["reason"], check


def test_skipped_when_the_models_do_not_import() -> None:
    result = check_fixture("generic_exception", *FACTORY)
    check = result.check("app_factory")
    assert check["status"] == "skip" and "did not import" in check["reason"], check


# --- the getter: several threads at once ------------------------------------------------------


def test_the_incidents_racy_getter_is_reported_at_its_def_and_check() -> None:
    """The real CLI: the def line, the unguarded check as related, the exact fix."""
    result = check_fixture("app_getter_unguarded", *FACTORY, *_getter())
    assert result.returncode == 1, result.stdout + result.stderr
    finding = _only(result, "SQLA182")
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / "app_getter_unguarded")
    assert _related(finding) == _causes("app_getter_unguarded")
    facts = finding["facts"]
    assert (facts["threads"], facts["builds"], facts["apps"]) == (4, 4, 4)
    assert facts["kind"] == "unguarded" and facts["builder"] == "create_app"
    assert facts["check_text"] == "if flask_app is None:"
    assert "with flask_app_lock:" in facts["fixed_code"]
    assert "flask_app_lock = threading.Lock()" in finding["hint"]
    observed = result.check("app_factory")["observed"]
    assert observed["factory"]["returned"] == 2 and observed["getter"]["forced"] is True


def test_the_fixed_code_of_the_hint_passes(tmp_path: Path) -> None:
    """The getter the hint writes, put in place of the app's: one app, no finding."""
    result = check_fixture("app_getter_unguarded", *_getter())
    fixed = _only(result, "SQLA182")["facts"]["fixed_code"]
    app = tmp_path / "app_getter_unguarded"
    shutil.copytree(FIXTURES / "app_getter_unguarded", app)
    asgi = app / "app" / "asgi.py"
    asgi.write_text(_with_function_replaced(asgi.read_text(), "get_flask_app", fixed))
    again = run_cli("check", "--app-path", str(app), "--models", "app.models",
                    "--format", "json", *_getter())
    assert again.returncode == 0, again.stdout + again.stderr
    check = again.check("app_factory")
    assert check["status"] == "pass", check
    assert (check["observed"]["getter"]["builds"], check["observed"]["getter"]["apps"]) == (1, 1)


def _with_function_replaced(source: str, name: str, code: str) -> str:
    lines = source.splitlines()
    node = next(n for n in ast.parse(source).body
                if isinstance(n, ast.FunctionDef) and n.name == name)
    start = min([node.lineno] + [d.lineno for d in node.decorator_list])
    return "\n".join(lines[:start - 1] + code.splitlines() + lines[node.end_lineno:]) + "\n"


RACE_LOOP = """
import json, os, sys
app_path, getter, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, app_path)
os.chdir(app_path)
from sidecar.worker.checks.app_factory.check import run_app_factory
from sidecar.worker.checks.models.check import run_models_import
from sidecar.worker.context import Context

ctx = Context({"app_path": app_path, "models": ["app.models"], "getter_target": getter},
              lambda detail: None)
run_models_import(ctx)
assert ctx.import_ok
seen = []
for _ in range(runs):
    outcome = run_app_factory(ctx)
    getter_seen = outcome["observed"]["getter"]
    seen.append({"findings": [[f["code"], f.get("file"), f.get("line")]
                              for f in outcome["findings"]],
                 "race": [getter_seen[k] for k in ("shape", "builds", "apps", "forced")]})
print(json.dumps(seen))
"""


def _loop(fixture: str, getter: str) -> list[dict]:
    """The check's core, RUNS times in one worker-like process (the models imported once,
    as in the worker; an app the previous run built is set aside by the check itself)."""
    proc = subprocess.run([sys.executable, "-c", RACE_LOOP, str(FIXTURES / fixture), getter,
                           str(RUNS)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    runs = json.loads(proc.stdout.splitlines()[-1])
    assert len(runs) == RUNS
    return runs


@pytest.mark.parametrize(("fixture", "getter", "kind"), [
    ("app_getter_unguarded", "app.asgi:get_flask_app", "unguarded"),
    ("app_getter_no_recheck", "app.asgi:get_app", "no_recheck"),
    ("app_getter_lru_cache", "app.asgi:get_app", "cached"),
])
def test_a_racy_getter_is_reported_in_every_run(fixture: str, getter: str, kind: str) -> None:
    """The same finding in each of RUNS runs: all 4 threads built, 4 apps — the gate makes
    the race certain."""
    place = list(marked_line(FIXTURES / fixture))
    assert _loop(fixture, getter) == [
        {"findings": [["SQLA182", *place]], "race": [kind, 4, 4, True]}] * RUNS


def test_the_locked_getter_passes_in_every_run() -> None:
    """And the fix passes each time: one build, one app (the lone builder is let go once
    the other threads wait on its lock)."""
    assert _loop("app_getter_locked", "app.asgi:get_flask_app") == [
        {"findings": [], "race": ["locked", 1, 1, True]}] * RUNS


@pytest.mark.parametrize(("fixture", "getter", "words"), [
    ("app_getter_no_recheck", "get_app", ("with _lock:", "        if _app is None:")),
    ("app_getter_lru_cache", "get_app", ("_app_lock = threading.Lock()", "with _app_lock:")),
])
def test_other_racy_shapes_get_their_own_fix(fixture: str, getter: str,
                                             words: tuple[str, ...]) -> None:
    finding = _only(check_fixture(fixture, *_getter(getter)), "SQLA182")
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / fixture)
    assert _related(finding)[-1] == _causes(fixture)[0]
    fixed = finding["facts"]["fixed_code"]
    compile(fixed, "fixed", "exec")
    assert all(word in fixed for word in words), fixed
    assert "lru_cache" not in fixed


@pytest.mark.slow
@pytest.mark.parametrize(("fixture", "args", "code"), [
    ("app_getter_unguarded", _getter(), "SQLA182"),
    ("app_getter_lru_cache", _getter("get_app"), "SQLA182"),
    ("app_factory_models_inside", FACTORY, "SQLA180"),
    ("app_factory_reload", FACTORY, "SQLA180"),
    ("app_getter_locked", _getter(), None),
])
def test_the_same_under_python_38(fixture: str, args: tuple[str, ...], code: str | None,
                                  py38_python: str) -> None:
    """The worker's oldest Python (SQLAlchemy 1.4): the same codes at the same lines."""
    result = check_fixture(fixture, *args, python=py38_python)
    assert "3.8" in result.report["versions"]["python"]
    if code is None:
        assert result.check("app_factory")["status"] == "pass", result.check("app_factory")
        return
    finding = _only(result, code)
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / fixture)


def test_the_locked_getter_passes() -> None:
    """The incident's fix: one thread builds (the others wait on its lock), one app."""
    result = check_fixture("app_getter_locked", *FACTORY, *_getter())
    assert result.returncode == 0, result.stdout + result.stderr
    check = result.check("app_factory")
    assert check["status"] == "pass" and check["findings"] == [], check
    getter = check["observed"]["getter"]
    assert (getter["builds"], getter["apps"], getter["forced"]) == (1, 1, True)
    assert getter["shape"] == "locked"


def test_building_the_app_at_import_passes() -> None:
    result = check_fixture("app_getter_at_import", *FACTORY, *_getter())
    assert result.returncode == 0, result.stdout + result.stderr
    check = result.check("app_factory")
    assert check["status"] == "pass", check
    assert (check["observed"]["getter"]["builds"], check["observed"]["getter"]["apps"]) == (0, 1)


def test_a_getter_that_hangs_is_bounded_by_the_timeout() -> None:
    """A factory that calls the getter back under the getter's own Lock: a deadlock, ended
    by --timeout and reported at the line it waits on."""
    result = check_fixture("app_getter_hangs", *_getter("get_app"), timeout_s=4)
    assert result.returncode == 1, result.stdout + result.stderr
    finding = _only(result, "SIDE001")
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / "app_getter_hangs")
    assert "threads at once" in finding["facts"]["phase"]
    assert "never released" in finding["hint"]


# --- the factory: a second app in one process -----------------------------------------------


def test_models_defined_in_the_factory_are_reported_at_the_class() -> None:
    result = check_fixture("app_factory_models_inside", *FACTORY)
    assert result.returncode == 1, result.stdout + result.stderr
    finding = _only(result, "SQLA180")  # its SAWarning is the same finding, not another
    assert (finding["file"], finding["line"]) == marked_line(
        FIXTURES / "app_factory_models_inside")
    assert (finding["class"], finding["table"]) == ("AuditEntry", "audit_entries")
    assert finding["facts"]["defined_in"] == "create_app"
    assert finding["facts"]["call"] == "second"
    assert "Move class AuditEntry out of `create_app()`" in finding["hint"]


def test_a_factory_that_reloads_the_models_is_reported_at_the_reload() -> None:
    result = check_fixture("app_factory_reload", *FACTORY)
    assert result.returncode == 1, result.stdout + result.stderr
    finding = _only(result, "SQLA180")
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / "app_factory_reload")
    assert _related(finding) == _causes("app_factory_reload")
    assert finding["facts"]["module_file"] == "app/models.py"
    assert "Remove `importlib.reload(models)`" in finding["hint"]


def test_a_factory_that_raises_is_located_in_the_apps_code() -> None:
    result = check_fixture("app_factory_raises", *FACTORY)
    finding = _only(result, "SQLA183")
    assert (finding["file"], finding["line"]) == marked_line(FIXTURES / "app_factory_raises")
    assert finding["exception"] == "RuntimeError"
    assert "app.factory.create_app()" in finding["facts"]["reproduce"]
    assert "Traceback" not in result.stderr


def test_a_target_that_does_not_exist_is_a_finding() -> None:
    result = check_fixture("app_getter_unguarded", "--app-factory", "app.nope:create_app",
                           *_getter("get_flsk_app"))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    findings = result.check("app_factory")["findings"]
    assert [(f["code"], f["facts"]["option"], f["facts"]["missing"]) for f in findings] == [
        ("SQLA184", "--app-factory", "module"), ("SQLA184", "--app-getter", "attribute")]
    assert findings[1]["facts"]["closest"] == "get_flask_app"
    assert "Did you mean `app.asgi:get_flask_app`?" in findings[1]["hint"]


# --- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "words"), [
    ("server.app_factory", "expected module:callable"),
    ("server.app_factory:create_app()", "without the call's parentheses"),
    ("server/app_factory.py:create_app", "expected module:callable"),
])
def test_a_bad_value_is_one_line_and_no_traceback(value: str, words: str) -> None:
    result = run_cli("check", "--app-path", str(FIXTURES / "good_plain"), "--models",
                     "app.models", "--app-factory", value)
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("sidecar: error: --app-factory: ") and words in result.stderr


def test_the_variables_reach_the_worker(tmp_path: Path) -> None:
    import argparse

    args = argparse.Namespace(command="check", app_path=str(tmp_path), models=["app.models"],
                              factory_target=None, getter_target=None)
    settings = resolve(args, {"SIDECAR_APP_FACTORY": "server.app_factory:create_app",
                              "SIDECAR_APP_GETTER": "asgi:get_flask_app"})
    assert isinstance(settings, Settings)
    config = settings.worker_config()
    assert (config["factory_target"], config["getter_target"]) == (
        "server.app_factory:create_app", "asgi:get_flask_app")
    with pytest.raises(ConfigError, match="SIDECAR_APP_GETTER"):
        resolve(args, {"SIDECAR_APP_GETTER": "asgi"})
    # compose.override.yml passes them empty when unset: the check stays off
    empty = resolve(args, {"SIDECAR_APP_FACTORY": "", "SIDECAR_APP_GETTER": " "})
    assert (empty.factory_target, empty.getter_target) == (None, None)


# --- the incident-shaped example ---------------------------------------------------------------


def test_the_good_example_builds_one_app() -> None:
    result = run_cli("check", "--app-path", str(EXAMPLES / "good"), "--models",
                     "server.models_sql", "--models", "server.models_plain", "--format", "json",
                     "--app-factory", "server.app_factory:create_app",
                     "--app-getter", "asgi:get_flask_app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.check("app_factory")["status"] == "pass"


def test_the_incidents_second_bug_once_the_first_is_fixed(tmp_path: Path) -> None:
    """broken_reserved: SQLA101 first (the getter is not reached while the models do not
    import); with the metadata attribute renamed, the race in asgi.py."""
    app = tmp_path / "backend"
    shutil.copytree(EXAMPLES / "broken_reserved", app,
                    ignore=shutil.ignore_patterns("__pycache__"))
    args = ["--models", "server.models_sql", "--format", "json",
            "--app-factory", "server.app_factory:create_app",
            "--app-getter", "asgi:get_flask_app"]
    first = run_cli("check", "--app-path", str(app), *args)
    assert [f["code"] for f in first.findings() if f["severity"] == "error"] == ["SQLA101"]
    assert first.check("app_factory")["status"] == "skip"
    models = app / "server" / "models_sql.py"
    broken = "    metadata = db.Column(db.JSON, nullable=True)"
    assert broken in models.read_text()
    models.write_text(models.read_text().replace(
        broken, '    event_metadata = db.Column("metadata", db.JSON, nullable=True)'))
    second = run_cli("check", "--app-path", str(app), *args)
    finding = _only(second, "SQLA182")
    asgi = (app / "asgi.py").read_text().splitlines()
    assert asgi[finding["line"] - 1].startswith("def get_flask_app():")
    assert _related(finding) == [("asgi.py", next(
        i for i, line in enumerate(asgi, 1) if "if flask_app is None:" in line))]

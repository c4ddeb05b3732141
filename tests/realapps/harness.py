"""What every real-application test does: run the app's own commands, run ``sidecar check``
on it, rename a column behind its back, plant a model bug in a copy of its package.

The apps are never imported here: each runs in its own venv (``tests/realapps/apps.py``),
as a subprocess, the way its users run it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from tests.realapps.apps import App
from tests.support.helpers import MARK, CliResult, assert_required_facts, run_cli
from tests.support.pgcluster import PgCluster

ROLE = "realapps"
ROLE_PASSWORD = "ra-Pw-5d2e8a"  # the throwaway cluster's app role; not a secret
SIDECAR_TIMEOUT_S = 180  # a deadline against hangs on a loaded 2-core machine, not a bound


class AppDatabase:
    """One database on the suite's cluster, owned by the apps' role."""

    def __init__(self, cluster: PgCluster, name: str) -> None:
        self.cluster = cluster
        self.name = name
        self.host = "127.0.0.1"
        self.port = cluster.port

    def url(self, driver: str | None = "psycopg2") -> str:
        return self.cluster.url(self.name, ROLE, ROLE_PASSWORD, driver=driver)

    def sql(self, text: str) -> str:
        """SQL in the test's own connection (psql as the superuser), never the app's."""
        return self.cluster.psql(text, self.name)

    def tables(self) -> set[str]:
        out = self.sql("SELECT table_name FROM information_schema.tables "
                       "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
        return set(out.split())

    def alembic_revision(self) -> str:
        return self.sql("SELECT version_num FROM alembic_version").strip()


def run_app(app: App, command: str, *args: str, env: dict[str, str] | None = None,
            cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """One of the app's own console scripts, in its venv; fails the test with its output."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    full_env.update(env or {})
    proc = subprocess.run([app.bin(command), *args], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
    assert proc.returncode == 0, (
        f"{app.name}: `{command} {' '.join(args)}` exited {proc.returncode}\n"
        f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def sidecar_check(app: App, models: list[str], cwd: Path, database_url: str | None = None,
                  env: dict[str, str] | None = None) -> CliResult:
    """``sidecar check`` as a user would run it on the installed app: its interpreter, its
    model modules, its database; nothing else but JSON output and a deadline against hangs.
    ``cwd`` (the default app path) is an empty folder: the app's code is only in its venv."""
    args = ["check", "--python", str(app.python), "--format", "json",
            "--timeout", str(SIDECAR_TIMEOUT_S)]
    for module in models:
        args += ["--models", module]
    if database_url:
        args += ["--database-url", database_url]
    result = run_cli(*args, env=env, cwd=cwd, timeout=SIDECAR_TIMEOUT_S + 120)
    assert result.returncode in (0, 1), f"usage error {result.returncode}: {result.stderr}"
    assert_required_facts(result.findings())
    return result


def summary(result: CliResult) -> str:
    """The findings in one line each, for assertion messages."""
    lines = []
    for check in result.report["checks"]:
        lines.append(f"[{check['status']}] {check['name']}: {check.get('reason') or ''}")
        for f in check["findings"]:
            lines.append(f"  {f['severity']} {f['code']} at {f['file']}:{f['line']} "
                         f"({f['class']}.{f['attribute']} / {f['table']}.{f['column']}): "
                         f"{(f['message'] or '')[:300]}")
    return "\n".join(lines)


def errors(result: CliResult) -> list[dict[str, Any]]:
    return [f for f in result.findings() if f["severity"] == "error"]


def assert_ready_and_compared(result: CliResult, min_tables: int) -> dict[str, Any]:
    """Freshly migrated: exit 0, no error, and the schema comparison really compared the
    app's tables (a comparison of nothing is no evidence). Returns drift's ``observed``."""
    assert result.returncode == 0 and not errors(result), summary(result)
    drift = result.check("schema_drift")
    assert drift["status"] != "skip", summary(result)
    observed = drift["observed"] or {}
    assert observed.get("tables_in_models", 0) >= min_tables, (observed, summary(result))
    assert observed.get("tables_compared", 0) >= min_tables, (observed, summary(result))
    return observed


def rename_column(db: AppDatabase, table: str, column: str, to: str) -> None:
    db.sql(f'ALTER TABLE "{table}" RENAME COLUMN "{column}" TO "{to}"')


def assert_rename_found(result: CliResult, table: str, db_column: str,
                        model_column: str) -> dict[str, Any]:
    """Exit 1 with DRIFT414 naming the table and the model's column, and the SQL that renames
    the database's column back."""
    assert result.returncode == 1, summary(result)
    found = [f for f in result.findings("DRIFT414") if f["table"] == table]
    assert len(found) == 1, summary(result)
    finding = found[0]
    assert finding["severity"] == "error" and finding["column"] == model_column, finding
    sql = finding["fix_sql"] or ""
    pattern = (rf'ALTER TABLE "?{table}"? RENAME COLUMN "?{db_column}"? '
               rf'TO "?{model_column}"?')
    assert re.search(pattern, sql), sql
    return finding


def plant(app: App, package: str, relpath: str, old: str, new: str, into: Path
          ) -> tuple[Path, Path, int]:
    """Copy the app's installed top-level ``package`` to ``into`` (to go first on
    PYTHONPATH; the venv itself is never edited) and replace the one occurrence of ``old`` in
    ``relpath`` by ``new``, whose marked line (``# <- SIDECAR: ...``) is where the finding
    must point. Returns (the folder for PYTHONPATH, the edited file, the marked line)."""
    root = into / "overlay"
    shutil.copytree(app.site_packages() / package, root / package,
                    ignore=shutil.ignore_patterns("__pycache__"))
    target = root / package / relpath
    text = target.read_text()
    assert text.count(old) == 1, f"{app.name} {relpath}: the planted-at text is not unique " \
        f"or gone (a new pin?): {old!r}"
    assert MARK in new, "the planted text marks the line the finding must point at"
    text = text.replace(old, new)
    target.write_text(text)
    line = next(n for n, t in enumerate(text.splitlines(), start=1) if MARK in t)
    return root, target, line


def first_error(result: CliResult) -> dict[str, Any]:
    found = errors(result)
    assert result.returncode == 1 and found, summary(result)
    return found[0]


def assert_located(finding: dict[str, Any], app_path: Path, file: Path, line: int,
                   **names: str | None) -> None:
    """The finding points at the planted statement: file (relative to the app path or
    absolute), line, and the class/attribute (ORM) or table/column (Core) given."""
    assert finding["file"], finding
    got = Path(finding["file"])
    if got.is_absolute() or (app_path / got).exists():
        same_file = (got if got.is_absolute() else app_path / got).resolve() == file.resolve()
    else:  # an installed package's file is named from the folder that holds the package
        same_file = file.resolve().as_posix().endswith("/" + got.as_posix())
    assert same_file, (file, finding)
    # any line of the planted statement (a relationship(...) over two lines is located at
    # the string argument that names the missing class)
    assert finding["line"] in statement_lines(file, line), (line, finding)
    for key, value in names.items():
        assert finding[key] == value, (key, finding)


def statement_lines(file: Path, line: int) -> range:
    """The lines of the statement that starts at ``line`` (just ``line`` if none does)."""
    import ast

    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.stmt) and node.lineno == line:
            return range(line, (node.end_lineno or line) + 1)
    return range(line, line + 1)


class Checks:
    """``sidecar check`` on one migrated database, memoized per set of ``--models``: the
    fresh-database tests of a module share one run per target list."""

    def __init__(self, app: App, db: AppDatabase, cwd: Path,
                 env: dict[str, str] | None = None) -> None:
        self.app, self.db, self.cwd, self.env = app, db, cwd, env
        self._fresh: dict[tuple[str, ...], CliResult] = {}

    def run(self, models: list[str]) -> CliResult:
        return sidecar_check(self.app, models, self.cwd, self.db.url(), env=self.env)

    def fresh(self, models: list[str]) -> CliResult:
        key = tuple(models)
        if key not in self._fresh:
            self._fresh[key] = self.run(models)
        return self._fresh[key]

    def with_renamed(self, models: list[str], table: str, column: str, to: str) -> CliResult:
        """The check while ``table.column`` is renamed ``to`` behind the app's back (renamed
        back afterwards, so the module's other tests see the migrated schema)."""
        rename_column(self.db, table, column, to)
        try:
            return self.run(models)
        finally:
            rename_column(self.db, table, to, column)


def check_planted(app: App, models: list[str], root: Path, where: str,
                  env: dict[str, str] | None = None) -> tuple[CliResult, Path]:
    """``sidecar check`` on the planted copy at ``root``: ``installed`` puts it first on
    PYTHONPATH with an empty app path (the package is not the app path's: issue 10's case);
    ``source`` makes it the app path (a source checkout, what sidecar handles today).
    Returns the result and the app path that relative ``file``s are relative to."""
    if where == "installed":
        cwd = root.parent / "cwd"
        cwd.mkdir()
        env = {**(env or {}), "PYTHONPATH": str(root)}
    else:
        cwd = root
    return sidecar_check(app, models, cwd, env=env), cwd


def assert_migrations_found(result: CliResult, db: AppDatabase, static: bool = True) -> None:
    """The app's own migrations were found without a flag and the fresh database is at
    their head. ``static=False``: the app's env.py sets the version locations at run time,
    so a warning that says the revisions cannot be read statically is also right; an error
    (a false "no heads" / "not at head") never is."""
    mig = result.check("migrations")
    assert mig["status"] != "skip", summary(result)
    assert not [f for f in mig["findings"] if f["severity"] == "error"], summary(result)
    if static or mig["status"] == "pass":
        observed = mig["observed"] or {}
        assert mig["status"] == "pass", summary(result)
        assert observed.get("state") == "at_head", observed
        assert observed.get("current") == [db.alembic_revision()], observed

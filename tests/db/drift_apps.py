"""Helpers for the drift tests that run ``sidecar check`` on the drift_* fixture apps."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.helpers import FIXTURES, CliResult, run_cli


def create_all(fixture: str, url: str, metadatas: str, then: str = "") -> None:
    """Create the fixture's tables on the test's own database with ``create_all`` (the app's
    models, imported in a child interpreter: every fixture's package is called ``app``),
    then run the SQL statements in ``then`` (the change behind the app's back)."""
    code = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(FIXTURES / fixture)!r})
        import sqlalchemy as sa
        from app import models
        engine = sa.create_engine({url!r})
        for md in {metadatas}:
            md.create_all(engine)
        with engine.begin() as conn:
            for statement in {[s for s in then.split(";") if s.strip()]!r}:
                conn.exec_driver_sql(statement)
        engine.dispose()
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr


def check_app(fixture: str, url: str, *extra: str, fmt: str = "json") -> CliResult:
    return run_cli("check", "--app-path", str(FIXTURES / fixture), "--models", "app.models",
                   "--database-url", url, "--format", fmt, *extra, timeout=120)


def drift_codes(result: CliResult) -> list[str]:
    return sorted(f["code"] for f in result.check("schema_drift")["findings"])

"""Issue 11 item 1: the app's own code, run by the worker, never writes to the user's database.

Real apps run ``create_all()`` or an INSERT at import. The worker inherits the environment
(DATABASE_URL included), so before this every ``check`` and every daemon cycle wrote to
production — and drift then reported "ok" for the table the app had just created. Here the
app writes three ways: through SQLAlchemy (create_all + INSERT), through a raw psycopg2
connection (libpq: PGOPTIONS), and on SQLite through SQLAlchemy. Row counts and the catalog
are read by the test's own connection before and after."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.reliability.conftest import FAST, app_url, new_database
from tests.reliability.matrix import record
from tests.support.helpers import run_cli

pytestmark = pytest.mark.reliability

MODELS = '''
import os

from sqlalchemy import Column, Integer, String, create_engine, text
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"

    id = Column(Integer, primary_key=True)
    name = Column(String(100))


class AuditLog(Base):
    __tablename__ = "audit_log"

    id = Column(Integer, primary_key=True)


engine = create_engine(os.environ["DATABASE_URL"])
{write}
'''

WRITES = {
    "create_all": "Base.metadata.create_all(engine)  # <- the write",
    "insert": "with engine.begin() as c:\n"
              "    c.execute(text(\"INSERT INTO items (name) VALUES ('seeded')\"))  # <- the write",
    "raw_psycopg2": "import psycopg2\n"
                    "conn = psycopg2.connect(os.environ['RAW_DSN'])\n"
                    "cur = conn.cursor()\n"
                    "cur.execute(\"INSERT INTO items (name) VALUES ('raw')\")  # <- the write\n"
                    "conn.commit()",
    "caught": "try:\n"
              "    Base.metadata.create_all(engine)  # <- the write\n"
              "except Exception:\n"
              "    pass",
}


def _app(tmp_path: Path, write: str) -> tuple[Path, int]:
    app = tmp_path / "writer"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    source = textwrap.dedent(MODELS).lstrip().replace("{write}", WRITES[write])
    (app / "app" / "models.py").write_text(source)
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "<- the write" in text)
    return app, line


def _state(pg, dbname: str) -> tuple[str, str]:
    tables = pg.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables "
                     "WHERE schemaname = 'public'", dbname).strip()
    rows = pg.psql("SELECT count(*) FROM items", dbname).strip()
    return tables, rows


@pytest.mark.postgres
@pytest.mark.parametrize("write", ["create_all", "insert", "raw_psycopg2"])
def test_check_refuses_the_apps_writes_on_postgresql(pg, tmp_path, write):
    dbname = new_database(pg)  # has `items`, not `audit_log`
    url = app_url(pg, dbname)
    app, line = _app(tmp_path, write)
    before = _state(pg, dbname)
    dsn = f"dbname={dbname} host=127.0.0.1 port={pg.port} user=relapp password=rel-Pw-4e1b"
    result = run_cli("check", "--app-path", str(app), "--models", "app.models",
                     "--database-url", url, "--format", "json", "--timeout", "60",
                     env={"DATABASE_URL": url, "RAW_DSN": dsn}, timeout=120)
    assert _state(pg, dbname) == before, "the app's import wrote to the database"
    assert result.returncode == 1, result.stdout[-3000:]
    found = [f for c in result.report["checks"] for f in c["findings"]]
    side013 = [f for f in found if f["code"] == "SIDE013"]
    assert side013, [f["code"] for f in found]
    assert side013[0]["file"] == "app/models.py" and side013[0]["line"] == line, side013[0]
    assert "rel-Pw-4e1b" not in result.stdout


@pytest.mark.postgres
def test_twenty_daemon_cycles_leave_the_database_unchanged(pg, daemon, tmp_path):
    dbname = new_database(pg)
    url = app_url(pg, dbname)
    app, line = _app(tmp_path, "insert")
    before = _state(pg, dbname)
    d = daemon("--app-path", str(app), "--models", "app.models", *FAST,
               env={"DATABASE_URL": url})
    d.wait_for(lambda: d.metrics()["sidecar_cycles_total"] >= 20, 180, "20 cycles")
    assert _state(pg, dbname) == before
    finding = d.finding("SIDE013")
    assert finding is not None and finding["line"] == line, finding
    assert "INSERT INTO items" in finding["facts"]["statement"]
    readiness = d.readyz()
    count = sum(v for k, v in d.metrics().items()
                if k.startswith("sidecar_findings{") and 'code="SIDE013"' in k)
    d.stop_and_check()
    record("app-writes-at-import", readiness=readiness, code="SIDE013", hint=finding["hint"],
           metric=f'sidecar_findings{{code="SIDE013"}} {count:g}')


def test_a_refusal_the_app_catches_is_a_warning_and_sqlite_is_untouched(tmp_path):
    db = tmp_path / "app.db"
    _sqlite_items(db)
    app, line = _app(tmp_path, "caught")
    url = f"sqlite:///{db}"
    result = run_cli("check", "--app-path", str(app), "--models", "app.models",
                     "--database-url", url, "--format", "json", env={"DATABASE_URL": url},
                     timeout=120)
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert tables == ["items"], tables  # create_all was refused: no audit_log
    found = {f["code"]: f for c in result.report["checks"] for f in c["findings"]}
    assert found["SIDE013"]["severity"] == "warning" and found["SIDE013"]["line"] == line
    # drift saw the database as it is: audit_log is missing, not "ok"
    assert any(f["code"].startswith("DRIFT") and "audit_log" in (f.get("table") or "")
               for f in found.values()), sorted(found)


def _sqlite_items(db: Path) -> None:
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(100))")

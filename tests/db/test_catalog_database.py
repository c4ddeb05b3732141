"""The DB/MIG/DRIFT catalog entries: every code the worker emits has an entry, a docs section
and a hint that renders without unfilled placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sidecar.findings.catalog import Entry
from sidecar.findings.codes import database, drift, migrations

ENTRIES = database.ENTRIES + migrations.ENTRIES + drift.ENTRIES

ROOT = Path(__file__).resolve().parents[2]
WORKER_FILES = ["checks/database/check.py", "checks/database/url.py", "redact.py",
                "checks/migrations/check.py", "checks/drift/check.py", "checks/drift/diffs.py",
                "checks/drift/extra.py", "checks/drift/passes.py"]
CODE = re.compile(r'"((?:DB2|MIG3|DRIFT4)\d\d)"')


def emitted_codes() -> set[str]:
    found = set()
    for name in WORKER_FILES:
        found |= set(CODE.findall((ROOT / "sidecar" / "worker" / name).read_text()))
    return found


def test_every_emitted_code_has_an_entry_and_a_docs_section():
    entries = {e.code for e in ENTRIES}
    assert len(entries) == len(ENTRIES), "duplicate code"
    assert emitted_codes() <= entries
    docs = (ROOT / "docs" / "findings.md").read_text()
    headings = set(re.findall(r"^## ((?:DB|MIG|DRIFT)\d+) — ", docs, re.M))
    assert headings == entries


SAMPLES = {
    "DB201": {"facts": {"host": "db", "port": "5432", "reason": "refused"}},
    "DB202": {"facts": {"host": "db"}},
    "DB203": {"facts": {"host": "db", "port": "5432", "timeout_s": "5"}},
    "DB204": {"facts": {"user": "app", "database": "app", "reason": "password"}},
    "DB205": {"facts": {"host": "db", "port": "5432", "user": "app", "database": "app"}},
    "DB206": {"facts": {"backend": "postgresql", "driver": "psycopg", "package": "psycopg",
                        "suggested": "postgresql+psycopg2", "installed": "psycopg2"}},
    "DB207": {"facts": {"reason": "alias", "backend": "postgres", "suggested": "postgresql"}},
    "DB208": {"facts": {"backend": "postgresql", "default_driver": "psycopg",
                        "driver": "psycopg2", "suggested": "postgresql+psycopg2"}},
    "DB209": {"facts": {"path": "/data/app.db"}},
    "DB210": {"facts": {"dialect": "mysql"}},
    "MIG301": {"facts": {"count": "2"}},
    "MIG302": {"facts": {"revision": "ffff", "heads": "c3d2"}},
    "MIG303": {"facts": {"heads": "a b"}},
    "MIG304": {"facts": {"head": "c3d2"}},
    "MIG305": {"facts": {"config": "alembic.ini"}},
    "MIG306": {"facts": {"reason": "runtime", "config": "migrations/alembic.ini"}},
    "DRIFT405": {"facts": {"db_type": "VARCHAR(20)", "model_type": "VARCHAR(50)"}},
    "DRIFT407": {"facts": {"db_default": "'1'", "model_default": "'5'"}},
    "DRIFT414": {"table": "security_events", "column": "event_metadata",
                 "fix_sql": "ALTER TABLE security_events RENAME COLUMN metadata TO "
                 "event_metadata",
                 "facts": {"old_column": "metadata", "new_column": "event_metadata",
                           "type": "JSON"}},
    "DRIFT415": {"facts": {"missing_values": ["c"], "extra_values": []}},
    "DRIFT420": {"table": "broken", "facts": {"detail": "permission denied"}},
    "DRIFT421": {"facts": {"reason": "UnsupportedCompilationError: no sqlite compiler",
                           "object": "server_default", "object_name": "GenerateUUID()",
                           "dialect": "sqlite"}},
    "DRIFT422": {"table": "secondary_indexes",
                 "facts": {"metadatas": "app.runs.metadata, app.events.metadata",
                           "compared": "app.runs.metadata",
                           "definitions_differ": "columns only in app.events.metadata: x",
                           "db_matches": "app.runs.metadata"}},
    "DRIFT423": {"facts": {"tables_in_models": "3", "reasons": "3 excluded by "
                           "--include-table/--exclude-table"}},
    "DRIFT424": {"facts": {"db_default": "'active'::character varying"}},
    "DRIFT431": {"facts": {"pending": "b2e1", "differences": "1"}},
    "DRIFT432": {"facts": {"heads": "c3d2", "differences": "2"}},
    "DRIFT433": {"facts": {"revision": "ffff", "differences": "2"}},
    "DRIFT425": {"facts": {"bind": "analytics", "tables": ["page_views"]}},
    "DRIFT426": {"facts": {"bind": "analytics", "target": "app.analytics:Base",
                           "reason": "module app.analytics was not imported by --models"}},
}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.code)
def test_hint_renders(entry: Entry):
    raw = {"code": entry.code, "message": "m", "table": "users", "column": "email",
           "fix_sql": "ALTER TABLE users ADD COLUMN email VARCHAR(9)",
           "facts": {"alembic_op": "op.add_column('users', sa.Column('email'))"}}
    raw.update(SAMPLES.get(entry.code, {}))
    hint = entry.render_hint(raw)
    assert hint and "?" not in hint, hint
    assert entry.severity in ("error", "warning", "info")


def test_rename_hint_offers_the_no_migration_alternative():
    entry = next(e for e in ENTRIES if e.code == "DRIFT414")
    hint = entry.render_hint(SAMPLES["DRIFT414"])
    assert 'event_metadata = Column("metadata", JSON, ...)' in hint
    assert "new_column_name='event_metadata'" in hint

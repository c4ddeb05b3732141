"""The migrations check: alembic_version in the database vs the scripts' heads, read-only."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from sidecar.worker.checks.migrations import check as migrations
from sidecar.worker.context import Skip
from tests.db.db_helpers import assert_required_facts, assert_secret_free, codes, only

pytestmark = pytest.mark.postgres

# rev, down_revision, message: a linear history of three migrations
HISTORY = [("a1f0", None, "create users"), ("b2e1", "a1f0", "add users.email"),
           ("c3d2", "b2e1", "create security_events")]


def write_alembic(app: Path, history=HISTORY, script_location: str = "migrations") -> Path:
    """An app folder with alembic.ini and version files (no env.py: it is never run)."""
    versions = app / script_location / "versions"
    versions.mkdir(parents=True)
    for rev, down, message in history:
        down_repr = repr(down) if not isinstance(down, tuple) else repr(tuple(down))
        (versions / f"{rev}_x.py").write_text(textwrap.dedent(f'''\
            """{message}

            Revision ID: {rev}
            """
            revision = "{rev}"
            down_revision = {down_repr}
            branch_labels = None
            depends_on = None


            def upgrade():
                raise AssertionError("the sidecar must never run a migration")


            def downgrade():
                pass
            '''))
    (app / "alembic.ini").write_text(f"[alembic]\nscript_location = {script_location}\n")
    return app


def stamp(db, *revisions: str) -> None:
    db.sql("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
           + "".join(f"INSERT INTO alembic_version VALUES ('{r}');" for r in revisions))


def check(run):
    out = migrations.run_migrations(run.ctx)
    assert_secret_free(out, run.phases)
    assert_required_facts(out["findings"])
    return out


def test_at_head(pgdb, make_run, tmp_path):
    db = pgdb()
    stamp(db, "c3d2")
    run = make_run(db.url(), app_path=write_alembic(tmp_path))
    out = check(run)
    assert out["findings"] == []
    assert out["observed"]["state"] == "at_head" and out["observed"]["heads"] == ["c3d2"]
    assert run.ctx.migration_state["state"] == "at_head"


def test_behind_lists_each_pending_revision_with_its_message(pgdb, make_run, tmp_path):
    db = pgdb()
    stamp(db, "a1f0")
    run = make_run(db.url(), app_path=write_alembic(tmp_path))
    f = only(check(run), "MIG301")
    assert f["facts"]["pending"] == [
        {"revision": "b2e1", "message": "add users.email"},
        {"revision": "c3d2", "message": "create security_events"}]
    assert "b2e1 (add users.email); c3d2 (create security_events)" in f["message"]
    assert run.ctx.migration_state["state"] == "behind"


def test_empty_version_table_means_everything_is_pending(pgdb, make_run, tmp_path):
    db = pgdb()
    stamp(db)
    f = only(check(make_run(db.url(), app_path=write_alembic(tmp_path))), "MIG301")
    assert f["facts"]["count"] == "3" and f["facts"]["current"] == "none"


def test_unknown_revision(pgdb, make_run, tmp_path):
    db = pgdb()
    stamp(db, "ffff9999")
    run = make_run(db.url(), app_path=write_alembic(tmp_path))
    f = only(check(run), "MIG302")
    assert f["facts"]["revision"] == "ffff9999"
    assert run.ctx.migration_state["state"] == "unknown_revision"


def test_several_heads(pgdb, make_run, tmp_path):
    db = pgdb()
    stamp(db, "c3d2")
    history = [*HISTORY, ("d4c3", "b2e1", "a branch")]
    out = check(make_run(db.url(), app_path=write_alembic(tmp_path, history)))
    f = only(out, "MIG303")
    assert set(f["facts"]["heads"].split()) == {"c3d2", "d4c3"}
    assert "MIG301" in codes(out)  # d4c3 is not applied


def test_no_version_table(pgdb, make_run, tmp_path):
    db = pgdb("CREATE TABLE users (id int primary key);")
    f = only(check(make_run(db.url(), app_path=write_alembic(tmp_path))), "MIG304")
    assert f["facts"]["table_count"] == "1" and f["facts"]["head"] == "c3d2"


def test_no_config_skips(pgdb, make_run, tmp_path):
    with pytest.raises(Skip, match="no Alembic configuration"):
        migrations.run_migrations(make_run(pgdb().url(), app_path=tmp_path).ctx)


def test_configured_ini_that_does_not_exist(pgdb, make_run, tmp_path):
    out = check(make_run(pgdb().url(), app_path=tmp_path, alembic_ini="conf/alembic.ini"))
    assert codes(out) == ["MIG305"]


def test_broken_script_location(pgdb, make_run, tmp_path):
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = nowhere\n")
    out = check(make_run(pgdb().url(), app_path=tmp_path))
    assert codes(out) == ["MIG305"]


def test_relative_script_location_found_next_to_the_ini(pgdb, make_run, tmp_path,
                                                        monkeypatch):
    db = pgdb()
    stamp(db, "c3d2")
    app = write_alembic(tmp_path / "app")
    monkeypatch.chdir(tmp_path)  # the worker's cwd is not where alembic.ini lives
    out = check(make_run(db.url(), app_path=tmp_path, alembic_ini=str(app / "alembic.ini")))
    assert out["findings"] == [] and out["observed"]["state"] == "at_head"


def test_sqlite_behind(sqlite_file, make_run, tmp_path):
    path = sqlite_file("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
                       "INSERT INTO alembic_version VALUES ('b2e1');")
    f = only(check(make_run(f"sqlite:///{path}", app_path=write_alembic(tmp_path / "app"))),
             "MIG301")
    assert [p["revision"] for p in f["facts"]["pending"]] == ["c3d2"]

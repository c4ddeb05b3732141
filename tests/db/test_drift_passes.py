"""Each drift pass alone, on Diffs built from Alembic ops (no database needed)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.operations import ops

from sidecar.worker.checks.drift.check import Settings, join_verdict
from sidecar.worker.checks.drift.diffs import Diff, from_upgrade_ops
from sidecar.worker.checks.drift.passes import (
    PassEnv,
    absorb_rename_noise,
    apply_severity,
    compatible_types,
    drop_sqlite_pk_nullability,
    fold_table_children,
    infer_renames,
    render_fixes,
    run_pipeline,
    to_findings,
)

PG = PassEnv("postgresql")


def add_col(table, col):
    return from_upgrade_ops(ops.UpgradeOps([ops.ModifyTableOps(table, [
        ops.AddColumnOp(table, col)])]))[0]


def drop_col(table, col):
    return from_upgrade_ops(ops.UpgradeOps([ops.ModifyTableOps(table, [
        ops.DropColumnOp.from_column_and_tablename(None, table, col)])]))[0]


def index(kind, table, name, *cols, unique=False):
    t = sa.Table(table, sa.MetaData(), *[sa.Column(c, sa.String) for c in cols])
    idx = sa.Index(name, *[t.c[c] for c in cols], unique=unique)
    op = ops.CreateIndexOp.from_index(idx) if kind == "missing" else \
        ops.DropIndexOp.from_index(idx)
    return from_upgrade_ops(ops.UpgradeOps([ops.ModifyTableOps(table, [op])]))[0]


def test_from_upgrade_ops_splits_an_alter_column():
    op = ops.AlterColumnOp("t", "c", existing_type=sa.String(20), modify_type=sa.String(30),
                           modify_nullable=False, existing_nullable=True)
    diffs = from_upgrade_ops(ops.UpgradeOps([ops.ModifyTableOps("t", [op])]))
    assert [d.kind for d in diffs] == ["type", "nullable"]
    assert diffs[1].facts == {"db_nullable": True, "model_nullable": False}


def test_fold_table_children():
    t = sa.Table("gone", sa.MetaData(), sa.Column("x", sa.Integer, index=True))
    diffs = from_upgrade_ops(ops.UpgradeOps([
        ops.ModifyTableOps("gone", [ops.DropIndexOp.from_index(next(iter(t.indexes)))]),
        ops.DropTableOp.from_table(t)]))
    out = fold_table_children(diffs, PG)
    assert [d.kind for d in out] == ["extra_table"] and len(out[0].children) == 1


def test_infer_renames_pairs_compatible_columns_only():
    diffs = [add_col("security_events", sa.Column("event_metadata", sa.JSON)),
             drop_col("security_events", sa.Column("metadata", sa.JSON)),
             add_col("security_events", sa.Column("score", sa.Integer)),
             drop_col("security_events", sa.Column("born", sa.Date))]
    out = infer_renames(diffs, PG)
    assert [d.kind for d in out] == ["rename", "missing_column", "extra_column"]
    assert out[0].fix_sql == "ALTER TABLE security_events RENAME COLUMN metadata TO " \
        "event_metadata"


def test_infer_renames_leaves_ambiguous_pairs_alone():
    diffs = [add_col("t", sa.Column("alpha", sa.Integer)),
             add_col("t", sa.Column("beta", sa.Integer)),
             drop_col("t", sa.Column("xq", sa.Integer)),
             drop_col("t", sa.Column("zz", sa.Integer))]
    assert [d.kind for d in infer_renames(diffs, PG)] == [d.kind for d in diffs]


def test_infer_renames_prefers_the_similar_name():
    diffs = [add_col("t", sa.Column("email", sa.String(50))),
             add_col("t", sa.Column("phone", sa.String(50))),
             drop_col("t", sa.Column("mail", sa.String(50))),
             drop_col("t", sa.Column("phone_no", sa.String(50)))]
    out = infer_renames(diffs, PG)
    assert sorted((d.facts["old_column"], d.facts["new_column"]) for d in out) == [
        ("mail", "email"), ("phone_no", "phone")]


def test_compatible_types():
    assert compatible_types(sa.String(20), sa.VARCHAR(30))
    assert compatible_types(sa.JSON(), sa.dialects.postgresql.JSON())
    assert not compatible_types(sa.Integer(), sa.Date())


def test_absorb_rename_noise_renames_a_moved_index():
    rename = infer_renames([add_col("users", sa.Column("email", sa.String)),
                            drop_col("users", sa.Column("mail", sa.String))], PG)[0]
    noise = [index("extra", "users", "ix_users_mail", "mail"),
             index("missing", "users", "ix_users_email", "email")]
    unrelated = index("extra", "users", "ix_other", "name")
    out = absorb_rename_noise([rename, *noise, unrelated], PG)
    assert out == [rename, unrelated]
    assert rename.fix_sql.endswith("ALTER INDEX ix_users_mail RENAME TO ix_users_email")


def test_absorb_rename_noise_keeps_a_uniqueness_change():
    rename = infer_renames([add_col("users", sa.Column("email", sa.String)),
                            drop_col("users", sa.Column("mail", sa.String))], PG)[0]
    noise = [index("extra", "users", "ix_users_mail", "mail"),
             index("missing", "users", "ix_users_email", "email", unique=True)]
    assert len(absorb_rename_noise([rename, *noise], PG)) == 3


def test_apply_severity_not_null_extra_column():
    strict = drop_col("t", sa.Column("tenant", sa.Integer, nullable=False))
    loose = drop_col("t", sa.Column("note", sa.Text))
    defaulted = drop_col("t", sa.Column("flag", sa.Boolean, nullable=False,
                                        server_default=sa.false()))
    apply_severity([strict, loose, defaulted], PG)
    assert (strict.severity, loose.severity, defaulted.severity) == ("error", None, None)


def test_drop_sqlite_pk_nullability():
    md = sa.MetaData()
    t = sa.Table("t", md, sa.Column("id", sa.Integer, primary_key=True), sa.Column("x", sa.Integer))
    env = PassEnv("sqlite", model_tables={(None, "t"): t})
    diffs = [Diff("nullable", "t", column="id", facts={"db_nullable": True}),
             Diff("nullable", "t", column="x", facts={"db_nullable": True})]
    assert [d.column for d in drop_sqlite_pk_nullability(diffs, env)] == ["x"]


def test_render_fixes_sql_and_alembic_op():
    d = add_col("users", sa.Column("email", sa.String(200), nullable=False, server_default=""))
    render_fixes([d], PG)
    assert d.fix_sql == "ALTER TABLE users ADD COLUMN email VARCHAR(200) DEFAULT '' NOT NULL"
    assert d.alembic_op.startswith("op.add_column('users', sa.Column('email'")


def test_to_findings_shape():
    diffs = run_pipeline([add_col("security_events", sa.Column("event_metadata", sa.JSON)),
                          drop_col("security_events", sa.Column("metadata", sa.JSON))], PG)
    [f] = to_findings(diffs)
    assert f["code"] == "DRIFT414" and f["table"] == "security_events"
    assert f["column"] == "event_metadata" and "severity" not in f
    assert f["facts"]["kind"] == "rename" and f["facts"]["alembic_op"]


def test_settings_globs_and_schemas():
    s = Settings({"drift_include": ["app_*", "audit.*"], "schemas": ["public", "audit"]})
    assert s.table_allowed(None, "app_users") and s.table_allowed("audit", "log")
    assert not s.table_allowed(None, "other") and not s.table_allowed(None, "alembic_version")
    md = sa.MetaData()
    sa.Table("x", md, sa.Column("id", sa.Integer), schema="billing")
    assert s.compared_schemas([md], "public") == [None, "audit", "billing"]


def test_join_verdict_without_migrations():
    assert join_verdict(None, []) == ("in_sync", None)
    assert join_verdict(None, [{"code": "DRIFT403"}]) == ("drifted", None)
    assert join_verdict({"state": "behind", "pending": []}, [])[0] == "pending_migration"

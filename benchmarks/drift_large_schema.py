"""Schema drift on a large schema: plain Alembic vs the sidecar's first and cached checks.

Builds N tables x 15 columns (serial key, an enum, a foreign key to the previous table, two
indexes) in a throwaway PostgreSQL cluster (tests/support/pgcluster.py), with models identical
to the schema, then times in the same run, interleaved, after one warm-up each:

- alembic:  ``compare_metadata`` with compare_type and compare_server_default;
- first:    ``run_schema_drift`` without a cache (full compare + fingerprint + extras);
- recheck:  ``run_schema_drift`` with the previous run's ``cache`` (steady state).

Goals (1000 tables): first <= 1.1 x alembic, recheck <= 0.1 x alembic.

    .venv/bin/python benchmarks/drift_large_schema.py --tables 200 1000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.pgcluster

import sqlalchemy as sa  # noqa: E402
from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402

from sidecar.worker.checks.database import check as database  # noqa: E402
from sidecar.worker.checks.drift import check as drift  # noqa: E402
from sidecar.worker.context import Context  # noqa: E402
from tests.support.pgcluster import PgCluster  # noqa: E402

COLUMNS = 15


def build_models(n: int) -> sa.MetaData:
    md = sa.MetaData()
    mood = sa.Enum("new", "active", "archived", name="row_state")
    for i in range(n):
        cols = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("parent_id", sa.Integer,
                      sa.ForeignKey(f"t{i - 1:04d}.id") if i else None),
            sa.Column("state", mood, nullable=False, server_default="new"),
            sa.Column("name", sa.String(120), nullable=False),
            sa.Column("email", sa.String(200)),
            sa.Column("created_at", sa.DateTime, server_default=sa.func.now()),
            sa.Column("updated_at", sa.DateTime),
            sa.Column("amount", sa.Numeric(12, 2)),
            sa.Column("ratio", sa.Float),
            sa.Column("count", sa.Integer, nullable=False, server_default="0"),
            sa.Column("flag", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("notes", sa.Text),
            sa.Column("payload", sa.JSON),
            sa.Column("code", sa.String(20), unique=True),
            sa.Column("born", sa.Date),
        ]
        assert len(cols) == COLUMNS
        sa.Table(f"t{i:04d}", md, *cols, sa.Index(f"ix_t{i:04d}_name", "name"),
                 sa.Index(f"ix_t{i:04d}_state_created", "state", "created_at"))
    return md


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def bench(cluster: PgCluster, n: int, repeat: int) -> dict:
    db = f"bench_{n}"
    cluster.create_database(db)
    md = build_models(n)
    url = cluster.url(db)
    writer = sa.create_engine(url)
    t = timed(lambda: md.create_all(writer))
    writer.dispose()
    print(f"\n{n} tables x {COLUMNS} columns: schema built in {t:.1f} s")

    ctx = Context({"app_path": str(ROOT), "database_url": url}, lambda _: None)
    database.run_database(ctx)
    engine = ctx.engine

    def plain_alembic():
        with engine.connect() as conn:
            mc = MigrationContext.configure(conn, opts={"compare_type": True,
                                                        "compare_server_default": True})
            diffs = compare_metadata(mc, md)
        assert diffs == [], diffs[:3]

    state = {}

    def sidecar(cache=None):
        run = Context({"app_path": str(ROOT), "database_url": url}, lambda _: None)
        run.engine, run.db_observed, run.secrets = ctx.engine, ctx.db_observed, ctx.secrets
        run.models_ok, run.metadatas, run.previous_cache = True, [md], cache
        out = drift.run_schema_drift(run)
        assert [f["code"] for f in out["findings"]] == [], out["findings"][:3]
        state["cache"] = out["cache"]
        return out

    def first():
        assert sidecar()["observed"]["reused"] is False

    def recheck():
        assert sidecar(state["cache"])["observed"]["reused"] is True

    plain_alembic()  # warm-up: SQLAlchemy's and Alembic's caches, the server's catalog cache
    first()
    times = {"alembic": [], "first": [], "recheck": []}
    for _ in range(repeat):
        times["alembic"].append(timed(plain_alembic))
        times["first"].append(timed(first))
        times["recheck"].append(timed(recheck))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:8s} median {med[k]:7.3f} s   runs: {', '.join(f'{x:.3f}' for x in v)}")
    r_first, r_re = med["first"] / med["alembic"], med["recheck"] / med["alembic"]
    print(f"  first / alembic   = {r_first:.3f}  (goal <= 1.1)  "
          f"{'ok' if r_first <= 1.1 else 'MISSED'}")
    print(f"  recheck / alembic = {r_re:.3f}  (goal <= 0.1)  {'ok' if r_re <= 0.1 else 'MISSED'}")
    ctx.cleanup()
    return {"tables": n, **med, "first_ratio": r_first, "recheck_ratio": r_re}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with PgCluster(log_statements=False) as cluster:
        results = [bench(cluster, n, args.repeat) for n in args.tables]
    print("\ntables   alembic_s   first_s   recheck_s   first/alembic   recheck/alembic")
    for r in results:
        print(f"{r['tables']:6d}   {r['alembic']:9.3f}   {r['first']:7.3f}   "
              f"{r['recheck']:9.3f}   {r['first_ratio']:13.3f}   {r['recheck_ratio']:15.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

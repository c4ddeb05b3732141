"""Schema drift on a large schema: plain Alembic vs the sidecar's first and cached checks.

Builds N tables x 15 columns (serial key, an enum, a foreign key to the previous table, two
indexes) in a throwaway PostgreSQL cluster (tests/support/pgcluster.py), with models identical
to the schema, then times in the same run, interleaved, after one warm-up each:

- alembic:  ``compare_metadata`` with compare_type and compare_server_default;
- first:    ``run_schema_drift`` without a cache (full compare + fingerprint + extras);
- recheck:  ``run_schema_drift`` with the previous run's ``cache``, in a new context (a
            fresh worker per cycle, before issue 12);
- resident: the same in the one context a resident worker keeps (the steady state).

Also, per size: the fingerprint query's time inside PostgreSQL (``EXPLAIN ANALYZE``'s
execution time, the cost every replica pays per cycle), and the peak RSS of the process that
ran the comparisons (each size runs in a child process of its own, so the peaks do not mix),
then how each figure grows from the smallest size to the largest (linear: the ratio of the
table counts).

Goals (issue 12, 5,000 tables): first <= 1.1 x alembic, resident <= 0.05 x alembic.

    .venv/bin/python benchmarks/drift_large_schema.py --tables 100 1000 5000 --repeat 3
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
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
from sidecar.worker.checks.drift.fingerprint import _PG_FINGERPRINT as PG_FINGERPRINT  # noqa: E402
from sidecar.worker.checks.drift.fingerprint import _PG_VERSION as PG_VERSION  # noqa: E402
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


def bench_at(url: str, n: int, repeat: int) -> dict:
    md = build_models(n)
    writer = sa.create_engine(url)
    tables = list(md.sorted_tables)

    def build() -> None:
        # in batches: one transaction locking 5,000 new tables exceeds the default
        # max_locks_per_transaction (64 x max_connections)
        for start in range(0, len(tables), 500):
            md.create_all(writer, tables=tables[start:start + 500])

    t = timed(build)
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

    held = Context({"app_path": str(ROOT), "database_url": url}, lambda _: None)

    def sidecar(cache=None, resident=False):
        # a fresh worker's context each time, or the one a resident worker keeps
        run = held if resident else Context({"app_path": str(ROOT), "database_url": url},
                                            lambda _: None)
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

    def resident():
        assert sidecar(state["cache"], resident=True)["observed"]["reused"] is True

    plain_alembic()  # warm-up: SQLAlchemy's and Alembic's caches, the server's catalog cache
    first()
    resident()  # the resident worker's first re-check hashes the models once
    times: dict[str, list[float]] = {"alembic": [], "first": [], "recheck": [], "resident": []}
    for _ in range(repeat):
        times["alembic"].append(timed(plain_alembic))
        times["first"].append(timed(first))
        times["recheck"].append(timed(recheck))
        times["resident"].append(timed(resident))
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in times.items():
        print(f"  {k:8s} median {med[k]:7.3f} s   runs: {', '.join(f'{x:.3f}' for x in v)}")
    r_first, r_re = med["first"] / med["alembic"], med["recheck"] / med["alembic"]
    print(f"  first / alembic   = {r_first:.3f}  (goal <= 1.1)  "
          f"{'ok' if r_first <= 1.1 else 'MISSED'}")
    r_res = med["resident"] / med["alembic"]
    print(f"  recheck / alembic = {r_re:.3f}  (a fresh worker's re-check)")
    print(f"  resident / alembic = {r_res:.3f}  (goal <= 0.05)  "
          f"{'ok' if r_res <= 0.05 else 'MISSED'}")
    fp_ms = server_ms(engine, PG_FINGERPRINT, repeat)
    version_ms = server_ms(engine, PG_VERSION, repeat)
    print(f"  in PostgreSQL (EXPLAIN ANALYZE): content fingerprint {fp_ms:.1f} ms, catalog "
          f"version {version_ms:.1f} ms (what a resident re-check runs)")
    ctx.cleanup()
    return {"tables": n, **med, "first_ratio": r_first, "recheck_ratio": r_re,
            "resident_ratio": r_res, "fingerprint_ms": fp_ms, "version_ms": version_ms}


def server_ms(engine, sql: str, repeat: int) -> float:
    """The statement's execution time inside PostgreSQL (EXPLAIN ANALYZE), median of
    ``repeat`` runs after one warm-up: one sample on a shared machine is noise."""
    runs = []
    with engine.connect() as conn:
        for _ in range(repeat + 1):
            plan = conn.execute(sa.text("EXPLAIN (ANALYZE, FORMAT JSON) " + sql),
                                {"schemas": ["public"]}).scalar()
            plan = json.loads(plan) if isinstance(plan, str) else plan
            runs.append(float(plan[0]["Execution Time"]))
    return statistics.median(runs[1:])


def one_size(url: str, n: int, repeat: int) -> dict:
    """One size in a child process: its peak RSS is its own."""
    args = [sys.executable, __file__, "--one", str(n), "--url", url, "--repeat", str(repeat)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        print(line, end="", flush=True)
        lines.append(line)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, f"size {n} failed"
    result = json.loads(next(ln for ln in reversed(lines) if ln.startswith("{")))
    result["peak_rss_mib"] = usage.ru_maxrss / 1024
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child's size
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(bench_at(args.url, args.one, args.repeat)))
        return 0
    with PgCluster(log_statements=False) as cluster:
        results = []
        for n in args.tables:
            db = f"bench_{n}"
            cluster.create_database(db)
            results.append(one_size(cluster.url(db), n, args.repeat))
    print("\ntables   alembic_s   first_s   recheck_s   resident_s   first/alembic   "
          "recheck/alembic   resident/alembic   fingerprint_ms   version_ms   peak_rss_mib")
    for r in results:
        print(f"{r['tables']:6d}   {r['alembic']:9.3f}   {r['first']:7.3f}   "
              f"{r['recheck']:9.3f}   {r['resident']:10.3f}   {r['first_ratio']:13.3f}   "
              f"{r['recheck_ratio']:15.3f}   {r['resident_ratio']:16.3f}   "
              f"{r['fingerprint_ms']:14.1f}   {r['version_ms']:10.1f}   "
              f"{r['peak_rss_mib']:12.0f}")
    for lo, hi in itertools.pairwise(results):  # each step, e.g. 1,000 -> 5,000
        scale = hi["tables"] / lo["tables"]
        print(f"\ngrowth from {lo['tables']} to {hi['tables']} tables (x{scale:g} tables; "
              "linear is that ratio):")
        for key in ("alembic", "first", "recheck", "resident", "fingerprint_ms",
                    "version_ms", "peak_rss_mib"):
            print(f"  {key:15s} x{hi[key] / lo[key]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Steady state: CPU and wall time per cycle of `sidecar serve`, fresh worker vs resident.

Generates an app of N declarative models (10 columns, a foreign key, an index each) as a
package in a temporary folder, builds the same schema in a throwaway PostgreSQL cluster
(tests/support/pgcluster.py), then, in the same run, for each mode:

- fresh:    ``sidecar serve --recycle-after 1`` (a new worker imports the models every cycle,
            as before issue 12);
- resident: ``sidecar serve`` (the default ``--recycle-after``): later cycles on the models
            the worker already holds.

CPU-seconds of a cycle are those of the daemon and all its processes between two cycle
counts read from /metrics: utime+stime of each live process plus cutime+cstime (its reaped
children) from /proc, summed over the daemon's tree. The floor, measured in the same run:
one drift-fingerprint query on an open connection (client CPU; the server backend's CPU
from its /proc entry; wall time).

Goal (issue 12): resident CPU per cycle <= 5% of fresh at 64 and 1,000 tables.

    .venv/bin/python benchmarks/steady_state.py --tables 64 1000 --cycles 10
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.support.pgcluster

import sqlalchemy as sa  # noqa: E402

from sidecar.worker.checks.drift import fingerprint  # noqa: E402
from tests.support.pgcluster import PgCluster  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
MODEL = '''

class T{i:04d}(Base):
    __tablename__ = "t{i:04d}"
    __table_args__ = (Index("ix_t{i:04d}_name", "name"),)
    id = Column(Integer, primary_key=True)
    parent_id = Column(Integer{fk})
    name = Column(String(120), nullable=False)
    email = Column(String(200))
    created_at = Column(DateTime, server_default=func.now())
    amount = Column(Numeric(12, 2))
    count = Column(Integer, nullable=False, server_default="0")
    flag = Column(Boolean, nullable=False, server_default=false())
    notes = Column(Text)
    code = Column(String(20), unique=True)
'''


def write_app(folder: Path, n: int) -> Path:
    pkg = folder / "genapp"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    body = ["from sqlalchemy import (Boolean, Column, DateTime, ForeignKey, Index, Integer,\n"
            "                        Numeric, String, Text, false, func)\n"
            "from sqlalchemy.orm import declarative_base\n\nBase = declarative_base()\n"]
    for i in range(n):
        fk = f', ForeignKey("t{i - 1:04d}.id")' if i else ""
        body.append(MODEL.format(i=i, fk=fk))
    (pkg / "models.py").write_text("".join(body))
    return folder


def create_schema(app: Path, url: str) -> None:
    code = ("import sqlalchemy as sa, genapp.models as m; "
            f"e = sa.create_engine({url!r}); m.Base.metadata.create_all(e)")
    subprocess.run([sys.executable, "-c", code], cwd=app, check=True)


def tree_cpu(pid: int) -> float:
    """CPU-seconds of ``pid`` and every live descendant, each with its reaped children."""
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        stats[int(entry)] = fields
    members, todo = set(), [pid]
    while todo:
        p = todo.pop()
        members.add(p)
        todo.extend(c for c, parent in parents.items() if parent == p and c not in members)
    total = 0
    for p in members:
        f = stats.get(p)
        if f:  # utime stime cutime cstime: fields 14-17 of stat, 12-15 after the name
            total += sum(int(x) for x in f[11:15])
    return total / TICK


def metric(port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    found = re.search(rf"^{name} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def run_daemon(app: Path, url: str, cycles: int, recycle_after: str | None) -> dict:
    args = [sys.executable, "-m", "sidecar", "serve", "--host", "127.0.0.1", "--port", "0",
            "--app-path", str(app), "--models", "genapp.models", "--database-url", url,
            "--interval", "0.2", "--timeout", "300", "--watch", "off"]
    if recycle_after:
        args += ["--recycle-after", recycle_after]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIDECAR_")}
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=ROOT)
    try:
        port = 0
        deadline = time.monotonic() + 120
        assert proc.stdout is not None
        while not port and time.monotonic() < deadline:
            line = proc.stdout.readline()
            found = re.search(r"127\.0\.0\.1:(\d+)", line)
            port = int(found.group(1)) if found else 0
        assert port, "the daemon did not start"
        # warm-up: the first (fresh) cycle and one more
        while metric(port, "sidecar_cycles_total") < 2:
            time.sleep(0.02)
        c0, cpu0, t0 = metric(port, "sidecar_cycles_total"), tree_cpu(proc.pid), time.monotonic()
        while metric(port, "sidecar_cycles_total") < c0 + cycles:
            time.sleep(0.02)
        c1, cpu1, t1 = metric(port, "sidecar_cycles_total"), tree_cpu(proc.pid), time.monotonic()
        done = c1 - c0
        spawns = metric(port, "sidecar_worker_spawns_total")
        # the wall time of a cycle: the measured span less the idle intervals between them
        return {"cpu_per_cycle": (cpu1 - cpu0) / done,
                "wall_per_cycle": max((t1 - t0) / done - 0.2, 0.0), "cycles": done,
                "spawns": spawns}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def floor(url: str, repeat: int = 20) -> dict:
    """One fingerprint query on an open connection: client CPU, backend CPU, wall."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        fingerprint.catalog_fingerprint(conn, [None])  # warm the catalog cache
        server0, client0, wall0 = tree_cpu(backend), time.process_time(), time.perf_counter()
        for _ in range(repeat):
            fingerprint.catalog_fingerprint(conn, [None])
        server1, client1, wall1 = tree_cpu(backend), time.process_time(), time.perf_counter()
    engine.dispose()
    return {"cpu_per_cycle": (client1 - client0) / repeat,
            "server_cpu": (server1 - server0) / repeat, "wall_per_cycle": (wall1 - wall0) / repeat}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[64, 1000])
    parser.add_argument("--cycles", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with PgCluster(log_statements=False) as cluster, tempfile.TemporaryDirectory() as tmp:
        for n in args.tables:
            db = f"steady_{n}"
            cluster.create_database(db)
            url = cluster.url(db)
            app = write_app(Path(tmp) / f"app{n}", n)
            create_schema(app, url)
            fresh = run_daemon(app, url, max(3, args.cycles // 3), "1")
            resident = run_daemon(app, url, args.cycles, None)
            low = floor(url)
            ratio = resident["cpu_per_cycle"] / fresh["cpu_per_cycle"]
            rows.append((n, fresh, resident, low, ratio))
            print(f"{n} tables: fresh {fresh['cpu_per_cycle']:.3f} CPU-s/cycle "
                  f"({fresh['wall_per_cycle']:.3f} s wall), resident "
                  f"{resident['cpu_per_cycle']:.4f} ({resident['wall_per_cycle']:.4f} s), "
                  f"floor {low['cpu_per_cycle']:.4f} client + {low['server_cpu']:.4f} server "
                  f"({low['wall_per_cycle']:.4f} s); resident/fresh = {ratio:.3f} "
                  f"(goal <= 0.05) {'ok' if ratio <= 0.05 else 'MISSED'}", flush=True)
    print("\ntables  fresh_cpu  fresh_wall  resident_cpu  resident_wall  floor_cpu  "
          "floor_server_cpu  floor_wall  resident/fresh  resident/floor")
    for n, fresh, resident, low, ratio in rows:
        over_floor = resident["cpu_per_cycle"] / max(low["cpu_per_cycle"] + low["server_cpu"],
                                                     1e-9)
        print(f"{n:6d}  {fresh['cpu_per_cycle']:9.3f}  {fresh['wall_per_cycle']:10.3f}  "
              f"{resident['cpu_per_cycle']:12.4f}  {resident['wall_per_cycle']:13.4f}  "
              f"{low['cpu_per_cycle']:9.4f}  {low['server_cpu']:16.4f}  "
              f"{low['wall_per_cycle']:10.4f}  {ratio:14.3f}  {over_floor:14.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

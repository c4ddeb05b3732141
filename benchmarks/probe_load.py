#!/usr/bin/env python3
"""Probe throughput: the daemon's /readyz and /metrics against a bare aiohttp handler.

Starts, in one run and on loopback only: `sidecar serve` on the bundled example, a bare
aiohttp server whose handler returns "ok", and a PostgreSQL cluster when its binaries are
installed (to count the database's transactions during the load). Drives each target from a
separate process (`wrk` when installed, else an aiohttp client process) with 64 concurrent
connections for a fixed duration, and prints requests/s, p99 latency and the ratios.

Goal: /readyz >= 0.8x the bare handler's throughput; no cycle, worker or query from probes.

    python benchmarks/probe_load.py [--duration 5] [--connections 64]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = """
import sys
from aiohttp import web
async def ok(request):
    return web.Response(text="ok\\n")
app = web.Application()
app.router.add_get("/", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""

PY_LOAD = """
import asyncio, sys, time
import aiohttp
url, conns, duration = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
lat = []
async def worker(session, stop):
    while time.monotonic() < stop:
        t = time.perf_counter()
        async with session.get(url) as r:
            await r.read()
        lat.append(time.perf_counter() - t)
async def main():
    conn = aiohttp.TCPConnector(limit=conns)
    async with aiohttp.ClientSession(connector=conn) as s:
        stop = time.monotonic() + duration
        await asyncio.gather(*(worker(s, stop) for _ in range(conns)))
asyncio.run(main())
lat.sort()
print(len(lat) / duration, lat[int(len(lat) * 0.99)] * 1000)
"""


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def _unit_ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def load(url: str, connections: int, duration: float) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) from a separate process."""
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency",
                              url], capture_output=True, text=True, check=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        m = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
        return rps, _unit_ms(m.group(1), m.group(2))
    out = subprocess.run([sys.executable, "-c", PY_LOAD, url, str(connections), str(duration)],
                         capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def metric(base: str, name: str) -> float:
    body = urllib.request.urlopen(base + "/metrics").read().decode()
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name) and not line.startswith("#"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()

    procs: list[subprocess.Popen] = []
    cluster = None
    tmp = tempfile.mkdtemp(prefix="sidecar-bench-")
    try:
        app = ROOT / "sidecar" / "examples" / "backend" / "good"
        daemon_args = ["--app-path", str(app), "--models", "server.models_sql", "--models",
                       "server.models_plain", "--interval", "3600"]
        dbname = "bench"
        from tests.support import pgcluster

        if pgcluster.available():
            cluster = pgcluster.PgCluster(log_statements=False)  # its own dir: postgres owns it
            cluster.init().start()
            cluster.create_database(dbname)
            url = cluster.url(dbname)
            env = dict(os.environ, DATABASE_URL=url, PYTHONDONTWRITEBYTECODE="1")
            subprocess.run([sys.executable, "-m", "alembic", "-c", str(app / "alembic.ini"),
                            "upgrade", "head"], check=True, env=env, cwd=app,
                           capture_output=True)
            daemon_args += ["--database-url", url]
        port, bare_port = free_port(), free_port()
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "sidecar", "serve", "--host", "127.0.0.1", "--port",
             str(port), *daemon_args], cwd=ROOT, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)]))
        base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}/"
        wait_http(bare)
        wait_http(base + "/livez")
        deadline = time.monotonic() + 30
        while metric(base, "sidecar_cycles_total") < 1 and time.monotonic() < deadline:
            time.sleep(0.2)

        def xacts() -> int | None:
            if cluster is None:
                return None
            cluster.psql("SELECT pg_stat_clear_snapshot()")
            return int(cluster.psql("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                    f"WHERE datname = '{dbname}'").strip())

        cycles0, runs0, xacts0 = (metric(base, "sidecar_cycles_total"),
                                  metric(base, "sidecar_worker_runs_total"), xacts())
        results = {}
        for name, url in (("bare handler", bare), ("/readyz", base + "/readyz"),
                          ("/metrics", base + "/metrics")):
            results[name] = load(url, args.connections, args.duration)
        time.sleep(0.6)
        cycles1, runs1, xacts1 = (metric(base, "sidecar_cycles_total"),
                                  metric(base, "sidecar_worker_runs_total"), xacts())

        tool = "wrk" if shutil.which("wrk") else "aiohttp client"
        print(f"probe load: {args.connections} connections, {args.duration:g}s per target, "
              f"driven by {tool} in a separate process, loopback only")
        print(f"{'target':<14}{'requests/s':>12}{'p99 ms':>10}{'vs bare':>10}")
        bare_rps = results["bare handler"][0]
        for name, (rps, p99) in results.items():
            print(f"{name:<14}{rps:>12.0f}{p99:>10.2f}{rps / bare_rps:>9.2f}x")
        ratio = results["/readyz"][0] / bare_rps
        print(f"goal /readyz >= 0.80x bare: {'met' if ratio >= 0.8 else 'NOT met'} "
              f"({ratio:.2f}x)")
        probes = sum(rps * args.duration for rps, _ in list(results.values())[1:])
        print(f"~{probes:,.0f} probes to the daemon: cycles {cycles0:g} -> {cycles1:g}, "
              f"worker runs {runs0:g} -> {runs1:g}, database transactions "
              + (f"{xacts0} -> {xacts1}" if xacts0 is not None else "n/a (no PostgreSQL)"))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

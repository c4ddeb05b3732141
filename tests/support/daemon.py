"""Start a real `sidecar serve` on loopback and talk to it over HTTP (no mocks)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from sidecar.findings.model import STRICT_ENV
from tests.support.helpers import ROOT


class Daemon:
    def __init__(self, *args: str, env: dict[str, str] | None = None,
                 preexec: Callable[[], None] | None = None) -> None:
        full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("SIDECAR_") or k == STRICT_ENV}
        full_env.pop("DATABASE_URL", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sidecar", "serve", "--host", "127.0.0.1", "--port", "0",
             *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=full_env, cwd=ROOT,
            preexec_fn=preexec,  # e.g. a container's fd limit
        )
        self.log: list[str] = []
        self._port_seen = threading.Event()
        self.port = 0
        threading.Thread(target=self._read_log, daemon=True).start()
        if not self._port_seen.wait(15):
            self.stop()
            raise AssertionError("daemon did not start:\n" + "\n".join(self.log))

    def _read_log(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))
            m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self._port_seen.set()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def request(self, path: str, method: str = "GET", headers: dict[str, str] | None = None,
                timeout: float = 5) -> tuple[int, dict[str, str], str]:
        req = urllib.request.Request(self.base + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return resp.status, dict(resp.headers), resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    def get(self, path: str, **kw) -> tuple[int, str]:
        status, _, body = self.request(path, **kw)
        return status, body

    # Deadlines against hangs, generous for a loaded machine: a passing wait returns at once.
    def wait_for(self, predicate: Callable[[], bool], timeout: float = 60,
                 what: str = "condition") -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate():
                return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; log:\n" + "\n".join(self.log))

    def wait_first_cycle(self, timeout: float = 60) -> None:
        self.wait_for(lambda: "first cycle pending" not in self.get("/readyz")[1], timeout,
                      "the first cycle")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> float:
        if self.proc.poll() is not None:
            return 0.0
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("daemon did not stop in time") from None
        return time.monotonic() - started

    def __enter__(self) -> Daemon:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def descendants(pid: int) -> dict[int, str]:
    """{pid: command line} of every live process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    cmdlines: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmd = fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] == "Z":
            cmd = f"<zombie> {cmd}"
        parents[int(entry)] = int(fields[1])
        cmdlines[int(entry)] = cmd
    out: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, ppid in parents.items():
            if ppid == parent and child not in out:
                out[child] = cmdlines[child]
                frontier.append(child)
    return out


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(pid)
        except OSError:
            pass
    return out


def copy_app(source: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target

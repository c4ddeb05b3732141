"""Process-level facts about a daemon, read from /proc: descendants, zombies, fds, RSS.

Orphans are found by an environment tag rather than by parentage: a process the app started
and the runner failed to kill is re-parented to init and is no longer the daemon's
descendant, but it still carries the daemon's environment (workers inherit it, and so do
the app's own children). Nothing here kills anything by name.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

TAG_VAR = "SIDECAR_RELIABILITY_TAG"


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return None


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    cmd: str


def proc(pid: int) -> Proc | None:
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    text = stat.decode(errors="replace")
    rest = text[text.rindex(")") + 2:].split()  # the command name may contain spaces
    cmd = (_read(f"/proc/{pid}/cmdline") or b"").replace(b"\0", b" ").decode(errors="replace")
    return Proc(pid, int(rest[1]), rest[0], cmd.strip())


def tagged(tag: str, exclude: tuple[int, ...] = ()) -> list[Proc]:
    """Every live process whose environment carries ``TAG_VAR=tag``."""
    needle = f"{TAG_VAR}={tag}".encode()
    found = []
    for pid in _pids():
        if pid in exclude:
            continue
        env = _read(f"/proc/{pid}/environ")
        if env and needle in env.split(b"\0"):
            p = proc(pid)
            if p is not None:
                found.append(p)
    return found


def children(pid: int) -> list[Proc]:
    out = []
    for child in _pids():
        p = proc(child)
        if p is not None and p.ppid == pid:
            out.append(p)
    return out


def zombies(pid: int) -> list[Proc]:
    return [p for p in children(pid) if p.state == "Z"]


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def rss_kib(pid: int) -> int:
    for line in (_read(f"/proc/{pid}/status") or b"").decode().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_no_tagged(tag: str, timeout: float = 3.0, exclude: tuple[int, ...] = ()) -> list[Proc]:
    """The tagged processes still alive after ``timeout`` (empty: none left)."""
    deadline = time.monotonic() + timeout
    left = tagged(tag, exclude)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = tagged(tag, exclude)
    return left


def descendants(pid: int) -> set[int]:
    """``pid``'s live descendants, by parentage."""
    table: dict[int, list[int]] = {}
    for other in _pids():
        p = proc(other)
        if p is not None:
            table.setdefault(p.ppid, []).append(p.pid)
    out: set[int] = set()
    stack = [pid]
    while stack:
        for child in table.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out


def orphans(tag: str, daemon_pid: int, settle_s: float = 1.0) -> list[Proc]:
    """Tagged processes that are no longer the daemon's descendants (a killed worker's
    children re-parented to init), ignoring the instant in which a killed group dies."""
    deadline = time.monotonic() + settle_s
    while True:
        family = descendants(daemon_pid) | {daemon_pid}
        lost = [p for p in tagged(tag) if p.pid not in family and p.state != "Z"]
        if not lost or time.monotonic() > deadline:
            return lost
        time.sleep(0.05)

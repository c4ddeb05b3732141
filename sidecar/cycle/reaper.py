"""Every process a worker starts dies with it, and no worker outlives the sidecar (Linux).

Killing the worker's process group is not enough: an app that daemonizes a child (double
fork + ``setsid``) leaves the group, is re-parented to init and outlived the daemon, one
orphan per cycle. Three layers, each cheap:

- the sidecar process is a *child subreaper* (``PR_SET_CHILD_SUBREAPER``, Linux 3.4): escaped
  descendants are re-parented to it instead of init, so it can reap them;
- each run carries a unique tag in its environment, inherited by everything the app starts;
  after the run every process still carrying it is killed (an app that scrubs its children's
  environment escapes this layer, and is then only reaped, not killed);
- the worker gets ``PR_SET_PDEATHSIG`` = SIGKILL, so a daemon killed with SIGKILL (no
  cleanup possible) does not leave a worker running without its timeout.

Elsewhere than Linux every function here is a no-op that says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import time

RUN_TAG_VAR = "SIDECAR_RUN_TAG"
_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
_state = {"subreaper": False}


def _prctl() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc.prctl


_PRCTL = _prctl()  # loaded up front: the preexec below runs between fork and exec


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; True when it is."""
    if _PRCTL is not None and _PRCTL(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0:
        _state["subreaper"] = True
    return _state["subreaper"]


def die_with_parent() -> None:
    """For a ``preexec``: the child gets SIGKILL when the sidecar dies, however it dies."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def tagged(tag: str) -> list[int]:
    """Pids of the live processes whose environment carries ``RUN_TAG_VAR=tag``."""
    needle = f"{RUN_TAG_VAR}={tag}".encode()
    found = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read()
        except OSError:  # gone, or another user's
            continue
        if needle in env.split(b"\0"):
            found.append(int(entry))
    return found


def kill_tagged(tag: str, rounds: int = 3) -> list[int]:
    """SIGKILL every process of this run, a few rounds (a child may fork as we kill)."""
    killed: list[int] = []
    for _ in range(rounds):
        pids = [pid for pid in tagged(tag) if pid != os.getpid() and pid not in killed]
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        time.sleep(0.01)
    return killed


def group_members(pgid: int) -> list[int]:
    """Pids in process group ``pgid`` (read before the group is killed, so that its members,
    re-parented to us as they die, are reaped rather than left as zombies)."""
    return [int(entry) for entry in _pids()
            if (_fields(int(entry)) or ["", "", ""])[2] == str(pgid)]


def _pids() -> list[str]:
    return [e for e in os.listdir("/proc") if e.isdigit()] if os.path.isdir("/proc") else []


def _fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: state, ppid, pgrp, ...; None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, None when it is gone."""
    fields = _fields(pid)
    return None if fields is None else (fields[0], int(fields[1]))


def reap_orphans(keep: tuple[int, ...] = (), expect: list[int] | None = None,
                 wait_s: float = 1.0) -> int:
    """Collect the exit status of re-parented descendants that have died (zombies).

    Only as a subreaper, and only zombie children not in ``keep``: a child the caller still
    waits for (asyncio's watcher, subprocess.Popen) keeps its status. ``expect``: pids just
    killed; a SIGKILL is not instant, and a killed grandchild only becomes our child once
    its parent is gone, so they are waited for (up to ``wait_s``) until they are reaped.
    """
    if not _state["subreaper"]:
        return 0
    me = os.getpid()
    reaped = 0
    waiting = set(expect or ())
    deadline = time.monotonic() + wait_s
    while True:
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) in keep:
                continue
            pid = int(entry)
            stat = _stat(pid)
            if stat is not None and stat[0] == "Z" and stat[1] == me:
                with contextlib.suppress(ChildProcessError):
                    if os.waitpid(pid, os.WNOHANG)[0]:
                        reaped += 1
        waiting = {pid for pid in waiting if _stat(pid) is not None}
        if not waiting or time.monotonic() > deadline:
            return reaped
        time.sleep(0.01)

"""The worker↔daemon protocol: JSON lines on an inherited pipe, one event per line.

Both sides import this module (the daemon as ``sidecar.worker.protocol``), so event names,
the version and the shape of a check result are written once. Standard library only.

Events, in order: ``hello`` (PROTOCOL_VERSION, versions, pid, app_packages: [folder, import
base] of the targets' packages), ``versions`` (updated after
the Alembic fallback), then per check ``phase`` (what is running now, so a hang or crash can
be placed), ``cache`` (what the check keeps for its next run, handed back as
``config["cache"][name]``) and ``check`` (its result); finally ``done`` (``cycle``,
``resident``: the worker stays and waits for the next request, ``rss_kb``). Anything the app
prints goes to stdout/stderr, which the runner captures separately.

Requests: the config is the first line on the worker's stdin. A resident worker then reads
one line per cycle, ``{"cycle", "deadline", "timeout_s", "checks", "cache"}`` (only checks
that do not import app code run again), or ``{"stop": true}``.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Iterable, Optional

# Bump on any change to the events or the config that the other side would misread: the
# daemon reports a worker of another version (SIDE010) instead of misreading it.
PROTOCOL_VERSION = 3

HELLO = "hello"
VERSIONS = "versions"
PHASE = "phase"
CACHE = "cache"
CHECK = "check"
DONE = "done"


class Channel:
    def __init__(self, fd: Optional[int]) -> None:
        if fd is None:
            self._file = None
            return
        os.set_inheritable(fd, False)  # the app's own subprocesses must not hold our pipe
        self._file = os.fdopen(fd, "w", encoding="utf-8", buffering=1)

    def send(self, event: str, **payload: Any) -> None:
        if self._file is None:
            return
        payload["event"] = event
        self._file.write(json.dumps(payload, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def check_result(name: str, ran: bool = True, findings: Iterable[Dict[str, Any]] = (),
                 observed: Optional[Dict[str, Any]] = None, reason: Optional[str] = None,
                 duration_s: float = 0.0) -> Dict[str, Any]:
    """The payload of a ``check`` event (``ran=False``: skipped, ``reason`` says why)."""
    result: Dict[str, Any] = {"name": name, "ran": ran, "findings": list(findings),
                              "observed": dict(observed or {}), "duration_s": duration_s}
    if reason is not None:
        result["reason"] = reason
    return result


def finding(code: str, message: str, **fields: Any) -> Dict[str, Any]:
    """A raw finding: the code and the facts; the daemon's catalog adds title and hint.

    Known fields: exception, file, line, class, attribute, table, column, fix_sql, severity,
    facts (a dict of extra strings used by the hint).
    """
    raw: Dict[str, Any] = {"code": code, "message": message}
    for key, value in fields.items():
        raw["class" if key == "class_name" else key] = value
    return raw

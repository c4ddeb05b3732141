"""The worker's side of the result channel: JSON lines on an inherited pipe.

Events: ``hello`` (versions), ``phase`` (what is running now, so a hang or crash can be
placed), ``check`` (one finished check), ``done``. Anything the app prints goes to
stdout/stderr, which the runner captures separately.
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional


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


def finding(code: str, message: str, **fields: Any) -> Dict[str, Any]:
    """A raw finding: the code and the facts; the daemon's catalog adds title and hint.

    Known fields: exception, file, line, class, attribute, table, column, fix_sql, severity,
    facts (a dict of extra strings used by the hint).
    """
    raw: Dict[str, Any] = {"code": code, "message": message}
    for key, value in fields.items():
        raw["class" if key == "class_name" else key] = value
    return raw

"""Record every warning with the stack that raised it.

``warnings.catch_warnings(record=True)`` keeps only one (filename, lineno), chosen by the
emitter's ``stacklevel`` — for SQLAlchemy that is often a line inside SQLAlchemy or
Flask-SQLAlchemy. We need the user's frame, so ``showwarning`` is replaced by a hook that
snapshots the whole stack at the moment of the warning.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import Any, List, Optional, Tuple

from ... import compat


class CapturedWarning:
    def __init__(self, message: Warning, category: type, filename: str, lineno: int,
                 stack: List[Tuple[str, int, Any]], scopes: List[compat.Scope]) -> None:
        self.message = message
        self.category = category
        self.filename = filename
        self.lineno = lineno
        self.stack = stack  # outermost first, (filename, lineno, module __name__)
        self.scopes = scopes  # the same frames, with SQLAlchemy's locals as they were then

    @property
    def category_name(self) -> str:
        return self.category.__name__

    @property
    def text(self) -> str:
        return str(self.message)


class WarningRecorder:
    """Context manager: every warning (``always``, even ones filtered by the app) is kept."""

    def __init__(self) -> None:
        self.records: List[CapturedWarning] = []
        self._ctx: Any = None

    def __enter__(self) -> "WarningRecorder":
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("always")
        warnings.showwarning = self._show
        return self

    def _show(self, message: Any, category: type, filename: str, lineno: int,
              file: Any = None, line: Any = None) -> None:
        stack, scopes = [], []
        frame: Optional[FrameType] = sys._getframe(1)
        while frame is not None:  # innermost first; module names let us spot double imports
            stack.append((frame.f_code.co_filename, frame.f_lineno or 0,
                          frame.f_globals.get("__name__")))
            scopes.append(compat.scope_of(frame))
            frame = frame.f_back
        stack.reverse()
        scopes.reverse()
        self.records.append(CapturedWarning(message, category, filename, lineno, stack, scopes))

    def __exit__(self, *exc: Any) -> None:
        self._ctx.__exit__(*exc)

    def take(self) -> List[CapturedWarning]:
        out, self.records = self.records, []
        return out

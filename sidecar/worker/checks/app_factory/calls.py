"""Run a piece of the app's code with its warnings and exception recorded, and classify them
the way the models' import is classified (``checks/models/classify.py``): the same rules
decide the code and the app's line, so a factory that reads a missing variable, imports a
missing package or exits is reported as it would be at import."""

from __future__ import annotations

import shlex
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...source import locate
from ..models import classify as models_classify
from ..models.capture import CapturedWarning, WarningRecorder
from . import reregister

Raw = Dict[str, Any]
Frame = Tuple[str, int, Optional[str]]


class Outcome:
    """What one call did: its value, or the exception it raised; the warnings it emitted."""

    def __init__(self, value: Any, error: Optional[BaseException],
                 warnings: List[CapturedWarning]) -> None:
        self.value = value
        self.error = error
        self.warnings = warnings


def call(fn: Callable[[], Any]) -> Outcome:
    """``fn()``; SystemExit is an outcome too (the app's exit is a finding)."""
    value, error = None, None
    with WarningRecorder() as recorder:
        try:
            value = fn()
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = exc
    return Outcome(value, error, recorder.take())


def shell_command(app_path: str, statements: List[str]) -> str:
    """The same calls outside sidecar: the app's interpreter, in the app path."""
    return "cd %s && %s -c %s" % (shlex.quote(app_path), shlex.quote(sys.executable),
                                 shlex.quote("; ".join(statements)))


def frames_of(item: Any) -> List[Frame]:
    """(filename, line, module) outermost first, of an exception or a recorded warning."""
    if isinstance(item, CapturedWarning):
        return list(item.stack)
    frames: List[Frame] = []
    tb = getattr(item, "__traceback__", None)
    while tb is not None:
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno,
                       tb.tb_frame.f_globals.get("__name__")))
        tb = tb.tb_next
    return frames


def classify(outcome: Outcome, target: str, locator: locate.Locator, app_path: str,
             reproduce: str, doing: Optional[str] = None) -> List[Raw]:
    """Raw findings for what ``outcome`` recorded: SQLAlchemy's warnings (a Python warning
    of the app's start-up code is not this check's business) and the exception.

    A generic exception is SQLA183 (raised by the factory or getter); a model registered
    again under the same module name is SQLA180/SQLA181 (``reregister``); ``doing`` names
    the call for the faults that carry a phase (an exit, a MemoryError)."""
    out: List[Raw] = []
    for w in outcome.warnings:
        raw = models_classify.from_warning(w, "import", target, locator)
        if raw is not None and raw["code"] != "SQLA121":
            out.append(_relabel(raw, w, locator, reproduce, doing))
    if outcome.error is not None:
        raw = models_classify.from_exception(outcome.error, "import", target, locator)
        raw["facts"]["app_path"] = app_path
        out.append(_relabel(raw, outcome.error, locator, reproduce, doing))
    return reregister.fold(out)


def _relabel(raw: Raw, item: Any, locator: locate.Locator, reproduce: str,
             doing: Optional[str]) -> Raw:
    code = raw["code"]
    if code == "SQLA199":
        raw["code"] = "SQLA183"
        raw["facts"]["reproduce"] = reproduce
    elif code in reregister.CODES and not raw["facts"].get("modules"):
        reregister.relocate(raw, frames_of(item), locator)
    elif code in ("SIDE003", "SIDE009") and doing:
        raw["facts"]["phase"] = doing
    return raw

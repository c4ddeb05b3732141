"""A model registered again by a second app in one process (SQLA180, SQLA181), located at the
statement to edit, and model modules that ran again (which may raise nothing at all).

The models classifier locates "Table 'x' is already defined" and "... will be replaced in the
string-lookup table" at the class (SQLA102/SQLA103). A factory causes them in two ways, each
with its own edit:

- the ``class`` statement is inside a function the factory runs (models defined in
  ``create_app()``): every call defines the class again, so the class line is the place,
  named with the function;
- a module-level class runs again (``importlib.reload``, ``exec`` of the models file): the
  app's frame that re-executes the module (the ``reload`` line) is the place, the class a
  related one.

A module imported under a second name is not relabelled: SQLA102/SQLA103 say that already.
"""

from __future__ import annotations

import ast
import os
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ...source import locate
from ..models.classify import add_related

CODES = {"SQLA102": "SQLA180", "SQLA103": "SQLA181"}

Raw = Dict[str, Any]


def relocate(raw: Raw, frames: Sequence[Tuple[str, int, Any]], locator: locate.Locator) -> Raw:
    """Turn SQLA102/SQLA103 into SQLA180/SQLA181 at the statement a second call runs again."""
    raw["code"] = CODES[raw["code"]]
    user = locator.user_frames(frames)
    if not user:
        return raw
    filename, line = user[-1]
    cls = locator.class_at(filename, line)
    class_line = cls.lineno if cls is not None else line
    if cls is not None:
        raw["class"] = cls.name
    function = _enclosing_function(locator.tree(filename), cls.lineno if cls else line)
    if function is not None:  # the class statement runs on every call
        raw["facts"]["defined_in"] = function.name
        _at(raw, locator, filename, class_line)
        return raw
    here = os.path.realpath(filename)
    outside = [f for f in user if os.path.realpath(f[0]) != here]
    if outside:  # the module ran again: the statement that made it run is the edit
        site = outside[-1]
        _at(raw, locator, site[0], site[1])
        raw["facts"]["module_file"] = locator.relative(filename)
        add_related(raw, locator.relative(filename), class_line,
                    "%s, defined again when %s runs again" % (
                        "class %s" % cls.name if cls is not None else "the model",
                        locator.relative(filename)))
    return raw


def _at(raw: Raw, locator: locate.Locator, filename: str, line: int) -> None:
    raw["file"], raw["line"] = locator.relative(filename), line
    raw["facts"]["statement"] = locator.source_line(filename, line)
    # the first definition of a class defined in the factory is this very line
    raw["related"] = [r for r in raw.get("related") or ()
                      if (r["file"], r.get("line")) != (raw["file"], line)]
    if not raw["related"]:
        raw.pop("related")


def fold(raws: List[Raw]) -> List[Raw]:
    """One finding per place: the SAWarning a class gets just before its "Table already
    defined" (SQLAlchemy says both for one class statement) goes with the error."""
    errors = {(r.get("file"), r.get("line")) for r in raws if r["code"] == "SQLA180"}
    return [r for r in raws if r["code"] != "SQLA181"
            or (r.get("file"), r.get("line")) not in errors]


def _enclosing_function(tree: Optional[ast.Module], line: int) -> Optional[ast.FunctionDef]:
    """The innermost function whose body holds ``line`` (a class defined in it)."""
    best: Optional[ast.FunctionDef] = None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.FunctionDef) and \
                node.lineno < line <= (node.end_lineno or node.lineno) and \
                (best is None or node.lineno > best.lineno):
            best = node
    return best


# --- modules that ran again ----------------------------------------------------------------

Snapshot = Dict[str, Dict[str, int]]  # module name -> {class name: id(class)}


def snapshot(locator: locate.Locator) -> Snapshot:
    """The classes each of the app's modules defines now (by identity)."""
    out: Snapshot = {}
    for name, module in list(sys.modules.items()):
        if module is None or not locator.is_user_file(getattr(module, "__file__", None)):
            continue
        out[name] = {attr: id(value) for attr, value in list(vars(module).items())
                     if isinstance(value, type) and getattr(value, "__module__", None) == name}
    return out


def ran_again(before: Snapshot, locator: locate.Locator) -> List[str]:
    """The modules of ``before`` whose classes are new objects now: their code ran again
    (a reload, a re-import after removal), whatever SQLAlchemy said about it."""
    after = snapshot(locator)
    return sorted(name for name, classes in before.items() if classes and any(
        after.get(name, {}).get(attr, ident) != ident for attr, ident in classes.items()))

"""Where each Column, relationship(), ForeignKey and Table was written in the app's source.

A failure raised while the mappers configure has no app frame on its stack: SQLAlchemy runs
``configure_mappers()`` long after the class bodies did. The objects it fails on (the
relationship, the Column, the Table) do outlive the class body, so while the worker imports
the models we note, for each of them, the innermost frame in an app file at the moment it
was built. That is the statement to edit, also when it is in a mixin, a base class in another
module or inside a ``declared_attr`` function (whose frame is the function's own line).

The recorder wraps the constructors named in ``compat.construction_hooks()`` for the time
of the models checks only (``install`` ... ``uninstall``): the wrapper calls the original
first and returns what it returns, so the app's objects behave exactly as without it, and
after ``uninstall`` the classes hold their original functions again. ``sys.setprofile``
would see every call of the whole import (much slower); a wrapped ``__init__`` sees only
these. Copies that declarative makes of a mixin's columns take the original's place.
"""

from __future__ import annotations

import ast
import functools
import sys
import weakref
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import compat

Origin = Tuple[str, int]  # (absolute filename, line)

# id(obj) -> (a weak reference to obj, or obj itself when it cannot be weakly referenced,
# and where it was built). The reference is checked on every read, so an id reused by a new
# object is never mistaken for the old one.
_ORIGINS: Dict[int, Tuple[Any, Origin]] = {}
_PATCHED: List[Tuple[type, str, Any]] = []  # (owner, attribute, the original) to restore
_STATE: Dict[str, Any] = {"is_app_file": None}
_APP_FILE_CACHE: Dict[str, bool] = {}


def _is_app_file(filename: str) -> bool:
    known = _APP_FILE_CACHE.get(filename)
    if known is None:
        check = _STATE["is_app_file"]
        known = bool(check is not None and check(filename))
        _APP_FILE_CACHE[filename] = known
    return known


_CO_OPTIMIZED = 0x0001  # inspect.CO_OPTIMIZED: a function's code, not a class body/module


def _app_frame(frame: Any, limit: int = 1000) -> Optional[Origin]:
    """The innermost frame at or outside ``frame`` that runs an app file.

    A helper called from a class body (``owner_id = fk("users.id")`` with ``def fk(target):
    return Column(ForeignKey(target))``) is located at the class body's line, the one that
    differs per column; a ``declared_attr`` function, which SQLAlchemy calls, at its own.
    """
    while frame is not None and not _is_app_file(frame.f_code.co_filename):
        limit -= 1
        frame = frame.f_back if limit > 0 else None
    if frame is None:
        return None
    found = frame
    while frame.f_code.co_flags & _CO_OPTIMIZED:  # a function: who called it?
        caller = frame.f_back
        if caller is None or not _is_app_file(caller.f_code.co_filename):
            break
        if caller.f_code.co_name == "<module>":
            break
        if not caller.f_code.co_flags & _CO_OPTIMIZED:  # a class body
            found = caller
            break
        frame = caller
    return found.f_code.co_filename, found.f_lineno or 0


def _remember(obj: Any, origin: Origin, overwrite: bool) -> None:
    key = id(obj)
    old = _ORIGINS.get(key)
    if not overwrite and old is not None and _alive(old[0]) is obj:
        return
    try:
        # no callback: an entry of a collected object is only stale (the worker is short
        # lived), and ``locate`` checks the reference before trusting it
        ref: Any = weakref.ref(obj)
    except TypeError:  # no __weakref__ slot: keep the object alive instead
        ref = obj
    _ORIGINS[key] = (ref, origin)


def _alive(ref: Any) -> Any:
    return ref() if isinstance(ref, weakref.ref) else ref


def _wrap_init(original: Callable[..., Any], limit: int = 1000) -> Callable[..., Any]:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if _STATE["is_app_file"] is not None:
            try:  # whatever goes wrong here must not change what the app's code does
                origin = _app_frame(sys._getframe(1), limit)
                if origin is not None:
                    _remember(self, origin, overwrite=False)
            except Exception:
                pass
        return result

    return __init__


def _wrap_copy(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def _copy(self: Any, *args: Any, **kwargs: Any) -> Any:
        copy = original(self, *args, **kwargs)
        if _STATE["is_app_file"] is not None and copy is not self:
            try:
                origin = locate(self)
                if origin is not None:  # a mixin's column: its statement, not the subclass's
                    _remember(copy, origin, overwrite=True)
            except Exception:
                pass
        return copy

    return _copy


def install(is_app_file: Callable[[str], bool]) -> None:
    """Start recording (idempotent); ``is_app_file`` says which frames are the app's."""
    _STATE["is_app_file"] = is_app_file
    _APP_FILE_CACHE.clear()
    if _PATCHED:
        return
    for owner, name, kind in compat.construction_hooks():
        original = owner.__dict__.get(name)
        if original is None:
            continue
        if kind == "copy":
            wrapped = _wrap_copy(original)
        else:  # "init_near": the app calls a constructor function that builds it
            wrapped = _wrap_init(original, 6 if kind == "init_near" else 1000)
        setattr(owner, name, wrapped)
        _PATCHED.append((owner, name, original))


def uninstall() -> None:
    """Stop recording and give every class its original functions back (what was recorded
    stays readable)."""
    _STATE["is_app_file"] = None
    while _PATCHED:
        owner, name, original = _PATCHED.pop()
        setattr(owner, name, original)


def installed() -> bool:
    return bool(_PATCHED)


def locate(obj: Any) -> Optional[Origin]:
    """(absolute filename, line) where ``obj`` was built in the app's code, or None.

    Accepts a Column, MappedColumn, relationship() (RelationshipProperty), ForeignKey,
    constraint, Index or Table; a ColumnProperty is located by its first column.
    """
    if obj is None:
        return None
    entry = _ORIGINS.get(id(obj))
    if entry is not None and _alive(entry[0]) is obj:
        return entry[1]
    try:  # a ColumnProperty (column_property(), or made by declarative): its first column
        columns = getattr(obj, "columns", None)
    except Exception:  # any object may come here; none of its properties may break us
        return None
    if isinstance(columns, list) and columns and columns[0] is not obj:
        first = _ORIGINS.get(id(columns[0]))
        if first is not None and _alive(first[0]) is columns[0]:
            return first[1]
    return None


# --- from a line to the statement ----------------------------------------------------------


def statement_at(tree: Optional[ast.Module], line: int) -> Optional[ast.stmt]:
    """The innermost statement of ``tree`` that spans ``line``."""
    if tree is None:
        return None
    best: Optional[ast.stmt] = None
    body: List[Any] = list(tree.body)
    while body:
        found = None
        for stmt in body:
            if stmt.lineno <= line <= (getattr(stmt, "end_lineno", None) or stmt.lineno):
                found = stmt
                break
            decorators = getattr(stmt, "decorator_list", None) or []
            if decorators and min(d.lineno for d in decorators) <= line < stmt.lineno:
                return stmt  # a decorator's own line: the decorated definition
        if found is None:
            break
        if isinstance(found, ast.stmt):
            best = found
        body = [s for field in ("body", "orelse", "finalbody", "handlers")
                for s in (getattr(found, field, None) or [])
                if isinstance(s, (ast.stmt, ast.excepthandler))]
    return best

"""The getter's source, read with ``ast``: its ``def``, the statement that builds the app, the
check every thread passes before building (``if _app is None:``) and whether a lock covers
it. Nothing here runs the app's code; ``fixed_code`` writes the getter with the lock.

Shapes (``kind``):

- ``locked``: the build is under a ``with`` and re-checked inside it (double-checked);
- ``unguarded``: a check, no lock (the incident's ``get_flask_app()``);
- ``no_recheck``: a lock, but the state is not checked again inside it, so each waiting
  thread builds once it has the lock;
- ``cached``: ``functools.lru_cache``/``cache``, which does not lock: concurrent first calls
  all run the function;
- ``uncached``: no state at all (a new app on every call);
- ``unknown``: none of these could be read (no source, another structure).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from typing import Any, Dict, List, Optional

from ...source import locate

CACHE_DECORATORS = ("lru_cache", "cache")
_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


class Shape:
    def __init__(self, filename: str, function: ast.FunctionDef, source: str) -> None:
        self.filename = filename  # absolute
        self.function = function
        self.lines = source.splitlines()
        self.source = source
        self.tree: Optional[ast.Module] = None
        self.kind = "unknown"
        self.state: Optional[str] = None  # where the app is kept: "flask_app", "_state.app"
        self.build: Optional[ast.stmt] = None  # `flask_app = create_app()`, `return ...`
        self.check: Optional[ast.If] = None  # the check no lock covers
        self.lock: Optional[ast.With] = None  # a lock taken without checking again inside
        self.cache: Optional[ast.expr] = None  # the @lru_cache decorator

    def text(self, node: ast.AST) -> str:
        """A node's source on one line."""
        segment = ast.get_source_segment(self.source, node) or ""
        return " ".join(part.strip() for part in segment.splitlines())

    def header(self, node: ast.stmt) -> str:
        """``if flask_app is None:`` / ``with flask_app_lock:``: a statement's first line."""
        return locate.strip_comment(self.lines[node.lineno - 1])

    @property
    def def_line(self) -> int:
        return self.function.lineno

    def builder_calls(self) -> List[ast.Call]:
        """The calls of the build statement, outermost first: the first one the app's code
        resolves is where the threads are held (``create_app()`` of ``_app = create_app()``)."""
        value = getattr(self.build, "value", None)
        if value is None:
            return []
        calls = [n for n in ast.walk(value) if isinstance(n, ast.Call)]
        return sorted(calls, key=lambda c: (c.lineno, c.col_offset))

    def locks(self) -> Dict[int, str]:
        """line -> the dotted name of each ``with <name>:`` the getter runs (its locks)."""
        out: Dict[int, str] = {}
        for node in _walk(self.function.body):
            if isinstance(node, ast.With):
                for item in node.items:
                    name = _dotted(item.context_expr)
                    if name is not None:
                        out.setdefault(node.lineno, name)
        return out

    def local_imports(self) -> List[ast.Import | ast.ImportFrom]:
        """``from server.app_factory import create_app`` inside the getter (the incident's)."""
        return [n for n in _walk(self.function.body) if isinstance(n, (ast.Import,
                                                                         ast.ImportFrom))]


def read(getter: Any, locator: locate.Locator) -> Optional[Shape]:
    """The getter's shape from its file, or None when it has no Python source there."""
    function = inspect.unwrap(getter)
    code = getattr(function, "__code__", None)
    if code is None:
        return None
    tree = locator.tree(code.co_filename)
    if tree is None:
        return None
    node = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef,
                                                              ast.AsyncFunctionDef))
                 and n.name == code.co_name and code.co_firstlineno in
                 [n.lineno] + [d.lineno for d in n.decorator_list]), None)
    if not isinstance(node, ast.FunctionDef):
        return None
    shape = Shape(code.co_filename, node, locator.source(code.co_filename))
    shape.tree = tree
    _classify(shape, cached=hasattr(getter, "cache_info"))
    return shape


def _classify(shape: Shape, cached: bool) -> None:
    fn = shape.function
    shape.cache = next((d for d in fn.decorator_list if _tail(d) in CACHE_DECORATORS), None)
    globals_ = {name for n in _walk(fn.body) if isinstance(n, ast.Global) for name in n.names}
    build = _build_statement(fn, globals_)
    shape.build = build
    if build is None:
        return
    target = _targets(build)
    shape.state = target
    if cached or shape.cache is not None:
        shape.kind = "cached"
        return
    path = _path(fn.body, build) or []
    checks = [n for n in path if isinstance(n, ast.If) and target and _tests(n.test, target)
              and _in_body(n, build, path)]
    withs = [n for n in path if isinstance(n, ast.With)]
    rechecked = any(path.index(c) > path.index(w) for w in withs for c in checks)
    if rechecked:
        shape.kind = "locked"
    elif withs:
        shape.kind, shape.lock = "no_recheck", withs[-1]
        shape.check = checks[0] if checks else None
    elif checks:
        shape.kind, shape.check = "unguarded", checks[0]
    else:
        shape.kind = "uncached"


def _build_statement(fn: ast.FunctionDef, globals_: Any) -> Optional[ast.stmt]:
    """Where the app is made: an assignment of a call to a global (or an attribute), else a
    ``return`` of a call."""
    assigned = [n for n in _walk(fn.body) if isinstance(n, (ast.Assign, ast.AnnAssign))
                and _has_call(n.value) and _targets(n) is not None
                and (_targets(n) in globals_ or "." in (_targets(n) or ""))]
    if assigned:
        return assigned[0]
    returns = [n for n in _walk(fn.body) if isinstance(n, ast.Return) and _has_call(n.value)]
    return returns[0] if returns else None


def _targets(stmt: ast.stmt) -> Optional[str]:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return _dotted(stmt.targets[0])
    if isinstance(stmt, ast.AnnAssign):
        return _dotted(stmt.target)
    return None


def _dotted(node: Any) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return "%s.%s" % (base, node.attr) if base else None
    return None


def _tail(node: ast.expr) -> Optional[str]:
    """``lru_cache`` for ``@lru_cache``, ``@functools.lru_cache(maxsize=None)``."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def _has_call(node: Any) -> bool:
    return node is not None and any(isinstance(n, ast.Call) for n in ast.walk(node))


def _tests(test: ast.expr, state: str) -> bool:
    """Whether ``test`` asks "not built yet?" of ``state``: ``x is None``, ``not x``,
    ``x == None``, alone or in an ``and``/``or``."""
    if isinstance(test, ast.BoolOp):
        return any(_tests(value, state) for value in test.values)
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _dotted(test.operand) == state
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and \
            isinstance(test.ops[0], (ast.Is, ast.Eq)):
        sides = [test.left, test.comparators[0]]
        return any(_dotted(s) == state for s in sides) and any(
            isinstance(s, ast.Constant) and s.value is None for s in sides)
    return False


def _children(node: ast.AST) -> List[ast.stmt]:
    out: List[ast.stmt] = []
    for field in ("body", "orelse", "finalbody", "handlers"):
        for child in getattr(node, field, None) or []:
            if isinstance(child, ast.ExceptHandler):
                out.extend(child.body)
            elif isinstance(child, ast.stmt):
                out.append(child)
    return out


def _walk(body: List[ast.stmt]) -> List[ast.stmt]:
    """The statements the function itself runs (not those of nested defs and classes)."""
    out: List[ast.stmt] = []
    todo = list(body)
    while todo:
        stmt = todo.pop(0)
        out.append(stmt)
        if not isinstance(stmt, _NESTED):
            todo[:0] = _children(stmt)
    return out


def _path(body: List[ast.stmt], target: ast.stmt) -> Optional[List[ast.stmt]]:
    """The compound statements from the function's body down to ``target``."""
    for stmt in body:
        if stmt is target:
            return []
        if isinstance(stmt, _NESTED):
            continue
        below = _path(_children(stmt), target)
        if below is not None:
            return [stmt, *below]
    return None


def _in_body(check: ast.If, build: ast.stmt, path: List[ast.stmt]) -> bool:
    """The build is in the ``if``'s own body (not its ``else``)."""
    following = [*path[path.index(check) + 1:], build]
    return following[0] in check.body


# --- the fix: this getter with a lock, checked again inside it ------------------------------


def lock_name(state: str) -> str:
    """``flask_app`` -> ``flask_app_lock`` (the incident's own name), ``_app`` -> ``_app_lock``."""
    name = state.rsplit(".", 1)[-1]
    return "%s_lock" % name if "." not in state else "_%s_lock" % name.lstrip("_")


def needs_threading_import(shape: Shape) -> bool:
    tree = shape.tree
    return tree is None or not any(
        isinstance(n, ast.Import) and any(a.name == "threading" and a.asname is None
                                          for a in n.names) for n in tree.body)


def fixed_code(shape: Shape) -> Optional[str]:
    """The module-level lines and the getter, rewritten with the double-checked pattern;
    None where the getter's shape has no safe rewrite here."""
    fn = shape.function
    start = min([fn.lineno] + [d.lineno for d in fn.decorator_list])
    lines = shape.lines[start - 1:fn.end_lineno]
    offset = start  # file line of lines[0]
    prelude: List[str] = []
    if shape.kind == "unguarded" and shape.check is not None:
        check = shape.check
        body = _body_lines(shape, check, check.test)
        if body is None or check.orelse:
            return None
        indent, unit = _indents(shape, check, body)
        test, lock = shape.text(check.test), lock_name(shape.state or "_app")
        new = ["%sif %s:" % (indent, test), "%s%swith %s:" % (indent, unit, lock),
               "%s%sif %s:" % (indent, unit * 2, test), *_shift(body, unit * 2)]
        lines = _replace(lines, offset, check, new)
        prelude.append("%s = threading.Lock()" % lock)
    elif shape.kind == "no_recheck" and shape.lock is not None:
        with_ = shape.lock
        body = _body_lines(shape, with_, with_.items[-1].context_expr)
        if body is None or (shape.check is None and shape.state is None):
            return None
        indent, unit = _indents(shape, with_, body)
        test = shape.text(shape.check.test) if shape.check is not None else \
            "%s is None" % (shape.state or "_app")
        head = shape.lines[with_.lineno - 1:with_.items[-1].context_expr.end_lineno or
                           with_.lineno]
        new = [*head, "%s%sif %s:" % (indent, unit, test), *_shift(body, unit)]
        lines = _replace(lines, offset, with_, new)
    elif shape.kind in ("cached", "uncached"):
        built = _single_return(shape)
        if built is None:
            return None
        return _kept_in_a_global(shape, built)
    else:
        return None
    if needs_threading_import(shape):
        prelude.insert(0, "import threading")
    code = textwrap.dedent("\n".join(lines))
    return "\n\n".join([*prelude, code]) if prelude else code


def _body_lines(shape: Shape, node: ast.stmt, head_end: ast.AST) -> Optional[List[str]]:
    """The lines of a compound statement's body (from the line after its header)."""
    first = getattr(head_end, "end_lineno", None) or node.lineno
    body = getattr(node, "body", [])
    if not body or body[0].lineno <= first:  # `if x is None: x = f()` on one line
        return None
    return shape.lines[first:node.end_lineno]


def _indents(shape: Shape, node: ast.stmt, body: List[str]) -> Any:
    line = shape.lines[node.lineno - 1]
    indent = line[:len(line) - len(line.lstrip())]
    first = next((b for b in body if b.strip()), indent + "    ")
    inner = first[:len(first) - len(first.lstrip())]
    unit = inner[len(indent):] if inner.startswith(indent) and len(inner) > len(indent) \
        else "    "
    return indent, unit


def _shift(body: List[str], by: str) -> List[str]:
    return [by + line if line.strip() else "" for line in body]


def _replace(lines: List[str], offset: int, node: ast.stmt, new: List[str]) -> List[str]:
    first, last = node.lineno - offset, (node.end_lineno or node.lineno) - offset
    return lines[:first] + new + lines[last + 1:]


def _single_return(shape: Shape) -> Optional[ast.Return]:
    body = list(shape.function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(
            getattr(body[0], "value", None), ast.Constant):
        body = body[1:]  # the docstring stays where it is
    return body[0] if len(body) == 1 and isinstance(body[0], ast.Return) and \
        body[0].value is not None else None


def _kept_in_a_global(shape: Shape, built: ast.Return) -> str:
    """``return create_app()`` (with or without @lru_cache): the app in a module-level
    variable, built once under a lock."""
    fn = shape.function
    name = fn.name[4:] if fn.name.startswith("get_") and len(fn.name) > 4 else fn.name
    state = "_%s" % name.lstrip("_")
    lock = lock_name(state)
    value = shape.text(built.value) if built.value is not None else "None"
    kept = [d for d in fn.decorator_list if d is not shape.cache]
    head = [shape.lines[d.lineno - 1] for d in kept] + \
        shape.lines[fn.lineno - 1:built.lineno - 1]
    line = shape.lines[built.lineno - 1]
    indent = line[:len(line) - len(line.lstrip())]
    unit = indent[fn.col_offset:] or "    "
    body = ["%sglobal %s" % (indent, state), "%sif %s is None:" % (indent, state),
            "%s%swith %s:" % (indent, unit, lock),
            "%s%sif %s is None:" % (indent, unit * 2, state),
            "%s%s%s = %s" % (indent, unit * 3, state, value), "%sreturn %s" % (indent, state)]
    prelude = ["import threading"] if needs_threading_import(shape) else []
    prelude.append("%s = None\n%s = threading.Lock()" % (state, lock))
    return "\n\n".join([*prelude, textwrap.dedent("\n".join(head + body))])

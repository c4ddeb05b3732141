"""Point at the user's statement, not at SQLAlchemy's internals.

Tracebacks and warnings end inside SQLAlchemy (or Flask-SQLAlchemy). We keep only frames in
the app's files (its ``--models`` packages wherever installed, and its source tree under the
app path), then use the module's AST to move from the ``class`` line to the exact statement
(``metadata = Column(...)``) the message names.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import os
import sys
import sysconfig
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

_WORKER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _library_roots() -> Tuple[str, ...]:
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        with contextlib.suppress(KeyError):
            roots.add(os.path.realpath(sysconfig.get_paths()[key]))
    return tuple(sorted(roots))


_LIB_ROOTS = _library_roots()


def target_packages(targets: Iterable[str]) -> Tuple[str, ...]:
    """The top-level package names of ``--models`` targets: ``pkg`` for ``pkg.models:db``."""
    out: List[str] = []
    for target in targets:
        name = target.partition(":")[0].split(".")[0].strip()
        if name and name not in out:
            out.append(name)
    return tuple(out)


def package_roots(packages: Iterable[str]) -> Tuple[Tuple[str, str], ...]:
    """Where the app's packages live, wherever installed: (folder or file, import base).

    A top-level package's folders (every portion of a namespace package) or the file of a
    top-level module, and the folders of imported subpackages that live elsewhere (an
    editable portion of a namespace, served by setuptools' finder hook, is in no parent's
    ``__path__``). The import base is the folder the dotted name starts from (the
    ``sys.path`` entry): a finding names the file relative to it (``pkg/models.py``).
    A top-level name not imported yet is asked of the import system's finders
    (``find_spec`` of a top-level name runs no app code, and honours ``.pth`` entries and
    finder hooks of editable installs). Real paths.
    """
    found: List[Tuple[str, str]] = []

    def add(location: str, depth: int) -> None:
        path = os.path.realpath(location)
        if any(_under(path, root) for root, _ in found):
            return
        base = os.path.dirname(path)
        for _ in range(depth):
            base = os.path.dirname(base)
        found.append((path, base))

    wanted = set(packages)
    for name in packages:
        module = sys.modules.get(name)
        spec = getattr(module, "__spec__", None) if module is not None else None
        if spec is None:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError, AttributeError):  # a broken finder: not ours
                spec = None
        if spec is None:
            continue
        locations = list(getattr(module, "__path__", None) or spec.submodule_search_locations
                         or [])
        for location in locations:
            if os.path.isdir(location):  # not a finder's placeholder entry
                add(location, 0)
        if not locations and spec.origin and os.path.isfile(spec.origin):
            add(spec.origin, 0)
    for name, module in sorted(list(sys.modules.items()), key=lambda item: item[0]):
        if "." not in name or name.split(".")[0] not in wanted:
            continue
        depth = name.count(".")
        for location in list(getattr(module, "__path__", None) or []):
            if os.path.isdir(location):
                add(location, depth)
        filename = getattr(module, "__file__", None)
        if filename and os.path.isfile(filename) and not getattr(module, "__path__", None):
            add(filename, depth)
    return tuple(found)


def _in_library_dir(parts: Sequence[str]) -> Optional[int]:
    """Index of the innermost ``site-packages``/``dist-packages`` part of a path, if any."""
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] in ("site-packages", "dist-packages"):
            return i
    return None


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def is_app_file(filename: Optional[str], app_path: str, packages: Sequence[str] = (),
                roots: Sequence[str] = ()) -> bool:
    """Is ``filename`` the app's own source?

    The app's code is the ``--models`` targets' top-level packages wherever they are
    installed (``packages``: their names; ``roots``: their directories, when the app's
    interpreter could tell), plus the files under ``app_path`` (a real path) that are not
    an installed package, the standard library or the sidecar's worker. Everything else
    (SQLAlchemy, Flask-SQLAlchemy, Alembic, the app's other dependencies) is a library.

    Asked by the worker (which frame to point at) and by the daemon (where a faulthandler
    dump of the worker was stuck); both load this file, so both answer the same. The daemon
    knows only the names: a frame in ``site-packages/<package>/`` is the app's.
    """
    if not filename or filename.startswith("<"):
        return False
    path = os.path.realpath(filename)
    if path.startswith(_WORKER_DIR + os.sep):
        return False
    if any(_under(path, root) for root in roots):
        return True
    parts = path.split(os.sep)
    lib = _in_library_dir(parts)
    if lib is not None:
        top = parts[lib + 1] if lib + 1 < len(parts) else ""
        return bool(top) and (top[:-3] if top.endswith(".py") else top) in packages
    if not _under(path, app_path):
        return False
    # an app path that *contains* a venv (./.venv) must not make libraries user code
    return not any(path.startswith(root + os.sep) for root in _LIB_ROOTS)


def app_relative(filename: str, app_path: str,
                 roots: Sequence[Tuple[str, str]] = ()) -> str:
    """How a finding names the app's file: relative to the app path for its source tree,
    else relative to the folder that holds the package (``pkg/models.py`` for
    ``site-packages/pkg/models.py``, an editable install or a namespace portion)."""
    path = os.path.realpath(filename)
    parts = path.split(os.sep)
    lib = _in_library_dir(parts)
    if _under(path, app_path) and lib is None and not any(
            path.startswith(root + os.sep) for root in _LIB_ROOTS):
        return os.path.relpath(path, app_path)
    for root, base in sorted(roots, key=lambda pair: len(pair[0]), reverse=True):
        if _under(path, root):
            return os.path.relpath(path, base)
    if lib is not None and lib + 1 < len(parts):
        return os.sep.join(parts[lib + 1:])
    try:
        return os.path.relpath(path, app_path)
    except ValueError:
        return path


def _module_file(name: str) -> Optional[str]:
    """The file ``import name`` would run, found on ``sys.path`` without running any code
    (no parent package is imported: a wrong spelling must not execute the app under it)."""
    from importlib.machinery import PathFinder

    path: Optional[List[str]] = None
    spec = None
    parts = name.split(".")
    for i in range(len(parts)):
        try:
            spec = PathFinder.find_spec(".".join(parts[: i + 1]), path)
        except (ImportError, ValueError, AttributeError):
            return None
        if spec is None:
            return None
        if i < len(parts) - 1:
            locations = spec.submodule_search_locations
            if locations is None:
                return None
            path = list(locations)
    origin = getattr(spec, "origin", None)
    return os.path.realpath(origin) if origin and os.path.isfile(origin) else None


def canonical_module(name: str) -> str:
    """The name the app itself imports ``name``'s file by, when ``--models`` spells it
    through a folder that is not a package (``src.shop.models`` for a ``src/`` layout whose
    ``shop`` is importable, or installed editable).

    Importing one file under two names runs it twice: the second run redefines every table
    ("Table 'x' is already defined") and the app would be blamed for the worker's spelling.
    The file's own package chain (folders with ``__init__.py``) gives the name; it is used
    only when that top-level package is importable and is that very folder. Otherwise, and
    for a name already imported, ``name`` is returned unchanged.
    """
    if name in sys.modules:
        return name
    filename = _module_file(name)
    if filename is None:
        return name
    folder, leaf = os.path.split(filename)
    parts = [] if leaf == "__init__.py" else [os.path.splitext(leaf)[0]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parts.insert(0, os.path.basename(folder))
        folder = os.path.dirname(folder)
    canonical = ".".join(parts)
    # only leading folders that are not packages are dropped (``src.``): a longer name
    # would be a guess at how the app imports itself
    if not parts or not name.endswith("." + canonical):
        return name
    top_dir = os.path.join(folder, parts[0])
    if sys.modules.get(parts[0]) is not None:
        where = list(getattr(sys.modules[parts[0]], "__path__", None) or [])
    else:
        try:
            spec = importlib.util.find_spec(parts[0])  # top-level: runs no app code
        except (ImportError, ValueError, AttributeError):
            return name
        where = list(spec.submodule_search_locations or []) if spec is not None else []
    if not any(os.path.realpath(w) == os.path.realpath(top_dir) for w in where):
        return name
    return canonical


class Locator:
    """Knows the app path; answers "is this the user's file" and "which line is it"."""

    def __init__(self, app_path: str, targets: Sequence[str] = ()) -> None:
        self.app_path = os.path.realpath(app_path)
        # as spelled, and as the app names them (``src.shop.models`` is ``shop.models``)
        self.packages = target_packages(list(targets) + [
            canonical_module(t.partition(":")[0]) for t in targets])
        self._roots: Tuple[Tuple[str, str], ...] = ()
        self._roots_at = -1  # len(sys.modules) when the roots were last computed
        self._ast_cache: Dict[str, Optional[ast.Module]] = {}
        self._classes_cache: Dict[str, List[ast.ClassDef]] = {}
        self._source_cache: Dict[str, List[str]] = {}

    # --- files -------------------------------------------------------------------------

    @property
    def package_roots(self) -> Tuple[Tuple[str, str], ...]:
        """(folder or file, import base) of the app's packages, refreshed when modules were
        imported since (a namespace package gains portions, an editable subpackage appears)."""
        if self.packages and self._roots_at != len(sys.modules):
            self._roots_at = len(sys.modules)
            self._roots = package_roots(self.packages)
        return self._roots

    @property
    def roots(self) -> Tuple[str, ...]:
        """The folders (and top-level module files) of the app's packages."""
        return tuple(root for root, _ in self.package_roots)

    def is_user_file(self, filename: Optional[str]) -> bool:
        return is_app_file(filename, self.app_path, self.packages, self.roots)

    def relative(self, filename: str) -> str:
        return app_relative(filename, self.app_path, self.package_roots)

    def user_frames(self, frames: Iterable[Any]) -> List[Tuple[str, int]]:
        """(filename, lineno) of user frames, outermost first; accepts traceback summaries."""
        out = []
        for fr in frames:
            filename, lineno = fr[0], fr[1]
            if self.is_user_file(filename) and lineno:
                out.append((filename, int(lineno)))
        return out

    # --- source and AST ----------------------------------------------------------------

    def tree(self, filename: str) -> Optional[ast.Module]:
        if filename not in self._ast_cache:
            try:
                with open(filename, encoding="utf-8") as fh:
                    source = fh.read()
                self._source_cache[filename] = source.splitlines()
                self._ast_cache[filename] = ast.parse(source, filename)
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                self._ast_cache[filename] = None
        return self._ast_cache[filename]

    def source(self, filename: str) -> str:
        """The file's text as parsed ("" when it could not be read)."""
        self.tree(filename)
        return "\n".join(self._source_cache.get(filename) or [])

    def source_line(self, filename: str, lineno: int) -> Optional[str]:
        """The line's code, without a trailing comment (for quoting in messages)."""
        self.tree(filename)
        lines = self._source_cache.get(filename) or []
        if 1 <= lineno <= len(lines):
            return strip_comment(lines[lineno - 1])
        return None

    def statement_text(self, filename: str, node: ast.AST) -> str:
        """The statement's own source (no trailing comment), on one line."""
        self.tree(filename)
        source = "\n".join(self._source_cache.get(filename) or [])
        segment = ast.get_source_segment(source, node) or ""
        return " ".join(part.strip() for part in segment.splitlines())

    def assigned_call(self, filename: str, stmt: ast.stmt) -> Optional[Dict[str, Any]]:
        """The AST facts of ``name = f(...)`` / ``name: T = f(...)``, for a hint to rewrite it.

        ``{"callee": "db.Column", "named": False, "args": "db.JSON, nullable=True",
        "annotation": None, "mapped": False}``: ``named`` when the first positional argument
        is a string (the column's name), ``args`` the source of the arguments after that
        name, ``mapped`` when the annotation is ``Mapped[...]``. None when the value is not a
        call.
        """
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
        if not isinstance(value, ast.Call):
            return None
        first = value.args[0] if value.args else None
        named = isinstance(first, ast.Constant) and isinstance(first.value, str)
        # positional, *args, keywords and **kwargs in source order; ast.keyword has no
        # position before Python 3.9, so its value's position stands in
        parts = [(a, self.statement_text(filename, a)) for a in value.args[1 if named else 0:]]
        for kw in value.keywords:
            text = self.statement_text(filename, kw.value)
            parts.append((kw.value, "%s=%s" % (kw.arg, text) if kw.arg else "**" + text))
        parts.sort(key=lambda part: (part[0].lineno, part[0].col_offset))
        annotation = stmt.annotation if isinstance(stmt, ast.AnnAssign) else None
        return {
            "callee": self.statement_text(filename, value.func),
            "named": named,
            "args": ", ".join(text for _, text in parts),
            "annotation": self.statement_text(filename, annotation) if annotation else None,
            "mapped": isinstance(annotation, ast.Subscript) and _dotted_tail(
                annotation.value) == "Mapped",
        }

    def column_callee(self, filename: str, cls: ast.ClassDef) -> Optional[str]:
        """How this class body writes a column (``db.Column``, ``sa.Column``, ``Column``,
        ``mapped_column``), so a hint's new column looks like its neighbours."""
        for stmt in cls.body:
            call = self.assigned_call(filename, stmt) if isinstance(
                stmt, (ast.Assign, ast.AnnAssign)) else None
            callee = str((call or {}).get("callee") or "")
            if callee.endswith("Column") or callee.endswith("mapped_column"):
                return callee
        return None

    def classes(self, filename: str) -> List[ast.ClassDef]:
        """Every class statement of the file, walked once per file (a lookup per mapped
        class walked the whole module again: quadratic, 75 s for 1,000 classes)."""
        found = self._classes_cache.get(filename)
        if found is None:
            tree = self.tree(filename)
            found = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)] \
                if tree is not None else []
            self._classes_cache[filename] = found
        return found

    def class_at(self, filename: str, lineno: int) -> Optional[ast.ClassDef]:
        """The innermost class whose statement spans ``lineno`` (a class line or its body)."""
        best = None
        for node in self.classes(filename):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            spans = first <= lineno <= (node.end_lineno or node.lineno)
            if spans and (best is None or node.lineno >= best.lineno):
                best = node
        return best

    def user_files(self) -> List[str]:
        """Files of imported modules that belong to the app (for name-based searches)."""
        seen = []
        for module in list(sys.modules.values()):
            filename = getattr(module, "__file__", None)
            if filename and filename.endswith(".py") and self.is_user_file(filename):
                path = os.path.realpath(filename)
                if path not in seen:
                    seen.append(path)
        return seen

    def find_class(
        self, class_name: str, files: Optional[Sequence[str]] = None
    ) -> Optional[Tuple[str, ast.ClassDef]]:
        for filename in files if files is not None else self.user_files():
            for node in self.classes(filename):
                if node.name == class_name:
                    return filename, node
        return None


def strip_comment(line: str) -> str:
    """``x = f()  # why`` -> ``x = f()``; a ``#`` inside a string literal is kept."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i].strip()
    return line.strip()


def attribute_statement(cls: ast.ClassDef, attribute: str) -> Optional[ast.stmt]:
    """The statement in the class body that binds ``attribute`` (``x = ...`` or ``x: T = ...``)."""
    for stmt in cls.body:
        targets: List[ast.expr] = []
        if isinstance(stmt, ast.Assign):
            targets = list(stmt.targets)
        elif isinstance(stmt, ast.AnnAssign):
            targets = [stmt.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id == attribute:
                return stmt
    return None


def _dotted_tail(node: ast.AST) -> Optional[str]:
    """``Mapped`` for ``Mapped`` and ``orm.Mapped``."""
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _string_constants(node: ast.AST) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            yield sub.value


def _keyword_values(node: ast.AST, keyword: str) -> Iterator[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            for kw in sub.keywords:
                if kw.arg == keyword and isinstance(kw.value, ast.Constant):
                    yield str(kw.value.value)
                # backref=backref("name", ...)
                if kw.arg == keyword and isinstance(kw.value, ast.Call) and kw.value.args:
                    first = kw.value.args[0]
                    if isinstance(first, ast.Constant):
                        yield str(first.value)


def bound_name(stmt: ast.stmt) -> Optional[str]:
    if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return stmt.target.id
    return None


def class_statements_matching(
    locator: Locator,
    predicate: Any,
    class_name: Optional[str] = None,
    files: Optional[Sequence[str]] = None,
) -> Iterator[Tuple[str, ast.ClassDef, ast.stmt]]:
    """Statements of user class bodies for which ``predicate(stmt)`` holds."""
    for filename in files if files is not None else locator.user_files():
        for cls in locator.classes(filename):
            if class_name and cls.name != class_name:
                continue
            for stmt in cls.body:
                if bound_name(stmt) and predicate(stmt):
                    yield filename, cls, stmt


def has_string(value: str) -> Any:
    return lambda stmt: any(s == value for s in _string_constants(stmt))


def has_keyword(keyword: str, value: str) -> Any:
    return lambda stmt: any(v == value for v in _keyword_values(stmt, keyword))


# --- modules imported twice ----------------------------------------------------------------


def _path_entry(filename: str, module_name: str) -> str:
    """The sys.path entry that makes ``filename`` importable as ``module_name``."""
    path = os.path.realpath(filename)
    base = os.path.dirname(path)
    depth = module_name.count(".")
    if os.path.basename(path) == "__init__.py":
        depth += 1
    for _ in range(depth):
        base = os.path.dirname(base)
    return base


def _module_entry(path: str, name: str, on_path: Set[str]) -> Dict[str, Any]:
    """One name of a duplicated module: the sys.path entry that makes ``path`` importable
    as ``name``, or ``loaded_by_path`` when no entry does (a plugin loader's
    ``spec_from_file_location(name, path)`` + ``exec_module``, ``runpy``)."""
    entry = _path_entry(path, name)
    out: Dict[str, Any] = {"name": name, "path_entry": entry}
    if os.path.realpath(entry) not in on_path:
        out["loaded_by_path"] = True
    return out


def duplicate_modules(
    locator: Locator,
    filename: Optional[str] = None,
    in_flight: Sequence[Tuple[str, str]] = (),
) -> List[Dict[str, Any]]:
    """Modules loaded from one file under two or more names: [{file, modules: [...]}, ...].

    ``in_flight`` adds (file, module name) pairs seen in frames of a failed import, whose
    module SQLAlchemy's exception already removed from ``sys.modules``.
    """
    on_path = {os.path.realpath(entry or os.getcwd()) for entry in sys.path}
    by_file: Dict[str, List[str]] = {}
    pairs = [(getattr(m, "__file__", None), n) for n, m in list(sys.modules.items())]
    for mod_file, name in pairs + list(in_flight):
        if not mod_file or not locator.is_user_file(mod_file):
            continue
        names = by_file.setdefault(os.path.realpath(mod_file), [])
        if name not in names:
            names.append(name)
    out = []
    for path, names in sorted(by_file.items()):
        if len(names) < 2:
            continue
        if filename and os.path.realpath(filename) != path:
            continue
        names.sort(key=lambda n: (-n.count("."), n))  # the package-qualified name first
        out.append(
            {
                "file": locator.relative(path),
                "modules": [_module_entry(path, n, on_path) for n in names],
            }
        )
    return out

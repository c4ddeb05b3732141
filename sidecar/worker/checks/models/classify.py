"""Turn exceptions and warnings into raw findings: a code plus where and what.

Each rule is a small function tried in order (``RULES``); the first that recognises the
problem wins, and anything unrecognised still becomes a generic finding at the user's frame.
Rules read the exception's own attributes and the SQLAlchemy objects in the frames that
raised it (``compat``), never its message: the wording differs across SQLAlchemy 1.4 / 2.0 /
2.1, the objects do not.
"""

from __future__ import annotations

import ast
import contextlib
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from ... import compat
from ...protocol import finding
from ...source import locate, origins
from . import missing_fk, specific

Raw = Dict[str, Any]

# attribute names declarative keeps for itself on every mapped class
RESERVED = ("metadata", "registry")


# (filename, lineno, module name): the module name is None where no frame told it
Frame = Tuple[str, int, Optional[str]]


class Problem:
    """What one rule needs: the text, the frames it came through, and where we are."""

    def __init__(self, kind: str, category: str, text: str, frames: List[Frame],
                 stage: str, target: str, locator: locate.Locator,
                 exception: Optional[BaseException] = None,
                 scopes: Optional[List[compat.Scope]] = None) -> None:
        self.kind = kind  # "exception" | "warning"
        self.category = category  # exception or warning class name
        self.text = text
        self.frames = frames  # outermost first: (filename, lineno, module name)
        self.scopes = scopes or []  # the same frames with SQLAlchemy's locals (compat)
        self.stage = stage  # "import" | "configure"
        self.target = target
        self.locator = locator
        self.exception = exception
        self.statement: Optional[Tuple[str, ast.stmt]] = None  # the statement located last
        self.sqlalchemy_docs: Optional[str] = compat.sqlalchemy_docs(exception)

    @property
    def user_frame(self) -> Optional[Tuple[str, int]]:
        """The innermost frame in the app's own files."""
        frames = self.locator.user_frames(self.frames)
        return frames[-1] if frames else None

    def base(self, code: str, **fields: Any) -> Raw:
        """A raw finding located at the user's innermost frame (refined by the caller)."""
        raw = finding(code, self.text, exception=self.category, **fields)
        frame = self.user_frame
        if frame and "file" not in fields:
            raw["file"] = self.locator.relative(frame[0])
            raw["line"] = frame[1]
            raw.setdefault("facts", {})["statement"] = self.locator.source_line(*frame)
        raw.setdefault("facts", {}).setdefault("target", self.target)
        raw["facts"]["stage"] = self.stage
        if self.sqlalchemy_docs:
            raw["facts"]["sqlalchemy_docs"] = self.sqlalchemy_docs
        return raw

    def at_class_attribute(self, raw: Raw, class_name: Optional[str],
                           attribute: Optional[str], owner: Optional[type] = None) -> Raw:
        """Name ``class_name.attribute`` and move the location to its statement when we can
        find it (in ``owner``'s own module first, when the live class is known)."""
        if class_name:
            raw["class"] = class_name
        if attribute:
            raw["attribute"] = attribute
        found = None
        frame = self.user_frame
        if frame:
            cls = self.locator.class_at(frame[0], frame[1])
            if cls is not None and (class_name is None or cls.name == class_name):
                found = (frame[0], cls)
        if found is None and class_name:
            found = self._find_class(class_name, owner)
        if found is None:
            return raw
        filename, cls = found
        raw["class"] = cls.name
        raw["file"] = self.locator.relative(filename)
        raw["line"] = cls.lineno
        raw.setdefault("facts", {})["statement"] = self.locator.source_line(filename, cls.lineno)
        if attribute:
            stmt = locate.attribute_statement(cls, attribute)
            if stmt is not None:
                self._at(raw, filename, stmt)
        return raw

    def at_property(self, raw: Raw, prop: Any, predicate: Any = None,
                    within_owner: bool = True, string: Optional[str] = None) -> Raw:
        """Locate a relationship() where it was built (``origins``: a mixin's line, the line
        inside a ``declared_attr``); else by its live owner class and key; failing that (a
        backref), the first class-body statement matching ``predicate``. ``string``: the
        string argument at fault (``primaryjoin="..."``), whose own line is the one to edit."""
        owner = prop.parent.class_
        if string is None:  # the string argument SQLAlchemy was evaluating, if any
            string = compat.string_argument(self.scopes, prop)
        if self.at_origin(raw, prop, owner.__name__, prop.key, mapped=owner):
            if string is not None:
                self.at_string(raw, string)
            return raw
        self.at_class_attribute(raw, owner.__name__, prop.key, owner)
        if string is not None and self.statement is not None:
            self.at_string(raw, string)
        if self.statement is None and predicate is not None:
            self.at_statement(raw, predicate, owner.__name__ if within_owner else None)
        return raw

    def at_origin(self, raw: Raw, obj: Any, class_name: Optional[str] = None,
                  attribute: Optional[str] = None, mapped: Optional[type] = None) -> bool:
        """Locate the statement that built ``obj`` (a Column, relationship(), ForeignKey,
        Table...: ``origins.locate``), when it was recorded in an app file.

        ``class_name``/``attribute`` name the finding (the mapped class's attribute); when
        not given, the class body and the name the statement binds do. The line is where
        the call starts (in a one-line statement, the statement's). When the statement is in
        another class than ``mapped`` (a mixin, a base class), the mapped class's line is a
        ``related`` location.
        """
        where = user_origin(self.locator, obj, attribute or raw.get("attribute"))
        if where is None:
            return False
        filename, line = where
        stmt = origins.statement_at(self.locator.tree(filename), line)
        cls = self.locator.class_at(filename, line)
        raw["class"] = class_name or (cls.name if cls is not None else raw.get("class"))
        bound = locate.bound_name(stmt) if stmt is not None else None
        in_body = cls is not None and stmt is not None and stmt in cls.body
        if not in_body and cls is not None:  # inside a declared_attr: the function's name
            bound = _function_in_body(cls, line) or bound
            in_body = bound is not None
        if attribute or (in_body and bound and bound != "__tablename__"):
            raw["attribute"] = attribute or bound
        if stmt is None:
            raw["file"] = self.locator.relative(filename)
            raw["line"] = line
            raw.setdefault("facts", {})["statement"] = self.locator.source_line(filename, line)
        else:
            self._at(raw, filename, stmt)
            # the call's own line: an element of __table_args__, a relationship() inside
            # map_imperatively(properties=...), a ForeignKey in a multi-line Table(...)
            raw["line"] = line
        if mapped is not None and (cls is None or cls.name != mapped.__name__):
            found = self._find_class(mapped.__name__, mapped)
            if found is not None:
                raw.setdefault("facts", {})["declared_in"] = cls.name if cls else None
                add_related(raw, self.locator.relative(found[0]), found[1].lineno,
                            "mapped class %s, which inherits it" % mapped.__name__
                            if cls is not None else "the mapped class %s" % mapped.__name__)
        return True

    def at_recorded_local(self, raw: Raw, class_name: Optional[str] = None,
                          within: Optional[Tuple[str, ast.ClassDef]] = None) -> bool:
        """Locate at the construction of an object SQLAlchemy held when it raised (the
        innermost frame first): the mixin's Column declarative was copying, the Table or
        ForeignKey it was building. For errors located only at a ``class`` line; objects
        built in that class's body (``within``) first (the extra Column, not ``__table__``)."""
        frame = self.user_frame
        here = (os.path.realpath(frame[0]), frame[1]) if frame else None
        candidates: List[Tuple[bool, int, Any]] = []
        for scope in reversed(self.scopes):
            for value in scope.locals.values():
                where = None if isinstance(value, type) else origins.locate(value)
                if where is None or (os.path.realpath(where[0]), where[1]) == here:
                    continue
                stmt = origins.statement_at(self.locator.tree(where[0]), where[1])
                if isinstance(stmt, ast.ClassDef) and stmt.lineno == where[1]:
                    continue  # a Table declarative built at some class line says nothing
                inside = within is not None and os.path.realpath(where[0]) == \
                    os.path.realpath(within[0]) and within[1].lineno <= where[1] <= (
                        within[1].end_lineno or within[1].lineno)
                candidates.append((not inside, len(candidates), value))
        for _, _, value in sorted(candidates, key=lambda c: c[:2]):
            if self.at_origin(raw, value, class_name):
                return True
        return False

    def at_class_arguments(self, raw: Raw, filename: str, cls: ast.ClassDef) -> bool:
        """For an error at a ``class`` line raised while SQLAlchemy built the Mapper (or the
        Table): the class's ``__mapper_args__`` (or ``__table_args__``) statement."""
        raising = compat.raising_scope(self.scopes)
        if raising is None:
            return False
        for name, wanted in (("__mapper_args__", raising.module == "sqlalchemy.orm.mapper" and
                              "polymorphic" in raising.function),
                             ("__table_args__", raising.module == "sqlalchemy.sql.schema")):
            if not wanted:
                continue
            stmt = locate.attribute_statement(cls, name)
            if stmt is not None:
                raw["attribute"] = name
                self._at(raw, filename, stmt)
                return True
        return False

    def at_string(self, raw: Raw, value: str) -> None:
        """Move the line to the string constant ``value`` inside the located statement
        (``primaryjoin="..."`` on its own line of a multi-line relationship())."""
        if self.statement is None:
            return
        for node in ast.walk(self.statement[1]):
            if isinstance(node, ast.Constant) and node.value == value:
                raw["line"] = node.lineno
                return

    def at_statement(self, raw: Raw, predicate: Any, class_name: Optional[str] = None) -> bool:
        """Locate the first class-body statement matching ``predicate`` (AST search)."""
        for filename, cls, stmt in locate.class_statements_matching(
            self.locator, predicate, class_name
        ):
            raw["class"] = cls.name
            raw["attribute"] = locate.bound_name(stmt)
            self._at(raw, filename, stmt)
            return True
        return False

    def _at(self, raw: Raw, filename: str, stmt: ast.stmt) -> None:
        self.statement = (filename, stmt)
        raw["file"] = self.locator.relative(filename)
        raw["line"] = stmt.lineno
        raw.setdefault("facts", {})["statement"] = self.locator.statement_text(filename, stmt)

    def _find_class(self, class_name: str,
                    owner: Optional[type]) -> Optional[Tuple[str, ast.ClassDef]]:
        module = sys.modules.get(getattr(owner, "__module__", None) or "")
        filename = getattr(module, "__file__", None)
        if filename and self.locator.is_user_file(filename):
            found = self.locator.find_class(class_name, [filename])
            if found is not None:
                return found
        return self.locator.find_class(class_name)


def _function_in_body(cls: ast.ClassDef, line: int) -> Optional[str]:
    """The name of the method of ``cls`` whose body spans ``line`` (a ``declared_attr``)."""
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                stmt.lineno <= line <= (stmt.end_lineno or stmt.lineno):
            return stmt.name
    return None


def add_related(raw: Raw, file: str, line: Optional[int], role: str) -> None:
    """Add a second place that matters (``related``: file, line, role), once per place."""
    related = raw.setdefault("related", [])
    if raw.get("file") == file and raw.get("line") == line:
        return
    if not any(r["file"] == file and r.get("line") == line for r in related):
        related.append({"file": file, "line": line, "role": role})


Rule = Callable[[Problem], Optional[Raw]]
RULES: List[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def _is(p: Problem, name: str) -> bool:
    """Whether the exception is an instance of ``sqlalchemy.exc.<name>``."""
    if p.exception is None:
        return False
    from sqlalchemy import exc

    return isinstance(p.exception, getattr(exc, name))


def _class_name(mapper: Any) -> str:
    return mapper.class_.__name__


@rule
def reserved_attribute(p: Problem) -> Optional[Raw]:
    # 1.4 and 2.0 raise for a mapped 'metadata'; 2.1 only warns, for 'metadata' and 'registry'
    found = compat.declarative_attribute(p.scopes)
    if found is None or found[1] not in RESERVED:
        return None
    cls, attribute = found
    code = reserved_code(attribute, p.kind == "exception")
    raw = p.at_class_attribute(p.base(code), cls.__name__, attribute, cls)
    if p.statement is None:  # declared on a mixin or an unmapped base: edit it there
        # (a warning is read after mapping: the class itself then holds an attribute, the
        # mixin still holds the Column it declared)
        for owner in cls.__mro__:
            value = vars(owner).get(attribute)
            if value is not None and p.at_origin(raw, value, cls.__name__, attribute,
                                                 mapped=cls):
                break
    if p.statement is not None:
        raw["facts"].update(reserved_facts(p.locator, *p.statement))
    if code == "SQLA116":
        raw["facts"]["sqlalchemy_version"] = "%d.%d" % compat.sqlalchemy_version()
    raw["table"] = table_of(cls)
    raw["column"] = raw["facts"].get("column_name") or attribute
    return raw


def table_of(cls: type) -> Optional[str]:
    """The table name a class declares, also when declarative failed before making it."""
    name = cls.__dict__.get("__tablename__")
    if isinstance(name, str):
        return name
    table = cls.__dict__.get("__table__")
    return getattr(table, "name", None) if table is not None else None


def reserved_code(attribute: str, raised: bool) -> str:
    """SQLA101 (an error) where this SQLAlchemy refuses the name or where it breaks the app
    (``metadata``: 1.4/2.0 raise; on 2.1 code reading ``Model.metadata`` gets a column);
    SQLA116 (a warning) for a ``registry`` column, which 1.4 and 2.0 accept and 2.1 only
    warns about: the app works on this version, and the hint says which one will refuse it.
    """
    return "SQLA116" if attribute == "registry" and not raised else "SQLA101"


def reserved_facts(locator: locate.Locator, filename: str, stmt: ast.stmt) -> Raw:
    """The AST facts SQLA101/SQLA116's hint rewrites: the call, and the column name the
    statement already gives (``Column("meta", JSON)``: the database column is 'meta')."""
    out: Raw = {}
    call = locator.assigned_call(filename, stmt)
    if call is not None:
        out["column_call"] = call
        value = getattr(stmt, "value", None)
        first = value.args[0] if isinstance(value, ast.Call) and value.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            out["column_name"] = first.value
    return out


@rule
def table_already_defined(p: Problem) -> Optional[Raw]:
    name = compat.table_already_defined(p.scopes)
    if name is None or not _is(p, "InvalidRequestError"):
        return None
    raw = p.base("SQLA102", table=name)
    _at_defining_statement(p, raw)
    raw = p.at_class_attribute(raw, None, None)
    _add_duplicate_modules(p, raw)
    if "modules" not in raw["facts"]:  # a file imported twice: the edit is the import
        _at_tablename(p, raw)
    return raw


def _at_tablename(p: Problem, raw: Raw) -> None:
    """A declarative class located at its ``class`` line (the frame declarative raised
    through): the name to edit is its ``__tablename__`` statement. A ``__table__ =
    Table(...)`` raises at its own statement, which is not a class line."""
    frame = p.user_frame
    if frame is None or p.statement is not None or raw.get("line") != frame[1]:
        return
    cls = p.locator.class_at(frame[0], frame[1])
    if cls is None or cls.lineno != frame[1]:
        return
    stmt = locate.attribute_statement(cls, "__tablename__")
    if stmt is not None:
        p._at(raw, frame[0], stmt)


def _at_defining_statement(p: Problem, raw: Raw) -> None:
    """A Table built through the app's own helper (Buildbot's ``sautils.Table``) raised in
    the helper: the table is defined where the helper is called from a module or class body,
    the innermost app frame that is not inside a function."""
    frames = p.locator.user_frames(p.frames)
    for filename, line in reversed(frames):
        tree = p.locator.tree(filename)
        inside_def = tree is not None and any(
            isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            and node.lineno <= line <= (getattr(node, "end_lineno", None) or node.lineno)
            for node in ast.walk(tree))
        if not inside_def:
            if (filename, line) != (frames[-1] if frames else None):
                raw["file"] = p.locator.relative(filename)
                raw["line"] = line
                raw.setdefault("facts", {})["statement"] = p.locator.source_line(filename, line)
            return


@rule
def replaced_in_string_lookup(p: Problem) -> Optional[Raw]:
    cls = compat.replaced_class(p.scopes)
    if cls is None:
        return None
    raw = p.base("SQLA103", facts={"module": cls.__module__})
    raw = p.at_class_attribute(raw, cls.__name__, None, cls)
    _add_duplicate_modules(p, raw)
    return raw


def _add_duplicate_modules(p: Problem, raw: Raw) -> None:
    frame = p.user_frame
    # a module that failed mid-import is already gone from sys.modules: take its name from
    # the frames it ran in
    in_flight = [(file, module) for file, _, module in p.frames if module]
    dups = locate.duplicate_modules(p.locator, frame[0] if frame else None, in_flight)
    if not dups:
        return
    raw["facts"]["modules"] = dups[0]["modules"]
    # the import statement that loaded the second copy: the user frame just outside the file
    frames = p.locator.user_frames(p.frames)
    if frame:
        outer = [f for f in frames if f[0] != frame[0]]
        if outer:
            site = outer[-1]
            raw["facts"]["second_import"] = "%s:%d (`%s`)" % (
                p.locator.relative(site[0]), site[1], p.locator.source_line(*site) or ""
            )
            if any(m.get("loaded_by_path") for m in dups[0]["modules"]):
                # a loader executes the file by its path: the edit is the loader, not the
                # module (whose code is fine); the class defined twice is the related place
                # (the first definition is a related place already: related_places)
                p.statement = None
                raw["facts"]["module_file"] = dups[0]["file"]
                raw["file"], raw["line"] = p.locator.relative(site[0]), site[1]
                raw["facts"]["statement"] = p.locator.source_line(*site)
                raw.pop("class", None)
            else:
                add_related(raw, p.locator.relative(site[0]), site[1],
                            "the import that loads the module a second time")


# --- issue 10's failure families: inheritance, mixins, annotations, relationships ---------


def _code(locator: locate.Locator, filename: str, node: ast.AST) -> str:
    """A node's source on one line, without the comments of a multi-line statement (a
    ``# <- note`` after ``relationship(`` would swallow the rest of the joined line)."""
    first = getattr(node, "lineno", 0)
    last = getattr(node, "end_lineno", None) or first
    if last <= first:
        return locator.statement_text(filename, node)
    try:
        with open(filename, encoding="utf-8") as fh:
            lines = fh.read().splitlines()[first - 1:last]
    except (OSError, UnicodeDecodeError):
        return locator.statement_text(filename, node)
    lines[-1] = lines[-1][:getattr(node, "end_col_offset", None) or len(lines[-1])]
    lines[0] = lines[0][getattr(node, "col_offset", 0):]
    parts = [locate.strip_comment(line) for line in lines]
    joined = " ".join(part for part in parts if part)
    for opening in "([{":
        joined = joined.replace(opening + " ", opening)
    for closing in ")]}":
        joined = joined.replace(" " + closing, closing)
    return joined


def _statement_call(p: Problem) -> Optional[Raw]:
    """The AST facts of the statement located last, when it assigns a call: the callee,
    the arguments (``args``, and split: ``positional``, ``keywords``), the annotation."""
    if p.statement is None:
        return None
    filename, stmt = p.statement
    call = p.locator.assigned_call(filename, stmt)
    value = getattr(stmt, "value", None)
    if call is None or not isinstance(value, ast.Call):
        return call
    call["positional"] = [_code(p.locator, filename, a) for a in value.args]
    call["keywords"] = [("%s=" % kw.arg if kw.arg else "**") + _code(
        p.locator, filename, kw.value) for kw in value.keywords]
    return call


def _assignment(p: Problem) -> Optional[Raw]:
    """``{"target", "annotation", "value"}``: the located statement's source parts, for a
    hint that rewrites the whole line (a keyword added to ``relationship(...)``)."""
    if p.statement is None:
        return None
    filename, stmt = p.statement
    value = getattr(stmt, "value", None)
    name = locate.bound_name(stmt)
    if value is None or name is None:
        return None
    annotation = stmt.annotation if isinstance(stmt, ast.AnnAssign) else None
    return {"target": name,
            "annotation": p.locator.statement_text(filename, annotation) if annotation
            else None,
            "value": _code(p.locator, filename, value),
            "indent": stmt.col_offset}


def _pk_attributes(mapper: Any) -> List[str]:
    """The attribute names of a mapper's own table's primary key columns."""
    out = []
    table = getattr(mapper, "local_table", None)
    for col in getattr(getattr(table, "primary_key", None), "columns", []):
        try:
            prop = mapper.get_property_by_column(col)
            out.append(prop.key)
        except Exception:
            out.append(col.key)
    return out


def _table_pk(mapper: Any) -> Optional[str]:
    """``"parents.id"``: the first primary key column of a mapper's table."""
    table = getattr(mapper, "local_table", None)
    cols = list(getattr(getattr(table, "primary_key", None), "columns", []))
    if table is None or not cols:
        return None
    return "%s.%s" % (table.fullname, cols[0].name)


@rule
def single_table_column_conflict(p: Problem) -> Optional[Raw]:
    found = compat.inheriting_column_conflict(p.scopes)
    if found is None or not _is(p, "ArgumentError"):
        return None
    cls, col = found
    parent = next((b for b in cls.__mro__[1:] if getattr(b, "__table__", None) is not None),
                  None)
    table = getattr(getattr(parent, "__table__", None), "name", None)
    attribute = getattr(col, "key", None) or getattr(col, "name", None)
    raw = p.base("SQLA140", table=table, column=getattr(col, "name", None),
                 facts={"parent": parent.__name__ if parent else "?"})
    p.at_class_attribute(raw, cls.__name__, attribute, cls)
    raw["facts"]["column_call"] = _statement_call(p)
    return raw


@rule
def table_args_on_single_table_subclass(p: Problem) -> Optional[Raw]:
    cls = compat.inheriting_class(p.scopes)
    # Flask-SQLAlchemy leaves ``__table__ = None`` (and may set a ``__tablename__``) on a
    # single-table subclass while declarative runs: no table of its own is what counts
    if cls is None or not _is(p, "ArgumentError") or "__table_args__" not in cls.__dict__ \
            or getattr(cls.__dict__.get("__table__"), "name", None) is not None:
        return None
    parent = next((b for b in cls.__mro__[1:] if getattr(b, "__table__", None) is not None),
                  None)
    raw = p.base("SQLA172", table=getattr(getattr(parent, "__table__", None), "name", None),
                 facts={"parent": parent.__name__ if parent else "?"})
    return p.at_class_attribute(raw, cls.__name__, "__table_args__", cls)


@rule
def joined_inheritance_condition(p: Problem) -> Optional[Raw]:
    ambiguous = _is(p, "AmbiguousForeignKeysError")
    if not (ambiguous or _is(p, "NoForeignKeysError")):
        return None
    mapper = compat.inherit_condition_mapper(p.scopes)
    inherits = getattr(mapper, "inherits", None)
    if mapper is None or inherits is None:
        return None
    cls = mapper.class_
    parent = inherits.class_
    facts: Raw = {"parent": parent.__name__, "parent_key": _table_pk(inherits) or "?"}
    pks = _pk_attributes(mapper)
    parent_pks = _pk_attributes(inherits)
    facts["pk_attribute"] = pks[0] if pks else None
    facts["parent_pk_attribute"] = parent_pks[0] if parent_pks else "id"
    raw = p.base("SQLA142" if ambiguous else "SQLA141",
                 table=getattr(mapper.local_table, "name", None), facts=facts)
    p.at_class_attribute(raw, cls.__name__, None if ambiguous else facts["pk_attribute"], cls)
    if not ambiguous:
        raw["facts"]["column_call"] = _statement_call(p)
    return raw


@rule
def mixin_needs_declared_attr(p: Problem) -> Optional[Raw]:
    found = compat.mixin_attribute(p.scopes)
    if found is None or not _is(p, "InvalidRequestError"):
        return None
    cls, mixin, name, obj = found
    from sqlalchemy import Column

    kind = "column" if isinstance(obj, Column) else "property"
    raw = p.base("SQLA143", facts={"mixin": mixin.__name__, "kind": kind,
                                   "mapped_class": cls.__name__})
    # the mixin's own line, not the subclass's: that is where the edit goes
    p.at_class_attribute(raw, mixin.__name__, name, mixin)
    raw["facts"]["assignment"] = _assignment(p)
    return raw


@rule
def annotation_without_mapped(p: Problem) -> Optional[Raw]:
    found = compat.annotation_without_mapped(p.scopes)
    if found is None:
        return None
    cls, key = found
    raw = p.base("SQLA150")
    p.at_class_attribute(raw, cls.__name__, key, cls)
    raw["facts"]["column_call"] = _statement_call(p)
    if p.statement is not None and isinstance(p.statement[1], ast.AnnAssign):
        raw["facts"]["annotation"] = p.locator.statement_text(
            p.statement[0], p.statement[1].annotation)
        value = p.statement[1].value
        if value is not None:
            raw["facts"]["value"] = p.locator.statement_text(p.statement[0], value)
    return raw


@rule
def unresolvable_annotation(p: Problem) -> Optional[Raw]:
    if not _is(p, "ArgumentError") or type(p.exception).__name__ != "MappedAnnotationError":
        return None
    cause = p.exception.__cause__ if p.exception is not None else None
    found = compat.declarative_attribute(p.scopes)
    if found is None or not isinstance(cause, NameError):
        return None
    cls, key = found
    raw = p.base("SQLA151")
    p.at_class_attribute(raw, cls.__name__, key, cls)
    names: List[str] = []
    if p.statement is not None and isinstance(p.statement[1], ast.AnnAssign):
        ann = p.statement[1].annotation
        raw["facts"]["annotation"] = p.locator.statement_text(p.statement[0], ann)
        module = sys.modules.get(cls.__module__)
        for sub in ast.walk(ann):
            text = sub.value if isinstance(sub, ast.Constant) and isinstance(
                sub.value, str) else None
            for candidate in ([text] if text else []):
                head = candidate.split("[")[0].split(".")[0].strip()
                if head and not hasattr(module, head) and head not in names:
                    names.append(head)
    raw["facts"]["missing"] = ", ".join(names) if names else "?"
    return raw


@rule
def unmappable_annotation(p: Problem) -> Optional[Raw]:
    found = compat.unmappable_annotation(p.scopes)
    if found is None or not _is(p, "ArgumentError"):
        return None
    cls, key, python_type = found
    type_name = getattr(python_type, "__name__", None) or str(python_type)
    raw = p.base("SQLA152", facts={"python_type": type_name})
    p.at_class_attribute(raw, cls.__name__, key, cls)
    raw["facts"]["column_call"] = _statement_call(p)
    return raw


@rule
def dataclass_field_order(p: Problem) -> Optional[Raw]:
    cls = compat.dataclass_class(p.scopes)
    cause = p.exception.__cause__ if p.exception is not None else None
    if cls is None or not isinstance(cause, TypeError):
        return None
    # Python's own message is all there is: "non-default argument 'age' follows default
    # argument" (3.8-3.12), "non-default argument 'age' follows default argument 'name'"
    text = str(cause)
    quoted = text.split("'")
    field = quoted[1] if len(quoted) >= 3 and "follows default" in text else None
    raw = p.base("SQLA153", facts={"dataclass_error": text,
                                   # dataclass fields take kw_only from Python 3.10
                                   "kw_only": sys.version_info >= (3, 10)})
    p.at_class_attribute(raw, cls.__name__, field, cls)
    raw["facts"]["column_call"] = _statement_call(p)
    raw["facts"]["assignment"] = _assignment(p)
    return raw


def _relationship_statement(p: Problem, raw: Raw, prop: Any) -> Raw:
    """Locate a relationship by its owner and key (the owner's own class body, then the
    class whose body has ``key = relationship(...)``: a mixin's declared_attr)."""
    p.at_property(raw, prop, lambda stmt: locate.bound_name(stmt) == prop.key)
    return raw


@rule
def self_referential_direction(p: Problem) -> Optional[Raw]:
    found = compat.same_direction_pair(p.scopes)
    if found is None or not _is(p, "ArgumentError"):
        return None
    prop, other = found
    # the many-to-one side holds the parent: its name is the singular one
    pair = [prop, other]
    many_to_one = min(pair, key=lambda r: (r.key.endswith("s"), r.key != "parent"))
    one_to_many = other if many_to_one is prop else prop
    mapper = many_to_one.parent
    pks = _pk_attributes(mapper)
    raw = p.base("SQLA160", facts={"other": "%s.%s" % (_class_name(one_to_many.parent),
                                                       one_to_many.key),
                                   "pk_attribute": pks[0] if pks else "id"})
    _relationship_statement(p, raw, many_to_one)
    raw["facts"]["assignment"] = _assignment(p)
    return raw


@rule
def delete_orphan_many_to_one(p: Problem) -> Optional[Raw]:
    prop = compat.cascade_relationship(p.scopes)
    if prop is None or not _is(p, "ArgumentError"):
        return None
    direction = getattr(getattr(prop, "direction", None), "name", None)
    target = getattr(getattr(prop, "mapper", None), "class_", None)
    words = {"MANYTOONE": "many-to-one", "MANYTOMANY": "many-to-many",
             "ONETOMANY": "one-to-many"}
    raw = p.base("SQLA161", facts={"direction": words.get(str(direction), "many-to-one"),
                                   "target": target.__name__ if target else "?"})
    _relationship_statement(p, raw, prop)
    raw["facts"]["target"] = target.__name__ if target else "?"
    raw["facts"]["assignment"] = _assignment(p)
    return raw


@rule
def overlapping_relationships(p: Problem) -> Optional[Raw]:
    found = compat.conflicting_sync_targets(p.scopes)
    if found is None:
        return None
    prop, others = found
    names = ["%s.%s" % (_class_name(o.parent), o.key) for o in others]
    raw = p.base("SQLA162", facts={"overlaps": ", ".join(names) or "?",
                                   "overlaps_keys": ",".join(o.key for o in others)})
    _relationship_statement(p, raw, prop)
    raw["facts"]["assignment"] = _assignment(p)
    return raw


@rule
def expression_names_missing_attribute(p: Problem) -> Optional[Raw]:
    found = compat.missing_column_attribute(p.scopes)
    prop = compat.relationship_in(p.scopes)
    if found is None or prop is None:
        return None
    cls, key = found
    attrs = compat.mapped_column_names(getattr(cls, "__mapper__", None))
    raw = p.base("SQLA163", facts={"target": cls.__name__, "missing_attribute": key,
                                   "available": ", ".join(attrs) or "?"})
    needle = "%s.%s" % (cls.__name__, key)
    _relationship_statement(p, raw, prop)
    if p.statement is None:
        p.at_statement(raw, lambda stmt: any(needle in s for s in locate._string_constants(
            stmt)))
    for value in (locate._string_constants(p.statement[1]) if p.statement else []):
        if needle in value:
            raw["facts"]["expression"] = value
            break
    raw["facts"]["target"] = cls.__name__
    return raw


@rule
def secondary_table_missing(p: Problem) -> Optional[Raw]:
    found = compat.unresolved_name(p.scopes)
    if found is None:
        return None
    prop, expression, _name = found
    if compat.relationship_secondary(prop) != expression:
        return None
    raw = p.base("SQLA164", facts={"secondary": expression})
    p.at_property(raw, prop, locate.has_keyword("secondary", expression))
    return raw


@rule
def relationship_to_unmapped_class(p: Problem) -> Optional[Raw]:
    if type(p.exception).__name__ != "UnmappedClassError":
        return None
    cls = compat.unmapped_class(p.scopes)
    prop = compat.relationship_in(p.scopes)
    if cls is None or prop is None:
        return None
    raw = p.base("SQLA165", facts={"target": cls.__name__,
                                   "target_module": cls.__module__})
    _relationship_statement(p, raw, prop)
    raw["facts"]["target"] = cls.__name__
    return raw


@rule
def multiple_classes_for_name(p: Problem) -> Optional[Raw]:
    found = compat.multiple_classes(p.scopes)
    if found is None:
        return None
    name, classes = found
    prop = compat.relationship_in(p.scopes)
    # the class whose table the owner's foreign keys point at is most likely the one meant
    table = getattr(getattr(prop, "parent", None), "local_table", None)
    targets = {str(getattr(fk, "target_fullname", "") or "").rsplit(".", 1)[0]
               for fk in getattr(table, "foreign_keys", ())}
    classes.sort(key=lambda c: getattr(getattr(c, "__table__", None), "fullname",
                                       None) not in targets)
    paths = ["%s.%s" % (c.__module__, c.__qualname__) for c in classes]
    raw = p.base("SQLA166", facts={"name": name, "paths": paths})
    if prop is not None:
        p.at_property(raw, prop, locate.has_string(name))
    raw["facts"]["assignment"] = _assignment(p)
    related = []
    for c in classes:
        module = sys.modules.get(c.__module__)
        filename = getattr(module, "__file__", None)
        if filename and p.locator.is_user_file(filename):
            spot = p.locator.find_class(c.__name__, [filename])
            if spot is not None:
                related.append("%s:%d" % (p.locator.relative(spot[0]), spot[1].lineno))
    raw["facts"]["definitions"] = related
    return raw


@rule
def column_beside_table(p: Problem) -> Optional[Raw]:
    found = compat.column_beside_table(p.scopes)
    if found is None or not _is(p, "ArgumentError"):
        return None
    cls, col = found
    table = getattr(getattr(cls, "__table__", None), "name", None)
    attribute = next((k for k, v in vars(cls).items() if v is col), None) or getattr(
        col, "key", None)
    raw = p.base("SQLA170", table=table, column=getattr(col, "name", None))
    p.at_class_attribute(raw, cls.__name__, attribute, cls)
    raw["facts"]["column_call"] = _statement_call(p)
    return raw


@rule
def duplicate_column(p: Problem) -> Optional[Raw]:
    found = compat.duplicate_column(p.scopes)
    if found is None or not _is(p, "ArgumentError"):
        return None
    column, existing, table = found
    raw = p.base("SQLA174", table=table.name, column=column.name)
    if not p.at_origin(raw, column):  # not recorded: at the Table / class statement
        p.at_class_attribute(raw, None, None)
    first = origins.locate(existing)
    if first is not None and p.locator.is_user_file(first[0]):
        where = "%s:%d" % (p.locator.relative(first[0]), first[1])
        raw["facts"]["first_location"] = where
    if raw.get("attribute") and isinstance(getattr(existing, "key", None), str):
        raw["facts"]["first_attribute"] = existing.key  # declarative keys it by attribute
    if first is not None and p.locator.is_user_file(first[0]):
        add_related(raw, p.locator.relative(first[0]), first[1],
                    "the first column named '%s'" % column.name)
    return raw


@rule
def tuple_valued_attribute(p: Problem) -> Optional[Raw]:
    found = compat.tuple_attribute(p.scopes)
    if found is None:
        return None
    cls, key = found
    return _tuple_finding(p.locator, cls, key, p.base("SQLA171"), p)


def _tuple_finding(locator: locate.Locator, cls: type, key: str, raw: Raw,
                   p: Optional[Problem] = None) -> Raw:
    if p is not None:
        p.at_class_attribute(raw, cls.__name__, key, cls)
        stmt = p.statement
    else:
        raw["class"], raw["attribute"] = cls.__name__, key
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        spot = locator.find_class(cls.__name__, [filename]) if filename else None
        stmt = None
        if spot is not None:
            raw["file"], raw["line"] = locator.relative(spot[0]), spot[1].lineno
            found = locate.attribute_statement(spot[1], key)
            if found is not None:
                stmt = (spot[0], found)
                raw["line"] = found.lineno
                raw.setdefault("facts", {})["statement"] = locator.statement_text(
                    spot[0], found)
    if stmt is not None and isinstance(stmt[1], ast.Assign) and isinstance(
            stmt[1].value, ast.Tuple) and len(stmt[1].value.elts) == 1:
        # what the line should read: the one element, without the trailing comma
        raw.setdefault("facts", {})["fixed"] = "%s = %s" % (
            key, locator.statement_text(stmt[0], stmt[1].value.elts[0]))
    return raw


def lint_tuple_attributes(locator: locate.Locator, classes: List[type]) -> List[Raw]:
    """Mapped classes whose own ``__dict__`` holds a tuple of a Column / mapped_column() /
    relationship(): a trailing comma, silently unmapped (SQLAlchemy warns only for what
    declarative scans; a mixin's tuple is never scanned)."""
    out = []
    seen = set()
    for mapped in classes:
        for cls in mapped.__mro__:
            module = sys.modules.get(getattr(cls, "__module__", ""))
            if not locator.is_user_file(getattr(module, "__file__", None)):
                continue
            for key, value in list(vars(cls).items()):
                if (cls, key) in seen or not isinstance(value, tuple) or not value:
                    continue
                if not any(compat.is_declarative_construct(v) for v in value):
                    continue
                seen.add((cls, key))
                raw = finding("SQLA171", "'%s.%s' is a tuple (%s), not a mapped attribute: "
                              "a trailing comma" % (cls.__name__, key, type(value[0]).__name__),
                              facts={})
                out.append(_tuple_finding(locator, cls, key, raw))
    return out


def lint_table_args_beside_table(locator: locate.Locator, classes: List[type]) -> List[Raw]:
    """``__table_args__`` next to ``__table__`` in one class body: declarative uses the given
    Table as it is and ignores the arguments without a word (1.4, 2.0, 2.1)."""
    out = []
    for cls in classes:
        if "__table__" not in cls.__dict__ or "__table_args__" not in cls.__dict__:
            continue
        # declarative puts the Table it made from __tablename__ into the class dict too: only
        # a body that assigns __table__ itself gave one
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        spot = locator.find_class(cls.__name__, [filename]) if filename and \
            locator.is_user_file(filename) else None
        if spot is None or locate.attribute_statement(spot[1], "__table__") is None:
            continue
        table = getattr(cls.__dict__["__table__"], "name", None)
        raw = finding("SQLA173", "%s sets __table_args__ next to __table__ (table %r): "
                      "SQLAlchemy ignores them" % (cls.__name__, table),
                      class_name=cls.__name__, attribute="__table_args__", table=table,
                      facts={})
        stmt = locate.attribute_statement(spot[1], "__table_args__")
        raw["file"] = locator.relative(spot[0])
        raw["line"] = stmt.lineno if stmt is not None else spot[1].lineno
        if stmt is not None:
            raw["facts"]["statement"] = locator.statement_text(spot[0], stmt)
        out.append(raw)
    return out


def lint_declared_attr_none(locator: locate.Locator, classes: List[type]) -> List[Raw]:
    """A ``declared_attr`` whose function returns nothing (the ``return`` forgotten):
    declarative stores its None on the mapped class (1.4, 2.0, 2.1) and maps nothing,
    silently. Reported at the function, in the mixin's (or base's) own file."""
    try:
        from sqlalchemy.orm import declared_attr
    except ImportError:  # SQLAlchemy 1.3: only in sqlalchemy.ext.declarative
        from sqlalchemy.ext.declarative import declared_attr  # type: ignore[no-redef, unused-ignore]

    out = []
    seen = set()
    for cls in classes:
        for owner in cls.__mro__[1:]:
            for name, value in list(vars(owner).items()):
                if not isinstance(value, declared_attr) or name.startswith("__") or \
                        (owner, name) in seen:
                    continue
                module = sys.modules.get(owner.__module__)
                filename = getattr(module, "__file__", None)
                if not locator.is_user_file(filename):
                    continue  # a library's mixin: its declared_attrs are its business
                if name not in cls.__dict__ or cls.__dict__[name] is not None:
                    continue
                seen.add((owner, name))
                raw = finding("SQLA146", "%s.%s is a declared_attr that returned None, so %s "
                              "maps nothing under that name" % (owner.__name__, name,
                                                               cls.__name__),
                              class_name=owner.__name__, attribute=name,
                              facts={"mapped_class": cls.__name__})
                spot = locator.find_class(owner.__name__, [filename]) if filename else None
                if spot is not None:
                    raw["file"] = locator.relative(spot[0])
                    raw["line"] = spot[1].lineno
                    for stmt in spot[1].body:
                        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                                stmt.name == name:
                            raw["line"] = stmt.lineno  # the def line, after its decorator
                            raw["facts"]["statement"] = locator.source_line(
                                spot[0], stmt.lineno)
                out.append(raw)
    return out


def lint_polymorphic(locator: locate.Locator, mappers: List[Any]) -> List[Raw]:
    """A hierarchy that sets ``polymorphic_identity`` but no ``polymorphic_on``: SQLAlchemy
    accepts it silently (1.4, 2.0, 2.1) and loads every row as the base class. One finding
    per hierarchy, at its base class: that is where ``polymorphic_on`` goes."""
    out = []
    hierarchies: Dict[Any, List[Any]] = {}
    for mapper in mappers:
        # concrete mappers load from their own tables: no discriminator is needed there
        if mapper.polymorphic_identity is not None and mapper.polymorphic_on is None and \
                not mapper.concrete:
            hierarchies.setdefault(mapper.base_mapper, []).append(mapper)
    for base, members in hierarchies.items():
        members.sort(key=lambda m: (m is not base, m.class_.__name__))
        cls = base.class_
        identities = ", ".join("%r (%s)" % (m.polymorphic_identity, m.class_.__name__)
                               for m in members)
        raw = finding("SQLA144", "polymorphic_identity is set (%s), but no mapper of %s's "
                      "hierarchy sets polymorphic_on" % (identities, cls.__name__),
                      class_name=cls.__name__, facts={
                          "identity": identities,
                          "base_identity": repr(base.polymorphic_identity)
                          if base.polymorphic_identity is not None else None})
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None)
        spot = locator.find_class(cls.__name__, [filename]) if filename and \
            locator.is_user_file(filename) else None
        if spot is not None:
            raw["file"], raw["line"] = locator.relative(spot[0]), spot[1].lineno
            raw["facts"]["statement"] = locator.source_line(spot[0], spot[1].lineno)
            stmt = locate.attribute_statement(spot[1], "__mapper_args__")
            if stmt is not None:
                raw["line"] = stmt.lineno
                raw["attribute"] = "__mapper_args__"
                raw["facts"]["statement"] = locator.statement_text(spot[0], stmt)
            raw["facts"]["column_callee"] = locator.column_callee(spot[0], spot[1])
        out.append(raw)
    return out


@rule
def polymorphic_identity_reused(p: Problem) -> Optional[Raw]:
    mapper = compat.polymorphic_reassigned(p.scopes)
    if mapper is None or p.kind != "warning":
        return None
    identity = mapper.polymorphic_identity
    # the map already points at ``mapper`` when the warning is seen: the other one of the
    # hierarchy with the same identity is the previous owner
    previous = next((m for m in mapper.base_mapper.self_and_descendants
                     if m is not mapper and m.polymorphic_identity == identity), None)
    raw = p.base("SQLA145", facts={
        "identity": repr(identity),
        "previous": _class_name(previous) if previous is not None else "?"})
    p.at_class_attribute(raw, _class_name(mapper), "__mapper_args__", mapper.class_)
    return raw


@rule
def relationship_missing_class(p: Problem) -> Optional[Raw]:
    found = compat.unresolved_name(p.scopes)
    if found is None:
        return None
    prop, expression, name = found
    raw = p.base("SQLA104", facts={"target": name, "expression": expression})
    p.at_property(raw, prop, locate.has_string(expression), string=expression)
    raw["facts"]["target"] = name
    return raw


@rule
def missing_primary_key(p: Problem) -> Optional[Raw]:
    mapper = compat.mapper_without_primary_key(p.scopes)
    if mapper is None or not _is(p, "ArgumentError"):
        return None
    table = getattr(mapper.persist_selectable, "description", None)
    raw = p.base("SQLA105", table=table)
    return p.at_class_attribute(raw, _class_name(mapper), None, mapper.class_)


def _relationship(p: Problem, code: str) -> Optional[Raw]:
    prop = compat.relationship_in(p.scopes)
    if prop is None:  # a Core join() outside any relationship: nothing to point at
        return None
    raw = p.at_property(p.base(code), prop)
    cls, attr = raw["class"], raw["attribute"]
    if p.statement is not None:
        names = list(locate._string_constants(p.statement[1]))
        raw["facts"]["target"] = names[0] if names else "?"
        raw["facts"]["assignment"] = _assignment(p)
    found = p._find_class(cls, prop.parent.class_)
    if found:
        fks = _fk_columns(found[1])
        # the relationship's own key first: `assignee` -> `assignee_id`
        fks.sort(key=lambda c: not c.startswith(attr))
        raw["facts"]["fk_hint"] = "%s.%s" % (cls, fks[0]) if fks else "%s.<fk column>" % cls
        raw["facts"]["fk_column"] = fks[0] if fks else "<fk column>"
        raw["facts"]["candidates"] = ", ".join("%s.%s" % (cls, c) for c in fks)
    return raw


def _fk_columns(cls: ast.ClassDef) -> List[str]:
    out = []
    for stmt in cls.body:
        name = locate.bound_name(stmt)
        if name and any(isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(
                n.func, "id", "")) == "ForeignKey" for n in ast.walk(stmt)):
            out.append(name)
    return out


@rule
def ambiguous_foreign_keys(p: Problem) -> Optional[Raw]:
    return _relationship(p, "SQLA106") if _is(p, "AmbiguousForeignKeysError") else None


def _imports(tree: Optional[ast.Module], name: str) -> bool:
    """Whether a module binds ``name`` at its top level (an import or a definition)."""
    for node in (tree.body if tree is not None else []):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
                (a.asname or a.name) == name or a.name == "*" for a in node.names):
            return True
        if locate.bound_name(node) == name:
            return True
    return False


@rule
def no_foreign_keys(p: Problem) -> Optional[Raw]:
    if not _is(p, "NoForeignKeysError"):
        return None
    raw = _relationship(p, "SQLA107")
    prop = compat.relationship_in(p.scopes)
    links = missing_fk.missing_links(prop) if raw is not None else []
    if raw is None or not links:
        return raw
    # the edit is the column that lacks its ForeignKey; the relationship is the related place
    rel_place, rel_obj = (raw.get("file"), raw.get("line")), "%s.%s" % (
        raw.get("class"), raw.get("attribute"))
    secondary = compat.secondary_table(prop)
    fixes = []
    for link in links:
        spot: Raw = {}
        owner = compat.mapped_class_of_table(link.table)
        if link.table is secondary or owner is None:
            located = p.at_origin(spot, link.column)
        else:
            located = p.at_origin(spot, link.column, owner.__name__, link.column.key,
                                  mapped=owner)
        statement = None
        where = origins.locate(link.column)
        if located and where is not None:
            statement = missing_fk.call_with_foreign_key(
                p.locator, where[0], where[1], link.column.name, link.target)
        statement_import = None  # a bare ForeignKey(...) in a module that lacks the name
        if statement and where is not None and ".ForeignKey(" not in statement and \
                not _imports(p.locator.tree(where[0]), "ForeignKey"):
            statement_import = "from sqlalchemy import ForeignKey"
        fixes.append({"column": "%s.%s" % (link.table.name, link.column.name),
                      "import": statement_import,
                      "target": link.target, "location": "%s:%s" % (
                          spot.get("file"), spot.get("line")) if located else None,
                      "statement": statement})
        if located and len(fixes) == 1:
            for key in ("file", "line", "class", "attribute"):
                raw.pop(key, None)
            raw.update({k: v for k, v in spot.items() if k != "facts"})
            raw["table"], raw["column"] = link.table.name, link.column.name
            raw["facts"]["statement"] = spot.get("facts", {}).get("statement")
            raw["facts"].pop("assignment", None)
    raw["facts"]["missing_links"] = fixes
    raw["facts"]["relationship"] = rel_obj
    raw["facts"]["association"] = getattr(secondary, "name", None)
    if rel_place[0] and (raw.get("file"), raw.get("line")) != rel_place:
        add_related(raw, rel_place[0], rel_place[1], "the relationship that needs it: "
                    + rel_obj)
    return raw


@rule
def back_populates_missing(p: Problem) -> Optional[Raw]:
    found = compat.missing_reverse_property(p.scopes)
    if found is None:
        return None
    prop, missing, target = found
    raw = p.base("SQLA108", facts={"missing_property": missing, "target": _class_name(target)})
    p.at_property(raw, prop, locate.has_keyword("back_populates", missing), within_owner=False)
    raw["facts"]["target"] = _class_name(target)
    import difflib

    # the relationship on the other class that points back here, else the closest name
    others = compat.declared_relationships(getattr(target, "mapper", target))
    pointing_back = [r.key for r in others if getattr(r, "back_populates", None) == prop.key]
    names = [r.key for r in others]
    closest = pointing_back[0] if len(pointing_back) == 1 else next(
        iter(difflib.get_close_matches(missing, names, n=1, cutoff=0.6)), None)
    if closest:
        raw["facts"]["closest"] = closest
    if is_sqlmodel(prop.parent.class_):
        raw["facts"]["style"] = "sqlmodel"
    return raw


@rule
def conflicting_backref(p: Problem) -> Optional[Raw]:
    found = compat.conflicting_backref(p.scopes)
    if found is None:
        return None
    prop, backref, mapper = found
    raw = p.base("SQLA109", facts={"backref": backref, "target": _class_name(mapper)})
    return p.at_property(raw, prop)


@rule
def foreign_key_target_missing(p: Problem) -> Optional[Raw]:
    exc: Any = p.exception  # NoReferencedTableError/ColumnError, by the class name below
    if _is(p, "NoReferencedTableError"):
        missing = "no table named '%s' is defined on this MetaData" % exc.table_name
    elif _is(p, "NoReferencedColumnError"):
        missing = "table '%s' has no column named '%s'" % (exc.table_name, exc.column_name)
    else:
        return None
    fk = compat.foreign_key_in(p.scopes)
    if fk is None:
        return None
    target = fk.target_fullname
    column = fk.parent
    raw = p.base("SQLA110", table=getattr(getattr(column, "table", None), "name", None),
                 column=getattr(column, "name", None),
                 facts={"target": target, "missing": missing})
    mapped = compat.mapped_class_of_table(getattr(column, "table", None))
    if not p.at_origin(raw, fk, mapped.__name__ if mapped else None,  # also in a mixin
                       getattr(column, "key", None) if mapped else None, mapped=mapped):
        p.at_statement(raw, locate.has_string(target))
    raw["facts"]["target"] = target
    suggested = _existing_target(target, column, _is(p, "NoReferencedColumnError"))
    if suggested:
        raw["facts"]["suggested_target"] = suggested
    if mapped is not None and is_sqlmodel(mapped):
        raw["facts"]["style"] = "sqlmodel"
    return raw


def is_sqlmodel(cls: Any) -> bool:
    """A SQLModel table class (its base ``sqlmodel.main.SQLModel``, 0.0.x)."""
    return any(base.__name__ == "SQLModel" and base.__module__.startswith("sqlmodel")
               for base in getattr(cls, "__mro__", ()))


def _existing_target(target: str, column: Any, column_missing: bool) -> Optional[str]:
    """The '<table>.<column>' the ForeignKey most likely meant: a table named like the one
    written (``teams`` for ``team``, the class name ``Team``), or, when the table exists, its
    column of the closest name."""
    import difflib

    table_name, _, column_name = target.rpartition(".")
    metadata = getattr(getattr(column, "table", None), "metadata", None)
    tables = dict(getattr(metadata, "tables", None) or {})
    if column_missing and table_name in tables:
        names = [c.name for c in tables[table_name].columns]
        match = difflib.get_close_matches(column_name, names, n=1, cutoff=0.6)
        return f"{table_name}.{match[0]}" if match else None
    lowered = {name.lower(): name for name in tables}
    exact = lowered.get(table_name.lower()) or lowered.get(table_name.lower().rstrip("s")) \
        or lowered.get(table_name.lower() + "s")
    if exact is None:
        match = difflib.get_close_matches(table_name, list(tables), n=1, cutoff=0.75)
        exact = match[0] if match else None
    if exact is None or not any(c.name == column_name for c in tables[exact].columns):
        return None
    return f"{exact}.{column_name}"


@rule
def memory_error(p: Problem) -> Optional[Raw]:
    # Under the worker's RLIMIT_AS cap (--memory-limit) a leaking import gets MemoryError.
    if not isinstance(p.exception, MemoryError):
        return None
    raw = p.base("SIDE009", facts={"phase": "importing %s" % p.target})
    raw["message"] = "the worker hit its memory limit while importing %s" % p.target
    if raw.get("file"):
        raw["facts"]["stuck_at"] = "It was allocating at %s:%s." % (raw["file"], raw["line"])
    return raw


@rule
def system_exit(p: Problem) -> Optional[Raw]:
    if not isinstance(p.exception, SystemExit):
        return None
    code = p.exception.code
    raw = p.base("SIDE003", facts={"exit_code": code if code is not None else 0,
                                   "phase": "importing %s" % p.target})
    raw["message"] = "sys.exit(%r) was called while importing %s" % (code, p.target)
    if raw.get("file"):
        raw["facts"]["stuck_at"] = "It was called at %s:%s." % (raw["file"], raw["line"])
    return raw


@rule
def syntax_error(p: Problem) -> Optional[Raw]:
    exc = p.exception
    if not isinstance(exc, SyntaxError):
        return None
    raw = p.base("SQLA112")
    if exc.filename and p.locator.is_user_file(exc.filename):
        raw["file"] = p.locator.relative(exc.filename)
        raw["line"] = exc.lineno
    text = (exc.text or "").strip()
    raw["facts"]["text"] = text
    raw["facts"]["statement"] = text
    raw["message"] = "%s: %s" % (exc.msg, text) if text else str(exc.msg)
    return raw


@rule
def module_not_found(p: Problem) -> Optional[Raw]:
    exc = p.exception
    if not isinstance(exc, ImportError) or not getattr(exc, "name", None):
        return None
    if not isinstance(exc, ModuleNotFoundError):
        return None
    missing = exc.name or ""
    target_module = p.target.split(":")[0]
    is_target = (target_module == missing or target_module.startswith(missing + ".")) and \
        p.user_frame is None
    if is_target:
        raw = p.base("SQLA115", facts={"missing_module": missing, "is_target": True})
        return raw
    return p.base("SQLA111", facts={"missing_module": missing, "python": sys.executable})


def user_origin(locator: locate.Locator, obj: Any,
                attribute: Optional[str] = None) -> Optional[Tuple[str, int]]:
    """Where the app built ``obj`` (``origins.locate``), in an app file, or None.

    An object a metaclass built while the ``class`` statement ran is recorded at the class
    line: SQLModel (0.0.x) makes each Column, ForeignKey and relationship() of
    ``name: T = Field(...)`` / ``Relationship(...)`` inside ``sqlmodel.main``. Then the
    attribute's own statement in that class body is the line to edit (``attribute``, else
    the name the object carries: a Column's or relationship's key, a ForeignKey's column)."""
    where = origins.locate(obj)
    if where is None or not locator.is_user_file(where[0]):
        return None
    stmt = origins.statement_at(locator.tree(where[0]), where[1])
    if isinstance(stmt, ast.ClassDef):
        name = attribute or getattr(obj, "key", None) or \
            getattr(getattr(obj, "parent", None), "key", None)
        own = locate.attribute_statement(stmt, name) if isinstance(name, str) else None
        if own is not None:
            return where[0], own.lineno
    return where


def _relative_origin(p: Problem, obj: Any) -> Optional[Tuple[str, int]]:
    where = user_origin(p.locator, obj)
    return (p.locator.relative(where[0]), where[1]) if where is not None else None


def _join_candidates(p: Problem, raw: Raw, prop: Any) -> None:
    """For a join condition SQLAlchemy could not decide: the foreign key columns between
    the two tables (where each was written), or the target class when there are none."""
    try:
        parent, target = prop.parent.local_table, prop.entity.mapper.local_table
    except Exception:
        return
    found = False
    for table in (parent, target):  # a ForeignKey that names no table links nothing
        for column in list(getattr(table, "columns", ())):
            for fk in list(column.foreign_keys):
                try:
                    fk.column  # noqa: B018  (resolving it is the test)
                except Exception:
                    where = _relative_origin(p, fk) or _relative_origin(p, column)
                    if where is not None:
                        raw.setdefault("facts", {})["caused_by"] = list(where)
                        add_related(raw, where[0], where[1], "ForeignKey('%s') resolves to "
                                    "nothing: probably the cause" % fk.target_fullname)
    for table, other in ((parent, target), (target, parent)):
        for column in list(getattr(table, "columns", ())):
            if not any(fk.references(other) for fk in column.foreign_keys):
                continue
            where = _relative_origin(p, column)
            owner = compat.mapped_class_of_table(table)
            if where is not None:
                found = True
                add_related(raw, where[0], where[1], "a foreign key to %s: %s.%s" % (
                    other.name, owner.__name__ if owner else table.name, column.key))
    if not found:
        cls = prop.entity.class_
        place = p._find_class(cls.__name__, cls)
        if place is not None:
            add_related(raw, p.locator.relative(place[0]), place[1].lineno,
                        "the target class %s" % cls.__name__)


def related_places(p: Problem, raw: Raw) -> None:
    """The second places that matter, from the objects in the failing frames (whatever the
    rule): the other side of the relationship being configured (or the class that lacks it),
    the property a backref collides with, the first definition of a table defined twice, the
    import that loaded a module a second time."""
    prop = compat.relationship_in(p.scopes)
    clash = compat.conflicting_backref(p.scopes) if prop is not None else None
    if clash is not None:
        existing = getattr(clash[2], "_props", {}).get(clash[1])
        where = _relative_origin(p, existing) if existing is not None else None
        if where is not None:
            add_related(raw, where[0], where[1], "the existing %s.%s, which the backref "
                        "collides with" % (clash[2].class_.__name__, clash[1]))
    elif prop is not None and (_is(p, "AmbiguousForeignKeysError")
                               or _is(p, "NoForeignKeysError")):
        _join_candidates(p, raw, prop)
    elif prop is not None:
        other = compat.reverse_property(prop)
        where = _relative_origin(p, other) if other is not None else None
        if other is not None and where is not None:
            add_related(raw, where[0], where[1], "the other side, %s.%s" % (
                other.parent.class_.__name__, other.key))
        else:
            missing = compat.missing_reverse_property(p.scopes)
            if missing is not None:
                target = missing[2].class_
                found = p._find_class(target.__name__, target)
                if found is not None:
                    add_related(raw, p.locator.relative(found[0]), found[1].lineno,
                                "class %s, which has no '%s'" % (target.__name__, missing[1]))
    for cls in compat.same_named_classes(p.scopes):
        found = p._find_class(cls.__name__, cls)
        if found is not None:
            add_related(raw, p.locator.relative(found[0]), found[1].lineno,
                        "one of the classes named %s: %s.%s" % (
                            cls.__name__, cls.__module__, cls.__qualname__))
    for other in compat.overlapping_relationships(p.scopes):
        where = _relative_origin(p, other)
        if where is not None:
            add_related(raw, where[0], where[1], "%s.%s, which writes the same column" % (
                other.parent.class_.__name__, other.key))
    table = compat.existing_table(p.scopes)
    if table is not None:
        where = _relative_origin(p, table)
        if where is not None:
            add_related(raw, where[0], where[1], "the first definition of table '%s'"
                        % table.name)


def classify(p: Problem) -> Raw:
    raw = _classify(p)
    with contextlib.suppress(Exception):  # a second place is a bonus, never worth a finding
        related_places(p, raw)
    return raw


def _classify(p: Problem) -> Raw:
    for fn in RULES:
        raw = fn(p)
        if raw is not None:
            return raw
    if p.kind == "warning":
        raw = p.base("SQLA120" if p.category == "SAWarning" else "SQLA121")
        if p.user_frame is None and p.stage == "configure":
            _at_configuring(p, raw)
        return raw
    raw = p.base("SQLA199")
    frame = p.user_frame
    prop = compat.relationship_in(p.scopes) if p.stage == "configure" else None
    if frame and _configured_below_app(p):
        # the app called configure_mappers() itself (at the end of its models module, say):
        # that call is not the statement to edit, the mapper being configured is
        _at_configuring(p, raw)
    elif frame:
        cls = p.locator.class_at(frame[0], frame[1])
        if cls is not None:
            raw["class"] = cls.name
            stmt = origins.statement_at(p.locator.tree(frame[0]), frame[1])
            if stmt is not None and stmt in cls.body and locate.bound_name(stmt):
                raw["attribute"] = locate.bound_name(stmt)
            # raised by declarative while it scanned the class: what was it holding?
            if frame[1] == cls.lineno and not p.at_recorded_local(raw, cls.name,
                                                                    (frame[0], cls)):
                p.at_class_arguments(raw, frame[0], cls)
        if prop is not None and getattr(prop, "parent", None) is not None and \
                not raw.get("attribute"):  # a lambda argument of relationship() ran here
            raw["class"], raw["attribute"] = prop.parent.class_.__name__, prop.key
    elif p.stage == "configure":
        _at_configuring(p, raw)
    return specific.refine(p, raw)


def _configured_below_app(p: Problem) -> bool:
    """Whether SQLAlchemy's configure loop ran below the innermost app frame."""
    last = max((i for i, fr in enumerate(p.frames) if p.locator.is_user_file(fr[0])),
               default=None)
    if last is None or len(p.scopes) != len(p.frames):
        return False
    return any(compat.is_configure_loop(scope) for scope in p.scopes[last + 1:])


def _at_configuring(p: Problem, raw: Raw) -> None:
    """Raised or warned while the mappers configure, with no app frame: the relationship
    (or else the mapper) being configured is the place."""
    failure = compat.configure_failure(p.exception) if p.exception is not None else None
    prop = compat.relationship_in(p.scopes) or (failure.prop if failure else None)
    if prop is not None and getattr(prop, "parent", None) is not None:
        p.at_property(raw, prop)
    elif failure is not None and failure.mapper is not None:
        cls_ = failure.mapper.class_
        p.at_class_attribute(raw, cls_.__name__, None, cls_)


def from_exception(exc: BaseException, stage: str, target: str,
                   locator: locate.Locator) -> Raw:
    frames: List[Frame] = []
    tb = exc.__traceback__
    while tb is not None:  # outermost first, with each frame's module name
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno,
                       tb.tb_frame.f_globals.get("__name__")))
        tb = tb.tb_next
    text = str(exc) if not isinstance(exc, SyntaxError) else (exc.msg or str(exc))
    p = Problem("exception", type(exc).__name__, text, frames, stage, target, locator, exc,
                compat.traceback_scopes(exc.__traceback__))
    return classify(p)


def from_warning(w: Any, stage: str, target: str, locator: locate.Locator) -> Optional[Raw]:
    """A raw finding for a warning, or None for library noise that never touched app code."""
    frames: List[Frame] = list(w.stack) or [(w.filename, w.lineno, None)]
    p = Problem("warning", w.category_name, w.text, frames, stage, target, locator,
                scopes=w.scopes)
    p.sqlalchemy_docs = compat.sqlalchemy_docs(w.message)
    raw = classify(p)
    if raw["code"] == "SQLA121" and not locator.is_user_file(w.filename):
        return None  # a DeprecationWarning inside some library: not the app's concern
    return raw

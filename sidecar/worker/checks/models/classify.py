"""Turn exceptions and warnings into raw findings: a code plus where and what.

Each rule is a small function tried in order (``RULES``); the first that recognises the
message wins, and anything unrecognised still becomes a generic finding at the user's frame.
Messages differ across SQLAlchemy 1.4 / 2.0 / 2.1 — the patterns below accept each wording
(noted per rule).
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...protocol import finding
from ...source import locate

Raw = Dict[str, Any]

# "Mapper[A(a)]" (1.4.? and 2.x) or "mapped class A->a" (1.4)
_MAPPER = r"(?:Mapper\[(?P<mcls>\w+)\(\w*\)\]|mapped class (?P<mcls2>\w+)->\w+)"


# (filename, lineno, module name): the module name is None where no frame told it
Frame = Tuple[str, int, Optional[str]]


class Problem:
    """What one rule needs: the text, the frames it came through, and where we are."""

    def __init__(self, kind: str, category: str, text: str, frames: List[Frame],
                 stage: str, target: str, locator: locate.Locator,
                 exception: Optional[BaseException] = None) -> None:
        self.kind = kind  # "exception" | "warning"
        self.category = category  # exception or warning class name
        self.text = text
        self.frames = frames  # outermost first: (filename, lineno, module name)
        self.stage = stage  # "import" | "configure"
        self.target = target
        self.locator = locator
        self.exception = exception

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
        return raw

    def at_class_attribute(self, raw: Raw, class_name: Optional[str],
                           attribute: Optional[str]) -> Raw:
        """Move the location to ``class_name.attribute``'s statement when we can find it."""
        found = None
        frame = self.user_frame
        if frame:
            cls = self.locator.class_at(frame[0], frame[1])
            if cls is not None and (class_name is None or cls.name == class_name):
                found = (frame[0], cls)
        if found is None and class_name:
            found = self.locator.find_class(class_name)
        if found is None:
            return raw
        filename, cls = found
        raw["class"] = cls.name
        raw["file"] = self.locator.relative(filename)
        raw["line"] = cls.lineno
        raw.setdefault("facts", {})["statement"] = self.locator.source_line(filename, cls.lineno)
        if attribute:
            raw["attribute"] = attribute
            stmt = locate.attribute_statement(cls, attribute)
            if stmt is not None:
                raw["line"] = stmt.lineno
                raw["facts"]["statement"] = self.locator.statement_text(filename, stmt)
        return raw

    def at_statement(self, raw: Raw, predicate: Any, class_name: Optional[str] = None) -> bool:
        """Locate the first class-body statement matching ``predicate`` (AST search)."""
        for filename, cls, stmt in locate.class_statements_matching(
            self.locator, predicate, class_name
        ):
            raw["file"] = self.locator.relative(filename)
            raw["line"] = stmt.lineno
            raw["class"] = cls.name
            raw["attribute"] = locate.bound_name(stmt)
            raw.setdefault("facts", {})["statement"] = self.locator.statement_text(filename, stmt)
            return True
        return False


Rule = Callable[[Problem], Optional[Raw]]
RULES: List[Rule] = []


def rule(fn: Rule) -> Rule:
    RULES.append(fn)
    return fn


def _mapper_class(m: "re.Match[str]") -> Optional[str]:
    return m.groupdict().get("mcls") or m.groupdict().get("mcls2")


@rule
def reserved_attribute(p: Problem) -> Optional[Raw]:
    # 1.4: "Attribute name 'metadata' is reserved for the MetaData instance when using a
    #       declarative base class."   2.0: "... is reserved when using the Declarative API."
    # 2.1: SAWarning "Attribute name 'metadata' should be left reserved for the MetaData ..."
    m = re.search(r"Attribute name '(\w+)' (?:is|should be left) reserved", p.text)
    if not m:
        return None
    return p.at_class_attribute(p.base("SQLA101"), None, m.group(1))


@rule
def table_already_defined(p: Problem) -> Optional[Raw]:
    m = re.search(r"Table '([\w.]+)' is already defined for this MetaData instance", p.text)
    if not m:
        return None
    raw = p.base("SQLA102", table=m.group(1).split(".")[-1])
    raw = p.at_class_attribute(raw, None, None)
    _add_duplicate_modules(p, raw)
    return raw


@rule
def replaced_in_string_lookup(p: Problem) -> Optional[Raw]:
    m = re.search(r"same class name and module name as ([\w.]+), and will be replaced", p.text)
    if not m:
        return None
    qualified = m.group(1)
    raw = p.base("SQLA103", facts={"module": qualified.rsplit(".", 1)[0]})
    raw = p.at_class_attribute(raw, qualified.rsplit(".", 1)[-1], None)
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


@rule
def relationship_missing_class(p: Problem) -> Optional[Raw]:
    m = re.search(_MAPPER + r".*?expression '(?P<expr>[^']+)' failed to locate a name "
                  r"\('(?P<name>[^']+)'\)", p.text, re.S)
    if not m:
        return None
    cls = _mapper_class(m)
    raw = p.base("SQLA104", facts={"target": m.group("name"), "expression": m.group("expr")})
    if not p.at_statement(raw, locate.has_string(m.group("expr")), cls):
        p.at_class_attribute(raw, cls, None)
    raw["facts"]["target"] = m.group("name")
    return raw


@rule
def missing_primary_key(p: Problem) -> Optional[Raw]:
    m = re.search(_MAPPER + r" could not assemble any primary key columns for mapped table "
                  r"'(?P<table>\w+)'", p.text)
    if not m:
        return None
    raw = p.base("SQLA105", table=m.group("table"))
    return p.at_class_attribute(raw, _mapper_class(m), None)


def _relationship(p: Problem, code: str, pattern: str) -> Optional[Raw]:
    m = re.search(pattern, p.text)
    if not m:
        return None
    cls, attr = m.group("cls"), m.group("attr")
    raw = p.base(code)
    p.at_class_attribute(raw, cls, attr)
    found = p.locator.find_class(cls)
    if found:
        stmt = locate.attribute_statement(found[1], attr)
        if stmt is not None:
            names = [s for s in locate._string_constants(stmt)]
            raw["facts"]["target"] = names[0] if names else "?"
        fks = _fk_columns(p, found[0], found[1])
        # the relationship's own key first: `assignee` -> `assignee_id`
        fks.sort(key=lambda c: not c.startswith(attr))
        raw["facts"]["fk_hint"] = "%s.%s" % (cls, fks[0]) if fks else "%s.<fk column>" % cls
        raw["facts"]["candidates"] = ", ".join("%s.%s" % (cls, c) for c in fks)
    return raw


def _fk_columns(p: Problem, filename: str, cls: Any) -> List[str]:
    import ast

    out = []
    for stmt in cls.body:
        name = locate.bound_name(stmt)
        if name and any(isinstance(n, ast.Call) and getattr(n.func, "attr", getattr(
                n.func, "id", "")) == "ForeignKey" for n in ast.walk(stmt)):
            out.append(name)
    return out


@rule
def ambiguous_foreign_keys(p: Problem) -> Optional[Raw]:
    if p.category != "AmbiguousForeignKeysError" and "multiple foreign key paths" not in p.text:
        return None
    return _relationship(p, "SQLA106", r"on relationship (?P<cls>\w+)\.(?P<attr>\w+)")


@rule
def no_foreign_keys(p: Problem) -> Optional[Raw]:
    if p.category != "NoForeignKeysError" and "no foreign keys linking" not in p.text:
        return None
    return _relationship(p, "SQLA107", r"on relationship (?P<cls>\w+)\.(?P<attr>\w+)")


@rule
def back_populates_missing(p: Problem) -> Optional[Raw]:
    m = re.search(r"Mapper '?" + _MAPPER + r"'? has no property '(?P<prop>\w+)'", p.text)
    if not m:
        return None
    target, prop = _mapper_class(m), m.group("prop")
    raw = p.base("SQLA108", facts={"missing_property": prop, "target": target})
    if not p.at_statement(raw, locate.has_keyword("back_populates", prop)):
        p.at_class_attribute(raw, target, None)
    raw["facts"]["target"] = target
    return raw


@rule
def conflicting_backref(p: Problem) -> Optional[Raw]:
    m = re.search(r"Error creating backref '(?P<backref>\w+)' on relationship "
                  r"'(?P<cls>\w+)\.(?P<attr>\w+)': property of that name exists on mapper '?"
                  + _MAPPER, p.text)
    if not m:
        return None
    raw = p.base("SQLA109", facts={"backref": m.group("backref"), "target": _mapper_class(m)})
    p.at_class_attribute(raw, m.group("cls"), m.group("attr"))
    return raw


@rule
def foreign_key_target_missing(p: Problem) -> Optional[Raw]:
    m = re.search(r"Foreign key associated with column '(?P<table>[\w.]+)\.(?P<col>\w+)' could "
                  r"not find table '(?P<target_table>[\w.]+)' with which to generate a foreign "
                  r"key to target column '(?P<target_col>\w+)'", p.text)
    if m:
        target = "%s.%s" % (m.group("target_table"), m.group("target_col"))
        missing = "no table named '%s' is defined on this MetaData" % m.group("target_table")
        table, column = m.group("table").split(".")[-1], m.group("col")
    else:
        m = re.search(r"Could not initialize target column for ForeignKey '(?P<target>[^']+)' "
                      r"on table '(?P<table>[\w.]+)': table '(?P<tt>[\w.]+)' has no column "
                      r"named '(?P<tc>\w+)'", p.text)
        if not m:
            return None
        target = m.group("target")
        missing = "table '%s' has no column named '%s'" % (m.group("tt"), m.group("tc"))
        table, column = m.group("table").split(".")[-1], None
    raw = p.base("SQLA110", table=table, column=column,
                 facts={"target": target, "missing": missing})
    p.at_statement(raw, locate.has_string(target))
    raw["facts"]["target"] = target
    return raw


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
    import sys

    return p.base("SQLA111", facts={"missing_module": missing, "python": sys.executable})


def classify(p: Problem) -> Raw:
    for fn in RULES:
        raw = fn(p)
        if raw is not None:
            return raw
    if p.kind == "warning":
        return p.base("SQLA120" if p.category == "SAWarning" else "SQLA121")
    raw = p.base("SQLA199")
    frame = p.user_frame
    if frame:
        cls = p.locator.class_at(frame[0], frame[1])
        if cls is not None:
            raw["class"] = cls.name
    return raw


def from_exception(exc: BaseException, stage: str, target: str,
                   locator: locate.Locator) -> Raw:
    frames: List[Frame] = []
    tb = exc.__traceback__
    while tb is not None:  # outermost first, with each frame's module name
        frames.append((tb.tb_frame.f_code.co_filename, tb.tb_lineno,
                       tb.tb_frame.f_globals.get("__name__")))
        tb = tb.tb_next
    text = str(exc) if not isinstance(exc, SyntaxError) else (exc.msg or str(exc))
    p = Problem("exception", type(exc).__name__, text, frames, stage, target, locator, exc)
    return classify(p)


def from_warning(w: Any, stage: str, target: str, locator: locate.Locator) -> Optional[Raw]:
    """A raw finding for a warning, or None for library noise that never touched app code."""
    frames: List[Frame] = list(w.stack) or [(w.filename, w.lineno, None)]
    p = Problem("warning", w.category_name, w.text, frames, stage, target, locator)
    raw = classify(p)
    if raw["code"] == "SQLA121" and not locator.is_user_file(w.filename):
        return None  # a DeprecationWarning inside some library: not the app's concern
    return raw

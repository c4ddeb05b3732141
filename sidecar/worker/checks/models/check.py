"""The ``models_import`` and ``mappers`` checks: import the targets, configure, discover."""

from __future__ import annotations

import importlib
import sys
from typing import Any, Dict, List, Optional, Tuple

from ... import compat
from ...context import CheckOutcome, Context, Skip
from ...protocol import finding
from ...source import locate, origins
from . import classify, configure, discover
from .capture import WarningRecorder


class Findings:
    """An ordered, de-duplicated list of raw findings (one per code and place)."""

    def __init__(self) -> None:
        self.items: List[Dict[str, Any]] = []

    def add(self, raw: Optional[Dict[str, Any]]) -> None:
        if raw is None:
            return
        key = (raw["code"], raw.get("file"), raw.get("line"), raw.get("class"),
               raw.get("attribute"))
        for old in self.items:
            if (old["code"], old.get("file"), old.get("line"), old.get("class"),
                    old.get("attribute")) == key:
                return
        self.items.append(raw)

    def absorb_followup(self, raw: Dict[str, Any]) -> bool:
        """Fold a generic exception into the specific warning that caused it.

        SQLAlchemy 2.1 only *warns* about a reserved ``metadata`` attribute; Flask-SQLAlchemy
        then fails with ``AttributeError: Neither 'Column' object nor 'Comparator' object has
        an attribute 'tables'``. The user needs one finding, at the ``metadata = ...`` line.
        """
        if raw["code"] != "SQLA199":
            return False
        for old in self.items:
            if old["code"] == "SQLA101" and old.get("class") and old.get("class") == raw.get(
                "class"
            ) and old.get("file") == raw.get("file"):
                old["exception"] = "%s, then %s" % (old.get("exception"), raw.get("exception"))
                old["message"] = "%s Then: %s: %s" % (
                    old["message"], raw.get("exception"), raw["message"]
                )
                return True
        return False


def reproduce_command(app_path: str, modules: List[str], configure: bool) -> str:
    """A shell command that reproduces the failure outside sidecar: the app's interpreter, in
    the app path (first on ``sys.path`` for ``-c``, as in the worker), importing the same
    modules and, for a configure-time failure, configuring the mappers."""
    import shlex

    code = "; ".join(["import %s" % m for m in modules] + (
        ["from sqlalchemy.orm import configure_mappers", "configure_mappers()"]
        if configure else []))
    return "cd %s && %s -c %s" % (shlex.quote(app_path), shlex.quote(sys.executable),
                                 shlex.quote(code))


def parse_target(target: str) -> Tuple[str, Optional[str]]:
    module, _, attr = target.partition(":")
    return module, (attr or None)


def _import_target(ctx: Context, locator: locate.Locator, target: str,
                   out: Findings) -> Tuple[bool, Any]:
    module_name, attr = parse_target(target)
    module_name = locate.canonical_module(module_name)  # never one file under two names
    ctx.emit_phase("importing %s" % target)
    with WarningRecorder() as recorder:
        try:
            module = importlib.import_module(module_name)
            error = None
        except BaseException as exc:  # SystemExit included: the app's exit is a finding
            if isinstance(exc, KeyboardInterrupt):
                raise
            error = exc
    for w in recorder.take():
        out.add(classify.from_warning(w, "import", target, locator))
    if error is not None:
        # root causes first: an exception raised while handling another (a retried import)
        for earlier in reversed(_context_chain(error)):
            cause = classify.from_exception(earlier, "import", target, locator)
            if cause.get("file") and not out.absorb_followup(cause):
                cause["facts"]["led_to"] = type(error).__name__
                out.add(cause)
        raw = classify.from_exception(error, "import", target, locator)
        raw["facts"]["app_path"] = ctx.app_path
        if compat.configure_failure(error).mapper is not None:
            ctx.import_failed_configuring = True
            # its traceback holds the failed module's namespace: without it the classes and
            # their registry (weakly referenced by SQLAlchemy) may be collected before the
            # mappers check configures past the failure
            ctx.failed_import_errors.append(error)
        if raw["code"] == "SQLA199":
            raw["facts"]["reproduce"] = reproduce_command(ctx.app_path, [module_name], False)
        if raw["code"] == "SIDE009":
            raw["facts"]["limit_mb"] = ctx.config.get("memory_limit_mb") or "?"
        if not out.absorb_followup(raw):
            out.add(raw)
        _link_reimports(out)
        return False, None
    if attr is None:
        return True, module
    try:
        obj = module
        for part in attr.split("."):
            obj = getattr(obj, part)
    except AttributeError:
        filename = getattr(module, "__file__", None)
        out.add(finding("SQLA113", "module '%s' has no attribute '%s'" % (module_name, attr),
                        exception="AttributeError",
                        file=locator.relative(filename) if filename else None,
                        attribute=attr, facts={"module": module_name, "target": target}))
        return False, None
    return True, obj


def _context_chain(exc: BaseException, limit: int = 5) -> List[BaseException]:
    """Exceptions ``exc`` was raised while handling (``__cause__``/``__context__``)."""
    chain: List[BaseException] = []
    current = exc.__cause__ or exc.__context__
    while current is not None and len(chain) < limit and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _link_reimports(out: Findings) -> None:
    """"Table already defined" after a retried import: say it is a re-import, not a twin.

    SQLAlchemy warns "same class name and module name ... will be replaced" only when one
    module name runs twice — which happens when a failed import is retried: Python drops the
    half-run module, but its tables stay on the MetaData.
    """
    reimported = {f["facts"].get("module") for f in out.items
                  if f["code"] == "SQLA103" and f.get("facts", {}).get("module")}
    if not reimported:
        return
    first = next((f for f in out.items if f["code"] not in ("SQLA102", "SQLA103")
                  and f.get("file")), None)
    for f in out.items:
        if f["code"] in ("SQLA102", "SQLA103") and not f["facts"].get("modules"):
            f["facts"]["reimported"] = sorted(m for m in reimported if m)
            if first is not None:
                f["facts"]["first_error"] = "%s at %s:%s" % (first["code"], first["file"],
                                                            first.get("line"))


def _reserved_attribute_lint(locator: locate.Locator, out: Findings) -> None:
    """Catch ``metadata``/``registry`` columns that this SQLAlchemy version let through.

    1.4 and 2.0 raise for ``metadata`` but silently accept a ``registry`` column; 2.1 only
    warns. A class attribute that shadows the declarative MetaData/registry with a column is
    a bug on every version, so we look at the live classes as well.
    """
    for modname, module in list(sys.modules.items()):
        filename = getattr(module, "__file__", None)
        if filename is None or not locator.is_user_file(filename):
            continue
        for value in list(vars(module).values()):
            if not isinstance(value, type) or value.__module__ != modname:
                continue
            for attr in classify.RESERVED:
                bound = value.__dict__.get(attr)
                if bound is None or _is_sqla_collection(bound):
                    continue
                if not any(_is_sqla_collection(getattr(base, attr, None))
                           for base in value.__mro__[1:]):
                    continue  # not a declarative class: its own 'metadata' is its business
                found = locator.find_class(value.__name__, [filename])
                if not found:
                    continue
                stmt = locate.attribute_statement(found[1], attr)
                code = classify.reserved_code(attr, raised=False)
                facts = classify.reserved_facts(locator, filename, stmt) \
                    if stmt is not None else {}
                facts["statement"] = locator.statement_text(filename, stmt) \
                    if stmt is not None else None
                facts.setdefault("column_call", None)
                if code == "SQLA116":
                    facts["sqlalchemy_version"] = "%d.%d" % compat.sqlalchemy_version()
                raw = finding(
                    code,
                    "Attribute name '%s' is reserved when using the Declarative API; on this "
                    "SQLAlchemy version it silently shadows the declarative %s." % (attr, attr),
                    exception=None, file=locator.relative(filename),
                    line=stmt.lineno if stmt is not None else found[1].lineno,
                    class_name=value.__name__, attribute=attr, facts=facts,
                    table=classify.table_of(value), column=facts.get("column_name") or attr,
                )
                if not any(f["code"] in ("SQLA101", "SQLA116")
                           and f.get("class") == value.__name__
                           and f.get("attribute") == attr for f in out.items):
                    out.add(raw)


def _reserved_mixin_lint(locator: locate.Locator, mapped: List[type], out: Findings) -> None:
    """A ``metadata``/``registry`` column on a mixin that a mapped class inherits.

    Where the class itself also holds the collection (Flask-SQLAlchemy 3.1 sets ``metadata``
    in every model's ``__dict__``), declarative (2.0, 2.1) never sees the mixin's column: it
    is dropped without a word and the table lacks it. Elsewhere the raise or the warning is
    classified already; this reports only a mixin statement no finding names yet.
    """
    reported = {(f.get("file"), f.get("line")) for f in out.items
                if f["code"] in ("SQLA101", "SQLA116")}
    users: Dict[Tuple[type, str], List[type]] = {}
    for cls in mapped:
        for base in cls.__mro__[1:]:
            if "__mapper__" in vars(base) or "__table__" in vars(base):
                continue  # a mapped parent or the declarative base: not a mixin
            for attr in classify.RESERVED:
                if compat.is_declarative_construct(vars(base).get(attr)):
                    users.setdefault((base, attr), []).append(cls)
    for (mixin, attr), classes in users.items():
        filename: str = getattr(sys.modules.get(mixin.__module__), "__file__", None) or ""
        found = locator.find_class(mixin.__name__, [filename]) \
            if filename and locator.is_user_file(filename) else None
        stmt = locate.attribute_statement(found[1], attr) if found else None
        if found is None or stmt is None or \
                (locator.relative(filename), stmt.lineno) in reported:
            continue
        first = classes[0]
        dropped = _is_sqla_collection(getattr(first, attr, None))
        code = "SQLA101" if dropped else classify.reserved_code(attr, raised=False)
        facts = classify.reserved_facts(locator, filename, stmt)
        facts["statement"] = locator.statement_text(filename, stmt)
        facts["declared_in"] = mixin.__name__
        facts.setdefault("column_call", None)
        if code == "SQLA116":
            facts["sqlalchemy_version"] = "%d.%d" % compat.sqlalchemy_version()
        table = classify.table_of(first)
        message = ("%s inherits a '%s' column from %s; declarative keeps the %s there and "
                   "drops the column, so table %r has no such column"
                   % (first.__name__, attr, mixin.__name__, attr, table) if dropped else
                   "Attribute name '%s' (declared in %s) is reserved when using the "
                   "Declarative API" % (attr, mixin.__name__))
        raw = finding(code, message, exception=None, file=locator.relative(filename),
                      line=stmt.lineno, class_name=first.__name__, attribute=attr,
                      facts=facts, table=table, column=facts.get("column_name") or attr)
        for cls in classes:
            spot = locator.find_class(cls.__name__, [getattr(
                sys.modules.get(cls.__module__), "__file__", None) or ""])
            if spot is not None:
                classify.add_related(raw, locator.relative(spot[0]), spot[1].lineno,
                                     "mapped class %s, which inherits it" % cls.__name__)
        out.add(raw)


def _user_mapped_classes(locator: locate.Locator) -> List[type]:
    """The mapped classes defined in the app's own modules."""
    mapped = []
    for module in list(sys.modules.values()):
        if not locator.is_user_file(getattr(module, "__file__", None)):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type) and "__mapper__" in dir(value) and \
                    value.__module__ == module.__name__:
                mapped.append(value)
    return mapped


def _tuple_lint(locator: locate.Locator, mapped: List[type], out: Findings) -> None:
    """A trailing comma (``name = Column(String),``): the attribute is a tuple, unmapped.

    SQLAlchemy warns for the classes declarative scans (SQLA171 from the warning); a tuple
    on a mixin, or one the app's warning filters hid, is found here from the class dicts.
    """
    for raw in classify.lint_table_args_beside_table(locator, mapped):
        out.add(raw)
    for raw in classify.lint_declared_attr_none(locator, mapped):
        out.add(raw)
    for raw in classify.lint_tuple_attributes(locator, mapped):
        if not any(f["code"] == "SQLA171" and f.get("class") == raw.get("class")
                   and f.get("attribute") == raw.get("attribute") for f in out.items):
            out.add(raw)


def _is_sqla_collection(obj: Any) -> bool:
    return discover._is_metadata(obj) or discover._is_registry(obj)


def _double_imports(locator: locate.Locator, out: Findings) -> None:
    reported = {f.get("file") for f in out.items if f.get("facts", {}).get("modules")}
    for dup in locate.duplicate_modules(locator):
        if dup["file"] in reported:
            continue
        names = ", ".join("'%s'" % m["name"] for m in dup["modules"])
        out.add(finding(
            "SQLA114", "%s was imported %d times, as %s" % (dup["file"], len(dup["modules"]),
                                                             names),
            file=dup["file"], facts={"modules": dup["modules"]},
        ))


def run_models_import(ctx: Context) -> CheckOutcome:
    locator = locate.Locator(ctx.app_path, ctx.config.get("models") or [])
    out = Findings()
    targets: List[Tuple[str, Any]] = []
    ok = True
    # where each Column/relationship()/Table is written, for errors raised later, while the
    # mappers configure (no app frame on that stack); only while the app's code imports
    origins.install(locator.is_user_file)
    try:
        for target in ctx.config.get("models") or []:
            imported, obj = _import_target(ctx, locator, target, out)
            ok = ok and imported
            if imported:
                targets.append((target, obj))
        lazy_ok, lazy_findings = discover.load_lazy_exports(targets, locator)  # imports too
        ok = ok and lazy_ok
        for raw in lazy_findings:
            out.add(raw)
    finally:
        origins.uninstall()
    _reserved_attribute_lint(locator, out)
    mapped = _user_mapped_classes(locator)
    _reserved_mixin_lint(locator, mapped, out)
    _tuple_lint(locator, mapped, out)
    _double_imports(locator, out)
    ctx.import_reported = [(f["code"], f.get("file"), f.get("line")) for f in out.items]
    ctx.targets = targets
    ctx.locator = locator
    # the database check says whether these exist, for SQLA101's "no migration needed"
    ctx.model_columns = sorted({(f["table"], f["column"]) for f in out.items
                                if f["code"] in ("SQLA101", "SQLA116") and f.get("table")
                                and f.get("column")})
    ctx.import_ok = ok
    if not ok:
        ctx.models_error = "the models did not import (see models_import)"
    observed = {"targets": list(ctx.config.get("models") or []),
                "imported": [name for name, _ in targets],
                "imported_as": discover.imported_as(ctx.config.get("models") or [])}
    return {"findings": out.items, "observed": observed}


def _foreign_key_targets(ctx: Context, locator: locate.Locator, out: Findings) -> None:
    """Resolve every ForeignKey: a typo'd target only fails later, at the first query."""
    for md in ctx.metadatas:
        for table in list(md.tables.values()):
            for fk in list(table.foreign_keys):
                try:
                    _ = fk.column  # resolving the target is the check
                except Exception as exc:  # NoReferencedTableError / NoReferencedColumnError
                    raw = classify.from_exception(exc, "configure", fk.target_fullname,
                                                  locator)
                    out.add(raw)


def _configure_after_failed_import(ctx: Context, locator: locate.Locator) -> CheckOutcome:
    """The import died in the app's own ``configure_mappers()`` call: models_import reported
    that failure; the classes are defined, so configure past it and report the others."""
    ctx.emit_phase("configure_mappers() after the failed import")
    outcome = configure.configure_all(locator)
    out = Findings()
    for raw in outcome.findings:
        if (raw["code"], raw.get("file"), raw.get("line")) not in ctx.import_reported:
            out.add(raw)
    return {"findings": out.items, "observed": {"configure_failures": outcome.failures,
                                                "after_failed_import": True}}


def _fold_into_foreign_keys(out: Findings) -> None:
    """A relationship whose join fails because a ForeignKey names no table is the same
    mistake as that ForeignKey (SQLA110): one finding, the relationship as related."""
    by_place = {(f.get("file"), f.get("line")): f for f in out.items if f["code"] == "SQLA110"}
    for raw in list(out.items):
        cause = (raw.get("facts") or {}).get("caused_by")
        target = by_place.get(tuple(cause)) if cause and raw["code"] != "SQLA110" else None
        if target is not None:
            classify.add_related(target, raw.get("file") or "?", raw.get("line"),
                                 "%s.%s fails because of it (%s)" % (
                                     raw.get("class"), raw.get("attribute"), raw["code"]))
            out.items.remove(raw)


def run_mappers(ctx: Context) -> CheckOutcome:
    locator = ctx.locator
    if locator is not None and not ctx.import_ok and ctx.import_failed_configuring:
        return _configure_after_failed_import(ctx, locator)
    if not ctx.import_ok or locator is None:
        raise Skip(ctx.models_error or "the models did not import")
    out = Findings()
    ctx.emit_phase("configure_mappers()")
    # every broken mapper and relationship, not only the first one SQLAlchemy stops at
    outcome = configure.configure_all(locator)
    configured = outcome.configured
    modules = [parse_target(t)[0] for t, _ in ctx.targets]
    for raw in outcome.findings:
        if raw["code"] == "SQLA199":
            raw["facts"]["reproduce"] = reproduce_command(ctx.app_path, modules, True)
            first = outcome.errors[0] if outcome.errors else raw
            if first is not raw:  # configure_mappers() alone stops at the first failure
                raw["facts"]["reproduce_after"] = "%s at %s" % (
                    first["code"], "%s:%s" % (first.get("file"), first.get("line"))
                    if first.get("file") else "the model package")
        out.add(raw)
    ctx.emit_phase("discovering MetaData")
    found = discover.discover(locator, ctx.targets)
    ctx.metadatas = found["metadatas"]
    ctx.metadata_sources = found["sources"]
    ctx.mappers = found["mappers"]
    _foreign_key_targets(ctx, locator, out)
    _fold_into_foreign_keys(out)
    for raw in classify.lint_polymorphic(locator, ctx.mappers):
        out.add(raw)
    out.add(discover.nothing_mapped(ctx.targets, ctx.config.get("models") or [], found))
    # what blocks the later checks is the daemon's data, not a list of codes here: every
    # code's effective severity (catalog default + --severity); an unknown code is an error
    severities = ctx.config.get("severities") or {}
    errors = [f for f in out.items if severities.get(f["code"], "error") == "error"]
    ctx.models_ok = configured and not errors and bool(ctx.metadatas)
    if not ctx.models_ok:
        ctx.models_error = (
            "the mappers did not configure (see mappers)"
            if not configured or any(f["code"] != "SQLA130" for f in errors)
            else "no models were found (see mappers)"
        )
    observed = dict(found["observed"])
    observed["configure_failures"] = outcome.failures
    return {"findings": out.items, "observed": observed}

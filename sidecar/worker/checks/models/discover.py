"""Find the MetaData a model package defines — after ``configure_mappers()``.

Apps register models in several ways (``DeclarativeBase``, ``declarative_base()``,
Flask-SQLAlchemy's ``db.Model``, a plain module-level ``MetaData`` or ``Table``) and some
define classes lazily, so we look only after configuring, and we look at live objects, not
source text — wherever the app is installed (a package in site-packages is as much the app's
as a source tree under the app path):

1. the ``--models`` targets themselves (a module: every attribute of it);
2. every imported module that is the app's: its file is in the targets' top-level packages or
   under the app path, or its name is in those packages (a submodule imported lazily, by a
   function or a loop, is in ``sys.modules`` though no attribute names it);
3. the registry of every mapped class found there, and every registry in the process that
   maps a class of the app's (a class defined inside a function is reachable only so);
4. the MetaData of each registry and of each mapped table.

MetaData objects are de-duplicated by identity; each keeps the first place it was found.
"""

from __future__ import annotations

import sys
import types
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ...protocol import finding
from ...source.locate import Locator, canonical_module
from . import classify
from .capture import WarningRecorder

# what step 1-4 look for, in the words of a finding that found none of it
LOOKED_FOR = ("MetaData, Table, registry, declarative base (DeclarativeBase subclass or "
              "declarative_base() result), mapped class, Flask-SQLAlchemy db")


def _is_metadata(obj: Any) -> bool:
    from sqlalchemy import MetaData

    return isinstance(obj, MetaData)


def _is_registry(obj: Any) -> bool:
    try:
        from sqlalchemy.orm import registry
    except ImportError:  # pragma: no cover - SQLAlchemy < 1.4
        return False
    return isinstance(obj, registry)


def _is_table(obj: Any) -> bool:
    from sqlalchemy import Table

    return isinstance(obj, Table)


def _mapper_of(obj: Any) -> Any:
    """The Mapper of a mapped class, else None (a base class, any other object)."""
    if not isinstance(obj, type):
        return None
    try:
        from sqlalchemy import inspect

        found: Any = inspect(obj, raiseerr=False)
    except Exception:  # an exotic metaclass: not a mapped class
        return None
    return found if found is not None and hasattr(found, "class_manager") else None


def _attribute(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # a descriptor that raises (a proxy outside an app context)
        return None


def _candidates(obj: Any) -> List[Tuple[str, Any]]:
    """(how, object) pairs an object contributes: a MetaData or registry itself, a Table's
    MetaData, a mapped class's registry, the ``.registry``/``.metadata`` of a declarative
    base, and Flask-SQLAlchemy's ``db.metadata``, ``db.metadatas`` (one per bind key) and
    ``db.Model``."""
    if _is_metadata(obj) or _is_registry(obj):
        return [("", obj)]
    if _is_table(obj):
        return [(".metadata", obj.metadata)]
    out: List[Tuple[str, Any]] = []
    mapper = _mapper_of(obj)
    if mapper is not None:
        registry = _attribute(mapper, "registry")  # 1.4+
        if _is_registry(registry):
            out.append((".registry", registry))
        for table in _attribute(mapper, "tables") or []:
            if _is_table(table):
                out.append(("." + table.name + ".metadata", table.metadata))
        return out
    if isinstance(obj, types.ModuleType):
        return out  # a module's attributes are scanned as a module, not as a base
    for attr in ("metadata", "registry"):  # "Base.metadata" names it, not via the registry
        value = _attribute(obj, attr)
        if _is_metadata(value) or _is_registry(value):
            out.append(("." + attr, value))
    metadatas = _attribute(obj, "metadatas")  # Flask-SQLAlchemy 3: one per bind key
    if isinstance(metadatas, dict):
        for key, value in metadatas.items():
            if _is_metadata(value):
                out.append((".metadatas[%r]" % key, value))
    if out and not isinstance(obj, type):  # db.Model: the class whose registry maps them
        model = _attribute(obj, "Model")
        if isinstance(model, type):
            out.extend((".Model" + how, found) for how, found in _candidates(model)
                       if _is_registry(found))
    return out


def _global_registries() -> List[Any]:
    """Every registry alive in the process (SQLAlchemy 1.4-2.1 keep them in
    ``sqlalchemy.orm.mapper._mapper_registries``, a weak dict); [] where that is gone."""
    module = sys.modules.get("sqlalchemy.orm.mapper")
    found = getattr(module, "_mapper_registries", None)
    try:
        return [reg for reg in list(found or ()) if _is_registry(reg)]
    except Exception:
        return []


def _is_app_module(locator: Locator, name: str, module: Any) -> bool:
    if locator.is_user_file(getattr(module, "__file__", None)):
        return True
    top = name.split(".")[0]
    return top in locator.packages and isinstance(module, types.ModuleType)


def discover(locator: Locator, targets: List[Tuple[str, Any]]) -> Dict[str, Any]:
    """Every MetaData and registry reachable from the targets and the app's own modules."""
    metadatas: Dict[int, Tuple[str, Any]] = {}
    registries: Dict[int, Tuple[str, Any]] = {}

    direct_mappers: Dict[int, Any] = {}  # SQLAlchemy 1.3 has no registry to list them

    def add(source: str, obj: Any) -> None:
        try:
            mapper = _mapper_of(obj)
            candidates = _candidates(obj)
        except Exception:  # a proxy whose __class__ raises (outside an app context)
            return
        if mapper is not None:
            direct_mappers.setdefault(id(mapper), mapper)
        for how, found in candidates:
            if _is_registry(found):
                if id(found) in registries:
                    continue
                registries[id(found)] = (source + how, found)
                found, how = found.metadata, how + ".metadata"
            metadatas.setdefault(id(found), (source + how, found))

    def scan(modname: str, module: Any) -> None:
        for attr, value in list(vars(module).items()):
            if not attr.startswith("__"):
                add("%s:%s" % (modname, attr), value)

    scanned = set()
    for name, obj in targets:
        if isinstance(obj, types.ModuleType):
            scan(name, obj)
            scanned.add(id(obj))
        else:
            add(name, obj)
    app_modules = set()
    for modname, module in sorted(list(sys.modules.items()), key=lambda item: item[0]):
        if module is None or not _is_app_module(locator, modname, module):
            continue
        app_modules.add(modname)
        if id(module) not in scanned:
            scanned.add(id(module))
            scan(modname, module)
    for reg in _global_registries():
        if id(reg) in registries:
            continue
        app_classes = [m.class_ for m in list(reg.mappers)
                       if getattr(m.class_, "__module__", None) in app_modules]
        if app_classes:
            cls = app_classes[0]
            add("%s:%s" % (cls.__module__, cls.__qualname__), reg)
    # tables a mapper maps that live on a MetaData of their own (``__table__ = Table(...)``)
    for _source, reg in list(registries.values()):
        for mapper in list(reg.mappers):
            for table in _attribute(mapper, "tables") or []:
                if _is_table(table):
                    metadatas.setdefault(id(table.metadata), (
                        "%s.%s.__table__.metadata" % (mapper.class_.__module__,
                                                      mapper.class_.__qualname__),
                        table.metadata))

    mappers = [m for _, reg in registries.values() for m in list(reg.mappers)]
    listed = {id(m) for m in mappers}
    mappers += [m for key, m in direct_mappers.items() if key not in listed]
    classes = sorted({"%s.%s" % (m.class_.__module__, m.class_.__qualname__)
                      for m in mappers})
    entries = sorted(metadatas.values(), key=lambda e: e[0])
    tables = sorted({t.fullname for _, md in entries for t in md.tables.values()})
    return {
        "metadatas": [md for _, md in entries],
        "sources": [src for src, _ in entries],
        "mappers": mappers,
        "observed": {
            "metadata": [{"source": src, "tables": len(md.tables)} for src, md in entries],
            "mapped_classes": len(classes),
            "tables": len(tables),
            "class_names": classes[:200],
            "table_names": tables[:200],
            "app_packages": list(locator.packages),
            "app_package_dirs": list(locator.roots),
        },
    }


def imported_modules(targets: Iterable[Tuple[str, Any]]) -> List[str]:
    """``pkg.models (/venv/.../site-packages/pkg/models.py)`` for each target, for a finding
    that says what was imported when nothing mapped was found."""
    out = []
    for name, obj in targets:
        module: Any = obj if isinstance(obj, types.ModuleType) else sys.modules.get(
            canonical_module(name.partition(":")[0]))
        filename = getattr(module, "__file__", None)
        if filename is None and getattr(module, "__path__", None) is not None:
            filename = "namespace package: " + ", ".join(list(module.__path__))
        out.append("%s (%s)" % (name, filename or "no file"))
    return out


def imported_as(models: Sequence[str]) -> Dict[str, str]:
    """``{"src.shop.models": "shop.models"}``: targets imported under the app's own name."""
    out = {}
    for target in models:
        module = target.partition(":")[0]
        canonical = canonical_module(module)
        if canonical != module:
            out[module] = canonical
    return out


def nothing_mapped(targets: List[Tuple[str, Any]], models: Sequence[str],
                   found: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """SQLA130 when the targets imported but nothing mapped is reachable from them: nothing
    was checked, so this is an error (never "ready"), saying what was imported and what was
    looked for."""
    observed = found["observed"]
    if observed["tables"] or observed["mapped_classes"]:
        return None
    imported = imported_modules(targets)
    empty = [m["source"] for m in observed["metadata"]]
    packages = ", ".join(observed["app_packages"]) or "-"
    return finding(
        "SQLA130",
        "imported %s; looked for %s in its attributes, in every imported module of "
        "package(s) %s and in the registries of their mapped classes: %s" % (
            "; ".join(imported), LOOKED_FOR, packages,
            "found only empty MetaData (%s)" % ", ".join(empty) if empty
            else "found none"),
        facts={"targets": ", ".join(models), "imported": "; ".join(imported),
               "looked_for": LOOKED_FOR, "empty_metadata": ", ".join(empty)},
    )


def load_lazy_exports(targets: List[Tuple[str, Any]],
                      locator: Locator) -> Tuple[bool, List[Dict[str, Any]]]:
    """Resolve the names a lazy models package exports, as ``from pkg.models import *`` would.

    A package with a module-level ``__getattr__`` (PEP 562) and ``__all__`` imports each
    model module only when its name is first read, so after ``import pkg.models`` no model
    is mapped yet (the app itself reads them all later). Reading the names in ``__all__`` is
    the package's own, documented way to load them; what that raises or warns is a finding
    like any import's. (ok, raw findings).
    """
    ok = True
    out: List[Dict[str, Any]] = []
    for target, module in targets:
        if not isinstance(module, types.ModuleType):
            continue
        namespace = vars(module)
        exported = namespace.get("__all__")
        if not callable(namespace.get("__getattr__")) or not isinstance(
                exported, (list, tuple)):
            continue
        for name in [n for n in exported if isinstance(n, str) and n not in namespace]:
            where = "%s:%s" % (target, name)
            with WarningRecorder() as recorder:
                try:
                    getattr(module, name)
                    error: Optional[BaseException] = None
                except Exception as exc:  # the lazy import failed: the app's own error
                    error = exc
            out.extend(raw for raw in (classify.from_warning(w, "import", where, locator)
                                       for w in recorder.take()) if raw is not None)
            if error is not None:
                ok = False
                raw = classify.from_exception(error, "import", where, locator)
                raw.setdefault("facts", {}).setdefault("app_path", locator.app_path)
                out.append(raw)
    return ok, out

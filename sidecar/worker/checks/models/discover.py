"""Find the MetaData a model package defines — after ``configure_mappers()``.

Apps register models in several ways (``DeclarativeBase``, ``declarative_base()``,
Flask-SQLAlchemy's ``db.Model``, a plain module-level ``MetaData``) and some define classes
lazily, so we look only after configuring, and we look at live objects, not source text.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Tuple

from ... import compat
from ...source.locate import Locator


def _is_metadata(obj: Any) -> bool:
    from sqlalchemy import MetaData

    return isinstance(obj, MetaData)


def _is_registry(obj: Any) -> bool:
    try:
        from sqlalchemy.orm import registry
    except ImportError:  # pragma: no cover - SQLAlchemy < 1.4
        return False
    return isinstance(obj, registry)


def _candidates(obj: Any) -> List[Tuple[str, Any]]:
    """(how, object) pairs an object contributes: itself, its .metadata, .registry, .metadatas."""
    out: List[Tuple[str, Any]] = []
    if _is_metadata(obj) or _is_registry(obj):
        out.append(("", obj))
        return out
    for attr in ("registry", "metadata"):
        try:
            value = getattr(obj, attr, None)
        except Exception:  # a descriptor that raises: not ours to judge here
            continue
        if _is_metadata(value) or _is_registry(value):
            out.append(("." + attr, value))
    try:
        metadatas = getattr(obj, "metadatas", None)  # Flask-SQLAlchemy 3: one per bind key
    except Exception:
        metadatas = None
    if isinstance(metadatas, dict):
        for key, value in metadatas.items():
            if _is_metadata(value):
                out.append((".metadatas[%r]" % key, value))
    return out


def discover(locator: Locator, targets: List[Tuple[str, Any]]) -> Dict[str, Any]:
    """Every MetaData and registry reachable from the targets and the app's own modules."""
    metadatas: Dict[int, Tuple[str, Any]] = {}
    registries: Dict[int, Any] = {}

    def add(source: str, obj: Any) -> None:
        for how, found in _candidates(obj):
            if _is_registry(found):
                registries.setdefault(id(found), found)
                found = found.metadata
            metadatas.setdefault(id(found), (source + how, found))

    for name, obj in targets:
        add(name, obj)
    for modname, module in list(sys.modules.items()):
        if not locator.is_user_file(getattr(module, "__file__", None)):
            continue
        for attr, value in list(vars(module).items()):
            if attr.startswith("__"):
                continue
            add("%s:%s" % (modname, attr), value)

    entries = sorted(metadatas.values(), key=lambda e: e[0])
    mappers = [m for reg in registries.values() for m in list(reg.mappers)]
    if compat.registry_class() is None:  # SQLAlchemy 1.3: no registry objects to ask
        mappers = compat.mappers_without_registry([md for _, md in entries])
    classes = sorted({"%s.%s" % (m.class_.__module__, m.class_.__qualname__)
                      for m in mappers})
    tables = sorted({t.fullname for _, md in entries for t in md.tables.values()})
    return {
        "metadatas": [md for _, md in entries],
        "mappers": mappers,
        "observed": {
            "metadata": [{"source": src, "tables": len(md.tables)} for src, md in entries],
            "mapped_classes": len(classes),
            "tables": len(tables),
            "class_names": classes[:200],
            "table_names": tables[:200],
        },
    }

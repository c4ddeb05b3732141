"""Which database each model table belongs to: Flask-SQLAlchemy's bind keys.

Flask-SQLAlchemy 3.x keeps one MetaData per bind (``db.metadatas``), each with
``info["bind_key"]`` (None for the default database); 2.x has one MetaData and marks each
table of a ``__bind_key__`` model with ``table.info["bind_key"]``. A table of another bind
is not in the default database: comparing it there would report it missing.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Optional, Tuple

from ... import compat


def bind_key(table: Any) -> Optional[str]:
    key = (getattr(table, "info", None) or {}).get("bind_key")
    if key is None:
        key = (getattr(getattr(table, "metadata", None), "info", None) or {}).get("bind_key")
    return key if isinstance(key, str) else None


Explicit = Dict[int, Tuple[str, Any]]  # id(MetaData) -> (bind name, the MetaData)


def resolve_targets(targets: Dict[str, str]) -> Tuple[Explicit, List[Tuple[str, str, str]]]:
    """``--bind NAME=module:attribute``: ({id(MetaData): (name, MetaData)}, [(name, target,
    why not)]).
    Only modules the --models already imported are read (importing one here would run app
    code outside the import checks); the attribute is a MetaData or has ``.metadata``."""
    found: Explicit = {}
    failed: List[Tuple[str, str, str]] = []
    for name, target in sorted(targets.items()):
        module_name, _, attribute = target.partition(":")
        module = sys.modules.get(module_name)
        if module is None:
            failed.append((name, target, f"module {module_name} was not imported by --models"))
            continue
        obj: Any = module
        try:
            for part in attribute.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            failed.append((name, target, f"{module_name} has no attribute {attribute}"))
            continue
        md = obj if hasattr(obj, "tables") and hasattr(obj, "sorted_tables") else \
            getattr(obj, "metadata", None)
        if md is None or not hasattr(md, "tables"):
            failed.append((name, target, f"{attribute} is neither a MetaData nor has one"))
            continue
        found[id(md)] = (name, md)
    return found, failed


def split_by_bind(metadatas: List[Any], explicit: Optional[Explicit] = None
                  ) -> Dict[Optional[str], List[Any]]:
    """{bind name (None: the default database): the MetaData to compare with it}. A MetaData
    whose tables are all of one bind is kept as it is; a mixed one is split into views.
    ``explicit``: MetaData given to a bind by --bind (``resolve_targets``), which wins over
    bind keys; one the discovery did not list is added."""
    out: Dict[Optional[str], List[Any]] = {}
    explicit = explicit or {}
    listed = {id(md) for md in metadatas}
    metadatas = [*metadatas, *(md for md_id, (_, md) in explicit.items() if md_id not in listed)]
    for md in metadatas:
        if id(md) in explicit:
            out.setdefault(explicit[id(md)][0], []).append(md)
            continue
        keys = {bind_key(t) for t in md.tables.values()}
        if len(keys) <= 1:
            out.setdefault(next(iter(keys), None), []).append(md)
            continue
        from sqlalchemy import MetaData

        views: Dict[Optional[str], Any] = {}
        for table in md.tables.values():
            key = bind_key(table)
            if key not in views:
                views[key] = MetaData()
                out.setdefault(key, []).append(views[key])
            compat.add_table_to_view(views[key], table)
    return out

"""Which database each model table belongs to: Flask-SQLAlchemy's bind keys.

Flask-SQLAlchemy 3.x keeps one MetaData per bind (``db.metadatas``), each with
``info["bind_key"]`` (None for the default database); 2.x has one MetaData and marks each
table of a ``__bind_key__`` model with ``table.info["bind_key"]``. A table of another bind
is not in the default database: comparing it there would report it missing.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ... import compat


def bind_key(table: Any) -> Optional[str]:
    key = (getattr(table, "info", None) or {}).get("bind_key")
    if key is None:
        key = (getattr(getattr(table, "metadata", None), "info", None) or {}).get("bind_key")
    return key if isinstance(key, str) else None


def split_by_bind(metadatas: List[Any]) -> Dict[Optional[str], List[Any]]:
    """{bind name (None: the default database): the MetaData to compare with it}. A MetaData
    whose tables are all of one bind is kept as it is; a mixed one is split into views."""
    out: Dict[Optional[str], List[Any]] = {}
    for md in metadatas:
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

"""What the comparison covers: the models' tables from every MetaData, each table once.

Apps keep tables in several MetaData objects, and some define one table in two of them
(Dagster's run, event-log and schedule storages each declare ``secondary_indexes``).
Alembic 1.20's autogenerate refuses a list of MetaData with a duplicated table key
(``ValueError: Duplicate table keys across multiple MetaData objects``), and an app's
MetaData must never be changed, so the comparison runs over a *view*: one new MetaData
holding the app's own Table objects (not copies: types, defaults and mapped columns stay
the very objects the app uses), each table key once.

A table defined identically in two MetaData is compared once. Two definitions that differ
are a conflict: the first one (in discovery order) goes into the view, the others are
compared on their own afterwards (``Conflict.others``), so the finding can say which one
the database matches.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ... import compat
from .fingerprint import table_repr

TableKey = Tuple[Optional[str], str]  # (schema as Alembic names it: None = default, name)


def table_key(table: Any, default_schema: Optional[str]) -> TableKey:
    return (None if table.schema in (None, default_schema) else table.schema, table.name)


@dataclass
class Conflict:
    key: TableKey
    first: Tuple[int, Any]  # (MetaData index, Table) compared in the main run
    others: List[Tuple[int, Any]]  # the other definitions, compared one by one
    # each other definition's differences from the database (None: it could not be compared)
    alt: List[Optional[List[Any]]] = field(default_factory=list)


@dataclass
class Scope:
    metadatas: List[Any]
    tables: Dict[TableKey, Any] = field(default_factory=dict)  # the compared definition
    owners: Dict[TableKey, List[int]] = field(default_factory=dict)  # MetaData indexes
    conflicts: List[Conflict] = field(default_factory=list)
    excluded: List[TableKey] = field(default_factory=list)  # by --include/--exclude-table
    views: List[TableKey] = field(default_factory=list)  # a model table the DB has as a view

    def view(self, keys: Optional[List[TableKey]] = None) -> Any:
        """A new MetaData holding the app's Table objects (``keys``: only these)."""
        from sqlalchemy import MetaData

        md = MetaData()
        for key, table in self.tables.items():
            if keys is None or key in keys:
                compat.add_table_to_view(md, table)
        return md

    def shared(self) -> int:
        return sum(1 for owners in self.owners.values() if len(owners) > 1)


def build_scope(metadatas: List[Any], default_schema: Optional[str], allowed: Any,
                views: Any) -> Scope:
    """``allowed(schema, name)``: the table filters; ``views``: keys the DB has as views."""
    scope = Scope(metadatas)
    candidates: Dict[TableKey, List[Tuple[int, Any]]] = {}
    for index, md in enumerate(metadatas):
        for table in md.tables.values():
            key = table_key(table, default_schema)
            if not allowed(*key):
                if key not in scope.excluded:
                    scope.excluded.append(key)
                continue
            if key in views:
                if key not in scope.views:
                    scope.views.append(key)
                continue
            candidates.setdefault(key, []).append((index, table))
    for key, defs in candidates.items():
        scope.owners[key] = [i for i, _ in defs]
        scope.tables[key] = defs[0][1]
        first_repr = safe_repr(defs[0][1])
        others = [d for d in defs[1:] if d[1] is not defs[0][1]
                  and safe_repr(d[1]) != first_repr]
        if others:
            scope.conflicts.append(Conflict(key, defs[0], others))
    return scope


def safe_repr(table: Any) -> str:
    try:
        return table_repr(table)
    except Exception:
        return f"<unrenderable {id(table)}>"  # never equal to another: a conflict to look at


def describe_difference(a: Any, b: Any, first: str = "the first",
                        second: str = "the second") -> str:
    """'columns only in <first>: x; columns only in <second>: y; z: A vs B'."""
    parts = []
    ca, cb = {c.name: c for c in a.columns}, {c.name: c for c in b.columns}
    only_a, only_b = [n for n in ca if n not in cb], [n for n in cb if n not in ca]
    if only_a:
        parts.append(f"columns only in {first}: {', '.join(only_a)}")
    if only_b:
        parts.append(f"columns only in {second}: {', '.join(only_b)}")
    for name in ca:
        if name not in cb:
            continue
        x, y = ca[name], cb[name]
        tx, ty = _type_text(x.type), _type_text(y.type)
        if tx != ty:
            parts.append(f"{name}: {tx} vs {ty}")
        elif bool(x.nullable) != bool(y.nullable):
            parts.append(f"{name}: {'NULL' if x.nullable else 'NOT NULL'} vs "
                         f"{'NULL' if y.nullable else 'NOT NULL'}")
        elif bool(x.primary_key) != bool(y.primary_key):
            parts.append(f"{name}: primary key in {first if x.primary_key else second} only")
    if not parts:
        parts.append("indexes, constraints, defaults or comments differ")
    return "; ".join(parts)


def _type_text(type_: Any) -> str:
    try:
        return repr(type_)
    except Exception:
        return type(type_).__name__


# --- naming a MetaData -----------------------------------------------------------------------


def metadata_labels(metadatas: List[Any], packages: Sequence[str] = ()) -> List[str]:
    """Where each MetaData lives, as the app names it: ``myapp.db.Base.metadata``,
    ``myapp.storage.schema.RunStorageSqlMetadata``; ``MetaData #2`` when no module holds it.

    Reads module ``__dict__``s only (no getattr on app objects: a lazy proxy could run code).
    The modules of ``packages`` (the --models targets' top-level packages) first; the other
    modules (not sqlalchemy's or flask_sqlalchemy's) only for a MetaData still unnamed —
    scanning all of them costs ~90 ms with 700 modules imported."""
    wanted = {id(md): i for i, md in enumerate(metadatas)}
    found: Dict[int, str] = {}
    modules = [(n, m) for n, m in list(sys.modules.items())
               if m is not None and n.split(".")[0] not in _LIBRARIES]
    first = [(n, m) for n, m in modules if n.split(".")[0] in packages]
    rest = [(n, m) for n, m in modules if n.split(".")[0] not in packages]
    for batch in (first, rest):
        if len(found) == len(metadatas):
            break
        named = set(found)
        for mod_name, mod in batch:
            try:
                items = list(vars(mod).items())
            except TypeError:
                continue
            for attr, value in items:
                for label, target in _holders(f"{mod_name}.{attr}", value):
                    index = wanted.get(id(target))
                    if index is None or index in named or target is not metadatas[index]:
                        continue
                    if index not in found or len(label) < len(found[index]):
                        found[index] = label
    out = []
    for i, md in enumerate(metadatas):
        if i in found:
            out.append(found[i])
            continue
        names = sorted(md.tables)[:3]
        more = ", ..." if len(md.tables) > 3 else ""
        out.append(f"MetaData #{i + 1} ({', '.join(names)}{more})")
    return out


def _holders(label: str, value: Any) -> List[Tuple[str, Any]]:
    """(label, object) pairs a module attribute offers: itself, a declarative base's
    ``metadata``, Flask-SQLAlchemy's ``db.metadatas`` (3.x) / ``db.Model.metadata``."""
    out: List[Tuple[str, Any]] = [(label, value)]
    try:
        own = value.__dict__  # the object's own attributes: no property runs
    except Exception:
        return out
    if not isinstance(own, (dict, types.MappingProxyType)):  # a class's is a mappingproxy
        return out
    if isinstance(value, type):
        out.append((f"{label}.metadata", own.get("metadata")))
        return out
    mds = own.get("metadatas")
    if isinstance(mds, dict):
        for key, md in mds.items():
            out.append((f"{label}.metadata" if key is None else f"{label}.metadatas[{key!r}]",
                        md))
    model = own.get("Model")
    if isinstance(model, type):
        out.append((f"{label}.Model.metadata", model.__dict__.get("metadata")))
    return out


_LIBRARIES = {"sqlalchemy", "alembic", "flask_sqlalchemy", "sidecar", "builtins", "sys"}

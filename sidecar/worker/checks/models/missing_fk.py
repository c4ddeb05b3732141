"""For a relationship with no ForeignKey between its tables (NoForeignKeysError): the column
that should have been one.

SQLAlchemy says which relationship it could not join, but the edit is elsewhere: the
``customer_id = Column(Integer)`` that lacks ``ForeignKey("customers.id")`` on the many side,
or the columns of the ``secondary=`` association table. No SQLAlchemy object links them (that
is the bug), so the column is found by the names apps give such columns: the relationship's
key, the other side's key, the other table's name or its singular, or the other class's name,
followed by ``_id`` — and a type that fits the referenced primary key. A column that already
has a ForeignKey, or a table's own primary key (outside an association table), is never one.
"""

from __future__ import annotations

import ast
import re
from typing import Any, List, Optional, Tuple

from ... import compat
from ...source import locate, origins


class MissingLink:
    """A column that should reference ``target`` (``"customers.id"``), in ``table``."""

    def __init__(self, column: Any, table: Any, other: Any, target: str) -> None:
        self.column = column
        self.table = table
        self.other = other
        self.target = target


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _singular(name: str) -> str:
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _single_pk(table: Any) -> Optional[Any]:
    columns = list(getattr(getattr(table, "primary_key", None), "columns", ()))
    return columns[0] if len(columns) == 1 else None


def _types_fit(column: Any, pk: Optional[Any]) -> bool:
    """False only when both types are known and of different kinds (an Integer for a UUID)."""
    if pk is None:
        return True
    try:
        mine, theirs = column.type._type_affinity, pk.type._type_affinity
    except Exception:
        return True
    from sqlalchemy.types import NullType

    if mine is None or theirs is None or NullType in (mine, theirs):
        return True
    return bool(issubclass(mine, theirs) or issubclass(theirs, mine))


def _names_for(other: Any, other_class: Optional[type], key: Optional[str]) -> List[str]:
    """The column names that would reference ``other``, most specific first."""
    stems = []
    if key:
        stems.append(key)
        stems.append(_singular(key))
    stems += [_singular(other.name), other.name]
    if other_class is not None:
        stems.append(_snake(other_class.__name__))
    out: List[str] = []
    for stem in stems:
        for name in (stem + "_id", stem + "id"):
            if name not in out:
                out.append(name)
    return out


def _find(table: Any, other: Any, names: List[str], association: bool) -> Optional[MissingLink]:
    pk = _single_pk(other)
    columns = list(getattr(table, "columns", ()))
    for name in names:
        for column in columns:
            if column.name.lower() != name or column.foreign_keys:
                continue
            if column.primary_key and not association:
                continue
            if not _types_fit(column, pk):
                continue
            target = "%s.%s" % (_qualified(other), pk.name if pk is not None else "<column>")
            return MissingLink(column, table, other, target)
    return None


def _qualified(table: Any) -> str:
    schema = getattr(table, "schema", None)
    return "%s.%s" % (schema, table.name) if schema else str(table.name)


def _reverse_key(prop: Any) -> Optional[str]:
    if isinstance(getattr(prop, "back_populates", None), str):
        return str(prop.back_populates)
    backref = getattr(prop, "backref", None)
    if isinstance(backref, str):
        return backref
    if isinstance(backref, tuple) and backref and isinstance(backref[0], str):
        return str(backref[0])
    return None


def missing_links(prop: Any) -> List[MissingLink]:
    """The columns that lack the ForeignKey the relationship ``prop`` needs: one, on the side
    that holds it; for ``secondary=``, one per side of the association table."""
    try:
        parent, target = prop.parent.local_table, prop.entity.mapper.local_table
        parent_cls, target_cls = prop.parent.class_, prop.entity.class_
    except Exception:
        return []
    secondary = compat.secondary_table(prop)
    if secondary is not None:
        out: List[MissingLink] = []
        for other, cls in ((parent, parent_cls), (target, target_cls)):
            if any(fk.references(other) for c in secondary.columns for fk in c.foreign_keys):
                continue
            link = _find(secondary, other, _names_for(other, cls, None), association=True)
            if link is not None and all(link.column is not o.column for o in out):
                out.append(link)
        return out
    # many-to-one: the parent holds `<key>_id`; one-to-many: the target holds `<reverse>_id`
    for table, other, cls, key in ((parent, target, target_cls, prop.key),
                                   (target, parent, parent_cls, _reverse_key(prop))):
        link = _find(table, other, _names_for(other, cls, key), association=False)
        if link is not None:
            return [link]
    return []


def call_with_foreign_key(locator: locate.Locator, filename: str, line: int,
                          column_name: str, target: str) -> Optional[str]:
    """The statement (or, inside a ``Table(...)``, the ``Column(...)`` call) at ``line``
    rewritten with a ForeignKey to ``target`` after its positional arguments: ``owner_id:
    Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), index=True)`` (``db.ForeignKey``
    where the call is ``db.Column``)."""
    stmt = origins.statement_at(locator.tree(filename), line)
    if stmt is None:
        return None
    call = _column_call(stmt, line, column_name)
    if call is None:
        return None
    text = lambda node: locator.statement_text(filename, node)  # noqa: E731
    prefix = text(call.func.value) + "." if isinstance(call.func, ast.Attribute) else ""
    foreign_key = '%sForeignKey("%s")' % (prefix, target)
    positional = [text(a) for a in call.args]
    keywords = [("%s=%s" % (k.arg, text(k.value)) if k.arg else "**" + text(k.value))
                for k in call.keywords]
    rewritten = "%s(%s)" % (text(call.func), ", ".join([*positional, foreign_key, *keywords]))
    value = getattr(stmt, "value", None)
    if value is call and isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        return "%s = %s" % (text(stmt.targets[0]), rewritten)
    if value is call and isinstance(stmt, ast.AnnAssign):
        return "%s: %s = %s" % (text(stmt.target), text(stmt.annotation), rewritten)
    return rewritten


def _column_call(stmt: ast.stmt, line: int, column_name: str) -> Optional[ast.Call]:
    value = getattr(stmt, "value", None)
    calls: List[Tuple[int, ast.Call]] = []
    for node in ast.walk(stmt):
        if not isinstance(node, ast.Call) or locate._dotted_tail(node.func) not in (
                "Column", "mapped_column"):
            continue
        first = node.args[0] if node.args else None
        named = isinstance(first, ast.Constant) and first.value == column_name
        if node is value or named or node.lineno == line:
            calls.append((0 if named or node is value else 1, node))
    calls.sort(key=lambda c: (c[0], abs(c[1].lineno - line)))
    return calls[0][1] if calls else None

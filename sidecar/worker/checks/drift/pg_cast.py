"""A PostgreSQL type change that runs when pasted: with ``USING``, and around the default.

- Without ``USING col::new_type`` a change with no implicit cast fails ("column cannot be
  cast automatically to type integer"); Alembic 1.20 writes none unless told
  (``postgresql_using``).
- A change of kind on a column with a default (INTEGER DEFAULT 0 to BOOLEAN) fails on the
  default first ("default for column cannot be cast automatically"), USING or not: the
  default is dropped before the change and, unless the models' own is set after it, put
  back cast to the new type.

Used for the finding's fix_sql (drift passes) and for ``sidecar revision``'s code.
Python 3.8, standard library and what the app has (SQLAlchemy, Alembic).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ... import compat


def kind_change(op: Any) -> bool:
    """An AlterColumnOp whose type changes kind (text to number, number to boolean)."""
    old, new = getattr(op, "existing_type", None), getattr(op, "modify_type", None)
    return old is not None and new is not None and compat.changes_kind(old, new)


def fix_sql(op: Any, renderer: Any, restore_default: bool) -> Optional[str]:
    """The finding's SQL for a PostgreSQL kind change, or None to keep Alembic's own.
    ``restore_default``: no other finding sets the models' default afterwards."""
    if not kind_change(op):
        return None
    target = _target(op, renderer)
    if target is None:
        return None
    before, after = _around_default_sql(op, renderer, target, restore_default)
    column = _column_sql(op, renderer)
    change = "%s TYPE %s USING %s::%s" % (column, target, renderer.quote(op.column_name),
                                          target)
    return ";\n".join([*before, change, *after])


def postgresql_cast(python: str, op: Any, renderer: Any,
                    restore_default: Optional[bool] = None) -> str:
    """``python`` (the rendered AlterColumnOp ``op``) made to run on PostgreSQL.
    ``restore_default`` None: unless the op sets the models' default itself."""
    target = _target(op, renderer)
    if target is None:
        return python
    python = _with_using(python, op, renderer, target)
    if not kind_change(op):
        return python
    # an op that sets the models' default does so after the type (Alembic 1.20's order)
    restore = getattr(op, "modify_server_default", False) is False \
        if restore_default is None else restore_default
    before, after = _around_default_sql(op, renderer, target, restore)
    return "\n".join(["op.execute(%r)" % s for s in before] + [python] +
                     ["op.execute(%r)" % s for s in after])


def _with_using(python: str, op: Any, renderer: Any, target: str) -> str:
    """``postgresql_using=`` added to the rendered op (Alembic 1.20's renderer writes no
    dialect keyword but autoincrement)."""
    if "postgresql_using" in python or not python.rstrip().endswith(")"):
        return python
    using = "%s::%s" % (renderer.quote(op.column_name), target)
    body = python.rstrip()
    return "%s,\n               postgresql_using=%r)" % (body[:-1], using)


def _around_default_sql(op: Any, renderer: Any, target: str,
                        restore: bool) -> Tuple[List[str], List[str]]:
    default = _default_sql(getattr(op, "existing_server_default", None), renderer)
    if default is None:
        return [], []
    column = _column_sql(op, renderer)
    after = ["%s SET DEFAULT (%s)::%s" % (column, default, target)] if restore else []
    return ["%s DROP DEFAULT" % column], after


def _column_sql(op: Any, renderer: Any) -> str:
    return "ALTER TABLE %s ALTER COLUMN %s" % (renderer.table(op.schema, op.table_name),
                                               renderer.quote(op.column_name))


def _target(op: Any, renderer: Any) -> Optional[str]:
    new = getattr(op, "modify_type", None)
    if new is None:
        return None
    try:
        return str(new.compile(dialect=renderer.dialect))
    except Exception:
        return None


def _default_sql(value: Any, renderer: Any) -> Optional[str]:
    if value is None or value is False:
        return None
    arg = getattr(value, "arg", value)
    text = getattr(arg, "text", arg)
    if isinstance(text, str):
        return text
    try:
        return str(text.compile(dialect=renderer.dialect))
    except Exception:
        return None

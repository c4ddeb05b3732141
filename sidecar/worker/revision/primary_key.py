"""A changed primary key (DRIFT416) as revision code, upgrade and downgrade.

Autogenerate never compares primary keys, so Alembic has no op that replaces one; the
revision writes the replacement per database:

- PostgreSQL (and the others with named constraints): ``op.drop_constraint(name,
  type_="primary")`` then ``op.create_primary_key``, in the migration's transaction.
- MySQL/MariaDB: one ``ALTER TABLE ... DROP PRIMARY KEY, ADD PRIMARY KEY (...)``. Two
  statements fail when the key holds the AUTO_INCREMENT column ("there can be only one auto
  column and it must be defined as a key", errno 1075), which is the usual case.
- SQLite: batch mode's ``create_primary_key``, which recreates the table with the new key
  (SQLite's ALTER TABLE cannot touch a key). Batch mode cannot drop an unnamed key alone.

Python 3.8, standard library and what the app has (SQLAlchemy, Alembic).
"""

from __future__ import annotations

from typing import Any, List, Optional

from ..checks.drift.extra import mysql_pk_sql


# Alembic 1.20 renders no CreatePrimaryKeyOp (render.py raises NotImplementedError): the
# create is written here, the drop through Alembic's renderer.
def pk_code(renderer: Any, d: Any, reverse: bool = False) -> Optional[str]:
    """The code that turns the database's key into the models' (``reverse``: back again),
    or None when no op can (an unnamed key to drop)."""
    f = d.facts
    db_cols: List[str] = list(f.get("db_columns") or [])
    model_cols: List[str] = list(f.get("model_columns") or [])
    model_name = d.op.constraint_name if d.op is not None else None
    db_name = d.name
    old, new = (db_cols, db_name), (model_cols, model_name)
    if reverse:
        old, new = new, old
    (old_cols, old_name), (new_cols, new_name) = old, new
    dialect = renderer.dialect_name
    if dialect in ("mysql", "mariadb"):
        return _mysql(renderer, d, old_cols, new_cols)
    if dialect == "sqlite":
        if not new_cols:
            return None  # batch mode drops a key only by a name SQLite may not have
        return ("with op.batch_alter_table(%r, schema=%r) as batch_op:\n"
                "    batch_op.create_primary_key(%r, %r)"
                % (d.table, d.schema, new_name or "pk_%s" % d.table, new_cols))
    from alembic.operations import ops

    parts = []
    if old_cols:
        if not old_name:
            return None
        parts.append(renderer.python(ops.DropConstraintOp(
            old_name, d.table, type_="primary", schema=d.schema)))
    if new_cols:
        parts.append("op.create_primary_key(%r, %r, %r%s)" % (
            new_name or "%s_pkey" % d.table, d.table, new_cols,
            ", schema=%r" % d.schema if d.schema else ""))
    if any(p is None for p in parts) or not parts:
        return None
    return "\n".join(p for p in parts if p)


def _mysql(renderer: Any, d: Any, old_cols: List[str], new_cols: List[str]) -> str:
    return "op.execute(%r)" % mysql_pk_sql(renderer, d.schema, d.table, old_cols, new_cols)

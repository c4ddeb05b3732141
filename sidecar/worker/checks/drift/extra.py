"""Comparisons Alembic 1.20's autogenerate does not make by default, as extra Diff sources.

- PostgreSQL enum value sets: compare_type sees ENUM == ENUM whatever the labels.
- Primary key columns: autogenerate never compares primary keys.
- CHECK constraints: opt-in plugin ``alembic.ext.checkconstraint_byname`` (Alembic >= 1.19.2;
  named constraints only, as its own docs say); ``check_constraint_plugins`` turns it on
  when this Alembic has it.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

from ... import compat
from .diffs import Diff, Renderer

CHECK_PLUGIN = "alembic.ext.checkconstraint_byname"


def check_constraint_plugins() -> Optional[List[str]]:
    """``autogenerate_plugins`` that add named CHECK constraints, or None if unavailable."""
    if not compat.has_autogenerate_plugin(CHECK_PLUGIN):
        return None
    return ["alembic.autogenerate.*", CHECK_PLUGIN]


# --- primary keys ------------------------------------------------------------------------


def compare_primary_keys(tables: Iterable[Tuple[Optional[str], Any]], inspector: Any,
                         renderer: Renderer) -> List[Diff]:
    """``tables``: (schema as Alembic names it, model Table) for tables in both places."""
    out = []
    for schema, table in tables:
        pk = compat.cached_pk_constraint(inspector, schema, table.name)
        if pk is None:
            pk = inspector.get_pk_constraint(table.name, schema=schema) or {}
        db_cols = list(pk.get("constrained_columns") or [])
        model_cols = [c.name for c in table.primary_key.columns]
        if db_cols == model_cols or (not db_cols and not model_cols):
            continue
        out.append(_pk_diff(schema, table, db_cols, model_cols, pk.get("name"), renderer))
    return out


def _pk_diff(schema: Optional[str], table: Any, db_cols: List[str], model_cols: List[str],
             db_name: Optional[str], r: Renderer) -> Diff:
    from alembic.operations import ops

    where = f"{schema}.{table.name}" if schema else table.name
    new_name = table.primary_key.name or db_name or f"{table.name}_pkey"
    statements = []
    if r.dialect_name in ("mysql", "mariadb"):
        statements.append(mysql_pk_sql(r, schema, table.name, db_cols, model_cols))
    elif db_cols and db_name:
        statements.append(f"ALTER TABLE {r.table(schema, table.name)} DROP CONSTRAINT "
                          f"{r.quote(str(db_name))}")
    if model_cols and r.dialect_name not in ("mysql", "mariadb"):
        statements.append(f"ALTER TABLE {r.table(schema, table.name)} ADD CONSTRAINT "
                          f"{r.quote(str(new_name))} PRIMARY KEY "
                          f"({', '.join(r.quote(c) for c in model_cols)})")
    op = ops.CreatePrimaryKeyOp(str(new_name), table.name, model_cols, schema=schema)
    return Diff(
        "primary_key", table.name, schema, name=str(db_name) if db_name else None, op=op,
        fix_sql=None if r.dialect_name == "sqlite" else ";\n".join(statements),
        message=f"The primary key of {where} is ({', '.join(db_cols) or 'none'}) in the "
        f"database but ({', '.join(model_cols) or 'none'}) in the models.",
        facts={"db_columns": db_cols, "model_columns": model_cols})


def mysql_pk_sql(r: Renderer, schema: Optional[str], table: str, db_cols: List[str],
                 model_cols: List[str]) -> str:
    """MySQL/MariaDB replace a key in one statement: dropping it alone fails when it holds
    the AUTO_INCREMENT column (errno 1075, "there can be only one auto column and it must
    be defined as a key"), the usual case."""
    clauses = []
    if db_cols:
        clauses.append("DROP PRIMARY KEY")
    if model_cols:
        clauses.append("ADD PRIMARY KEY (%s)" % ", ".join(r.quote(c) for c in model_cols))
    return "ALTER TABLE %s %s" % (r.table(schema, table), ", ".join(clauses))


# --- PostgreSQL enums --------------------------------------------------------------------


def model_enums(metadatas: Iterable[Any]) -> Dict[Tuple[Optional[str], str], Dict[str, Any]]:
    """Named native enums the models use: (schema, name) -> {labels, columns}."""
    from sqlalchemy import Enum

    found: Dict[Tuple[Optional[str], str], Dict[str, Any]] = {}
    for md in metadatas:
        for table in md.tables.values():
            for col in table.columns:
                t = col.type
                impl = getattr(t, "impl", None)
                if not isinstance(t, Enum) and isinstance(impl, Enum):
                    t = impl  # a TypeDecorator over an Enum
                if not isinstance(t, Enum) or not getattr(t, "native_enum", True) or not t.name:
                    continue
                key = (t.schema or table.schema, t.name)
                entry = found.setdefault(key, {"labels": list(t.enums), "columns": []})
                entry["columns"].append((table.schema, table.name, col.name))
    return found


def compare_enums(metadatas: Iterable[Any], inspector: Any, default_schema: Optional[str],
                  skip_columns: Set[Tuple[Optional[str], str, Optional[str]]],
                  renderer: Renderer) -> List[Diff]:
    """Label sets of the models' PostgreSQL enums vs pg_enum (one query via the inspector).

    ``skip_columns``: (schema, table, column-or-None) already reported missing; an enum used
    only there is created by that fix (CREATE TABLE / ADD COLUMN emit CREATE TYPE)."""
    wanted = model_enums(metadatas)
    if not wanted:
        return []
    db: Dict[Tuple[Optional[str], str], List[str]] = {}
    for e in inspector.get_enums(schema="*"):
        schema = e.get("schema")
        db[(None if schema == default_schema else schema, e["name"])] = list(e["labels"])
    out = []
    for (schema, name), info in sorted(wanted.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])):
        key = (None if schema == default_schema else schema, name)
        labels = info["labels"]
        users = [c for c in info["columns"]
                 if (_norm(c[0], default_schema), c[1], None) not in skip_columns
                 and (_norm(c[0], default_schema), c[1], c[2]) not in skip_columns]
        if not users:
            continue
        table_schema, table_name, column = users[0]
        qualified = f"{key[0]}.{name}" if key[0] else name
        type_sql = (f"{renderer.quote(key[0])}.{renderer.quote(name)}" if key[0]
                    else renderer.quote(name))
        if key not in db:
            out.append(Diff(
                "enum_values", table_name, _norm(table_schema, default_schema), column,
                name=qualified, severity="error",
                fix_sql=f"CREATE TYPE {type_sql} AS ENUM "
                f"({', '.join(_literal(v) for v in labels)})",
                message=f"Enum type {qualified} (used by {_cols(users)}) does not exist in the "
                "database.",
                facts={"missing_type": True, "model_values": labels, "db_values": [],
                       "missing_values": labels, "extra_values": [],
                       "columns": _cols(users)}))
            continue
        have = db[key]
        missing = [v for v in labels if v not in have]
        extra = [v for v in have if v not in labels]
        if not missing and not extra:
            continue
        if not extra:
            sql = ";\n".join(f"ALTER TYPE {type_sql} ADD VALUE IF NOT EXISTS {_literal(v)}"
                             for v in missing)
        else:  # PostgreSQL cannot drop an enum label: recreate the type
            old = renderer.quote(name + "_old")
            parts = [f"ALTER TYPE {type_sql} RENAME TO {old}",
                     f"CREATE TYPE {type_sql} AS ENUM "
                     f"({', '.join(_literal(v) for v in labels)})"]
            for s, t, c in users:
                parts.append(f"ALTER TABLE {renderer.table(_norm(s, default_schema), t)} ALTER "
                             f"COLUMN {renderer.quote(c)} TYPE {type_sql} USING "
                             f"{renderer.quote(c)}::text::{type_sql}")
            old_sql = f"{renderer.quote(key[0])}.{old}" if key[0] else old
            parts.append(f"DROP TYPE {old_sql}")
            sql = ";\n".join(parts)
        text = []
        if missing:
            text.append(f"the database lacks {', '.join(map(repr, missing))}")
        if extra:
            text.append(f"the models lack {', '.join(map(repr, extra))}")
        out.append(Diff(
            "enum_values", table_name, _norm(table_schema, default_schema), column,
            name=qualified, fix_sql=sql,
            message=f"Enum type {qualified} (used by {_cols(users)}) has different values: "
            f"{' and '.join(text)}.",
            facts={"model_values": labels, "db_values": have, "missing_values": missing,
                   "extra_values": extra, "columns": _cols(users)}))
    return out


def _norm(schema: Optional[str], default_schema: Optional[str]) -> Optional[str]:
    return None if schema == default_schema else schema


def _cols(users: List[Tuple[Optional[str], str, str]]) -> str:
    return ", ".join(f"{s + '.' if s else ''}{t}.{c}" for s, t, c in users)


def _literal(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"

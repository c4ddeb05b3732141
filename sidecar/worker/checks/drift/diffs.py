"""Differences between the models and the live schema, as small values the passes rewrite.

``from_upgrade_ops`` turns Alembic's autogenerate operations (the same objects
``compare_metadata`` builds its diff tuples from) into one ``Diff`` per difference; an
``AlterColumnOp`` that changes type and nullability becomes two. Each Diff keeps the Alembic
op that would make the database match the models, so the fix can be rendered as SQL for the
database's dialect (Alembic's offline mode) and as the Alembic op itself.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

# Diff kind -> finding code. Kinds are what the passes reason about; codes are what users
# silence or re-rank, so each kind gets its own.
CODES: Dict[str, str] = {
    "missing_table": "DRIFT401",
    "extra_table": "DRIFT402",
    "missing_column": "DRIFT403",
    "extra_column": "DRIFT404",
    "type": "DRIFT405",
    "nullable": "DRIFT406",
    "server_default": "DRIFT407",
    "missing_index": "DRIFT408",
    "extra_index": "DRIFT409",
    "missing_unique": "DRIFT410",
    "extra_unique": "DRIFT411",
    "missing_fk": "DRIFT412",
    "extra_fk": "DRIFT413",
    "rename": "DRIFT414",
    "enum_values": "DRIFT415",
    "primary_key": "DRIFT416",
    "missing_check": "DRIFT417",
    "extra_check": "DRIFT418",
    "comment": "DRIFT419",
    "unreflectable": "DRIFT420",
    "not_compared": "DRIFT421",
    "objects_not_compared": "DRIFT420",
    "db_only_default": "DRIFT424",
    "other": "DRIFT429",
}


@dataclass
class Diff:
    kind: str
    table: str
    schema: Optional[str] = None
    column: Optional[str] = None
    name: Optional[str] = None  # index, constraint or enum type name
    message: str = ""
    op: Any = None  # the Alembic op that brings the database to the models
    fix_sql: Optional[str] = None
    alembic_op: Optional[str] = None
    severity: Optional[str] = None  # only when it differs from the code's default
    facts: Dict[str, Any] = field(default_factory=dict)
    children: List["Diff"] = field(default_factory=list)  # folded into this one

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    @property
    def code(self) -> str:
        return CODES.get(self.kind, CODES["other"])


# --- Alembic ops -> Diffs ------------------------------------------------------------------


def from_upgrade_ops(upgrade_ops: Any, dialect: Any = None) -> List[Diff]:
    out: List[Diff] = []
    for op in upgrade_ops.ops:
        out.extend(_from_op(op, dialect))
    return out


def type_sql(type_: Any, dialect: Any = None) -> str:
    """``VARCHAR(30)`` rather than ``String(length=30)``: what a DBA reads in the catalog."""
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        pass
    try:
        return repr(type_)
    except Exception:  # a TypeDecorator whose __repr__ raises
        return f"{type(type_).__name__}()"


def _from_op(op: Any, dialect: Any) -> List[Diff]:
    from alembic.operations import ops

    if isinstance(op, ops.ModifyTableOps):
        return [d for sub in op.ops for d in _from_op(sub, dialect)]
    if isinstance(op, ops.CreateTableOp):
        table = op.to_table()
        return [Diff("missing_table", op.table_name, op.schema, op=op,
                     message=f"Table {_q(op.schema, op.table_name)} is in the models but not "
                     "in the database.", facts={"columns": [c.name for c in table.columns]})]
    if isinstance(op, ops.DropTableOp):
        return [Diff("extra_table", op.table_name, op.schema, op=op,
                     message=f"Table {_q(op.schema, op.table_name)} is in the database but no "
                     "model maps it.")]
    if isinstance(op, ops.AddColumnOp):
        col = op.column
        return [Diff("missing_column", op.table_name, op.schema, col.name, op=op,
                     message=f"Column {_q(op.schema, op.table_name, col.name)} "
                     f"({type_sql(col.type, dialect)}) is in the models but not in the "
                     "database.", facts=_column_facts(col, dialect))]
    if isinstance(op, ops.DropColumnOp):
        col = op.to_column()
        return [Diff("extra_column", op.table_name, op.schema, op.column_name, op=op,
                     message=f"Column {_q(op.schema, op.table_name, op.column_name)} is in the "
                     "database but not in the models.", facts=_column_facts(col, dialect))]
    if isinstance(op, ops.AlterColumnOp):
        return _alter_column(op, dialect)
    if isinstance(op, ops.CreateIndexOp):
        index = op.to_index()
        return [Diff("missing_index", op.table_name, op.schema, name=op.index_name, op=op,
                     message=f"Index {op.index_name} on {_q(op.schema, op.table_name)} "
                     f"({', '.join(_index_cols(index))}) is in the models but not in the "
                     "database.", facts=_index_facts(index))]
    if isinstance(op, ops.DropIndexOp):
        index = op.to_index()
        # DropIndexOp.table_name is optional in Alembic's API; autogenerate always sets it
        return [Diff("extra_index", op.table_name or "?", op.schema, name=op.index_name, op=op,
                     message=f"Index {op.index_name} on {_q(op.schema, op.table_name)} "
                     f"({', '.join(_index_cols(index))}) is in the database but not in the "
                     "models.", facts=_index_facts(index))]
    if isinstance(op, (ops.AddConstraintOp, ops.DropConstraintOp)):
        return _constraint(op)
    if isinstance(op, (ops.CreateTableCommentOp, ops.DropTableCommentOp)):
        return [Diff("comment", op.table_name, op.schema, op=op,
                     message=f"The comment on table {_q(op.schema, op.table_name)} differs.")]
    table_name = getattr(op, "table_name", "?")
    return [Diff("other", table_name, getattr(op, "schema", None), op=op,
                 message=f"Schema difference: {op.to_diff_tuple()!r}")]


def _alter_column(op: Any, dialect: Any) -> List[Diff]:
    from alembic.operations import ops

    where = _q(op.schema, op.table_name, op.column_name)
    # op.kw carries what else Alembic knows of the column (autoincrement on MySQL, where a
    # MODIFY without it drops AUTO_INCREMENT)
    base = dict(schema=op.schema, existing_type=op.existing_type,
                existing_nullable=op.existing_nullable,
                existing_server_default=op.existing_server_default,
                existing_comment=op.existing_comment, **op.kw)
    out = []
    if op.modify_type is not None:
        out.append(Diff("type", op.table_name, op.schema, op.column_name,
                        op=ops.AlterColumnOp(op.table_name, op.column_name,
                                             modify_type=op.modify_type, **base),
                        message=f"Column {where} is {type_sql(op.existing_type, dialect)} in "
                        f"the database but {type_sql(op.modify_type, dialect)} in the models.",
                        facts={"db_type": type_sql(op.existing_type, dialect),
                               "model_type": type_sql(op.modify_type, dialect)}))
    if op.modify_nullable is not None:
        text = (f"Column {where} allows NULL in the database but is NOT NULL in the models."
                if op.modify_nullable is False else
                f"Column {where} is NOT NULL in the database but nullable in the models.")
        out.append(Diff("nullable", op.table_name, op.schema, op.column_name,
                        op=ops.AlterColumnOp(op.table_name, op.column_name,
                                             modify_nullable=op.modify_nullable, **base),
                        message=text, facts={"db_nullable": not op.modify_nullable,
                                             "model_nullable": op.modify_nullable}))
    if op.modify_server_default is not False:
        out.append(Diff("server_default", op.table_name, op.schema, op.column_name,
                        op=ops.AlterColumnOp(op.table_name, op.column_name,
                                             modify_server_default=op.modify_server_default,
                                             **base),
                        message=f"Column {where} has server default "
                        f"{_default_text(op.existing_server_default, dialect)} in the database "
                        f"but {_default_text(op.modify_server_default, dialect)} in the models.",
                        facts={"db_default": _default_text(op.existing_server_default, dialect),
                               "model_default": _default_text(op.modify_server_default,
                                                              dialect)}))
    if op.modify_comment is not False:
        out.append(Diff("comment", op.table_name, op.schema, op.column_name,
                        op=ops.AlterColumnOp(op.table_name, op.column_name,
                                             modify_comment=op.modify_comment, **base),
                        message=f"The comment on column {where} differs."))
    return out


_CONSTRAINT_KINDS = {"unique": "unique", "foreignkey": "fk", "check": "check"}


def _constraint(op: Any) -> List[Diff]:
    from alembic.operations import ops

    adding = isinstance(op, ops.AddConstraintOp)
    ctype = op.constraint_type
    kind = _CONSTRAINT_KINDS.get(ctype or "")
    const = op.to_constraint()
    table = op.table_name if not adding else const.table.name
    schema = op.schema if not adding else const.table.schema
    name = op.constraint_name if not adding else const.name
    name = str(name) if name is not None else None
    label = {"unique": "Unique constraint", "fk": "Foreign key", "check": "Check constraint"}
    if kind is None:
        return [Diff("other", table, schema, name=name, op=op,
                     message=f"Constraint {name} on {_q(schema, table)} differs.")]
    facts = _constraint_facts(const, kind)
    where = "in the models but not in the database" if adding else \
        "in the database but not in the models"
    cols = f" ({', '.join(facts.get('columns') or [])})" if facts.get("columns") else ""
    return [Diff(("missing_" if adding else "extra_") + kind, table, schema, name=name, op=op,
                 message=f"{label[kind]} {name or '(unnamed)'} on {_q(schema, table)}{cols} is "
                 f"{where}.", facts=facts)]


# --- facts ---------------------------------------------------------------------------------


def _q(*parts: Optional[str]) -> str:
    return ".".join(p for p in parts if p)


def _column_facts(col: Any, dialect: Any = None) -> Dict[str, Any]:
    default = col.server_default
    return {"type": type_sql(col.type, dialect), "nullable": bool(col.nullable),
            "server_default": _default_text(default, dialect) if default is not None else None,
            "primary_key": bool(col.primary_key)}


def _default_text(value: Any, dialect: Any = None) -> Optional[str]:
    """The default as SQL: ``now()``, ``'active'``; a construct only a dialect-specific
    @compiles renders (Prefect's GenerateUUID) is compiled for the database's dialect, and
    named by its class when even that fails."""
    if value is None or value is False:
        return None
    arg = getattr(value, "arg", value)
    text = getattr(arg, "text", arg)
    if isinstance(text, str):
        return text
    for render in ((lambda: str(text.compile(dialect=dialect))) if dialect is not None
                   else None, lambda: str(text)):
        if render is None:
            continue
        try:
            return render()
        except Exception:
            continue
    return f"{type(text).__name__}()"


def _index_cols(index: Any) -> List[str]:
    cols = [c.name for c in index.columns]
    if not cols:  # functional index: the expressions
        cols = [str(e) for e in getattr(index, "expressions", [])]
    return cols


def _index_facts(index: Any) -> Dict[str, Any]:
    return {"columns": _index_cols(index), "unique": bool(index.unique)}


def _constraint_facts(const: Any, kind: str) -> Dict[str, Any]:
    facts: Dict[str, Any] = {}
    try:
        facts["columns"] = [c.name for c in const.columns]
    except Exception:
        facts["columns"] = []
    if kind == "fk":
        with contextlib.suppress(Exception):
            facts["references"] = [e.target_fullname for e in const.elements]
        facts["ondelete"] = getattr(const, "ondelete", None)
        facts["onupdate"] = getattr(const, "onupdate", None)
    if kind == "check":
        facts["sqltext"] = str(getattr(const, "sqltext", ""))
    return facts


# --- rendering fixes -------------------------------------------------------------------------

# SQLite's ALTER TABLE can add, drop and rename columns and nothing else; the rest needs
# Alembic's batch mode (copy-and-move), which has no single SQL statement to show.
SQLITE_BATCH_ONLY = {"type", "nullable", "server_default", "missing_unique", "extra_unique",
                     "missing_fk", "extra_fk", "missing_check", "extra_check", "primary_key",
                     "comment"}


class Renderer:
    """Renders Alembic ops as SQL for one dialect (offline mode) and as Python op calls."""

    def __init__(self, dialect_name: str, server: Optional[Tuple[bool, Tuple[int, ...]]] = None,
                 ) -> None:
        """``server``: (MariaDB?, version) of the live server, where the SQL depends on it."""
        from alembic.migration import MigrationContext
        from alembic.operations import Operations

        self.dialect_name = dialect_name
        self.server = server
        self._buf = io.StringIO()
        self._mc = MigrationContext.configure(
            dialect_name=dialect_name, opts={"as_sql": True, "output_buffer": self._buf})
        self._ops = Operations(self._mc)
        # autogenerate refuses an as_sql context: its own, of the same dialect, to render
        self._render_mc = MigrationContext.configure(dialect_name=dialect_name)

    @property
    def dialect(self) -> Any:
        return self._mc.dialect

    def sql(self, op: Any) -> Optional[str]:
        self._buf.seek(0)
        self._buf.truncate()
        try:
            self._ops.invoke(op)
        except Exception:
            return None
        statements = [s.strip() for s in self._buf.getvalue().split(";\n") if s.strip()]
        if not statements:
            return None
        return ";\n".join(" ".join(s.split()) if len(s) < 200 else s for s in statements)

    def python(self, op: Any, batch: bool = False) -> Optional[str]:
        from alembic.autogenerate import render_python_code
        from alembic.operations import ops

        if not isinstance(op, (ops.CreateTableOp, ops.DropTableOp, ops.CreateIndexOp,
                               ops.DropIndexOp)) or batch:
            # CreateForeignKeyOp names its table source_table
            table = getattr(op, "table_name", None) or getattr(op, "source_table", None)
            schema = getattr(op, "schema", None) or getattr(op, "source_schema", None)
            if not table:
                return None  # nothing to render the op inside
            op = ops.ModifyTableOps(table, [op], schema=schema)
        try:
            # with the dialect's MigrationContext: a server default such as func.now()
            # renders as that database's SQL (CURRENT_TIMESTAMP on SQLite), not as now()
            code = render_python_code(ops.UpgradeOps(ops=[op]), render_as_batch=batch,
                                      migration_context=self._render_mc)
        except Exception:
            return None
        lines = [ln for ln in code.splitlines()
                 if ln.strip() and not ln.strip().startswith("# ###")]
        indent = min((len(ln) - len(ln.lstrip()) for ln in lines), default=0)
        return "\n".join(ln[indent:] for ln in lines) or None

    def has_rename_column(self) -> bool:
        """``ALTER TABLE ... RENAME COLUMN``: MySQL 8.0+, MariaDB 10.5.2+, and the others
        (PostgreSQL, SQLite 3.25+). Older MySQL/MariaDB need ``CHANGE COLUMN`` with the
        whole definition."""
        if self.dialect_name not in ("mysql", "mariadb") or self.server is None:
            return True
        mariadb, version = self.server
        return tuple(version[:3]) >= ((10, 5, 2) if mariadb else (8, 0, 0))

    def quote(self, name: str) -> str:
        return self.dialect.identifier_preparer.quote(name)

    def table(self, schema: Optional[str], table: str) -> str:
        prep = self.dialect.identifier_preparer
        return f"{prep.quote_schema(schema)}.{prep.quote(table)}" if schema else prep.quote(table)

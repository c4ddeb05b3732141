"""From the schema_drift check's differences to the steps of a repair migration.

Each difference already carries the Alembic op that brings the database to the models (see
checks/drift/diffs.py). What a revision adds to that op:

- a rename is ``op.alter_column(..., new_column_name=...)`` (Alembic's own autogenerate
  writes a drop and an add, which loses the column's data), with the index or constraint
  renames that go with it;
- PostgreSQL enum values are ``ALTER TYPE ... ADD VALUE`` in an autocommit block (it cannot
  run inside a transaction before PostgreSQL 12, nor be used in the same one after);
- a PostgreSQL type change has ``postgresql_using`` (``col::new_type``): without it, a change
  with no implicit cast fails ("column cannot be cast automatically");
- SQLite's table changes go through batch mode (its ALTER TABLE cannot alter a column);
- a changed primary key is replaced (revision/primary_key.py), after the foreign keys the
  models drop and before the ones they add;
- destructive steps (a dropped table or column, a narrowed type) are written commented out
  with a warning unless ``allow_destructive``;
- what no op can do is listed as a manual step.

Python 3.8, standard library and what the app has (SQLAlchemy, Alembic).
"""

from __future__ import annotations

import re
import zlib
from typing import Any, Dict, List, Optional, Set

from ..checks.drift.pg_cast import postgresql_cast
from ..compat import changes_kind
from .primary_key import pk_code

# kinds whose op loses data when it runs
DESTRUCTIVE_KINDS = ("extra_table", "extra_column")
# kinds no op repairs: reported, never written
MANUAL_KINDS = ("unreflectable", "not_compared", "objects_not_compared", "other",
                "db_only_default")


class Step:
    """One difference in the revision: its code (``python``, indented by the caller), its
    reverse for ``downgrade()`` when there is one, and why it is commented out if it is."""

    def __init__(self, diff: Any, python: str, reverse: Optional[str] = None,
                 destructive: Optional[str] = None, others: Optional[List[Any]] = None
                 ) -> None:
        self.diff = diff
        self.others = list(others or [])  # the same column's other changes, in one op
        self.python = python
        self.reverse = reverse
        self.destructive = destructive  # why it loses data; None: it does not

    @property
    def diffs(self) -> List[Any]:
        return [self.diff, *self.others]

    @property
    def label(self) -> str:
        return "; ".join("%s %s" % (d.code, d.message) for d in self.diffs)


class Plan:
    def __init__(self) -> None:
        self.steps: List[Step] = []
        self.manual: List[Dict[str, str]] = []  # {"code", "message", "step"}
        self.imports: List[str] = []
        self.sqlite_batch = False  # SQLite: the upgrade turns foreign keys off around it

    @property
    def empty(self) -> bool:
        return not self.steps


def plan(diffs: List[Any], renderer: Any, allow_destructive: bool,
         model_tables: Optional[Dict[Any, Any]] = None,
         db_enums: Optional[Set[str]] = None) -> Plan:
    """The steps for ``diffs`` (the drift check's, after its passes), in their order."""
    out = Plan()
    batch_dialect = renderer.dialect_name == "sqlite"
    out.sqlite_batch = batch_dialect
    for d, others in _one_op_per_column(diffs, renderer.dialect_name):
        if d.kind in MANUAL_KINDS or (d.op is None and d.kind != "enum_values"):
            out.manual.append({"code": d.code, "message": d.message,
                               "step": _manual_step(d)})
            continue
        if d.kind == "enum_values":
            step = _enum_step(d)
            if step is None:
                out.manual.append({"code": d.code, "message": d.message,
                                   "step": "PostgreSQL cannot drop an enum label: recreate the "
                                   "type by hand (the finding's fix_sql), after checking no "
                                   "row uses the labels the models dropped"})
            else:
                out.steps.append(step)
            continue
        if d.kind == "primary_key":
            python = pk_code(renderer, d)
            if python is None:
                out.manual.append({"code": d.code, "message": d.message,
                                   "step": "the key has no name in the database, so no "
                                   "migration op can drop it: " + _manual_step(d)})
                continue
            destructive = _unnamed_checks((model_tables or {}).get((d.schema, d.table))) \
                if batch_dialect else None
            out.steps.append(Step(d, python, pk_code(renderer, d, reverse=True), destructive))
            continue
        op = d.op
        if d.kind == "missing_table" and renderer.dialect_name == "postgresql":
            op = d.op = _existing_enums_not_created(op, db_enums or set())
        if _unnamed_drop(op):
            out.manual.append({"code": d.code, "message": d.message,
                               "step": "the constraint has no name in the database, so no "
                               "migration can drop it by name: recreate the table without "
                               "it (on SQLite, batch_alter_table with a naming_convention)"})
            continue
        if batch_dialect and _needs_batch(op):
            _name_unnamed(op)
        python = _render(renderer, [op, *_child_ops(d)], batch_dialect)
        if python is not None and renderer.dialect_name == "postgresql" and \
                getattr(op, "modify_type", None) is not None:
            python = postgresql_cast(python, op, renderer)
        if python is None:
            out.manual.append({"code": d.code, "message": d.message,
                               "step": "Alembic could not render this change: " +
                               (d.fix_sql or "see the finding")})
            continue
        extra = _rename_extras(d)
        if extra:
            python += "\n" + extra
        out.manual.extend(_rename_leftovers(d))
        if d.kind == "extra_fk" and renderer.dialect_name in ("mysql", "mariadb"):
            # InnoDB made an index for the foreign key, and keeps it when the key goes
            out.manual.append({"code": d.code, "message": d.message,
                               "step": "MySQL keeps the index it made for this foreign key: "
                               "once this revision is applied, `sidecar revision` again "
                               "drops it if the models do not have it"})
        reverse = _reverse(renderer, d, batch_dialect)
        destructive = _destructive(d, renderer.dialect_name)
        if destructive is None and batch_dialect and "batch_alter_table" in python:
            destructive = _unnamed_checks((model_tables or {}).get((d.schema, d.table)))
        out.steps.append(Step(d, python, reverse, destructive, others))
    out.imports = imports_for("\n".join(s.python + "\n" + (s.reverse or "")
                                        for s in out.steps))
    return out


# the names a rendered op may use besides op/sa: a dialect's types (mysql.LONGTEXT) and the
# app's own (app.types.GUID, which Alembic renders by module path)
_QUALIFIED_CALL = re.compile(r"(?<![\w.])([A-Za-z_][\w.]*)\.[A-Za-z_]\w*\(")
_STRING = re.compile(r"\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'")
DIALECT_MODULES = ("mysql", "postgresql", "sqlite", "mssql", "oracle")
_NOT_MODULES = ("op", "sa", "batch_op")


def imports_for(code: str) -> List[str]:
    """The import lines the rendered code needs beyond the template's (op, sa)."""
    out: List[str] = []
    code = _STRING.sub("''", code)  # sa.text("extensions.gen_token()") names no module
    for module in sorted(set(_QUALIFIED_CALL.findall(code))):
        if module in _NOT_MODULES or module.startswith(("sa.", "op.")):
            continue
        line = ("from sqlalchemy.dialects import %s" % module if module in DIALECT_MODULES
                else "import %s" % module)
        if line not in out:
            out.append(line)
    return out


ALTER_KINDS = ("type", "nullable", "server_default", "comment")


def _one_op_per_column(diffs: List[Any], dialect: str) -> List[Any]:
    """(diff, the same column's other changes) in order: the drift check reports a column's
    type, nullability, default and comment apart, and each alone would be wrong on MySQL,
    where ALTER COLUMN is MODIFY with the whole definition (the second restates the old
    type, undoing the first). One op per column, as Alembic's own autogenerate writes it;
    the merged step is destructive when any of its changes is (then all stay undone)."""
    from alembic.operations import ops

    out: List[Any] = []
    by_column: Dict[Any, List[Any]] = {}
    for d in _ordered(diffs):
        if d.kind in ALTER_KINDS and isinstance(d.op, ops.AlterColumnOp) and d.column:
            key = (d.schema, d.table, d.column)
            if key not in by_column:
                by_column[key] = []
                out.append(by_column[key])
            by_column[key].append(d)
        else:
            out.append([d])
    pairs = []
    for group in out:
        first = group[0]
        if len(group) > 1:
            first.op = _merged(group)
            # the step's destructive verdict comes from the most destructive part
            lossy = next((d for d in group if _destructive(d, dialect)), None)
            if lossy is not None and lossy is not first:
                group.remove(lossy)
                group.insert(0, lossy)
                lossy.op, first = first.op, lossy
        pairs.append((first, group[1:]))
    return pairs


def _merged(group: List[Any]) -> Any:
    from alembic.operations import ops

    base = group[0].op
    kw: Dict[str, Any] = {"modify_type": None, "modify_nullable": None,
                          "modify_server_default": False, "modify_comment": False}
    for d in group:
        op = d.op
        if op.modify_type is not None:
            kw["modify_type"] = op.modify_type
        if op.modify_nullable is not None:
            kw["modify_nullable"] = op.modify_nullable
        if op.modify_server_default is not False:
            kw["modify_server_default"] = op.modify_server_default
        if op.modify_comment is not False:
            kw["modify_comment"] = op.modify_comment
    return ops.AlterColumnOp(base.table_name, base.column_name, schema=base.schema,
                             existing_type=base.existing_type,
                             existing_nullable=base.existing_nullable,
                             existing_server_default=base.existing_server_default,
                             existing_comment=base.existing_comment, **kw, **base.kw)


def _ordered(diffs: List[Any]) -> List[Any]:
    """PostgreSQL enum types and values first (a column default or a new column may use a
    new label or type), dropped tables last and children before parents (a table still
    referenced cannot be dropped), everything else as the comparison ordered it - but for
    a changed primary key, see ``_around_keys``."""
    enums = [d for d in diffs if d.kind == "enum_values"]
    drops = [d for d in diffs if d.kind == "extra_table" and d.op is not None]
    rest = [d for d in diffs if d not in enums and d not in drops]
    return enums + _around_keys(rest) + _children_first(drops)


def _around_keys(diffs: List[Any]) -> List[Any]:
    """A key is replaced after the columns it needs are added, and before what needs the
    new key: foreign keys the models drop go first (PostgreSQL refuses to drop a key a
    foreign key uses), new foreign keys and new tables referencing the table after, and a
    column leaving the key is altered (made nullable) after, since a key column cannot be
    NULL (PostgreSQL, MySQL)."""
    keys = [d for d in diffs if d.kind == "primary_key"]
    if not keys:
        return diffs
    keyed = {(d.schema, d.table) for d in keys}
    leaving = {(d.schema, d.table, c) for d in keys for c in d.facts.get("db_columns") or []
               if c not in (d.facts.get("model_columns") or [])}
    first = [d for d in diffs if d.kind == "extra_fk"]
    after = [d for d in diffs if d.kind == "missing_fk"
             or (d.kind in ALTER_KINDS and (d.schema, d.table, d.column) in leaving)
             or (d.kind == "missing_table" and _references(d) & {t for _, t in keyed})]
    middle = [d for d in diffs if d not in first and d not in after and d not in keys]
    return first + middle + keys + after


def _references(d: Any) -> Set[str]:
    """The tables a new table's foreign keys name (``accounts.id`` -> accounts)."""
    try:
        table = d.op.to_table()
    except Exception:
        return set()
    return {fk.target_fullname.split(".")[-2] for fk in table.foreign_keys
            if fk.target_fullname.count(".") >= 1}


def _children_first(drops: List[Any]) -> List[Any]:
    """Dropped tables, each after every dropped table that references it."""
    def referenced(d: Any) -> List[str]:
        try:
            table = d.op.to_table()
            return [fk.column.table.name for fk in table.foreign_keys]
        except Exception:
            return []

    names = {d.table for d in drops}
    parents = {d.table: [r for r in referenced(d) if r in names and r != d.table]
               for d in drops}
    out: List[Any] = []
    left = list(drops)
    while left:
        # a table no remaining table references goes next
        ready = [d for d in left if not any(d.table in parents[o.table] for o in left
                                            if o is not d)]
        step = ready[0] if ready else left[0]  # a cycle: the comparison's order
        out.append(step)
        left.remove(step)
    return out


def _render(renderer: Any, ops_: List[Any], batch: bool) -> Optional[str]:
    parts = []
    for op in ops_:
        text = renderer.python(op, batch=batch and _needs_batch(op))
        if text is None:
            return None
        parts.append(text)
    return "\n".join(parts)


def _needs_batch(op: Any) -> bool:
    """SQLite can create and drop tables and indexes, add, drop and rename columns (3.35+
    for drop); everything else is batch mode's copy-and-move."""
    from alembic.operations import ops

    if isinstance(op, (ops.CreateTableOp, ops.DropTableOp, ops.CreateIndexOp,
                       ops.DropIndexOp, ops.AddColumnOp)):
        return False
    if isinstance(op, ops.AlterColumnOp):
        # a rename alone is ALTER TABLE ... RENAME COLUMN (SQLite 3.25+)
        return not (op.modify_name and op.modify_type is None and op.modify_nullable is None
                    and op.modify_server_default is False and op.modify_comment is False)
    return True


def _name_unnamed(op: Any) -> None:
    """Batch mode adds a constraint by name ("Constraint must have a name", Alembic 1.x):
    an unnamed model constraint gets the conventional one. The comparison matches unnamed
    model constraints by their columns, so the name never reads as drift."""
    from alembic.operations import ops

    if getattr(op, "constraint_name", "") is not None:
        return
    if isinstance(op, ops.CreateUniqueConstraintOp):
        op.constraint_name = "uq_%s_%s" % (op.table_name, "_".join(op.columns))
    elif isinstance(op, ops.CreateForeignKeyOp):
        op.constraint_name = "fk_%s_%s_%s" % (op.source_table, "_".join(op.local_cols),
                                             op.referent_table)
    elif isinstance(op, ops.CreateCheckConstraintOp):
        op.constraint_name = "ck_%s_%08x" % (op.table_name,
                                             zlib.crc32(str(op.condition).encode()))


def _child_ops(d: Any) -> List[Any]:
    """A missing table's indexes (folded into its finding by the drift passes)."""
    if d.kind != "missing_table":
        return []
    return [c.op for c in d.children if c.op is not None and c.kind == "missing_index"]


def _existing_enums_not_created(op: Any, db_enums: Set[str]) -> Any:
    """create_table creates the named PostgreSQL enum types its columns use (CREATE TYPE,
    no IF NOT EXISTS): one the database already has fails with DuplicateObject. Those
    columns get ``postgresql.ENUM(..., create_type=False)``, on copies: the op's columns
    are the models' own."""
    import sqlalchemy as sa
    from alembic.operations import ops
    from sqlalchemy.dialects import postgresql

    columns = [c for c in op.columns if isinstance(c, sa.Column)]
    if not any(isinstance(c.type, sa.Enum) and c.type.name in db_enums for c in columns):
        return op
    items = []
    for item in op.columns:
        if isinstance(item, sa.Column) and isinstance(item.type, sa.Enum) \
                and item.type.name in db_enums:
            copy = item._copy() if hasattr(item, "_copy") else item.copy()
            copy.type = postgresql.ENUM(*item.type.enums, name=item.type.name,
                                        schema=item.type.schema, create_type=False)
            items.append(copy)
        else:
            items.append(item)
    return ops.CreateTableOp(op.table_name, items, schema=op.schema, **op.kw)


def _unnamed_checks(table: Any) -> Optional[str]:
    """Batch mode recreates a SQLite table from what reflection sees, and SQLite reports
    no unnamed CHECK constraint (a CheckConstraint without a name, Boolean or Enum with
    create_constraint=True): the copy would be made without them, silently."""
    import sqlalchemy as sa

    if table is None:
        return None
    unnamed = [c for c in table.constraints
               if isinstance(c, sa.CheckConstraint) and not c.name]
    if not unnamed:
        return None
    return ("recreates %s in batch mode, which drops its %d unnamed CHECK constraint(s): "
            "name them in the models (CheckConstraint(..., name=...)) first, or re-add them "
            "in this migration" % (table.name, len(unnamed)))


def _unnamed_drop(op: Any) -> bool:
    from alembic.operations import ops

    return isinstance(op, ops.DropConstraintOp) and not op.constraint_name


def _rename_leftovers(d: Any) -> List[Dict[str, str]]:
    """What a rename does not change: the renamed column's other differences, and the
    constraint renames SQLite cannot do."""
    if d.kind != "rename":
        return []
    out = []
    f = d.facts
    if f.get("type_changed") or f.get("db_nullable") != f.get("model_nullable"):
        out.append({"code": d.code, "message": d.message,
                    "step": "the renamed column also differs in type or NULL: once this "
                    "revision is applied, `sidecar revision` again writes that change (with "
                    "its own destructive check)"})
    for statement in (d.fix_sql or "").split(";\n")[1:]:
        if statement.strip().startswith("--"):
            out.append({"code": d.code, "message": d.message,
                        "step": "SQLite cannot rename a constraint: " +
                        statement.strip().lstrip("- ") + " needs batch mode by hand"})
    return out


def _rename_extras(d: Any) -> str:
    """The index/constraint renames that go with a column rename, as op.execute(...)."""
    if d.kind != "rename" or not d.facts.get("also_renamed") or not d.fix_sql:
        return ""
    # SQLite cannot rename a constraint: the drift check writes a "-- rename" comment
    # there, which is no operation (the plan lists it as a manual step instead)
    statements = [s for s in d.fix_sql.split(";\n")[1:] if s.strip()
                  and not s.strip().startswith("--")]
    return "\n".join("op.execute(%r)" % s for s in statements)


def _reverse(renderer: Any, d: Any, batch_dialect: bool) -> Optional[str]:
    from alembic.operations import ops

    if d.kind in ("missing_table",):
        return renderer.python(ops.DropTableOp(d.op.table_name, schema=d.op.schema))
    if d.kind == "rename":  # AlterColumnOp.reverse() keeps the name (Alembic 1.20)
        op = d.op
        back = ops.AlterColumnOp(op.table_name, op.modify_name, schema=op.schema,
                                 modify_name=op.column_name, existing_type=op.existing_type,
                                 existing_nullable=op.existing_nullable,
                                 existing_server_default=op.existing_server_default,
                                 existing_comment=op.existing_comment, **op.kw)
        return renderer.python(back)
    try:
        reverse = d.op.reverse()
    except Exception:  # an op Alembic cannot reverse: downgrade() says so
        return None
    if isinstance(reverse, ops.DropConstraintOp) and not reverse.constraint_name:
        return None  # an unnamed constraint cannot be dropped by name
    text = renderer.python(reverse, batch=batch_dialect and _needs_batch(reverse))
    if text is not None and renderer.dialect_name == "postgresql" and \
            getattr(reverse, "modify_type", None) is not None:
        text = postgresql_cast(text, reverse, renderer)
    return text


def _destructive(d: Any, renderer_dialect: str) -> Optional[str]:
    if d.kind == "extra_table":
        return "drops the table %s and every row in it" % d.qualified_table
    if d.kind == "extra_column":
        return "drops the column %s.%s and its data" % (d.qualified_table, d.column)
    if d.kind == "type" and _narrows(d, renderer_dialect):
        return ("narrows %s.%s from %s to %s: values that do not fit are cut or refused"
                % (d.qualified_table, d.column, d.facts.get("db_type"),
                   d.facts.get("model_type")))
    return None


def _narrows(d: Any, dialect: str) -> bool:
    """A shorter string, or a change of kind (text to number): data may not survive. On
    PostgreSQL a change of kind goes through ``USING col::type``, which fails - rolling the
    migration back - on a value that does not convert: loud, not lossy. MySQL and SQLite
    convert such values silently (0, or text left in an INTEGER column)."""
    op = d.op
    old, new = getattr(op, "existing_type", None), getattr(op, "modify_type", None)
    if old is None or new is None:
        return False
    import sqlalchemy as sa

    old_len, new_len = getattr(old, "length", None), getattr(new, "length", None)
    if isinstance(old_len, int) and isinstance(new_len, int):
        return new_len < old_len
    if old_len is None and isinstance(new_len, int):
        return True  # TEXT -> VARCHAR(n)
    # explicit casts round and truncate on every database: NUMERIC(10,2) -> INTEGER rounds,
    # a float to an integer, fewer digits or decimals, a timestamp to a date
    if isinstance(old, (sa.Numeric, sa.Float)) and isinstance(new, sa.Integer):
        return True
    if isinstance(old, sa.Numeric) and isinstance(new, sa.Numeric):
        for attr in ("precision", "scale"):
            a, b = getattr(old, attr, None), getattr(new, attr, None)
            if isinstance(a, int) and ((b is None and attr == "scale" and a > 0)
                                       or (isinstance(b, int) and b < a)):
                return True
    if isinstance(old, sa.DateTime) and isinstance(new, sa.Date) and \
            not isinstance(new, sa.DateTime):
        return True
    if dialect == "postgresql":  # USING col::type fails loudly on a value that won't cast
        return False
    return changes_kind(old, new)


def _enum_step(d: Any) -> Optional[Step]:
    """New labels for an existing PostgreSQL enum type, or the type itself."""
    if d.facts.get("extra_values") or not d.fix_sql:
        return None
    statements = [s for s in d.fix_sql.split(";\n") if s.strip()]
    if d.facts.get("missing_type"):
        body = "\n".join("op.execute(%r)" % s for s in statements)
        reverse = "op.execute(%r)" % ("DROP TYPE %s" % d.name)
        return Step(d, body, reverse)
    # ADD VALUE cannot run in a transaction block before PostgreSQL 12, and a value added
    # in a transaction cannot be used before it commits: its own autocommit block
    body = "with op.get_context().autocommit_block():\n" + "\n".join(
        "    op.execute(%r)" % s for s in statements)
    return Step(d, body, None)


def _manual_step(d: Any) -> str:
    if d.kind == "db_only_default":
        return "the database has a default the models do not declare: declare it " \
            "(server_default=...) or drop it with ALTER TABLE ... ALTER COLUMN ... DROP DEFAULT"
    if d.fix_sql:
        return "run by hand, after review: " + d.fix_sql
    return "see the finding; no migration op can do this"

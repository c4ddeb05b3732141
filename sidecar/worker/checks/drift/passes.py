"""Passes over the list of differences, Alembic-comparator style: each takes the list and a
``PassEnv`` and returns a new list; each is testable alone. ``PIPELINE`` is the order used.

Why these exist (Alembic 1.20):
- a renamed column comes out as add + drop, plus a drop/re-add of any index, unique or
  foreign key on it: ``infer_renames`` and ``absorb_rename_noise`` make that ONE finding
  with the ``ALTER TABLE ... RENAME COLUMN`` that fixes it;
- a missing or extra table also lists its indexes: ``fold_table_children``;
- a server default only the database has is declared in the model, never dropped
  (``db_only_defaults``); a CHECK the model declares without a name comes back from
  PostgreSQL under a generated name, "extra": ``match_unnamed_checks`` pairs them;
- the severity of a difference sometimes depends on its facts (an extra NOT NULL column
  without a default breaks every insert from the app): ``apply_severity``;
- every finding carries the SQL (or the Alembic op) that fixes it: ``render_fixes``.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ... import compat
from ...protocol import finding
from . import pg_cast
from .diffs import (
    SQLITE_BATCH_ONLY,
    Diff,
    Renderer,
    type_sql,
)


class PassEnv:
    def __init__(self, dialect_name: str, renderer: Optional[Renderer] = None,
                 model_tables: Optional[Dict[Tuple[Optional[str], str], Any]] = None) -> None:
        self.dialect_name = dialect_name
        self.renderer = renderer or Renderer(dialect_name)
        self.model_tables = model_tables or {}  # (schema or None, name) -> model Table


Pass = Callable[[List[Diff], PassEnv], List[Diff]]

_TABLE_LEVEL = ("missing_table", "extra_table")


def fold_table_children(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """A missing or extra table owns the index/constraint diffs Alembic lists for it."""
    owners = {(d.schema, d.table): d for d in diffs if d.kind in _TABLE_LEVEL}
    out = []
    for d in diffs:
        owner = owners.get((d.schema, d.table))
        if owner is not None and owner is not d:
            owner.children.append(d)
        else:
            out.append(d)
    return out


def drop_sqlite_pk_nullability(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """SQLite reflects ``id INTEGER PRIMARY KEY`` (no NOT NULL) as nullable, but it is the
    rowid and never NULL; Alembic 1.20 reports it as a nullability change on every table."""
    if env.dialect_name != "sqlite":
        return diffs
    out = []
    for d in diffs:
        table = env.model_tables.get((d.schema, d.table))
        col = table.columns.get(d.column) if table is not None and d.column else None
        if d.kind == "nullable" and col is not None and col.primary_key \
                and d.facts.get("db_nullable"):
            continue
        out.append(d)
    return out


def _column_of(d: Diff) -> Any:
    op = d.op
    if op is None:
        return None
    return op.column if hasattr(op, "column") else op.to_column()


def compatible_types(a: Any, b: Any, mariadb: bool = False) -> bool:
    """Same kind of data (JSON and JSON, VARCHAR(20) and String(30)): a rename can carry it.
    On MariaDB a JSON column reflects as LONGTEXT (its JSON is an alias of LONGTEXT with a
    json_valid check, 10.2+); MySQL 8 reflects JSON as JSON."""
    fa, fb = compat.type_affinity(a), compat.type_affinity(b)
    if fa is None or fb is None:
        return False
    if json_alias(a, b, mariadb):
        return True
    return fa is fb or issubclass(fa, fb) or issubclass(fb, fa)


def json_alias(a: Any, b: Any, mariadb: bool) -> bool:
    """A model's JSON and the *TEXT MariaDB reflects it as: one type, not a change."""
    if not mariadb:
        return False
    from sqlalchemy.types import JSON, Text

    def text(t: Any) -> bool:  # mysql.LONGTEXT is a String, not a Text, in 2.1
        return isinstance(t, Text) or type(t).__name__.endswith("TEXT")

    return (isinstance(a, JSON) and text(b)) or (isinstance(b, JSON) and text(a))


def _similarity(old: str, new: str) -> float:
    ratio = difflib.SequenceMatcher(None, old, new).ratio()
    if old in new or new in old:  # metadata -> event_metadata
        ratio = max(ratio, 0.75)
    return ratio


def infer_renames(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """A model column the DB lacks beside a DB column the model lacks, same kind of type,
    same table: one "likely unapplied rename" instead of an add and a drop."""
    by_table: Dict[Tuple[Optional[str], str], Dict[str, List[Diff]]] = {}
    for d in diffs:
        if d.kind in ("missing_column", "extra_column"):
            by_table.setdefault((d.schema, d.table), {}).setdefault(d.kind, []).append(d)
    replaced: Dict[int, Optional[Diff]] = {}
    for kinds in by_table.values():
        missing, extra = kinds.get("missing_column", []), kinds.get("extra_column", [])
        candidates = []
        for m in missing:
            for e in extra:
                mc, ec = _column_of(m), _column_of(e)
                if mc is None or ec is None or not compatible_types(
                        mc.type, ec.type, bool(env.renderer.server and env.renderer.server[0])):
                    continue
                candidates.append((_similarity(e.column or "", m.column or ""), m, e))
        candidates.sort(key=lambda c: -c[0])
        used: Set[int] = set()
        for score, m, e in candidates:
            if id(m) in used or id(e) in used:
                continue
            alone = sum(1 for c in candidates if c[1] is m) == 1 and \
                sum(1 for c in candidates if c[2] is e) == 1
            if score < 0.5 and not alone:
                continue  # ambiguous pairing on names that share nothing: leave add + drop
            used.update((id(m), id(e)))
            replaced[id(m)] = _rename(m, e, env)
            replaced[id(e)] = None
    out: List[Diff] = []
    for d in diffs:
        new = replaced.get(id(d), d)  # None: folded into a rename
        if new is not None:
            out.append(new)
    return out


def _rename(missing: Diff, extra: Diff, env: PassEnv) -> Diff:
    from alembic.operations import ops

    old, new = extra.column or "", missing.column or ""
    mc, ec = _column_of(missing), _column_of(extra)
    r = env.renderer
    if r.has_rename_column():
        sql = (f"ALTER TABLE {r.table(missing.schema, missing.table)} RENAME COLUMN "
               f"{r.quote(old)} TO {r.quote(new)}")
    else:  # MySQL < 8.0, MariaDB < 10.5.2: CHANGE repeats the whole (database's) definition
        sql = (f"ALTER TABLE {r.table(missing.schema, missing.table)} CHANGE COLUMN "
               f"{r.quote(old)} {r.quote(new)} {_definition(ec, r.dialect)}")
    model_type, db_type = type_sql(mc.type, r.dialect), type_sql(ec.type, r.dialect)
    mariadb = bool(r.server and r.server[0])
    same_type = model_type == db_type or json_alias(mc.type, ec.type, mariadb)
    mysql = r.dialect_name in ("mysql", "mariadb")
    existing = mysql_existing(ec, mc, json_alias(mc.type, ec.type, mariadb)) if mysql \
        else {"existing_type": ec.type}
    op = ops.AlterColumnOp(missing.table, old, schema=missing.schema, modify_name=new,
                           **existing)
    facts = {"old_column": old, "new_column": new, "type": model_type,
             "model_type_py": _py_type(mc.type),
             "db_type": db_type, "type_changed": not same_type,
             "db_nullable": bool(ec.nullable), "model_nullable": bool(mc.nullable)}
    if mysql:  # the op restates the column (mysql_existing): the hint says why
        facts["mysql_change"] = True
    where = f"{missing.qualified_table}"
    return Diff("rename", missing.table, missing.schema, new, op=op, fix_sql=sql,
                message=f"Column {where}.{new} is in the models but not in the database, and "
                f"{where}.{old} is in the database but not in the models: likely an unapplied "
                f"rename of '{old}' to '{new}'.", facts=facts, children=[missing, extra])


def _definition(column: Any, dialect: Any) -> str:
    """A reflected column's definition as CHANGE COLUMN needs it: type, NULL, DEFAULT."""
    parts = [type_sql(column.type, dialect), "NULL" if column.nullable else "NOT NULL"]
    default = getattr(column.server_default, "arg", None)
    if default is not None:
        parts.append(f"DEFAULT {getattr(default, 'text', default)}")
    if column.autoincrement is True:  # reflected from EXTRA; CHANGE would drop it
        parts.append("AUTO_INCREMENT")
    if column.comment:
        parts.append("COMMENT '%s'" % str(column.comment).replace("'", "''"))
    return " ".join(parts)


def mysql_existing(db_column: Any, model_column: Any, json_as_text: bool) -> Dict[str, Any]:
    """The ``existing_*`` arguments of ``op.alter_column(..., new_column_name=...)`` on MySQL
    and MariaDB, from the database's column. Alembic 1.x renames there with CHANGE COLUMN,
    which restates the column: without existing_type it refuses ("All MySQL CHANGE/MODIFY
    COLUMN operations require the existing type"), and what is not passed is lost - no
    existing_nullable makes a NOT NULL column nullable (Alembic 1.4-1.20 defaults to NULL),
    no existing_server_default drops the default, no autoincrement drops AUTO_INCREMENT,
    no existing_comment drops the comment."""
    # the database's type, as Alembic renders it (mysql.VARCHAR(length=40)); the model's
    # only for MariaDB's JSON, reflected as LONGTEXT: sa.JSON() recreates that LONGTEXT
    # with its json_valid check, LONGTEXT would drop the check. Never the model's in
    # general: a TypeDecorator renders as the app's own class, unknown in a migration.
    kind = model_column.type if json_as_text else db_column.type
    kw: Dict[str, Any] = {"existing_type": kind,
                          "existing_nullable": bool(db_column.nullable)}
    if db_column.server_default is not None:
        kw["existing_server_default"] = db_column.server_default
    if db_column.comment:
        kw["existing_comment"] = db_column.comment
    if db_column.autoincrement is True:
        kw["autoincrement"] = True
    return kw


def _py_type(type_: Any) -> str:
    """The model's type as Python (``String(length=200)``), for a hint to paste."""
    try:
        return repr(type_)
    except Exception:
        return f"{type(type_).__name__}()"


_RENAME_NOISE = {"index": ("missing_index", "extra_index"),
                 "unique": ("missing_unique", "extra_unique"),
                 "fk": ("missing_fk", "extra_fk")}


def absorb_rename_noise(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """The index (unique, foreign key) Alembic drops and re-adds around a renamed column is
    the same object once the column is renamed: drop the pair, rename it if its name moved."""
    renames: Dict[Tuple[Optional[str], str], Dict[str, str]] = {}
    owner: Dict[Tuple[Optional[str], str], Diff] = {}
    for d in diffs:
        if d.kind == "rename":
            key = (d.schema, d.table)
            renames.setdefault(key, {})[d.facts["old_column"]] = d.facts["new_column"]
            owner[key] = d
    if not renames:
        return diffs
    drop: Set[int] = set()
    for label, (missing_kind, extra_kind) in _RENAME_NOISE.items():
        for e in [d for d in diffs if d.kind == extra_kind and (d.schema, d.table) in renames]:
            mapping = renames[(e.schema, e.table)]
            moved = [mapping.get(c, c) for c in e.facts.get("columns") or []]
            if moved == list(e.facts.get("columns") or []):
                continue  # does not involve a renamed column
            for m in diffs:
                if (m.kind != missing_kind or (m.schema, m.table) != (e.schema, e.table)
                        or id(m) in drop or m.facts.get("columns") != moved
                        or _signature(m) != _signature(e)):
                    continue
                drop.update((id(m), id(e)))
                rename = owner[(e.schema, e.table)]
                rename.children += [m, e]
                if e.name and m.name and e.name != m.name:
                    rename.facts.setdefault("also_renamed", []).append(
                        {"kind": label, "old": e.name, "new": m.name})
                    rename.fix_sql = ";\n".join(
                        s for s in (rename.fix_sql, _rename_object_sql(label, e, m, env)) if s)
                break
    for d in diffs:  # a primary key on the renamed column: the rename carries it along
        if d.kind == "primary_key" and (d.schema, d.table) in renames:
            mapping = renames[(d.schema, d.table)]
            moved = [mapping.get(c, c) for c in d.facts.get("db_columns") or []]
            if moved != list(d.facts.get("db_columns") or []) and \
                    moved == list(d.facts.get("model_columns") or []):
                drop.add(id(d))
                owner[(d.schema, d.table)].children.append(d)
    return [d for d in diffs if id(d) not in drop]


def _signature(d: Diff) -> Tuple[Any, ...]:
    f = d.facts
    return (f.get("unique"), tuple(f.get("references") or ()), f.get("ondelete"),
            f.get("onupdate"))


def _rename_object_sql(label: str, old: Diff, new: Diff, env: PassEnv) -> str:
    r = env.renderer
    old_name, new_name = old.name or "", new.name or ""  # the caller saw both names
    if env.dialect_name == "postgresql":
        if label == "index":
            target = f"{r.quote(old.schema)}.{r.quote(old_name)}" if old.schema else \
                r.quote(old_name)
            return f"ALTER INDEX {target} RENAME TO {r.quote(new_name)}"
        return (f"ALTER TABLE {r.table(old.schema, old.table)} RENAME CONSTRAINT "
                f"{r.quote(old_name)} TO {r.quote(new_name)}")
    statements = [s for s in (r.sql(old.op), r.sql(new.op)) if s]
    return ";\n".join(statements) or f"-- rename {old_name} to {new_name}"


def db_only_defaults(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """A server default only the database has is not undone: inserts through the models
    already get it, and DROP DEFAULT would break whoever relies on it (other writers, raw
    SQL). It becomes DRIFT424, whose fix is declaring it in the model."""
    for d in diffs:
        if d.kind != "server_default" or d.facts.get("model_default") is not None \
                or d.facts.get("db_default") is None:
            continue
        d.kind = "db_only_default"
        d.op = None  # the op would DROP DEFAULT
        d.facts = {"db_default": d.facts["db_default"]}
        d.message = (f"Column {d.qualified_table}.{d.column} has server default "
                     f"{d.facts['db_default']} in the database; the models declare none.")
    return diffs


# --- unnamed CHECK constraints and PostgreSQL's names -------------------------------------


def pg_object_name(name1: str, name2: Optional[str], label: str, limit: int = 63) -> str:
    """The name PostgreSQL generates (``makeObjectName`` in src/backend/commands/indexcmds.c,
    the same since 7.x): ``<table>_<column>_<label>``, the longer of the two parts clipped
    first until it fits in NAMEDATALEN - 1 = 63 bytes."""
    n1 = len(name1.encode())
    n2 = len(name2.encode()) if name2 else 0
    avail = limit - len(label.encode()) - 1 - (1 if name2 else 0)  # the underscores
    while n1 + n2 > avail:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    out = clip_bytes(name1, n1)
    if name2:
        out += "_" + clip_bytes(name2, n2)
    return f"{out}_{label}"


def clip_bytes(name: str, limit: int) -> str:
    """``name`` cut to ``limit`` UTF-8 bytes on a character boundary (pg_mbcliplen)."""
    raw = name.encode()
    if len(raw) <= limit:
        return name
    return raw[:limit].decode("utf-8", "ignore")


def _norm_sql(text: str, table: str) -> str:
    """A CHECK expression as comparable text: PostgreSQL's ``((length((name)::text) > 0))``
    and the model's ``length(name) > 0`` both become ``length name >0``-like tokens."""
    t = text.lower().replace('"', "")
    t = re.sub(r"::\s*[a-z_][a-z0-9_ ]*(\(\d+\))?(\[\])?", "", t)  # casts
    t = t.replace(f"{table.lower()}.", "")
    return re.sub(r"[\s()]+", "", t)


def _unnamed_checks(table: Any) -> List[Any]:
    from sqlalchemy import CheckConstraint

    out: List[Any] = []
    # a CheckConstraint given to Column(...) stays in column.constraints (rendered inline)
    found = list(getattr(table, "constraints", ()))
    for col in table.columns:
        found.extend(getattr(col, "constraints", ()))
    for c in found:
        if isinstance(c, CheckConstraint) and not compat.constraint_has_name(c) \
                and not any(c is o for o in out):
            out.append(c)
    return out


def match_unnamed_checks(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """Alembic's check plugin compares named CHECKs only: a model's unnamed CHECK (Optuna's
    ``CheckConstraint("score >= 0")``) is named by PostgreSQL when created
    (``<table>_<column>_check``), and comes back as "extra in the database" — whose fix would
    drop it. Pair each such database CHECK with an unnamed one of the model, first by its
    expression, then by the name PostgreSQL would have given it; a pair is the same object."""
    if env.dialect_name != "postgresql":
        return diffs
    drop: Set[int] = set()
    by_table: Dict[Tuple[Optional[str], str], List[Diff]] = {}
    for d in diffs:
        if d.kind == "extra_check":
            by_table.setdefault((d.schema, d.table), []).append(d)
    for key, extra in by_table.items():
        table = env.model_tables.get(key)
        if table is None:
            continue
        unnamed = _unnamed_checks(table)
        if not unnamed:
            continue
        texts: List[Optional[str]] = []
        for c in unnamed:
            try:
                texts.append(_norm_sql(str(c.sqltext), key[1]))
            except Exception:
                texts.append(None)
        left = list(range(len(unnamed)))
        for d in extra:  # by expression
            sql = _norm_sql(str(d.facts.get("sqltext") or ""), key[1])
            hit = next((i for i in left if texts[i] == sql), None)
            if hit is not None:
                left.remove(hit)
                drop.add(id(d))
        names = {pg_object_name(key[1], c.name, "check") for c in table.columns} | \
            {pg_object_name(key[1], None, "check")}
        for d in extra:  # by the name PostgreSQL generates (it rewrites IN (...) as ANY)
            if id(d) in drop or not left or not d.name:
                continue
            base = re.sub(r"\d+$", "", d.name)
            if base in names:
                left.pop(0)
                drop.add(id(d))
    return [d for d in diffs if id(d) not in drop]


def apply_severity(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """Raise a difference above its code's default when its facts make it break the app."""
    for d in diffs:
        if d.kind == "extra_column" and not d.facts.get("nullable") \
                and d.facts.get("server_default") is None and not d.facts.get("primary_key"):
            d.severity = "error"
            d.facts["blocks_inserts"] = True
            d.message += (" It is NOT NULL without a default, so every INSERT from the "
                          "models fails.")
        elif d.kind == "enum_values" and d.facts.get("missing_values"):
            d.severity = "error"
    return diffs


def render_fixes(diffs: List[Diff], env: PassEnv) -> List[Diff]:
    """SQL for the dialect, and the Alembic op, that make the database match the models."""
    r = env.renderer
    new_defaults = {(d.schema, d.table, d.column) for d in diffs if d.kind == "server_default"}
    for d in diffs:
        batch = env.dialect_name == "sqlite" and d.kind in SQLITE_BATCH_ONLY
        if d.kind == "type" and env.dialect_name == "postgresql" and d.op is not None \
                and d.fix_sql is None:
            # a kind change needs USING and the default out of the way (pg_cast)
            restore = (d.schema, d.table, d.column) not in new_defaults
            d.fix_sql = pg_cast.fix_sql(d.op, r, restore)
            python = r.python(d.op) if d.fix_sql and d.alembic_op is None else None
            if python is not None:
                d.alembic_op = pg_cast.postgresql_cast(python, d.op, r, restore)
        if d.op is not None and d.alembic_op is None:
            d.alembic_op = r.python(d.op, batch=batch)
        if d.fix_sql is None and d.op is not None and not batch:
            sql = r.sql(d.op)
            children = [r.sql(c.op) for c in d.children
                        if c.op is not None and d.kind == "missing_table"]
            d.fix_sql = ";\n".join(s for s in [sql, *children] if s) or None
    return diffs


PIPELINE: List[Pass] = [fold_table_children, drop_sqlite_pk_nullability, db_only_defaults,
                        match_unnamed_checks, infer_renames,
                        absorb_rename_noise, apply_severity, render_fixes]


def run_pipeline(diffs: List[Diff], env: PassEnv,
                 passes: Optional[List[Pass]] = None) -> List[Diff]:
    for p in passes or PIPELINE:
        diffs = p(diffs, env)
    return diffs


def to_findings(diffs: List[Diff]) -> List[Dict[str, Any]]:
    out = []
    for d in diffs:
        facts = dict(d.facts)
        facts["kind"] = d.kind
        if d.schema:
            facts["schema"] = d.schema
        if d.name:
            facts["name"] = d.name
        if d.alembic_op:
            facts["alembic_op"] = d.alembic_op
        if d.children and d.kind in _TABLE_LEVEL:
            facts["includes"] = [c.message for c in d.children]
        fields: Dict[str, Any] = {"table": d.qualified_table, "fix_sql": d.fix_sql,
                                  "facts": facts}
        if d.column:
            fields["column"] = d.column
        if d.severity:
            fields["severity"] = d.severity
        out.append(finding(d.code, d.message, **fields))
    return out

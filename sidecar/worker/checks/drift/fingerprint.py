"""Cheap re-checks: a fingerprint of the live catalog and a hash of the models.

The worker is a fresh process per cycle, so the daemon keeps the previous result (the
check's ``cache`` event) and hands it back as ``ctx.previous_cache``; when both hashes
match, the previous findings stand and Alembic's reflection (seconds on a large schema) is
skipped.

- PostgreSQL: ONE statement hashes, server side, the catalog rows autogenerate reads
  (relations, columns with types/nullability/defaults/comments, indexes, constraints,
  enums) for the compared schemas; only a few md5 strings cross the wire.
- SQLite: ``sqlite_master`` (its stored CREATE statements carry every column, default and
  constraint; ALTER TABLE rewrites them).
- MySQL / MariaDB: the information_schema rows of tables, columns, indexes, keys and
  checks, hashed on our side.
- Other dialects: no fingerprint, so every cycle compares in full.
"""

from __future__ import annotations

import hashlib
from typing import Any, Dict, Iterable, List, Optional

from ... import compat

# Bumped when the drift logic changes, so an old cached result is not reused.
DRIFT_LOGIC_VERSION = "3"

_PG_FINGERPRINT = """
WITH ns AS (
    SELECT oid, nspname FROM pg_catalog.pg_namespace WHERE nspname = ANY(:schemas)
), rel AS (
    SELECT c.oid, ns.nspname, c.relname, c.relkind
    FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
)
SELECT
  (SELECT md5(coalesce(string_agg(r.nspname || '.' || r.relname || ':' || r.relkind::text || ':'
          || coalesce(d.description, ''), E'\\n' ORDER BY r.nspname, r.relname), ''))
   FROM rel r LEFT JOIN pg_catalog.pg_description d
     ON d.objoid = r.oid AND d.objsubid = 0 AND d.classoid = 'pg_catalog.pg_class'::regclass),
  (SELECT md5(coalesce(string_agg(r.nspname || '.' || r.relname || '.' || a.attname || ':'
          || a.attnum || ':' || pg_catalog.format_type(a.atttypid, a.atttypmod) || ':'
          || a.attnotnull::text || ':' || coalesce(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '')
          || ':' || a.attidentity::text || ':' || a.attgenerated::text || ':'
          || coalesce(d.description, ''), E'\\n' ORDER BY r.nspname, r.relname, a.attnum), ''))
   FROM rel r
   JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0
        AND NOT a.attisdropped
   LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
   LEFT JOIN pg_catalog.pg_description d ON d.objoid = a.attrelid AND d.objsubid = a.attnum
        AND d.classoid = 'pg_catalog.pg_class'::regclass),
  (SELECT md5(coalesce(string_agg(r.nspname || '.' || r.relname || ':'
          || pg_catalog.pg_get_indexdef(i.indexrelid), E'\\n'
          ORDER BY r.nspname, r.relname, i.indexrelid::regclass::text), ''))
   FROM pg_catalog.pg_index i JOIN rel r ON r.oid = i.indrelid),
  (SELECT md5(coalesce(string_agg(r.nspname || '.' || r.relname || ':' || c.conname || ':'
          || pg_catalog.pg_get_constraintdef(c.oid), E'\\n'
          ORDER BY r.nspname, r.relname, c.conname), ''))
   FROM pg_catalog.pg_constraint c JOIN rel r ON r.oid = c.conrelid),
  (SELECT md5(coalesce(string_agg(n.nspname || '.' || t.typname || ':' || e.enumlabel, E'\\n'
          ORDER BY n.nspname, t.typname, e.enumsortorder), ''))
   FROM pg_catalog.pg_enum e JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid
   JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace)
"""
_PG_PARTS = ("relations", "columns", "indexes", "constraints", "enums")

# The catalog's version, cheaper still (about a third of the content hash at 1,000 tables):
# which catalog rows exist and the transaction that wrote each (xmin). DDL writes new row
# versions, so any change gives new xmins; VACUUM and ANALYZE update pg_class's statistics
# in place (heap_inplace_update, PostgreSQL 9.4+), which keeps xmin, and inserting rows
# touches no catalog row. A version seen before means the content hash is the one seen
# then; a new version only means the content hash is computed again.
_PG_VERSION = """
WITH ns AS (
    SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = ANY(:schemas)
), rel AS (
    SELECT c.oid, c.xmin FROM pg_catalog.pg_class c JOIN ns ON c.relnamespace = ns.oid
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'i')
)
SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
    SELECT 'c' || r.oid || ':' || r.xmin AS x FROM rel r
    UNION ALL SELECT 'a' || a.attrelid || '.' || a.attnum || ':' || a.xmin
        FROM pg_catalog.pg_attribute a JOIN rel r ON r.oid = a.attrelid WHERE a.attnum > 0
    UNION ALL SELECT 'd' || d.oid || ':' || d.xmin
        FROM pg_catalog.pg_attrdef d JOIN rel r ON r.oid = d.adrelid
    UNION ALL SELECT 'i' || i.indexrelid || ':' || i.xmin
        FROM pg_catalog.pg_index i JOIN rel r ON r.oid = i.indrelid
    UNION ALL SELECT 'k' || k.oid || ':' || k.xmin
        FROM pg_catalog.pg_constraint k JOIN rel r ON r.oid = k.conrelid
    UNION ALL SELECT 'e' || e.oid || ':' || e.xmin FROM pg_catalog.pg_enum e
    UNION ALL SELECT 'n' || d.objoid || '.' || d.objsubid || ':' || d.xmin
        FROM pg_catalog.pg_description d JOIN rel r ON r.oid = d.objoid
) parts
"""


def catalog_version(conn: Any, schemas: Iterable[Optional[str]]) -> Optional[str]:
    """The PostgreSQL catalog's version for the compared schemas (see ``_PG_VERSION``), or
    None on other dialects (their fingerprint is cheap already)."""
    if conn.dialect.name != "postgresql":
        return None
    from sqlalchemy import text

    default = compat.exec_driver_sql(conn, "SELECT current_schema()").scalar()
    names = sorted({s or default for s in schemas})
    return "pg-xmin:%s" % conn.execute(text(_PG_VERSION), {"schemas": names}).scalar()


def catalog_fingerprint(conn: Any, schemas: Iterable[Optional[str]]) -> Optional[Dict[str, Any]]:
    """{"fingerprint": hex, "parts": {...}} for the live schema, or None if unsupported."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy import text

        default = compat.exec_driver_sql(conn, "SELECT current_schema()").scalar()
        names = sorted({s or default for s in schemas})
        row = conn.execute(text(_PG_FINGERPRINT), {"schemas": names}).fetchone()
        parts = dict(zip(_PG_PARTS, row))
    elif name == "sqlite":
        rows = compat.exec_driver_sql(
            conn, "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name").fetchall()
        parts = {"sqlite_master": _md5("\n".join(repr(tuple(r)) for r in rows))}
    elif name in ("mysql", "mariadb"):
        parts = _mysql_parts(conn, schemas)
    else:
        return None
    whole = _md5(repr(sorted(parts.items())))
    return {"fingerprint": f"{name}:{whole}", "parts": parts}


# information_schema rows autogenerate reads, per part; hashed here, not on the server
# (GROUP_CONCAT stops at group_concat_max_len: 1 KiB by default on MySQL). CHECK_CONSTRAINTS
# exists from MariaDB 10.2 / MySQL 8.0.16 on; where it is missing that part is skipped.
_MYSQL_PARTS = {
    "tables": "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, TABLE_COMMENT "
              "FROM information_schema.TABLES WHERE TABLE_SCHEMA IN :schemas "
              "ORDER BY TABLE_SCHEMA, TABLE_NAME",
    "columns": "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, "
               "IS_NULLABLE, COLUMN_DEFAULT, EXTRA, COLUMN_COMMENT, COLLATION_NAME "
               "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN :schemas "
               "ORDER BY TABLE_SCHEMA, TABLE_NAME, ORDINAL_POSITION",
    "indexes": "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, "
               "NON_UNIQUE, SUB_PART FROM information_schema.STATISTICS "
               "WHERE TABLE_SCHEMA IN :schemas "
               "ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
    "keys": "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION, "
            "k.COLUMN_NAME, k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, "
            "k.REFERENCED_COLUMN_NAME, r.UPDATE_RULE, r.DELETE_RULE "
            "FROM information_schema.KEY_COLUMN_USAGE k "
            "LEFT JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
            "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA "
            "AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME "
            "WHERE k.TABLE_SCHEMA IN :schemas "
            "ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
    # no TABLE_NAME: MySQL 8's CHECK_CONSTRAINTS lacks it (MariaDB's has it)
    "checks": "SELECT CONSTRAINT_SCHEMA, CONSTRAINT_NAME, CHECK_CLAUSE "
              "FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN :schemas "
              "ORDER BY CONSTRAINT_SCHEMA, CONSTRAINT_NAME, CHECK_CLAUSE",
}


def _mysql_parts(conn: Any, schemas: Iterable[Optional[str]]) -> Dict[str, str]:
    from sqlalchemy import bindparam, text

    default = compat.exec_driver_sql(conn, "SELECT DATABASE()").scalar()
    names = sorted({s or default for s in schemas if s or default})
    parts: Dict[str, str] = {}
    for part, sql in _MYSQL_PARTS.items():
        statement = text(sql).bindparams(bindparam("schemas", expanding=True))
        try:
            rows = conn.execute(statement, {"schemas": names}).fetchall()
        except Exception:
            if part != "checks":
                raise
            parts[part] = "unavailable"  # older servers: no CHECK constraints to change
            continue
        parts[part] = _md5("\n".join(repr(tuple(r)) for r in rows))
    return parts


def models_hash(metadatas: Iterable[Any], settings: Dict[str, Any]) -> str:
    """A stable hash of everything in the MetaData that the comparison reads, plus the
    settings that change its outcome (filters, schemas, versions, dialect)."""
    h = hashlib.sha256()
    h.update(repr(sorted(settings.items())).encode())
    h.update(DRIFT_LOGIC_VERSION.encode())
    for md in metadatas:
        for key in sorted(md.tables):
            h.update(table_repr(md.tables[key]).encode("utf-8", "replace"))
    return h.hexdigest()


def table_repr(table: Any) -> str:
    """Everything the comparison reads of one model table, as text (also how two MetaData's
    definitions of one table are told apart). An object whose str()/repr() raises (a
    FunctionElement with only a dialect-specific @compiles, a TypeDecorator with a broken
    __repr__) is named by its class instead: the hash must never fail the check."""
    parts: List[str] = [f"T {table.schema}.{table.name} {table.comment!r}"]
    for c in table.columns:
        default = c.server_default
        default_text = getattr(getattr(default, "arg", None), "text",
                               getattr(default, "arg", None))
        parts.append(f"C {c.name} {_type_repr(c.type)} {c.nullable} {c.primary_key} "
                     f"{_text(default_text)} {c.comment!r} {c.autoincrement!r} "
                     f"{_text(getattr(c, 'computed', None), repr)} "
                     f"{_text(getattr(c, 'identity', None), repr)}")
    # Indexes and constraints are sets, iterated in an order that changes from process to
    # process (unnamed ones tie on any key): sort the rendered lines, not the objects.
    rendered: List[str] = []
    for i in table.indexes:
        exprs = [_text(e) for e in getattr(i, "expressions", [])]
        rendered.append(f"I {i.name} {i.unique} {exprs} "
                        f"{_text(sorted(i.dialect_kwargs.items()), repr)}")
    for k in table.constraints:
        extra = ""
        if hasattr(k, "elements"):
            extra = repr([(e.parent.name, e.target_fullname) for e in k.elements]) + \
                f" {getattr(k, 'ondelete', None)} {getattr(k, 'onupdate', None)}"
        elif hasattr(k, "sqltext"):
            extra = _text(k.sqltext)
        else:
            extra = repr([c.name for c in k.columns])
        rendered.append(f"K {type(k).__name__} {k.name} {extra}")
    return "\n".join(parts + sorted(rendered)) + "\n"


def _type_repr(type_: Any) -> str:
    return _text(type_, repr)


def _text(value: Any, how: Any = str) -> str:
    try:
        return str(how(value))
    except Exception:
        kind = type(value)
        return f"<{kind.__module__}.{kind.__qualname__}>"


def _md5(text: str) -> str:
    # sha256 (not md5): md5 is unavailable on FIPS-mode interpreters
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]

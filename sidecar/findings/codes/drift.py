"""DRIFT4xx: the schema_drift check, the live schema against the models (Alembic's
comparison plus the kinds it does not compare), and its verdict with the migration state."""

from __future__ import annotations

from typing import Any

from sidecar.findings.catalog import Entry, Facts, Family


def _and_op(f: Facts, lead: str = "Or, as an Alembic migration") -> str:
    op = f.get("alembic_op")
    if not op:
        return ""
    if len(op) > 160:  # a whole create_table: too long for a hint line; facts carry it
        return f" {lead}: `{_one_line(op)[:60]}...` (complete in facts.alembic_op)."
    return f" {lead}: `{_one_line(op)}`."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fix(f: Facts, what: str) -> str:
    """'<what>: run the fix_sql (shown) ... or the Alembic op' for drift findings."""
    sql = f.get("fix_sql")
    text = f"{what} " if what else ""
    if sql:
        text += "The SQL in fix_sql makes the database match the models; apply it through a " \
            "migration rather than by hand, so every environment gets it."
    else:
        text += "This database cannot do it with one ALTER statement; use Alembic's batch mode."
    return text + _and_op(f, "Alembic op")


def _call(call: Any, name: str | None, extra: str = "") -> str | None:
    """The model's ``Column(...)``/``mapped_column(...)`` call (the worker's AST facts) with
    the column named ``name`` (None: named after the attribute) and ``extra`` appended."""
    if not isinstance(call, dict):
        return None
    callee = str(call.get("callee") or "")
    if callee.rsplit(".", 1)[-1] not in ("Column", "mapped_column"):
        return None
    parts = [f'"{name}"'] if name else []
    if call.get("args"):
        parts.append(str(call["args"]))
    if extra:
        parts.append(extra)
    return f"{callee}({', '.join(parts)})"


def _assign(attribute: str, call: Any, value: str) -> str:
    annotation = call.get("annotation") if isinstance(call, dict) else None
    return f"{attribute}: {annotation} = {value}" if annotation else f"{attribute} = {value}"


def _table_args(table: str) -> str:
    """``'orders'`` / ``'orders', schema='audit'`` for an op.* call."""
    schema, _, name = table.rpartition(".")
    return f"'{name}', schema='{schema}'" if schema else f"'{name}'"


def _rename_hint(f: Facts) -> str:
    old, new = f.get("old_column") or "?", f.get("new_column") or "?"
    kind = f.get("type") or "..."
    pytype = f.get("model_type_py") or f.get("type") or "..."
    table = f["table"]
    cls, attr = f.get("class"), f.get("attribute")
    call = f.get("column_call")
    changed = (f" Note the type also differs (database {f.get('db_type')}, models {kind})."
               if f.get("type_changed") else "")
    op = f.get("alembic_op")
    if f.get("mysql_change") and op:  # Alembic's MySQL rename restates the whole column
        imports = (" (with `from sqlalchemy.dialects import mysql`)" if "mysql." in op
                   else "")
        migrate = (f"apply the rename with a migration — `{_one_line(op)}`{imports}: Alembic "
                   "renames with CHANGE COLUMN on MySQL/MariaDB, which restates the column, so "
                   "keep the existing_* arguments (without existing_type it refuses; what is "
                   "left out - NOT NULL, the default, AUTO_INCREMENT, the comment - is lost); "
                   "the SQL is in fix_sql")
    else:
        migrate = (f"apply the rename with a migration — `op.alter_column({_table_args(table)}, "
                   f"'{old}', new_column_name='{new}')`, whose SQL (`RENAME COLUMN {old} TO "
                   f"{new}`) is in fix_sql")
    if cls and attr:
        # the attribute is the Python name; `new` is the column it maps, `old` the database's
        name = None if attr == old else old
        value = _call(call, name) or (f'Column("{old}", {pytype}, ...)' if name else
                                      f"Column({pytype}, ...)")
        where = f" at {f['location']}" if f.get("file") else ""
        return (
            f"`{cls}.{attr}` maps the column `{new}`, which the database lacks; the database "
            f"has `{old}` instead — most likely the same column, renamed in the model without "
            f"a migration. Either {migrate}, or keep the database as it is, with no "
            f"migration, by mapping the attribute to the database's column{where}: "
            f"`{_assign(attr, call, value)}` (the attribute keeps its name, so no code "
            f"changes). Deploy the code and the rename together: in between, every query "
            f"naming the other column fails.{changed}")
    return (
        f"The models' column `{new}` of `{table}` is most likely the database's `{old}` "
        f"renamed without a migration. Either {migrate}, or keep the database as it is, with "
        f"no migration, by naming the column after the database in the model: "
        f"`Column(\"{old}\", {pytype}, ...)` instead of `Column(\"{new}\", ...)` (in a "
        f"declarative class, `{new} = Column(\"{old}\", {pytype}, ...)` keeps the attribute "
        f"`{new}`). Deploy the code and the rename together: in between, every query naming "
        f"the other column fails.{changed}")


def _enum_hint(f: Facts) -> str:
    if f.get("missing_type"):
        return ("Create the type before the code that uses it is deployed (fix_sql), or let "
                "a migration create it (op.create_table / sa.Enum(..., create_type=True)).")
    parts = []
    if f.get("missing_values"):
        parts.append("Inserting a value the database lacks fails with 'invalid input value "
                     "for enum'; add the values (fix_sql). On PostgreSQL < 12, ALTER TYPE ... "
                     "ADD VALUE cannot run inside a transaction block: in Alembic use "
                     "`with op.get_context().autocommit_block():`.")
    if f.get("extra_values"):
        parts.append("PostgreSQL cannot drop an enum label: fix_sql recreates the type and "
                     "converts the columns; first make sure no row still uses the dropped "
                     "values, or add them back to the model's Enum.")
    return " ".join(parts) or ("Make the database enum's values match the model's Enum "
                               "(fix_sql), or change the model to the database's values.")


def _unreflectable_hint(f: Facts) -> str:
    partly = ("Its columns were compared; its indexes and constraints were not. "
              if f.get("columns_compared") else "")
    if f.get("identifier"):
        return (f"The models name `{f['identifier']}`, longer than the database's "
                f"{f.get('limit')}-byte limit: SQLAlchemy refuses to emit it, so "
                "`create_all()` and Alembic migrations fail on this table too. A database "
                f"that has it was given the name by hand and cut it to "
                f"`{f.get('cut_name')}`: use that name (or a shorter one) in the model's "
                f"Index/constraint. {partly}Every other table was compared.")
    if partly:
        return (f"Comparing {f['table']}'s indexes and constraints raised ({f['detail']}). "
                f"{partly}Every other table was compared; check them by hand.")
    return (f"The sidecar could not read {f['table']}'s definition "
            f"({f['detail']}); every other table was compared. Grant the "
            "sidecar's role access to it, or exclude it with --exclude-table "
            "(SIDECAR_EXCLUDE_TABLES).")


def _bind_without_url_hint(f: Facts) -> str:
    bind, tables = f["bind"], list(f.get("tables") or [])
    shown = ", ".join(f"`{t}`" for t in tables[:5]) + (
        f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    return (f"The models map {shown} to the '{bind}' database (Flask-SQLAlchemy's "
            "`__bind_key__`), and the sidecar was given no URL for it, so they were compared "
            f"nowhere. Give it: `--database-url {bind}=<URL>` (repeatable) or "
            f"`SIDECAR_DATABASE_URLS=\"{bind}=<URL>\"`.")


def _not_compared_hint(f: Facts) -> str:
    if "requires a length" in str(f.get("reason")):  # String() on MySQL/MariaDB
        length = f.get("length")
        known = (f"the database's column is {f.get('db_type')}: write `String({length})`"
                 if length else "write `String(<length>)` (255 is common for names, e-mails)")
        return (f"`{f['obj']}` ({f['location']}) is a `String()` without a length, and "
                "MySQL/MariaDB cannot create a VARCHAR without one: `create_all()` and an "
                f"Alembic autogenerate for this column fail on this database. Give it one — "
                f"{known} — or use `Text` for unbounded text.")
    what = f.get("object")
    name = f.get("object_name") or "the construct"
    dialect = f.get("dialect") or "this database's dialect"
    cls = name.rstrip("()")
    if what in ("server_default", "type"):
        label = "server default" if what == "server_default" else "type"
        return (f"Nothing to change in the database for this finding: the column's {label} "
                f"`{name}` cannot be rendered as SQL for {dialect}, so the sidecar compared "
                f"every other column and table and left this one out. Check it by hand. If "
                f"the app creates tables on this database, `metadata.create_all()` fails on "
                f"it too: give `{cls}` a compiler for it (`@compiles({cls}, \"{dialect}\")` "
                "from `sqlalchemy.ext.compiler`).")
    return ("Nothing to change in the database for this finding: comparing this column "
            f"raised ({f['reason']}), so the sidecar compared every other column and table "
            "and left this one out. Check it by hand.")


def _conflict_hint(f: Facts) -> str:
    matches = f.get("db_matches")
    keep = (f"The database matches {matches}: make the other definition(s) the same "
            f"(ideally define the table once and import it from there)." if matches else
            "The database matches none of them: decide which definition is right, make the "
            "others the same (ideally define the table once and import it), then migrate "
            "the database to it.")
    return (f"One table, several definitions ({f['metadatas']}): code using one MetaData "
            f"reads or writes columns the other does not have. {keep} The other "
            "definitions' differences from the database are in facts.other_differences.")


def _nothing_compared_hint(f: Facts) -> str:
    reasons = f.get("reasons") or ""
    parts = ["The check could not do its job, so it does not pass."]
    if "excluded" in reasons:
        parts.append("Check --include-table/--exclude-table (SIDECAR_INCLUDE_TABLES/"
                     "SIDECAR_EXCLUDE_TABLES): they leave none of the models' tables.")
    if "reflected" in reasons:
        parts.append("Grant the sidecar's role read access to the tables (facts.not_compared "
                     "lists them).")
    if "views" in reasons:
        parts.append("The database has the models' tables as views: point --database-url "
                     "at the database (and schema) the app writes to.")
    if len(parts) == 1:
        parts.append("Point --database-url at the app's database, and check that --models "
                     "imports the modules that define the tables.")
    return " ".join(parts)


def _py_default(db_default: str) -> str:
    """The model's ``server_default=`` for a default as PostgreSQL/SQLite reflect it."""
    import re

    text = db_default.strip()
    plain = re.fullmatch(r"'((?:[^']|'')*)'(?:::[\w\s\".\[\]]+)?", text)
    if plain:  # 'active'::character varying -> server_default="active"
        return f"server_default={plain.group(1).replace(chr(39) * 2, chr(39))!r}"
    return f"server_default=text({text!r})"


def _db_only_default_hint(f: Facts) -> str:
    default = f.get("db_default") or "?"
    arg = _py_default(default)
    imports = " (`from sqlalchemy import text`)" if "text(" in arg else ""
    cls, attr, column = f.get("class"), f.get("attribute"), f.get("column")
    call = f.get("column_call")
    if cls and attr:
        value = _call(call, None if attr == column or (isinstance(call, dict) and not
                                                        call.get("named")) else column, arg)
        where = f" at {f['location']}" if f.get("file") else ""
        what = (f"`{_assign(attr, call, value)}`" if value else
                f"`{arg}` to the Column/mapped_column call of `{cls}.{attr}`")
        edit = f"Keep the database's default and declare it in the model{where}: {what}"
    else:
        edit = (f"Keep the database's default and declare it in the model: add `{arg}` to "
                f"the `Column(\"{column}\", ...)` of table `{f['table']}`")
    return (f"{edit}{imports}. Inserts through the models already get it from the database; "
            "declaring it keeps the next `alembic revision --autogenerate` from dropping it. "
            "Nothing to run on the database.")


OP = ("alembic_op",)  # rendered by Alembic when it has an op for the difference

ENTRIES = (
    Entry(
        "DRIFT401", "Table missing in the database", "error", "schema_drift",
        lambda f: _fix(f, f"The models map '{f['table']}', which the database "
                       "lacks: every query on it fails."),
        optional=OP,
        explanation="""\
**What:** a model's table does not exist. `fix_sql` has the `CREATE TABLE` (and its
indexes); `facts.alembic_op` the `op.create_table(...)`.
**Why:** a model added without a migration, or a migration not applied (see the verdict).
**Fix:** create it through a migration.

```python
class Order(Base):
    __tablename__ = "orders"   # -> CREATE TABLE orders (...)
```
""",
    ),
    Entry(
        "DRIFT402", "Extra table in the database", "warning", "schema_drift",
        lambda f: (f"No model maps '{f['table']}'. If the app still needs it, add a "
                   "model; if it is another app's table, exclude it (--exclude-table); if "
                   "it is obsolete, drop it in a migration (fix_sql)."
                   + _and_op(f, "Alembic op")),
        optional=OP,
        explanation="""\
**What:** the database has a table no model maps (views are ignored on both sides; its
indexes are listed in `facts.includes`).
**Why:** another app's table, an obsolete table, or a model not imported by `--models`.
**Fix:** add a model, exclude it (`--exclude-table 'celery_*'`), or drop it.

```
SIDECAR_EXCLUDE_TABLES=celery_*,tmp_*
```
""",
    ),
    Entry(
        "DRIFT403", "Column missing in the database", "error", "schema_drift",
        lambda f: _fix(f, f"`{f['table']}.{f['column']}` is in the models "
                       "but not the database: every query on that table that selects it "
                       "fails (UndefinedColumn)."),
        optional=OP,
        explanation="""\
**What:** a model column does not exist in its table; every SELECT of the model fails.
**Fix:** add it in a migration (`fix_sql`: `ALTER TABLE users ADD COLUMN ...`).

```sql
ALTER TABLE users ADD COLUMN email VARCHAR(200) DEFAULT '' NOT NULL
```
""",
    ),
    Entry(
        "DRIFT404", "Extra column in the database", "warning", "schema_drift",
        lambda f: (("It is NOT NULL without a default: add it to the model (with its "
                    "server_default) or give it a default / drop NOT NULL, or inserts "
                    "fail. " if f.get("blocks_inserts") else "")
                   + "If the app no longer uses it, drop it in a migration (fix_sql); if a "
                   "model attribute should map it, add the Column."
                   + _and_op(f, "Alembic op")),
        optional=("blocks_inserts", *OP),
        explanation="""\
**What:** the table has a column no model maps. Warning by default; **error** (`severity`
on the finding, `facts.blocks_inserts`) when it is NOT NULL without a server default,
because every INSERT from the models then fails.
**Fix:** map it, give it a default, or drop it in a migration.

```sql
ALTER TABLE users DROP COLUMN legacy
```
""",
    ),
    Entry(
        "DRIFT405", "Column type differs", "warning", "schema_drift",
        lambda f: _fix(f, f"Database {f['db_type']}, models {f['model_type']}. A narrower "
                       "database type truncates or rejects values; a cast may need USING."),
        facts=("db_type", "model_type"), optional=OP,
        explanation="""\
**What:** the reflected type differs from the model's (Alembic `compare_type=True`).
**Fix:** alter the type in a migration (`fix_sql`); SQLite cannot, so only the Alembic batch
op is given (`facts.alembic_op`).

```sql
ALTER TABLE users ALTER COLUMN name TYPE VARCHAR(50)
```
""",
    ),
    Entry(
        "DRIFT406", "Column nullability differs", "warning", "schema_drift",
        lambda f: _fix(f, "NOT NULL only in the database makes inserts without the "
                       "column fail; NOT NULL only in the models lets NULLs in that the "
                       "code does not expect."),
        optional=OP,
        explanation="""\
**What:** NULL allowed on one side only.
**Fix:** `SET NOT NULL` / `DROP NOT NULL` in a migration. (SQLite's `INTEGER PRIMARY KEY`,
reflected as nullable, is not reported.)

```sql
ALTER TABLE users ALTER COLUMN name SET NOT NULL
```
""",
    ),
    Entry(
        "DRIFT407", "Server default differs", "warning", "schema_drift",
        # the worker sends None for the side that has no default
        lambda f: _fix(f, f"Database default {f.get('db_default', 'none')}, models "
                       f"{f.get('model_default', 'none')}."),
        facts=("db_default", "model_default"), optional=OP,
        explanation="""\
**What:** the column's server default differs (`facts.db_default`, `facts.model_default`).
**Fix:** `ALTER COLUMN ... SET DEFAULT` in a migration.

```sql
ALTER TABLE users ALTER COLUMN score SET DEFAULT '5'
```
""",
    ),
    Entry(
        "DRIFT408", "Index missing in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Queries relying on it scan the table. On a large table "
                       "create it CONCURRENTLY (postgresql_concurrently=True)."),
        optional=OP,
        explanation="""\
**What:** an index the models declare is missing.
**Fix:** create it (CONCURRENTLY on large PostgreSQL tables).

```sql
CREATE INDEX ix_users_lower ON users (name, id)
```
""",
    ),
    Entry(
        "DRIFT409", "Extra index in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Add it to the models (Index(...) or index=True) if it is "
                       "wanted, so the next autogenerate does not drop it."),
        optional=OP,
        explanation="""\
**What:** the database has an index the models do not declare; the next autogenerate would
drop it.
**Fix:** declare it (`Index(...)`, `index=True`) or drop it.

```sql
DROP INDEX ix_users_old
```
""",
    ),
    Entry(
        "DRIFT410", "Unique constraint missing in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Duplicates the models forbid can be inserted; check for "
                       "existing duplicates before adding it."),
        optional=OP,
        explanation="""\
**What:** a `UniqueConstraint` of the models is missing.
**Fix:** check for duplicates, then add it.

```sql
ALTER TABLE users ADD CONSTRAINT uq_users_name UNIQUE (name)
```
""",
    ),
    Entry(
        "DRIFT411", "Extra unique constraint in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Inserts the models allow can fail with a unique violation; "
                       "add UniqueConstraint(...) to the model if it is intended."),
        optional=OP,
        explanation="""\
**What:** the database enforces a uniqueness the models do not declare.
**Fix:** declare it or drop it.

```sql
ALTER TABLE users DROP CONSTRAINT uq_users_old
```
""",
    ),
    Entry(
        "DRIFT412", "Foreign key missing in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Referential integrity the models declare is not enforced; "
                       "check for orphan rows before adding it."),
        optional=OP,
        explanation="""\
**What:** a `ForeignKey` of the models is not enforced by the database.
**Fix:** clean orphan rows, then add it.

```sql
ALTER TABLE orders ADD CONSTRAINT fk_user FOREIGN KEY(user_id) REFERENCES users (id)
```
""",
    ),
    Entry(
        "DRIFT413", "Extra foreign key in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Deletes and inserts the models allow can fail on it; add "
                       "the ForeignKey to the model if it is intended."),
        optional=OP,
        explanation="""\
**What:** the database enforces a foreign key the models do not declare.
**Fix:** declare it or drop it.

```sql
ALTER TABLE orders DROP CONSTRAINT fk_team
```
""",
    ),
    Entry(
        "DRIFT414", "Likely unapplied column rename", "error", "schema_drift", _rename_hint,
        facts=("old_column", "new_column", "type", "db_type", "type_changed"),
        optional=("model_type_py", "column_call", "mysql_change", *OP),
        samples={"class": "SecurityEvent", "attribute": "event_metadata",
                 "old_column": "metadata", "new_column": "event_metadata",
                 "model_type_py": "JSON()", "column_call": {
                     "callee": "db.Column", "named": False, "args": "db.JSON, nullable=True",
                     "annotation": None, "mapped": False}},
        explanation="""\
**What:** in one table, a model column the database lacks and a database column the models
lack, of compatible types: Alembic 1.20 reports a drop + add (plus a drop/re-add of any index,
unique constraint or foreign key on it); the sidecar reports one rename. `fix_sql` has the
exact `ALTER TABLE ... RENAME COLUMN` (plus `ALTER INDEX ... RENAME` when the index name
moved with the column).
**Why:** the incident: `SecurityEvent.metadata` (reserved by Declarative) was renamed to
`event_metadata` in the model, and the migration that renames the column was not applied.
**Fix:** apply the rename, or keep the database as it is with no migration by mapping the new
attribute to the old column name.

```python
event_metadata = db.Column("metadata", db.JSON, nullable=True)  # no migration needed
```
```sql
ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata
```
""",
    ),
    Entry(
        "DRIFT415", "Enum values differ", "warning", "schema_drift", _enum_hint,
        facts=("missing_values", "extra_values"), optional=("missing_type",),
        explanation="""\
**What:** a PostgreSQL enum type's labels differ from the model's `Enum(...)` (Alembic does
not compare them), or the type is missing. **Error** (`severity`) when the database lacks a
value the models can write.
**Fix:** `ALTER TYPE ... ADD VALUE`; to drop a label, recreate the type (`fix_sql` does).

```sql
ALTER TYPE ticket_status ADD VALUE IF NOT EXISTS 'on_hold'
```
""",
    ),
    Entry(
        "DRIFT416", "Primary key differs", "warning", "schema_drift",
        lambda f: _fix(f, "Alembic does not compare primary keys; the sidecar does. "
                       "Identity-map lookups and upserts use the models' key."),
        optional=OP,
        explanation="""\
**What:** the primary key columns differ (Alembic does not compare primary keys).
**Fix:** drop and re-add the primary key in a migration.

```sql
ALTER TABLE memberships DROP CONSTRAINT memberships_pkey;
ALTER TABLE memberships ADD CONSTRAINT memberships_pkey PRIMARY KEY (user_id, team_id)
```
""",
    ),
    Entry(
        "DRIFT417", "Check constraint missing in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Rows the models' CHECK forbids can be stored (named "
                       "constraints only are compared)."),
        optional=OP,
        explanation="""\
**What:** a named `CheckConstraint` of the models is missing (Alembic's opt-in
`alembic.ext.checkconstraint_byname` plugin, Alembic >= 1.19.2; changed expressions are not
compared, and an unnamed one the database lacks is not seen).
**Fix:** add it.

```sql
ALTER TABLE users ADD CONSTRAINT ck_users_name CHECK (length(name) > 0)
```
""",
    ),
    Entry(
        "DRIFT418", "Extra check constraint in the database", "warning", "schema_drift",
        lambda f: _fix(f, "Inserts the models allow can fail on it; add "
                       "CheckConstraint(..., name=...) to the model if it is intended."),
        optional=OP,
        explanation="""\
**What:** the database has a named CHECK constraint the models do not declare. A CHECK the
model declares without a name (PostgreSQL names it `<table>_<column>_check` or
`<table>_check`) is matched by its expression or that generated name, never reported here.
**Fix:** declare it or drop it.

```sql
ALTER TABLE users DROP CONSTRAINT ck_old
```
""",
    ),
    Entry(
        "DRIFT419", "Comment differs", "info", "schema_drift",
        lambda f: _fix(f, "Only documentation; harmless."),
        optional=OP,
        explanation="""\
**What:** a table or column comment differs. Informational.
**Fix:** update the comment in a migration, or ignore.

```sql
COMMENT ON COLUMN users.name IS 'display name'
```
""",
    ),
    Entry(
        "DRIFT420", "Table could not be compared", "warning", "schema_drift",
        _unreflectable_hint, facts=("detail",),
        optional=("identifier", "limit", "cut_name", "columns_compared"),
        explanation="""\
**What:** reflecting or comparing one table failed (permissions, an exotic type, a model
index name over the 63-byte limit); the sidecar isolates it (bisecting the table list) and
compares every other table. When only its indexes and constraints fail, its columns are
still compared (`facts.columns_compared`; `observed.coverage.indexes_not_compared`).
**Fix:** grant the sidecar's role access, or exclude the table.

```
SIDECAR_EXCLUDE_TABLES=legacy_partitioned_*
```
""",
    ),
    Entry(
        "DRIFT421", "Column not compared", "warning", "schema_drift", _not_compared_hint,
        facts=("reason",), optional=("object", "object_name", "dialect", "db_type", "length"),
        samples={"object": "server_default", "object_name": "GenerateUUID()",
                 "dialect": "sqlite"},
        explanation="""\
**What:** comparing one column raised: its type or server default cannot be rendered as SQL
for the database's dialect (a `FunctionElement` with only a PostgreSQL `@compiles`, a type
without a compiler for this dialect). The sidecar leaves that column out (on both sides) and
compares every other column and table; `observed.coverage.columns_not_compared` lists it.
**Fix:** nothing in the database; give the construct a compiler for the dialect if the app
uses this database.

```python
@compiles(GenerateUUID, "sqlite")
def _uuid_sqlite(element, compiler, **kw):
    return "(lower(hex(randomblob(16))))"
```
""",
    ),
    Entry(
        "DRIFT422", "Table defined differently in two MetaData", "warning", "schema_drift",
        _conflict_hint,
        facts=("metadatas", "compared", "definitions_differ"),
        optional=("db_matches", "other_differences"),
        explanation="""\
**What:** two of the app's MetaData objects define the same table differently. The sidecar
compares the first definition (the other findings are about it) and each other one on its
own, and says which one the database matches. **Error** (`severity`) when a definition lacks
a table or column the database has or has one it lacks, since queries through it fail.
Identical definitions (Dagster declares `secondary_indexes` in three MetaData) are compared
once and are no finding.
**Fix:** define the table once and import it where it is needed.

```python
# storage/schema.py
SecondaryIndexMigrationTable = db.Table("secondary_indexes", metadata, ...)
```
""",
    ),
    Entry(
        "DRIFT423", "Nothing was compared", "error", "schema_drift", _nothing_compared_hint,
        facts=("tables_in_models",), optional=("reasons", "excluded", "not_compared"),
        samples={"reasons": "3 excluded by --include-table/--exclude-table"},
        explanation="""\
**What:** the models define tables, but not one of them was compared with the database:
they are all excluded by the table filters, views in the database, or could not be
reflected. A comparison of nothing is never "in sync" (verdict `not_compared`).
**Fix:** loosen the filters, grant read access, or point at the right database.

```
SIDECAR_INCLUDE_TABLES=app_*
```
""",
    ),
    Entry(
        "DRIFT424", "Server default only in the database", "warning", "schema_drift",
        _db_only_default_hint, facts=("db_default",), optional=("column_call",),
        samples={"db_default": "'active'::character varying"},
        explanation="""\
**What:** the database gives a column a server default the model does not declare. Inserts
still work (the database fills the column); the next `alembic revision --autogenerate` would
drop the default. Not an error, and the fix is in the model, not the database.
**Fix:** declare the default on the model's column.

```python
status = Column(String(20), nullable=False, server_default="active")
```
""",
    ),
    Entry(
        "DRIFT425", "Tables of another database were not compared", "warning", "schema_drift",
        _bind_without_url_hint,
        facts=("bind", "tables"),
        samples={"bind": "analytics", "tables": ["page_views"]},
        explanation="""\
**What:** some model tables belong to another database (a Flask-SQLAlchemy bind key: 3.x's
`db.metadatas[key]`, 2.x's `table.info["bind_key"]`). They are left out of the default
database's comparison — they are not missing there — and, without that database's URL,
compared nowhere.
**Fix:** give each further database's URL as `NAME=URL`; its database, migrations and drift
checks then report as `database:NAME`, `migrations:NAME`, `schema_drift:NAME`.

```
sidecar serve --models app.models --database-url "$DATABASE_URL" \\
    --database-url analytics="$ANALYTICS_DATABASE_URL"
```
""",
    ),
    Entry(
        "DRIFT426", "A --bind target was not found", "warning", "schema_drift",
        "`--bind {bind}={target}`: {reason}. Name a MetaData (or a declarative base) that a "
        "module given to --models defines or imports, e.g. "
        "`--bind {bind}=app.models.analytics:AnalyticsBase`; until then its tables are "
        "compared with the default database.",
        facts=("bind", "target", "reason"),
        samples={"bind": "analytics", "target": "app.analytics:Base",
                 "reason": "module app.analytics was not imported by --models"},
        explanation="""\
**What:** a `--bind NAME=module:attribute` names a module the `--models` did not import, an
attribute it lacks, or an object that is not a MetaData and has none. sidecar never imports
a module for `--bind` itself (that would run app code outside the import checks).
**Fix:** point it at the MetaData of that database's models, in a module `--models` imports.
""",
    ),
    Entry(
        "DRIFT429", "Other schema difference", "warning", "schema_drift",
        lambda f: _fix(f, "Alembic reported a difference of a kind the sidecar has no "
                       "specific code for."),
        optional=OP,
        explanation="""\
**What:** Alembic reported a difference the sidecar has no specific code for.
**Fix:** read the message and `facts.alembic_op`.

```
op.create_table_comment(...)
```
""",
    ),
    Entry(
        "DRIFT431", "Schema differences explained by pending migrations", "info",
        "schema_drift",
        lambda f: (f"The differences are what the pending migrations ({f['pending']}) "
                   "change: run "
                   + (f"`{f['upgrade_command']}`" if f.get("upgrade_command") else
                      "the app's migrations (`alembic upgrade head` with the app's "
                      "configuration)")
                   + " and they should disappear. Any that remain are real drift."),
        facts=("pending",), optional=("upgrade_command",),
        explanation="""\
**What:** verdict `pending_migration`: the database is behind head (MIG301) and differs from
the models; the differences are expected until the migrations run.
**Fix:** `alembic upgrade head`; what remains afterwards is real drift.

```
alembic upgrade head
```
""",
    ),
    Entry(
        "DRIFT432", "Schema changed outside the migrations", "warning", "schema_drift",
        "The database is at head {heads}, yet differs from the models in {differences} "
        "place(s). Either someone changed the schema by hand (make a migration that "
        "records it, or revert it), or the models changed without a migration (`alembic "
        "revision --autogenerate`, then review it).",
        facts=("heads", "differences"),
        explanation="""\
**What:** verdict `out_of_band`: the database is at head, yet differs from the models.
**Why:** a manual `ALTER` in production, or a model change without a migration.
**Fix:** record the change in a migration (`alembic revision --autogenerate`) or revert it.

```
alembic revision --autogenerate -m "record manual change"
```
""",
    ),
    Entry(
        "DRIFT433", "Schema compared against an unknown revision", "warning", "schema_drift",
        "The database was migrated to {revision} by code this app does not have, so its "
        "{differences} difference(s) may be that code's intended schema. Deploy matching "
        "code before trusting or fixing them.",
        facts=("revision", "differences"),
        explanation="""\
**What:** verdict `unknown_revision`: the database is stamped with a revision the scripts do
not know (MIG302), so its differences may be another release's intended schema.
**Fix:** deploy matching code first.

```
alembic_version: ffff9999
```
""",
    ),
    Entry(
        "DRIFT499", "The schema comparison failed", "error", "schema_drift",
        "Run `alembic check` (or `alembic revision --autogenerate` on a scratch branch) "
        "with the app's configuration to see the full error; exclude the table that "
        "causes it with --exclude-table meanwhile.",
        explanation="""\
**What:** Alembic's comparison raised for the whole schema (a timeout, a lost connection).
**Fix:** `alembic check` with the app's configuration shows the full error; exclude the
offending table meanwhile.

```
alembic check
```
""",
    ),
)

FAMILY = Family(
    "DRIFT4xx", "schema drift",
    "what the `schema_drift` check finds comparing the live schema with the models, and its "
    "verdict joined with the migration state.",
    "", ENTRIES,
)

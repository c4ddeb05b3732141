"""SQLA1xx: what importing the model modules and configuring the mappers reveals."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sidecar.findings.catalog import Entry, Facts, Family

GENERIC = "SQLA199"  # the entry for a code the catalog does not know

# --- hint functions for codes whose fix depends on the source ---------------------------


def _snake_words(name: str) -> list[str]:
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", name)
    return [w.lower() for w in words] or [name.lower()]


def suggested_name(class_name: str | None, attribute: str) -> str:
    """``SecurityEvent.metadata`` -> ``event_metadata`` (the incident's own fix)."""
    words = _snake_words(class_name or "model")
    return f"{words[-1]}_{attribute}"


def _column_call_with_name(call: Mapping[str, Any] | None, attribute: str) -> str | None:
    """Rewrite ``metadata = db.Column(db.JSON, nullable=True)`` to keep the database name.

    ``call`` is the worker's AST facts of the statement's value (its callee, whether it
    already names its column, the other arguments' source). Returns
    ``db.Column("metadata", db.JSON, nullable=True)`` — ``attribute`` is the database
    column's name to keep — or None when the value is not a plain ``Column(...)`` /
    ``mapped_column(...)`` call.
    """
    if not call:
        return None
    callee = str(call.get("callee") or "")
    if callee.rsplit(".", 1)[-1] not in ("Column", "mapped_column"):
        return None
    args = call.get("args")  # without the name, when the call gave one
    return f'{callee}("{attribute}"' + (f", {args})" if args else ")")


def _column_call_unnamed(call: Mapping[str, Any] | None) -> str | None:
    """The same call without a column name: the column is named after the attribute."""
    if not call:
        return None
    callee = str(call.get("callee") or "")
    if callee.rsplit(".", 1)[-1] not in ("Column", "mapped_column"):
        return None
    return f"{callee}({call.get('args') or ''})"


def _reserved_hint(f: Facts) -> str:
    attr = f.get("attribute") or "metadata"
    cls = f.get("class")
    # the database column: the name the call already passes, else the attribute's
    column = f.get("column_name") or attr
    new = suggested_name(cls, attr)
    mixin = f.get("declared_in")
    if mixin and mixin != cls:  # one name for every class that inherits the mixin's column
        words = [w for w in _snake_words(mixin) if w != "mixin"] or ["model"]
        new = "_".join([*words, attr])
    where = f" in {f['location']}" if f.get("file") else ""
    column_call = f.get("column_call") or {}
    # keep `Mapped[...]`: for a bare mapped_column() it is where the column's type comes from
    annotation = f": {column_call['annotation']}" if column_call.get("mapped") else ""
    keep_call = _column_call_with_name(column_call, column)
    renamed_call = _column_call_unnamed(column_call)
    keep_line = f"`{new}{annotation} = {keep_call}`" if keep_call else None
    renamed_line = f"`{new}{annotation} = {renamed_call}`" if renamed_call else (
        f"`{new}` (a column named '{new}')")
    reason = (
        "the MetaData collection" if attr == "metadata" else "the declarative class registry"
    )
    present = f.get("db_has_column")
    if new == column and keep_line:  # `metadata = Column("event_metadata", ...)`
        return (f"Rename the attribute{where}: {keep_line} — the database column is already "
                f"named '{column}', so no migration is needed. Declarative reserves `{attr}` "
                f"on every mapped class for {reason}. Update code that reads "
                f"`{cls or 'Model'}.{attr}` to `.{new}`.")
    if keep_line is None:
        keep = (f"Rename the attribute{where} to `{new}` and keep the database column by "
                f"passing its name, '{column}', as the first argument of its Column() / "
                "mapped_column()")
    else:
        keep = f"Rename the attribute and keep the database column{where}: {keep_line}"
    if present is True:
        fix = (f"{keep} — the table has its '{column}' column (seen by the database check), "
               "so no migration is needed.")
    elif present is False:
        fix = (f"Rename the attribute{where}: {renamed_line}. The database has no '{column}' "
               "column yet (seen by the database check), so name the column after the "
               f"attribute and let the migration that adds it create '{new}'.")
    else:
        fix = (f"{keep} — where the table already has its '{column}' column this needs no "
               f"migration. Where that column does not exist yet (a model change not yet "
               f"migrated), name it after the attribute instead: {renamed_line}, and create "
               f"'{new}' in the migration.")
    if present is True:
        migrate = (
            f" Or rename the column too ({renamed_line}) and ship a migration that runs "
            f"`ALTER TABLE ... RENAME COLUMN {column} TO {new}` before the new code serves — "
            "the schema_drift check then reports any database where it has not run.")
    elif present is None:
        migrate = (f" (That second line also fits an existing column renamed by a migration "
                   f"running `ALTER TABLE ... RENAME COLUMN {column} TO {new}`.)")
    else:
        migrate = ""
    return (
        f"{fix}{migrate} Declarative reserves `{attr}` on every mapped class for {reason}. "
        f"Update code that reads `{cls or 'Model'}.{attr}` to `.{new}`."
    )


def _reserved_accepted_hint(f: Facts) -> str:
    version = str(f.get("sqlalchemy_version") or "")
    if version.startswith(("1.", "2.0")):
        state = (f"SQLAlchemy {version} accepts it silently, so the app works today, but "
                 "SQLAlchemy 2.1 warns that the name is reserved and it shadows "
                 f"`{f.get('class') or 'Model'}.registry`, which declarative and its "
                 "extensions read.")
    else:
        state = (f"SQLAlchemy {version or 'this version'} only warns (\"should be left "
                 "reserved\"), so the app works today; a later release may refuse it.")
    return f"Rename it before upgrading SQLAlchemy — not an error on this version: {state} " \
        + _reserved_hint(f)


def _generic_hint(f: Facts) -> str:
    """The worker sends ``reproduce``: a shell command that imports the same modules with the
    app's interpreter in the app path (and configures the mappers when that is what failed)."""
    stmt = str(f.get("statement") or "")
    # the statement itself, when it is one short line: what raised is then in the first lines
    shown = (f"Fix `{stmt.strip()}` at {f['location']}: it raised the exception below."
             if stmt and "\n" not in stmt and "`" not in stmt and len(stmt) <= 90 else
             f"Read the exception at {f['location']}.")
    if f.get("reproduce"):
        first = f.get("reproduce_after")
        after = (f" It stops at the first failing mapper, {first}: fix that one first to see "
                 "this one." if first else "")
        return (f"{shown} To see the full traceback, run `{f['reproduce']}`.{after}")
    module = str(f.get("target") or "").split(":")[0]  # pkg.models:Base -> pkg.models
    if not module or "(" in module:  # "configure_mappers()": no module to name
        return shown
    return (f"{shown} Run `python -c 'import {module}'` from the app path, with the app's "
            "interpreter, to see the full traceback.")


def _env_variable_hint(f: Facts) -> str:
    name = f["variable"]
    return (
        f"Set `{name}` in the environment sidecar runs in: {f['location']} reads it when the "
        "models import, and it is not set there. Give the sidecar the app's environment "
        "(compose: the app service's `environment:`/`env_file:` on the sidecar service too; "
        "Kubernetes: the same `env:`/`envFrom:` on the sidecar container). If the models "
        f"should import without it, read it with `os.environ.get(\"{name}\")` and fail "
        "where the value is used.")


def _engine_url_hint(f: Facts) -> str:
    reason, name, where = f["reason"], f.get("variable"), f["location"]
    if reason == "empty":
        if not name:
            return (f"{where} passes create_engine() an empty URL at import. Give the URL to the "
                    "environment sidecar runs in the way the app gets it.")
        return (f"Set `{name}` in the environment sidecar runs in: it is empty there, and "
                f"{where} passes it to create_engine() at import. In compose, "
                f"`${{{name}}}` expands to nothing when the variable is unset where "
                "`docker compose` runs (compose warns 'Defaulting to a blank string'): set it "
                f"in `.env` beside the compose file, or use `${{{name}:?set {name}}}` so "
                "compose refuses to start without it; give the sidecar the app's "
                "`environment:`/`env_file:`.")
    if reason == "unexpanded":
        return (f"The URL {where} passes to create_engine() contains `${{{name}}}` (or "
                f"`$({name})`) as text: nothing expanded it. An exec-form `CMD`/`command:` "
                "runs no shell, and Kubernetes expands `$(VAR)` only for a variable defined "
                "earlier in the same `env:` list; put the final URL in the variable the app "
                "reads.")
    if reason == "alias":
        backend, suggested = f.get("backend", "postgres"), f.get("suggested", "postgresql")
        source = f" (`{name}`)" if name else ""
        return (f"SQLAlchemy 1.4+ refuses '{backend}://'. Where {where} reads the URL{source}, "
                f"rewrite the scheme: `url = url.replace(\"{backend}://\", \"{suggested}://\", "
                f"1)` before create_engine(), or set the value to `{suggested}://...` (hosted "
                "platforms still hand out the old scheme, so the rewrite keeps working).")
    if reason == "at_sign":
        return (f"The password in the URL {where} passes to create_engine() has a raw '@': "
                "percent-encode it ('@' is %40, ':' %3A, '/' %2F, '#' %23, '%' %25 - "
                "`urllib.parse.quote(password, safe=\"\")`), or build the URL with "
                "`sqlalchemy.URL.create(...)`, which takes the password as it is.")
    return (f"The URL {where} passes to create_engine() is not of the form "
            "`dialect+driver://user:password@host:port/database`; percent-encode special "
            "characters in the password (`urllib.parse.quote(password, safe=\"\")`) or build "
            "it with `sqlalchemy.URL.create(...)`.")


def _back_populates_hint(f: Facts) -> str:
    obj, where, missing, target = f["obj"], f["location"], f["missing_property"], f["target"]
    call = "Relationship" if f.get("style") == "sqlmodel" else "relationship"
    if f.get("closest"):
        return (f"`{obj}` ({where}) says back_populates='{missing}', but `{target}` has no "
                f"such attribute; its relationship back is `{f['closest']}`: write "
                f"`back_populates=\"{f['closest']}\"`.")
    return (f"`{obj}` ({where}) says back_populates='{missing}', but `{target}` has no such "
            f"attribute. Add `{missing} = {call}(..., back_populates='{f['attribute']}')` to "
            f"`{target}`, or fix the name to the relationship that exists there.")


def _foreign_key_target_hint(f: Facts) -> str:
    obj, where, target, missing = f["obj"], f["location"], f["target"], f["missing"]
    sqlmodel = f.get("style") == "sqlmodel"
    if f.get("suggested_target"):
        fixed = f["suggested_target"]
        written = (f"`Field(..., foreign_key=\"{fixed}\")`" if sqlmodel
                   else f"`ForeignKey(\"{fixed}\")`")
        why = (" SQLModel names a table after its class, in lower case and singular "
               "(`class Team` is table `team`), unless `__tablename__` says otherwise."
               if sqlmodel else "")
        return (f"`{obj}` ({where}) refers to '{target}', but {missing}; the MetaData has "
                f"'{fixed}': write {written}.{why}")
    name = "foreign_key=" if sqlmodel else "ForeignKey"
    return (f"`{obj}` ({where}) has {name}('{target}'), but {missing}. Fix the target "
            "('<table>.<column>', table name not class name), or import the module that "
            "defines that table before mappers are configured.")


def _sqlmodel_type_hint(f: Facts) -> str:
    attr, where, py = f["attribute"], f["location"], f["python_type"]
    if f.get("sql_type"):
        return (f"SQLModel has no SQL type for `{py}` (`{f['obj']}`, {where}). Store it as "
                f"JSON: `{attr}: {py} = Field(sa_type=JSON)` (SQLModel 0.0.14+; `from "
                "sqlalchemy import JSON`), or `Field(sa_column=Column(JSON))` on older "
                "versions; use `JSONB` from sqlalchemy.dialects.postgresql on PostgreSQL if "
                "you query inside it.")
    return (f"SQLModel has no SQL type for `{py}` (`{f['obj']}`, {where}). Give the column "
            f"its type: `{attr}: {py} = Field(sa_type=<SQLAlchemy type>)`, e.g. a "
            "TypeDecorator that converts the value, or annotate it with a type SQLModel maps "
            "(str, int, float, bool, datetime, date, Decimal, UUID, bytes, an Enum).")


def _no_table_hint(f: Facts) -> str:
    cls = f["class"]
    return (
        f"Add `__tablename__ = \"{f['tablename']}\"` to class {cls} ({f['location']}) — the "
        "name of its table in the database, if it exists already — or, if the class is a "
        f"base for other models rather than a table of its own, `__abstract__ = True`.")


def _polymorphic_on_unmapped_hint(f: Facts) -> str:
    value = f["value"]
    mapped = list(f.get("mapped") or ())
    closest = f.get("closest")
    column = _discriminator_column(f, value)
    known = (f" It maps {', '.join(repr(n) for n in mapped)}." if mapped else "")
    if closest:
        return (
            f"Change `\"polymorphic_on\": \"{value}\"` in {f['location']} to "
            f"`\"polymorphic_on\": \"{closest}\"` if that is the discriminator column: "
            f"{f['class']} maps no attribute named '{value}'.{known} Otherwise add the "
            f"column: `{column}` (and a migration).")
    return (
        f"Add the discriminator column to {f['class']}: `{column}` (and a migration), or "
        f"point `\"polymorphic_on\"` in {f['location']} at the attribute that holds the "
        f"type: {f['class']} maps no attribute named '{value}'.{known}")


def _constraint_column_hint(f: Facts) -> str:
    construct, table, column = f["construct"], f["table"], f["column"]
    closest = f.get("closest")
    columns = list(f.get("table_columns") or ())
    has = f" (its columns: {', '.join(columns)})" if columns else ""
    if closest:
        return (
            f"Change '{column}' to '{closest}' in the {construct} at {f['location']} if the "
            f"column was renamed: table '{table}' has no column '{column}'{has}. Otherwise "
            f"remove '{column}' from the {construct}, or declare the column. Constraint and "
            "index names in the database stay as they are until a migration renames them.")
    return (
        f"Remove '{column}' from the {construct} at {f['location']} (the whole {construct} "
        f"if it is its only column), or declare that column on the model: table '{table}' "
        f"has no column '{column}'{has}. A column renamed in the model must be renamed in "
        "its indexes and constraints too.")


def _double_import_hint(f: Facts) -> str:
    mods = f.get("modules") or []
    if f.get("reimported"):
        names = ", ".join(f"'{m}'" for m in f["reimported"])
        first = f.get("first_error")
        root = f" The first failure was {first}: fix that one." if first else ""
        return (
            f"Module {names} was imported again after an import of it failed. Python forgets "
            "a half-imported module, but its classes and tables stay registered, so the retry "
            f"collides with them.{root} Do not retry a failed models import (a warm-up thread "
            "or `try: import ... except: import ...`): let the first error surface."
        )
    by_path = [m for m in mods if m.get("loaded_by_path")]
    if len(mods) >= 2 and by_path:
        normal = [m["name"] for m in mods if not m.get("loaded_by_path")]
        site = f.get("second_import") or "a loader"
        imported = f" and imported normally as '{normal[0]}'" if normal else ""
        package = normal[0].rsplit(".", 1)[0] if normal and "." in normal[0] else None
        by_name = (f" (`importlib.import_module(\"{package}.\" + name)` returns the module "
                   "already imported)") if package else ""
        return (
            f"Make the loader at {site} import by module name{by_name}, or skip the files "
            "already in `sys.modules`, or stop importing the module directly as well: "
            f"{f.get('module_file') or 'the module'} is executed twice, loaded by its file path "
            f"as '{by_path[0]['name']}'{imported}, so every model class in it is defined "
            "twice on one MetaData."
        )
    if len(mods) >= 2:
        names = " and ".join(f"'{m['name']}' (sys.path entry {m['path_entry']!r})" for m in mods)
        keep = mods[0]["name"]
        site = f.get("second_import")
        at = f" The second import happens at {site}." if site else ""
        return (
            f"Import {f.get('file') or 'the module'} under one name only (`import {keep}` "
            "everywhere) and remove the sys.path entry that exposes the package's inner folder "
            f"(a sys.path.insert/append or PYTHONPATH): it is imported twice, as {names}, so "
            "its module code runs twice — any model class in it is defined twice on one "
            f"MetaData, and any other module-level state exists twice.{at}"
        )
    return (
        f"Rename one `__tablename__` ({f['location']}), merge the classes, or pass "
        "`__table_args__ = {'extend_existing': True}` if redefining is intended: two classes "
        f"map the table '{f['table']}' on the same MetaData. If the same file is imported "
        "twice (two module names), import it under one name only."
    )


DOUBLE_IMPORT_FACTS = ("modules", "reimported", "first_error", "second_import", "module_file")
# what locate.duplicate_modules sends, for the docs and the render test
TWO_MODULES = ({"name": "app.helpers", "path_entry": "/app"},
               {"name": "helpers", "path_entry": "/app/app"})


def _nothing_mapped_hint(f: Facts) -> str:
    imported = f.get("targets") or "the --models modules"
    text = (f"Nothing mapped was found after importing {imported}. Point --models at the "
            "module(s) that define the model classes, or at `module:attribute` for the "
            "declarative base, `db` object or MetaData.")
    if f.get("empty_metadata"):
        text += (f" {f.get('empty_metadata')} has no tables: the model classes were never "
                 "imported (an app factory or a function that imports them does not run "
                 "here); add the module(s) that define them, one more --models each.")
    return text


def _no_foreign_key_hint(f: Facts) -> str:
    links = [link for link in f.get("missing_links") or () if link.get("location")]
    if not links:
        return (f"`{f['obj']}` ({f['location']}) joins tables that no ForeignKey links. Add "
                "`ForeignKey('<table>.<column>')` to the referencing column, or give the "
                "relationship an explicit `primaryjoin=`.")
    rel = f.get("relationship") or "The relationship"

    def edit(link: Mapping[str, Any]) -> str:
        change = (f"`{link['statement']}`" if link.get("statement") else
                  f"add `ForeignKey(\"{link['target']}\")` to it")
        also = f" (and `{link['import']}` at the top of the module)" if link.get("import") else ""
        return f"{link['location']}: {change}{also}"

    model_only = (" That changes the model only: where the database lacks the constraint, "
                  "the schema_drift check reports it and a migration adds it.")
    if f.get("association"):
        edits = "; ".join(edit(link) for link in links)
        lacking = (f"column '{links[0]['column']}' has" if len(links) == 1 else
                   "columns " + " and ".join(f"'{link['column']}'" for link in links)
                   + " have")
        return (f"`{rel}` goes through the association table '{f['association']}', but "
                f"{lacking} no ForeignKey, so SQLAlchemy cannot join through it. "
                f"{edits}.{model_only}")
    link = links[0]
    return (f"`{rel}` joins tables that no ForeignKey links. The column meant to reference "
            f"'{link['target']}' is '{link['column']}' (by its name), which has no ForeignKey: "
            f"in {edit(link)}.{model_only} If the link is another column, put the ForeignKey "
            "there; if there must be no constraint, give the relationship `primaryjoin=` and "
            "`foreign_keys=`.")


def _ambiguous_fk_hint(f: Facts) -> str:
    keyword = f'foreign_keys="[{f["fk_hint"]}]"'
    fixed = _with_keyword(f.get("assignment"), keyword)
    code = f": `{fixed}`" if fixed else f": add `{keyword}` to its relationship() call"
    return (
        f"Several foreign keys link the tables behind `{f['obj']}`. Say which one this "
        f"relationship uses, in {f['location']}{code} (a string, so it works wherever the "
        f"line is; inside the class body, after that column, `foreign_keys=[{f['fk_column']}]` "
        f"works too). Check that `{f['fk_column']}` is the column this relationship follows."
    )


def _missing_dependency_hint(f: Facts) -> str:
    missing = f.get("missing_module") or "?"
    top = missing.split(".")[0]
    return (
        f"Install the distribution that provides '{top}' in the app's environment (add it "
        f"to the app's requirements), or point --python at the interpreter that has it: "
        f"{f['location']} imports '{missing}', which is not installed for {f['python']}. "
        f"Imported while loading '{f.get('target') or ''}'."
    )


ENTRIES = (
    Entry(
        "SQLA101", "Reserved attribute name on a declarative class", "error", "models_import",
        _reserved_hint, optional=("column_call", "column_name", "db_has_column", "declared_in"),
        samples={"class": "SecurityEvent", "attribute": "metadata",
                 "column_call": {"callee": "db.Column", "named": False,
                                 "args": "db.JSON, nullable=True", "annotation": None,
                                 "mapped": False}},
        explanation="""\
**What it means.** A mapped class defines an attribute named `metadata` or `registry`.
Declarative uses both names on every mapped class: `Model.metadata` is the `MetaData`
collection of all tables, `Model.registry` the class registry. A column with that name
replaces them on that class.

**Why it happens.** Usually a JSON column called `metadata` (the incident:
`SecurityEvent.metadata = db.Column(db.JSON, nullable=True)`). What you see depends on the
versions:

| version | `metadata = Column(...)` | `registry = Column(...)` |
| --- | --- | --- |
| SQLAlchemy 1.4 | `InvalidRequestError: Attribute name 'metadata' is reserved for the MetaData instance when using a declarative base class.` | accepted silently |
| SQLAlchemy 2.0 | `InvalidRequestError: Attribute name 'metadata' is reserved when using the Declarative API.` | accepted silently |
| SQLAlchemy 2.1 | only `SAWarning: Attribute name 'metadata' should be left reserved for the MetaData instance when using a Declarative class.` | only an SAWarning |
| 2.1 + Flask-SQLAlchemy 3.1 | the SAWarning, then Flask-SQLAlchemy's `__table_cls__` reads `cls.metadata.tables` and fails: `AttributeError: Neither 'Column' object nor 'Comparator' object has an attribute 'tables'` (raised at the `class` line) | — |

So the same code crashes the app on 1.4/2.0, crashes it with an unrelated-looking
`AttributeError` on 2.1 with Flask-SQLAlchemy, and "works" on plain 2.1 until something reads
`SecurityEvent.metadata` expecting a MetaData. The sidecar reports SQLA101 in every case,
including the silent ones: after the import it inspects the mapped classes for a `metadata`
/ `registry` attribute that is not the declarative one. With Flask-SQLAlchemy on 2.1 the
warning and the `AttributeError` are folded into this one finding, located at the
`metadata = ...` line.

**How to fix.** Rename the Python attribute. Two ways:

1. *No migration (do this first, it is safe to deploy at once):* keep the database column
   name by passing it explicitly:

   ```python
   event_metadata = db.Column("metadata", db.JSON, nullable=True)
   # 2.0 style:
   event_metadata: Mapped[dict] = mapped_column("metadata", JSON)
   ```

   The table still has a `metadata` column; only Python code changes. Update every reader:
   `event.metadata` → `event.event_metadata`, `SecurityEvent.metadata` in queries,
   `filter_by(metadata=...)`, serializers.
2. *Rename the column too*, with a migration, if you want the database to match:

   ```sql
   ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata
   ```

   (Alembic: `op.alter_column("security_events", "metadata", new_column_name="event_metadata")`;
   see `sidecar/examples/backend/good/migrations/versions/0002_rename_security_events_metadata.py`.)
   The model is then `event_metadata = db.Column(db.JSON, nullable=True)`. Code and
   migration must ship together: the new code against the old schema fails on
   `event_metadata`.

Do not rename the attribute without option 1 or 2: that makes the model and the table
disagree (a column `event_metadata` that does not exist).

**Example.**

```python
# broken (sidecar/examples/backend/broken_reserved/server/models_sql.py:98)
class SecurityEvent(db.Model):
    __tablename__ = "security_events"
    id = db.Column(db.Integer, primary_key=True)
    metadata = db.Column(db.JSON, nullable=True)

# fixed, no migration
class SecurityEvent(db.Model):
    __tablename__ = "security_events"
    id = db.Column(db.Integer, primary_key=True)
    event_metadata = db.Column("metadata", db.JSON, nullable=True)
```

```text
$ sidecar check --app-path sidecar/examples/backend/broken_reserved --models server.models_sql
sidecar: NOT READY — 1 error(s), 0 warning(s) in 0.42s at 2026-11-26T11:30:37+00:00
first problem: SQLA101 Reserved attribute name on a declarative class at server/models_sql.py:98 (SecurityEvent.metadata)

[FAIL] models_import (0.14s)
  ERROR SQLA101 Reserved attribute name on a declarative class
      at server/models_sql.py:98 (SecurityEvent.metadata)
      SAWarning, then AttributeError: Attribute name 'metadata' should be left reserved for the
      MetaData instance when using a Declarative class. Then: AttributeError: Neither 'Column'
      object nor 'Comparator' object has an attribute 'tables'
      fix: Rename the attribute and keep the database column in server/models_sql.py:98:
      `event_metadata = db.Column("metadata", db.JSON, nullable=True)` — where the table already has
      its 'metadata' column this needs no migration. Where that column does not exist yet (a model
      change not yet migrated), name it after the attribute instead: `event_metadata =
      db.Column(db.JSON, nullable=True)`, and create 'event_metadata' in the migration. (That second
      line also fits an existing column renamed by a migration running `ALTER TABLE ... RENAME
      COLUMN metadata TO event_metadata`.) Declarative reserves `metadata` on every mapped class for
      the MetaData collection. Update code that reads `SecurityEvent.metadata` to `.event_metadata`.
      docs: docs/findings.md#sqla101
```

On SQLAlchemy 2.0.58 the message line reads `InvalidRequestError: Attribute name 'metadata'
is reserved when using the Declarative API.`. For a `registry` column on 1.4/2.0, which
SQLAlchemy accepts (`tests/fixtures/reserved_registry_plain`), the sidecar's own message is
`Attribute name 'registry' is reserved when using the Declarative API; on this SQLAlchemy
version it silently shadows the declarative registry.` with the hint
`package_registry = Column("registry", String(100))`.
""",  # noqa: E501
    ),
    Entry(
        "SQLA102", "Table already defined for this MetaData", "error", "models_import",
        _double_import_hint, optional=DOUBLE_IMPORT_FACTS,
        samples={"modules": TWO_MODULES},
        explanation="""\
**What it means.** A class body (or `Table(...)`) declared a table name that is already on
the same `MetaData`:
`InvalidRequestError: Table 'business' is already defined for this MetaData instance.
Specify 'extend_existing=True' to redefine options and columns on an existing Table object.`
The import stops there.

**Why it happens.** Three causes; the hint says which one the sidecar found.

1. **The same file imported under two module names** (the incident). A folder inside the
   package is on `sys.path` (a `sys.path.insert(0, os.path.dirname(__file__))`, a
   `PYTHONPATH`, a script run as `python server/worker.py`), so `server/models_sql.py` is
   importable both as `server.models_sql` and as `models_sql`. Python treats those as two
   modules and runs the file twice; both copies define their classes on the one shared
   `db.metadata` (the `db` object comes from a module imported once). The second copy fails
   at its first class. The hint names both module names, the `sys.path` entry each came
   through, and the import line that loaded the second copy.
2. **Two classes with one `__tablename__`**, usually in different files written by different
   people (`tests/fixtures/duplicate_table`: `BillingAccount.__tablename__ = "business"`
   next to `Business`).
3. **A failed import retried.** The first import of the models module fails halfway (for
   any reason — in the incident, SQLA101). Python removes the half-imported module from
   `sys.modules`, but the classes and tables it already created stay registered on the
   MetaData and the declarative registry. When startup code imports it again (a warm-up
   thread that logs the error and lets the main thread retry, a `try: import ... except:
   import ...`), the file runs from the top and the first class collides with its own
   earlier copy. The error that reaches the log is this one, not the root cause. See
   `sidecar/examples/backend/broken_import_retry` and `tests/fixtures/reimport_after_failure`. The
   retry also produces SQLA103 warnings. The sidecar reports the first error as its own
   finding and the SQLA102 hint names it.

Concurrent imports are not a cause on their own: Python's import system locks per module,
so two threads importing `server.models_sql` execute it once. A lock around app creation
(the incident's "fix 2") does not stop cause 3 — the retry still happens, just later.

**How to fix.**

1. *Two module names:* import the module under one name only (`from server import
   models_sql` everywhere) and remove the `sys.path` entry or `PYTHONPATH` that exposes the
   inner folder. Scripts inside the package should be run as `python -m server.worker` from
   the app root.
2. *Two classes, one table:* rename one `__tablename__` (with a migration if the table
   exists), or merge the classes. Use `__table_args__ = {"extend_existing": True}` only if
   redefining the table is really intended.
3. *Retried import:* fix the first error (the hint and the other findings name it; it is
   also in the app's stderr tail). Do not retry a failed models import: let it fail, so the
   first traceback is the one that surfaces.

**Example** (cause 1, `sidecar/examples/backend/broken_double_import`).

```python
# broken: server/app.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))   # exposes server/ itself
from server import models_sql            # module 'server.models_sql'
import models_sql as legacy_models       # same file again, module 'models_sql'

# fixed
from server import models_sql
```

```text
$ sidecar check --app-path sidecar/examples/backend/broken_double_import --models server.app
[FAIL] models_import (0.16s)
  ERROR SQLA102 Table already defined for this MetaData
      at server/models_sql.py:18 (Business)
      InvalidRequestError: Table 'business' is already defined for this MetaData instance.  Specify
      'extend_existing=True' to redefine options and columns on an existing Table object.
      fix: server/models_sql.py is imported twice, as 'server.models_sql' (sys.path entry
      '/app/broken_double_import') and 'models_sql' (sys.path entry
      '/app/broken_double_import/server'), so its classes and tables are
      defined twice on one MetaData. The second import happens at server/app.py:26 (`import
      models_sql as legacy_models`). Import it under one name only (`import server.models_sql`
      everywhere) and remove the sys.path entry that exposes the package's inner folder (a
      sys.path.insert/append or PYTHONPATH).
      docs: docs/findings.md#sqla102
```

Cause 2 (`tests/fixtures/duplicate_table`) prints `at app/billing.py:15 (BillingAccount)` and
the hint "Two classes map the table 'business' on the same MetaData. Rename one
`__tablename__`, merge the classes, or pass `__table_args__ = {'extend_existing': True}` [...]".

Cause 3 (`sidecar/examples/backend/broken_import_retry --models asgi`) lists the root cause first
(`ERROR SQLA101 ... at server/models_sql.py:99 (SecurityEvent.metadata)`), then
`ERROR SQLA102 ... at server/models_sql.py:19 (Business)` with the hint "Module
'server.models_sql' was imported again after an import of it failed. [...] The first failure
was SQLA101 at server/models_sql.py:99: fix that one. Do not retry a failed models import
[...]", then the SQLA103 warning (see there).
""",
    ),
    Entry(
        "SQLA103", "Class replaced in the declarative string-lookup table", "warning",
        "models_import", _double_import_hint, optional=DOUBLE_IMPORT_FACTS,
        samples={"modules": TWO_MODULES},
        explanation="""\
**What it means.** SQLAlchemy warned `SAWarning: This declarative base already contains a
class with the same class name and module name as server.models_sql.Business, and will be
replaced in the string-lookup table.` A second class with the same name **and the same
`__module__`** was registered on the same declarative base. String references such as
`relationship("Business")` now resolve to the newer class.

**Why it happens.** The same module was executed twice under the same name — in practice
cause 3 of [SQLA102](#sqla102): a failed import retried. It almost always comes with
SQLA102 and with the first, real error. It is *not* emitted for cause 1 (two module names:
`server.models_sql.Business` and `models_sql.Business` differ), nor for two differently
named classes sharing a table. It also appears if one file defines the same class name
twice, or after `importlib.reload()` of a models module.

**How to fix.** As SQLA102 cause 3: find and fix the first failure (reported above this one),
and remove the retry of the import. If a file defines a class name twice, rename or delete
one.

**Example** (`tests/fixtures/reimport_after_failure`).

```python
# broken: app/models.py
try:
    from app import entities
except Exception:
    log.warning("models import failed, retrying once", exc_info=True)
    from app import entities          # re-runs app/entities.py

# fixed
from app import entities              # and fix app/entities.py:16 (SQLA101)
```

```text
  WARNING SQLA103 Class replaced in the declarative string-lookup table
      at app/entities.py:4 (Business)
      SAWarning: This declarative base already contains a class with the same class name and module
      name as app.entities.Business, and will be replaced in the string-lookup table.
      fix: Module 'app.entities' was imported again after an import of it failed. Python forgets a
      half-imported module, but its classes and tables stay registered, so the retry collides with
      them. The first failure was SQLA101 at app/entities.py:16: fix that one. Do not retry a failed
      models import (a warm-up thread or `try: import ... except: import ...`): let the first error
      surface.
      docs: docs/findings.md#sqla103
```
""",
    ),
    Entry(
        "SQLA104", "Relationship to a class that does not exist", "error", "mappers",
        "In {location}, `{obj}` refers to '{target}', which no mapped class is named. Fix the "
        "spelling, or import the module defining '{target}' before mappers are configured "
        "(add it to --models).",
        facts=("target",),
        explanation="""\
**What it means.** `relationship("Name")` names a class that is not mapped on this
declarative base when mappers are configured: `InvalidRequestError: When initializing
mapper Mapper[User(users)], expression 'Adress' failed to locate a name ('Adress').`
The first query (or `configure_mappers()`) would fail the same way.

**Why it happens.** A typo; a class renamed without updating the string; or the module that
defines the target class is never imported (the relationship lives in `users.py`, the class
in `orders.py`, and nothing imports `orders.py`). Also a class on a *different* declarative
base, which cannot be referenced by name.

**How to fix.** Fix the name (class name, not table name), or make sure the defining module
is imported before the first query — and pass it to the sidecar too
(`--models app.models.users --models app.models.orders`, see `tests/fixtures/good_multi`).

**Example** (`tests/fixtures/relationship_missing_class`).

```python
addresses = relationship("Adress")     # broken
addresses = relationship("Address")    # fixed
```

```text
[FAIL] mappers (0.02s)
  ERROR SQLA104 Relationship to a class that does not exist
      at app/models.py:25 (User.addresses)
      InvalidRequestError: When initializing mapper Mapper[User(users)], expression 'Adress' failed
      to locate a name ('Adress'). If this is a class name, consider adding this relationship() to
      the <class 'app.models.User'> class after both dependent classes have been defined.
      fix: In app/models.py:25, `User.addresses` refers to 'Adress', which no mapped class is named.
      Fix the spelling, or import the module defining 'Adress' before mappers are configured (add it
      to --models).
```
""",
    ),
    Entry(
        "SQLA105", "Mapped class without a primary key", "error", "models_import",
        "Give `{class}` (table '{table}') a primary key in {location}: for example "
        "`id = Column(Integer, primary_key=True)`, or `__mapper_args__ = {{'primary_key': "
        "[...]}}` for a table that has none.",
        explanation="""\
**What it means.** `ArgumentError: Mapper Mapper[AuditEntry(audit_entries)] could not
assemble any primary key columns for mapped table 'audit_entries'`. The ORM needs a primary
key to track rows; the class fails at definition time.

**Why it happens.** No column has `primary_key=True` — often an append-only or log table,
or a table that really has no key in the database.

**How to fix.** Add a primary key column (with a migration if the table exists). If the
table has no key but some columns are unique together, tell the mapper:
`__mapper_args__ = {"primary_key": [AuditEntry.ts, AuditEntry.actor]}` (no migration).

**Example** (`tests/fixtures/missing_primary_key`).

```python
class AuditEntry(Base):                       # broken
    __tablename__ = "audit_entries"
    action = Column(String(50))

class AuditEntry(Base):                       # fixed
    __tablename__ = "audit_entries"
    id = Column(Integer, primary_key=True)
    action = Column(String(50))
```

```text
  ERROR SQLA105 Mapped class without a primary key
      at app/models.py:19 (AuditEntry)
      ArgumentError: Mapper Mapper[AuditEntry(audit_entries)] could not assemble any primary key
      columns for mapped table 'audit_entries'
      fix: Give `AuditEntry` (table 'audit_entries') a primary key in app/models.py:19: for example
      `id = Column(Integer, primary_key=True)`, or `__mapper_args__ = {'primary_key': [...]}` for a
      table that has none.
```
""",
    ),
    Entry(
        "SQLA106", "Ambiguous foreign keys for a relationship", "error", "mappers",
        _ambiguous_fk_hint, facts=("fk_hint", "fk_column"), optional=("assignment",),
        samples={"assignment": {"target": "assignee", "annotation": None,
                                "value": 'relationship("User")', "indent": 4}},
        explanation="""\
**What it means.** `AmbiguousForeignKeysError: Could not determine join condition between
parent/child tables on relationship Ticket.assignee - there are multiple foreign key paths
linking the tables.` Two or more foreign keys connect the two tables and the relationship
does not say which one it follows.

**Why it happens.** A second FK to the same table was added (`reporter_id` and
`assignee_id`, both to `users.id`), and existing relationships were not updated.

**How to fix.** Give each relationship its column: `relationship("User",
foreign_keys=[assignee_id])` (inside the class body) or `foreign_keys="Ticket.assignee_id"`.
The hint rewrites the relationship's own line with the string form (valid wherever the line
is: `foreign_keys=[Ticket.assignee_id]` inside `Ticket`'s own body is a NameError). It
proposes the FK column named after the relationship (`assignee` -> `assignee_id`), else the
first one in the class: check that it is the one the relationship follows.

**Example** (`tests/fixtures/ambiguous_foreign_keys`).

```python
reporter_id = Column(Integer, ForeignKey("users.id"), nullable=False)
assignee_id = Column(Integer, ForeignKey("users.id"))
assignee = relationship("User")                                  # broken
assignee = relationship("User", foreign_keys=[assignee_id])      # fixed
```

```text
  ERROR SQLA106 Ambiguous foreign keys for a relationship
      at app/models.py:27 (Ticket.assignee)
      AmbiguousForeignKeysError: Could not determine join condition between parent/child tables on
      relationship Ticket.assignee - there are multiple foreign key paths linking the tables. [...]
      fix: Several foreign keys link the tables behind `Ticket.assignee`. Say which one this
      relationship uses, in app/models.py:27: `assignee = relationship("User",
      foreign_keys="[Ticket.assignee_id]")` (a string, so it works wherever the line is; inside the
      class body, after that column, `foreign_keys=[assignee_id]` works too). Check that
      `assignee_id` is the column this relationship follows.
```
""",
    ),
    Entry(
        "SQLA107", "No foreign key links a relationship's tables", "error", "mappers",
        _no_foreign_key_hint, optional=("missing_links", "relationship", "association"),
        samples={"missing_links": [{"column": "orders.customer_id", "target": "customers.id",
                                    "location": "app/models.py:32", "import": None,
                                    "statement": 'customer_id = Column(Integer, '
                                                 'ForeignKey("customers.id"))'}],
                 "relationship": "Order.customer", "class": "Order",
                 "attribute": "customer_id"},
        explanation="""\
**What it means.** `NoForeignKeysError: Could not determine join condition between
parent/child tables on relationship Order.customer - there are no foreign keys linking these
tables.` The relationship has nothing to join on.

**Why it happens.** The referencing column lacks `ForeignKey(...)` (a plain `Integer`), the
relationship points at the wrong class, or the tables are linked by something that is not a
declared FK (a natural key, a column in another schema).

**How to fix.** Add `ForeignKey("<table>.<column>")` to the referencing column (the model
only; whether the database has the constraint is a separate question), or give the
relationship an explicit `primaryjoin=` (and `foreign_keys=`) if there must be no FK.

**Example** (`tests/fixtures/no_foreign_key`).

```python
customer_id = Column(Integer)                                   # broken
customer_id = Column(Integer, ForeignKey("customers.id"))       # fixed
customer = relationship("Customer")
```

```text
  ERROR SQLA107 No foreign key links a relationship's tables
      at app/models.py:34 (Order.customer)
      NoForeignKeysError: Could not determine join condition between parent/child tables on
      relationship Order.customer - there are no foreign keys linking these tables. [...]
      fix: `Order.customer` (app/models.py:34) joins tables that no ForeignKey links. Add
      `ForeignKey('<table>.<column>')` to the referencing column, or give the relationship an
      explicit `primaryjoin=`.
```
""",
    ),
    Entry(
        "SQLA108", "back_populates names an attribute that does not exist", "error", "mappers",
        _back_populates_hint, facts=("missing_property", "target"),
        optional=("closest", "style"),
        explanation="""\
**What it means.** `relationship(..., back_populates="author")` on one class, but the other
class has no attribute `author`: `InvalidRequestError: Mapper 'Mapper[User(users)]' has no
property 'author'.` (SQLAlchemy 1.4 writes `mapped class User->users`.)

**Why it happens.** One side of a bidirectional relationship was renamed or removed, or the
two sides disagree on the name.

**How to fix.** `back_populates` must name the relationship on the *other* class, and that
one must point back: `Post.user ↔ User.posts`, each with `back_populates` naming the other.

**Example** (`tests/fixtures/back_populates_mismatch`).

```python
class User(Base):
    posts = relationship("Post", back_populates="user")
class Post(Base):
    user = relationship("User", back_populates="author")   # broken: User has no 'author'
    user = relationship("User", back_populates="posts")    # fixed
```

```text
  ERROR SQLA108 back_populates names an attribute that does not exist
      at app/models.py:27 (Post.user)
      InvalidRequestError: Mapper 'Mapper[User(users)]' has no property 'author'. [...]
      fix: `Post.user` (app/models.py:27) says back_populates='author', but `User` has no such
      attribute. Add `author = relationship(..., back_populates='user')` to `User`, or fix the name
      to the relationship that exists there.
```
""",
    ),
    Entry(
        "SQLA109", "Backref conflicts with an existing attribute", "error", "mappers",
        "`{obj}` ({location}) creates backref '{backref}' on `{target}`, which already has an "
        "attribute of that name. Drop the backref and use `back_populates` on both sides, or "
        "rename one of them.",
        facts=("backref", "target"),
        explanation="""\
**What it means.** `relationship(..., backref="user")` tries to create `Address.user`, but
`Address` already has a `user` attribute: `ArgumentError: Error creating backref 'user' on
relationship 'User.addresses': property of that name exists on mapper
'Mapper[Address(addresses)]'`.

**Why it happens.** Someone added the reverse relationship explicitly on the other class and
left the old `backref=` in place (or two relationships create the same backref).

**How to fix.** Use one mechanism: drop `backref=` and put `back_populates` on both sides
(preferred), or delete the explicit attribute and keep the backref.

**Example** (`tests/fixtures/conflicting_backref`).

```python
addresses = relationship("Address", backref="user")              # broken
addresses = relationship("Address", back_populates="user")       # fixed, and on Address:
user = relationship("User", back_populates="addresses")
```

```text
  ERROR SQLA109 Backref conflicts with an existing attribute
      at app/models.py:27 (User.addresses)
      ArgumentError: Error creating backref 'user' on relationship 'User.addresses': property of
      that name exists on mapper 'Mapper[Address(addresses)]'
      fix: `User.addresses` (app/models.py:27) creates backref 'user' on `Address`, which already
      has an attribute of that name. Drop the backref and use `back_populates` on both sides, or
      rename one of them.
```
""",
    ),
    Entry(
        "SQLA110", "ForeignKey to a table or column that does not exist", "error", "mappers",
        _foreign_key_target_hint, facts=("target", "missing"),
        optional=("suggested_target", "style"),
        explanation="""\
**What it means.** A `ForeignKey("table.column")` target does not exist on the MetaData.
SQLAlchemy does not check this at import or at `configure_mappers()`; it fails later, when
something resolves the key (`create_all()`, `MetaData.sorted_tables`, `ForeignKey.column`), with
`NoReferencedTableError` or `NoReferencedColumnError`. The sidecar resolves every
ForeignKey up front so this shows at startup.

**Why it happens.** The class name used instead of the table name
(`ForeignKey("Account.id")`), a typo, a renamed column, or the module defining the target
table is not imported.

**How to fix.** Use `"<table name>.<column name>"` as the database knows them, or import the
module that defines that table (and pass it with `--models`).

**Example** (`tests/fixtures/foreign_key_missing_table`, `foreign_key_missing_column`).

```python
account_id = Column(Integer, ForeignKey("accounts.id"))        # broken: no table 'accounts'
account_id = Column(Integer, ForeignKey("billing_accounts.id")) # fixed: the real table name
```

```text
  ERROR SQLA110 ForeignKey to a table or column that does not exist
      at app/models.py:25 (Invoice.account_id)
      NoReferencedTableError: Foreign key associated with column 'invoices.account_id' could not
      find table 'accounts' with which to generate a foreign key to target column 'id'
      fix: `Invoice.account_id` (app/models.py:25) has ForeignKey('accounts.id'), but no table named
      'accounts' is defined on this MetaData. Fix the target ('<table>.<column>', table name not
      class name), or import the module that defines that table before mappers are configured.
```

A missing column reads `NoReferencedColumnError: Could not initialize target column for
ForeignKey 'users.uuid' on table 'sessions': table 'users' has no column named 'uuid'`.
""",
    ),
    Entry(
        "SQLA111", "A module the models import is not installed", "error", "models_import",
        _missing_dependency_hint, facts=("missing_module", "python", "target"),
        explanation="""\
**What it means.** Importing the models raised `ModuleNotFoundError` for a module other than
the models module itself: a dependency is missing from the interpreter the sidecar ran
(`--python`, by default the sidecar's own).

**Why it happens.** The package is not in the app's requirements / image; the sidecar runs a
different interpreter than the app (no `--python`, or the wrong venv); or an optional
import at module level.

**How to fix.** Add the distribution to the app's requirements and rebuild, or point
`--python` / `SIDECAR_PYTHON` at the app's own interpreter (its venv's `bin/python`). The
hint prints which interpreter was used.

**Example** (`tests/fixtures/missing_dependency`).

```text
  ERROR SQLA111 A module the models import is not installed
      at app/models.py:9
      ModuleNotFoundError: No module named 'stripe_payments_sdk'
      fix: app/models.py:9 imports 'stripe_payments_sdk', which is not installed in the app's
      environment (Python: /work/main/.venv/bin/python). Install the distribution that provides
      'stripe_payments_sdk' (add it to the app's requirements), or point --python at the interpreter
      that has it. Imported while loading 'app.models'.
```
""",
    ),
    Entry(
        "SQLA112", "Syntax error in a model module", "error", "models_import",
        "Fix the syntax at {location}: `{text}`.", facts=("text",),
        explanation="""\
**What it means.** A model module (or one it imports) does not parse. Python reports the
line where it noticed, which can be after the real mistake (an unclosed `(` is reported
where the statement was opened; a missing `:` on the next line).

**Why it happens.** A bad merge or edit; code using syntax newer than the app's Python (the
sidecar parses with `--python`'s version).

**How to fix.** Fix the line shown; run `python -m py_compile path/to/file.py` with the app's
interpreter to confirm.

**Example** (`tests/fixtures/syntax_error`).

```text
  ERROR SQLA112 Syntax error in a model module
      at app/models.py:16
      SyntaxError: '(' was never closed: name = Column(String(100)
      fix: Fix the syntax at app/models.py:16: `name = Column(String(100)`.
```
""",
    ),
    Entry(
        "SQLA113", "The models attribute does not exist", "error", "models_import",
        "Module '{module}' has no attribute '{attribute}'. Check --models "
        "(`package.module:attribute`).",
        facts=("module",),
        explanation="""\
**What it means.** `--models package.module:attribute` was given, the module imported, but
it has no such attribute.

**Why it happens.** A typo in `--models` / `SIDECAR_MODELS`, or the object was renamed or
moved (`Base` now lives in `app.db`).

**How to fix.** Point the attribute at the declarative base, the Flask-SQLAlchemy `db`
object or a `MetaData`, e.g. `--models app.models:Base`, or drop `:attribute` and just name
the module.

**Example.**

```text
$ sidecar check --app-path myapp --models app.models:Model
  ERROR SQLA113 The models attribute does not exist
      at app/models.py
      AttributeError: module 'app.models' has no attribute 'Model'
      fix: Module 'app.models' has no attribute 'Model'. Check --models
      (`package.module:attribute`).
```
""",
    ),
    Entry(
        "SQLA114", "The same model module is imported under two names", "warning",
        "models_import", _double_import_hint, facts=("modules",),
        optional=("reimported", "first_error", "second_import"),
        samples={"modules": TWO_MODULES},
        explanation="""\
**What it means.** After the import, one file of the app is loaded as two modules in
`sys.modules` (e.g. `app.helpers` and `helpers`), each from a different `sys.path` entry.
Nothing failed yet, so this is a warning; the hint lists both names and sys.path entries.

**Why it happens.** Cause 1 of [SQLA102](#sqla102): an inner folder of the package is on
`sys.path`. When the doubly imported file defines tables, the second copy fails and you get
SQLA102 instead (SQLA114 is then not repeated for that file). When it defines none — a
helper, a constants module — nothing fails today, but there are two copies of every global
(two caches, two locks, two `db` objects if it is the extensions module), and the day a
model is moved into it the app stops starting. Cause 2 (two classes, one table) and cause 3
(retried import) do not produce SQLA114.

**How to fix.** Import the module under its package name only and remove the `sys.path`
insert / `PYTHONPATH` entry that exposes the inner folder; run scripts as `python -m
package.script` from the app root.

**Example** (a helper imported twice).

```python
# broken: app/models.py
sys.path.insert(0, os.path.dirname(__file__))
from app import helpers
import helpers as legacy_helpers

# fixed
from app import helpers
```

```text
[warn] models_import (0.07s)
  WARNING SQLA114 The same model module is imported under two names
      at app/helpers.py
      app/helpers.py was imported 2 times, as 'app.helpers', 'helpers'
      fix: app/helpers.py is imported twice, as 'app.helpers' (sys.path entry '/tmp/docapps/dup')
      and 'helpers' (sys.path entry '/tmp/docapps/dup/app'), so its classes and tables are defined
      twice on one MetaData. Import it under one name only (`import app.helpers` everywhere) and
      remove the sys.path entry that exposes the package's inner folder (a sys.path.insert/append or
      PYTHONPATH).
```
""",
    ),
    Entry(
        "SQLA115", "The models module does not exist", "error", "models_import",
        "The models module '{missing_module}' does not exist under the app path "
        "{app_path!r}. Check --models/SIDECAR_MODELS and --app-path: the module must be "
        "importable from the app path as the app itself imports it.",
        facts=("missing_module", "app_path"),
        explanation="""\
**What it means.** The module named by `--models` / `SIDECAR_MODELS` itself cannot be found
from `--app-path` (as opposed to [SQLA111](#sqla111), a module *it* imports).

**Why it happens.** A typo in the module path; `--app-path` is not the folder the app runs
from (the sidecar puts the app path first on `sys.path` and makes it the working
directory, as the app's own start command does); the package lacks an `__init__.py` it
needs; or the image does not contain the code at that path.

**How to fix.** Check that `python -c "import <module>"` works from the app path with the
app's interpreter, then correct `--models` or `--app-path`.

**Example.**

```text
$ sidecar check --app-path myapp --models app.modles
[FAIL] models_import (0.03s)
  ERROR SQLA115 The models module does not exist
      ModuleNotFoundError: No module named 'app.modles'
```
""",
    ),
    Entry(
        "SQLA120", "SQLAlchemy warning", "warning", "models_import",
        "Read the warning at {location}; SQLAlchemy warnings usually become errors in the next "
        "major version. Run with `-W error::sqlalchemy.exc.SAWarning` to get a traceback.",
        check_note="(also reported under mappers, for warnings emitted while configuring)",
        explanation="""\
**What it means.** SQLAlchemy emitted an `SAWarning` that the sidecar has no specific code
for. The models load, but SQLAlchemy considers something wrong or ambiguous.

**Why it happens.** Type or cascade settings that SQLAlchemy ignores, deprecated arguments,
anything it considers wrong or ambiguous that has no code of its own here (overlapping
relationships, a reassigned polymorphic identity and a trailing-comma tuple have theirs:
SQLA162, SQLA145, SQLA171). Many SAWarnings become errors in the next major version (SQLA101's
2.0 error is a 2.1 warning in the other direction), so do not leave them.

**How to fix.** Read the warning text; it usually names the fix. To get a traceback to the
line that triggers it, run the import with `python -W error::sqlalchemy.exc.SAWarning -c
"import app.models; from sqlalchemy.orm import configure_mappers; configure_mappers()"`.
If a warning is understood and accepted, lower it with `--severity SQLA120=info`.
""",
    ),
    Entry(
        "SQLA121", "Warning while loading the models", "info", "models_import",
        "Emitted at {location}. Not a failure; listed because warnings often precede one.",
        explanation="""\
**What it means.** A non-SQLAlchemy warning (`DeprecationWarning`, `UserWarning`, ...) was
emitted from the app's own files while importing the models. Warnings raised inside
third-party libraries that never touch the app's code are not reported.

**Why it happens.** Deprecated settings or APIs used at import time. It does not fail
anything; it is listed because a warning at import is often the first sign of the error in
the next upgrade.

**How to fix.** Address the warning at the line shown, or raise it to a warning/error in CI
with `--severity SQLA121=warning`.

**Example.**

```text
[ok] models_import (0.07s)
  INFO SQLA121 Warning while loading the models
      at app/models.py:8
      DeprecationWarning: LEGACY_SETTINGS is deprecated, use SETTINGS
      fix: Emitted at app/models.py:8. Not a failure; listed because warnings often precede one.
```
""",
    ),
    Entry(
        "SQLA130", "No SQLAlchemy models found", "error", "mappers", _nothing_mapped_hint,
        facts=("targets", "imported", "looked_for", "empty_metadata"),
        samples={"targets": "app.models", "imported": "app.models (app/models.py)",
                 "empty_metadata": ""},
        explanation="""\
**What it means.** The `--models` modules imported without error, but no mapped class and no
table was reachable from them afterwards: nothing was checked, so this is an error and the
app is never reported ready. The message names what was imported (each module and its file)
and what was looked for: a `MetaData`, `Table`, `registry`, declarative base
(`DeclarativeBase` subclass or `declarative_base()` result), mapped class or
Flask-SQLAlchemy `db` among the targets' attributes, in every imported module of the
targets' top-level packages (wherever they are installed: site-packages, an editable
install, a `src/` layout), and in the registries of their mapped classes.

**Why it happens.** `--models` points at the wrong module (the app factory that imports
models lazily inside a function, a `__init__.py` that imports nothing), or the models are
only imported when the app is created. A `db`/`Base` found with no tables (named in the
message as empty MetaData) means the base was imported but the classes never were.

**How to fix.** Point `--models` at the module(s) that define the classes, or at the
declarative base / `db` / `MetaData` object with `module:attribute` (e.g.
`--models server.models_sql`, `--models server.db:db`). Repeat `--models` for several
modules.

**Example** (`tests/fixtures/no_models`).

```text
[FAIL] mappers (0.05s)
  ERROR SQLA130 No SQLAlchemy models found
      imported app.models (app/models.py); looked for MetaData, Table, registry, declarative
      base (DeclarativeBase subclass or declarative_base() result), mapped class,
      Flask-SQLAlchemy db in its attributes, in every imported module of package(s) app and
      in the registries of their mapped classes: found none
      fix: Nothing mapped was found after importing app.models. Point --models at the module(s)
      that define the model classes, or at `module:attribute` for the declarative base, `db`
      object or MetaData.
```
""",
    ),
    Entry(
        GENERIC, "Unexpected exception while loading the models", "error", "models_import",
        _generic_hint,
        facts=("target",),
        optional=("reproduce", "reproduce_after", "statement", "sqlalchemy_docs"),
        samples={"reproduce": "cd /srv/app && /usr/bin/python3 -c 'import app.models; from "
                              "sqlalchemy.orm import configure_mappers; configure_mappers()'"},
        explanation="""\
**What it means.** Importing the models raised an exception that no specific code covers.
The location is the innermost frame in the app's own files; the app's stderr tail is
attached.

**Why it happens.** Import-time side effects: reading required environment variables
(`os.environ["DATABASE_URL"]`), connecting to a cache or the database, reading files that
exist only in production, calling an API.

**How to fix.** Read the exception and the output tail. Make the models importable without
side effects: read configuration and open connections inside functions or the app
factory, not at module level. If the variable is legitimately required, set it in the
sidecar's environment as well (the worker inherits it).

**Example** (`tests/fixtures/generic_exception`, `prints_then_fails`).

```python
engine = create_engine(os.environ["DATABASE_URL"])                 # broken, at import
def get_engine(): return create_engine(os.environ["DATABASE_URL"])  # fixed, on first use
```

```text
  ERROR SQLA199 Unexpected exception while loading the models
      at app/models.py:22
      KeyError: 'DATABASE_URL'
      fix: Read the exception at app/models.py:22. Run `python -c 'import app.models'` from the app
      path, with the app's interpreter, to see the full traceback.
```

A failure while the mappers configure gets the command that reproduces it there:
`python -c 'import app.models; from sqlalchemy.orm import configure_mappers; configure_mappers()'`.

When the app printed something first (`prints_then_fails`), the finding ends with
`output (tail):` and the app's lines, here `| connecting to redis at redis://cache:6379`.
""",
    ),
)

# --- issue 10's failure families: hints that rebuild the app's own statement -----------------

SQLA_DOCS = ("sqlalchemy_docs",)  # SQLAlchemy's page for its error code, when it has one
# what the worker sends for the statement it located (classify._statement_call/_assignment)
SAMPLE_CALL = {"callee": "Column", "named": False, "args": "Integer, primary_key=True",
               "annotation": None, "mapped": False, "positional": ["Integer"],
               "keywords": ["primary_key=True"]}
SAMPLE_ASSIGNMENT = {"target": "parent", "annotation": None,
                     "value": 'relationship("Node", back_populates="children")', "indent": 4}


def _call_text(call: Mapping[str, Any] | None, *, name: str | None = None,
               extra_after_type: str | None = None, extra: str | None = None) -> str | None:
    """``Column("id", Integer, ForeignKey("p.id"), primary_key=True)`` from a call's facts.

    ``name``: the column name to pass first (None: none). ``extra_after_type``: a positional
    argument to place after the type (a ForeignKey: Column() takes its type first).
    ``extra``: a keyword argument to append.
    """
    if not call or not call.get("callee"):
        return None
    positional = list(call.get("positional") or [])
    if call.get("named") and positional:
        positional = positional[1:]
    keywords = list(call.get("keywords") or [])
    if "positional" not in call:  # SQLA101's facts: one argument string
        args = [a for a in [str(call.get("args") or "")] if a]
        positional, keywords = args, []
    if extra_after_type is not None:
        positional.insert(1 if positional else 0, extra_after_type)
    parts = ([f'"{name}"'] if name else []) + positional + keywords
    if extra:
        parts.append(extra)
    return f"{call['callee']}({', '.join(parts)})"


def _schema_callable(call: Mapping[str, Any] | None, name: str) -> str:
    """``db.ForeignKey`` next to ``db.Column``, ``sa.ForeignKey`` next to ``sa.Column``,
    plain ``ForeignKey`` next to ``Column`` / ``mapped_column`` (sqlalchemy.orm has none)."""
    callee = str((call or {}).get("callee") or "")
    if callee.endswith("Column") and not callee.endswith("mapped_column"):
        return callee[: -len("Column")] + name
    return name


def _annotation(call: Mapping[str, Any] | None) -> str:
    ann = (call or {}).get("annotation")
    return f": {ann}" if ann else ""


def _assignment_text(assignment: Mapping[str, Any], value: str) -> str:
    ann = assignment.get("annotation")
    return f"{assignment['target']}{': ' + ann if ann else ''} = {value}"


def _with_keyword(assignment: Mapping[str, Any] | None, keyword: str) -> str | None:
    """The assignment with ``keyword`` added to its call: ``parent = relationship("Node",
    remote_side="Node.id")``; None when the value is not a call."""
    if not assignment:
        return None
    value = str(assignment.get("value") or "")
    if not value.endswith(")") or "(" not in value:
        return None
    inner = value[value.index("(") + 1: -1].strip()
    return _assignment_text(assignment, value[:-1] + (", " if inner else "") + keyword + ")")


def _sti_column_hint(f: Facts) -> str:
    call = f.get("column_call")
    parent = f.get("parent") or "the parent class"
    text = (
        f"`{f['class']}` is a single-table subclass of `{parent}`: its rows live in "
        f"'{f['table']}', which already has a column '{f['column']}'. Delete the line at "
        f"{f['location']} (the subclass inherits `{parent}.{f['attribute']}`), or declare "
        f"the column once, on `{parent}`."
    )
    if call and str(call.get("callee", "")).endswith("mapped_column"):
        fixed = _call_text(call, extra="use_existing_column=True")
        text += (f" If both classes declare the same column on purpose (SQLAlchemy 2.0+): "
                 f"`{f['attribute']}{_annotation(call)} = {fixed}`.")
    return text


def _joined_no_fk_hint(f: Facts) -> str:
    call = f.get("column_call")
    parent, key = f.get("parent") or "?", f.get("parent_key") or "?"
    fk = f'{_schema_callable(call, "ForeignKey")}("{key}")'
    fixed = _call_text(call, name=None, extra_after_type=fk) if call else None
    if call and call.get("named") and call.get("positional"):
        fixed = _call_text(call, name=str(call["positional"][0]).strip("'\""),
                           extra_after_type=fk)
    pk = f.get("pk_attribute") or "id"
    if fixed:
        how = f"make its primary key reference the parent's in {f['location']}: `{pk}" \
              f"{_annotation(call)} = {fixed}`"
    else:
        how = (f"give its primary key column `{fk}` in {f['location']} (after the type "
               "argument)")
    return (
        f"`{f['class']}` is a joined-table subclass of `{parent}`, but its table "
        f"'{f['table']}' has no foreign key to '{key}', so SQLAlchemy cannot join the two: "
        f"{how}. That changes the model only: where the database table lacks the constraint, "
        "the schema_drift check reports it and a migration adds it."
    )


def _joined_ambiguous_hint(f: Facts) -> str:
    pk, parent = f.get("pk_attribute") or "id", f.get("parent") or "?"
    parent_pk = f.get("parent_pk_attribute") or "id"
    return (
        f"'{f['table']}' has more than one foreign key to `{parent}`'s table, so SQLAlchemy "
        f"cannot tell which one links `{f['class']}` to its parent row. Say it in the class "
        f"body of `{f['class']}` ({f['location']}): `__mapper_args__ = {{\"inherit_condition\": "
        f"{pk} == {parent}.{parent_pk}}}` (add the key to the class's existing "
        "`__mapper_args__` if it has one)."
    )


def _declared_attr_hint(f: Facts) -> str:
    a = f.get("assignment") or {}
    name = a.get("target") or f.get("attribute") or "attr"
    pad = " " * int(a.get("indent") or 4)
    ann = a.get("annotation")
    returns = f" -> {ann}" if ann else ""
    what = ("a Column with a ForeignKey" if f.get("kind") == "column"
            else "a relationship() or other mapper property")
    method = (f"@declared_attr\n{pad}def {name}(cls){returns}:\n{pad}    return "
              f"{a.get('value') or '...'}")
    version = (" (SQLAlchemy 2.0 copies such columns itself; 1.4 needs this)"
               if f.get("kind") == "column" else "")
    return (
        f"The mixin `{f['mixin']}` declares {what} as a plain class attribute, so every "
        f"class using it (here `{f['mapped_class']}`) would share one object{version}. In "
        f"{f['location']}, make it a `declared_attr` method (`from sqlalchemy.orm import "
        f"declared_attr`), which builds one per class:\n{pad}{method}"
    )


def _mapped_missing_hint(f: Facts) -> str:
    ann, value = f.get("annotation"), f.get("value")
    attr = f.get("attribute") or "attr"
    if ann:
        fixed = f"{attr}: Mapped[{ann}]" + (f" = {value}" if value else "")
        line = (f"Wrap the annotation in `Mapped[]` in {f['location']}: `{fixed}` "
                "(`from sqlalchemy.orm import Mapped`).")
    else:
        line = f"Wrap the annotation in `Mapped[...]` in {f['location']}."
    return (
        f"{line} On a 2.0-style declarative class, an annotated attribute is mapped from its "
        "annotation, which must be `Mapped[...]`. For a whole legacy model being migrated, "
        "`__allow_unmapped__ = True` on the base keeps plain annotations unmapped instead."
    )


def _unresolved_annotation_hint(f: Facts) -> str:
    missing = f.get("missing")
    name = f"`{missing}`" if missing and missing != "?" else "a name in it"
    return (
        f"`{f['obj']}` is annotated `{f.get('annotation') or '?'}`, and {name} is not defined "
        f"in {f['file'] or 'its module'} when the class is mapped. Import it at module level "
        "there (an import under `if TYPE_CHECKING:` is not enough for a column's type), or "
        f"fix the spelling, in {f['location']}. A relationship to a class defined later "
        "is written `Mapped[\"ClassName\"]` with `relationship()`, which resolves by class "
        "name at configure time."
    )


# Python types with one obvious SQL type (sqlalchemy names, importable from `sqlalchemy`)
_OBVIOUS_SQL_TYPES = {"dict": "JSON", "list": "JSON", "Decimal": "Numeric",
                      "UUID": "Uuid", "time": "Time", "timedelta": "Interval"}


def _unmappable_hint(f: Facts) -> str:
    py = f.get("python_type") or "?"
    call = f.get("column_call")
    attr = f.get("attribute") or "attr"
    sql = _OBVIOUS_SQL_TYPES.get(py)
    if sql and call:
        positional = [sql, *list(call.get("positional") or [])]
        fixed = _call_text({**call, "positional": positional, "named": False})
        code = (f" In {f['location']}: `{attr}{_annotation(call)} = {fixed}` (`from "
                f"sqlalchemy import {sql}`), or map `{py}` once for every model: "
                f"`type_annotation_map = {{{py}: {sql}}}` on the DeclarativeBase subclass.")
    else:
        code = (f" Pass the SQL type as the first argument of `mapped_column()` in "
                f"{f['location']}, or add `{py}` with its SQL type to "
                "`type_annotation_map` on the DeclarativeBase subclass.")
    return (f"`Mapped[{py}]` has no SQL type: `{py}` is not in the registry's "
            f"type_annotation_map.{code}")


def _dataclass_hint(f: Facts) -> str:
    call = f.get("column_call")
    attr = f.get("attribute")
    head = (f"`MappedAsDataclass` turns `{f['class']}` into a dataclass, and Python refused "
            f"it: {f.get('dataclass_error')}.")
    if not attr:
        return head + f" Give the field a default or make it keyword-only ({f['location']})."
    mapped = bool(call) and str(call.get("callee", "")).endswith("mapped_column")
    # keyword-only keeps the field required (no made-up default); Python 3.10+ only
    keyword = "kw_only=True" if f.get("kw_only") else "default=None"
    fixed = _call_text(call, extra=keyword) if mapped else None
    code = f": `{attr}{_annotation(call)} = {fixed}`" if fixed else ""
    if f.get("kw_only"):
        how = (f"In {f['location']}, make `{attr}` keyword-only{code} (it stays required), or "
               "give it a default, or move it above the fields that have defaults.")
    else:
        how = (f"In {f['location']}, give `{attr}` a default{code} (keyword-only fields need "
               "Python 3.10), or move it above the fields that have defaults.")
    return f"{head} {how}"


def _remote_side_hint(f: Facts) -> str:
    pk = f.get("pk_attribute") or "id"
    fixed = _with_keyword(f.get("assignment"), f'remote_side="{f["class"]}.{pk}"')
    code = f": `{fixed}`" if fixed else f' (`remote_side="{f["class"]}.{pk}"`)'
    return (
        f"`{f['obj']}` and `{f.get('other')}` are a self-referential pair and both came out "
        "one-to-many, because nothing says which side holds the parent. Mark the "
        f"many-to-one side with `remote_side` in {f['location']}{code}. Inside the class "
        f"body `remote_side=[{pk}]` works too (after the `{pk}` column)."
    )


def _delete_orphan_hint(f: Facts) -> str:
    fixed = _with_keyword(f.get("assignment"), "single_parent=True")
    keep = f": `{fixed}`" if fixed else ""
    return (
        f"`{f['obj']}` is {f.get('direction') or 'many-to-one'} and has a delete-orphan "
        f"cascade, which belongs on the one-to-many side. Move `cascade=\"all, "
        f"delete-orphan\"` to the relationship on `{f.get('target')}` that lists these objects, "
        f"and drop it here ({f['location']}). Or, if each `{f.get('target')}` may be "
        f"referenced by only one `{f['class']}`, keep it and add single_parent{keep}."
    )


def _overlaps_hint(f: Facts) -> str:
    keys = f.get("overlaps_keys") or ""
    fixed = _with_keyword(f.get("assignment"), f'overlaps="{keys}"') if keys else None
    code = f": `{fixed}`" if fixed else ""
    return (
        f"`{f['obj']}` and {f.get('overlaps')} write the same foreign key column, so "
        "changing one silently overwrites the other at flush. If they are the two sides of "
        "one relationship, link them with `back_populates` on both. If the overlap is "
        f"intended (one of them read-only), say so in {f['location']}{code}, or make the "
        "other `viewonly=True`. SQLAlchemy warns today; the write conflict is real."
    )


def _missing_expression_attribute_hint(f: Facts) -> str:
    expression = f.get("expression")
    quoted = f"`{expression}` " if expression else ""
    return (
        f"The string expression {quoted}of `{f['obj']}` ({f['location']}) names "
        f"`{f.get('target')}.{f.get('missing_attribute')}`, but `{f.get('target')}` maps no "
        f"such attribute (its columns: {f.get('available')}). Use the attribute's name "
        "(not the database column's, if they differ)."
    )


def _multiple_classes_hint(f: Facts) -> str:
    paths = list(f.get("paths") or [])
    name = f.get("name") or "?"
    a = f.get("assignment") or {}
    fixed = None
    value = str(a.get("value") or "")
    for quote in ('"', "'"):
        if paths and a.get("target") and f"{quote}{name}{quote}" in value:
            fixed = _assignment_text(a, value.replace(f"{quote}{name}{quote}",
                                                      f'"{paths[0]}"', 1))
            break
    where = ", ".join(paths) or "?"
    defs = f.get("definitions") or []
    at = f" (defined at {', '.join(defs)})" if defs else ""
    code = f": `{fixed}`" if fixed else ""
    return (
        f"Write the module-qualified name of the class meant in {f['location']}{code}: "
        f"'{name}' names several mapped classes of one registry, {where}{at} (the first is "
        "the one its foreign keys point at, when they point at one). Or rename one of the "
        "classes."
    )


def _duplicate_column_hint(f: Facts) -> str:
    column, table = f.get("column") or "?", f.get("table") or "?"
    first = f" (the first is at {f['first_location']})" if f.get("first_location") else ""
    if f.get("class") and f.get("attribute"):  # a declarative attribute naming the column
        return (
            f"`{f['class']}.{f['attribute']}` ({f['location']}) names the column '{column}', "
            f"which table '{table}' already has{first}. If it is a second column, give it "
            f"its own name (the first argument of its Column() / mapped_column(), and a "
            f"migration that adds it); if it is meant as another name for the same column, "
            f"replace it with "
            f"`{f['attribute']} = synonym(\"{f.get('first_attribute') or column}\")` "
            "(`from sqlalchemy.orm import synonym`); otherwise delete one of the two.")
    return (
        f"Delete the repeated `Column(\"{column}\", ...)` at {f['location']}, or, if it is "
        f"another column, give it its own name (and add it in a migration): table '{table}' "
        f"gets two columns named '{column}'{first}.")


def _column_beside_table_hint(f: Facts) -> str:
    call = f.get("column_call")
    column = f.get("column") or f.get("attribute") or "?"
    as_table_column = _call_text(call, name=column) if call and str(
        call.get("callee", "")).endswith("Column") and not str(
        call.get("callee", "")).endswith("mapped_column") else None
    move = (f" (as `{as_table_column}`)" if as_table_column else "")
    return (
        f"`{f['class']}` maps an existing Table through `__table__`, so its body cannot add "
        f"columns. Move '{column}' into the `Table('{f['table']}', ...)` definition{move} and "
        f"delete the line at {f['location']}; or drop `__table__` and declare the class "
        "with `__tablename__` and its columns."
    )


def _tuple_hint(f: Facts) -> str:
    fixed = f.get("fixed")
    code = f": `{fixed}`" if fixed else ""
    return (
        f"The line at {f['location']} ends with a comma, so `{f['obj']}` is a one-element "
        "tuple, not a column or relationship: declarative ignores it, the table has no such "
        f"column and queries on it compare a tuple. Remove the trailing comma{code}."
    )


def _discriminator_column(f: Facts, name: str) -> str:
    """A discriminator column statement written as the class body writes its columns."""
    callee = str(f.get("column_callee") or "Column")
    if callee.endswith("mapped_column"):
        return f"{name}: Mapped[str] = {callee}(String(50))"
    return f"{name} = {callee}({_schema_callable({'callee': callee}, 'String')}(50))"


def _polymorphic_on_hint(f: Facts) -> str:
    column = _discriminator_column(f, "kind")
    base_identity = f.get("base_identity")
    identity = f', "polymorphic_identity": {base_identity}' if base_identity else ""
    return (
        f"`{f['class']}`'s hierarchy sets polymorphic_identity ({f.get('identity')}), but no "
        "class in it sets `polymorphic_on`, so the identity is never written or read: every "
        f"row loads as `{f['class']}`. Give `{f['class']}` a discriminator column and name it "
        f"in its `__mapper_args__` ({f['location']}), e.g. `{column}` "
        f"and `__mapper_args__ = {{\"polymorphic_on\": kind{identity}}}` (inside its class "
        "body, below the column), with the rows' values filled by a migration."
    )


def _duplicate_identity_hint(f: Facts) -> str:
    return (
        f"`{f['class']}` and `{f.get('previous')}` both declare polymorphic_identity="
        f"{f.get('identity')}: SQLAlchemy keeps the last one, so rows written as "
        f"`{f.get('previous')}` load as `{f['class']}`. Give `{f['class']}` its own value in "
        f"{f['location']} (`\"polymorphic_identity\": \"{str(f['class']).lower()}\"` in its "
        "`__mapper_args__`) and update existing rows of that type with a migration."
    )


FAMILY_ENTRIES: tuple[Entry, ...] = (
    Entry(
        "SQLA140", "Single-table subclass redeclares a column of its parent", "error",
        "models_import", _sti_column_hint, facts=("parent",),
        optional=("column_call", *SQLA_DOCS),
        samples={"column_call": SAMPLE_CALL},
        explanation="""\
**What it means.** A subclass without its own `__tablename__` (single-table inheritance)
declares a column its parent's table already has: `ArgumentError: Column 'name' on class
Manager conflicts with existing column 'employees.name'`. The import stops there.

**Why it happens.** A column copied into the subclass "to be explicit", or two subclasses that
each want a column of the same name (possibly with different types).

**How to fix.** Delete the subclass's line (it inherits the parent's column), or declare the
column once on the parent. With `mapped_column()` (SQLAlchemy 2.0+), two subclasses may share
one column on purpose with `use_existing_column=True`. Fixtures: `sti_column_conflict_*`.
""",
    ),
    Entry(
        "SQLA141", "Joined-table subclass without a foreign key to its parent", "error",
        "models_import", _joined_no_fk_hint, facts=("parent", "parent_key"),
        optional=("pk_attribute", "parent_pk_attribute", "column_call", *SQLA_DOCS),
        samples={"column_call": SAMPLE_CALL},
        explanation="""\
**What it means.** A subclass with its own `__tablename__` (joined-table inheritance) has no
foreign key to its parent's table: `NoForeignKeysError: Can't determine the inherit condition
between inherited table 'employees' and inheriting table 'engineers'; tables have no foreign
key relationships established.`

**How to fix.** Make the subclass's primary key reference the parent's:
`id = Column(Integer, ForeignKey("employees.id"), primary_key=True)` (2.0 style:
`id: Mapped[int] = mapped_column(ForeignKey("employees.id"), primary_key=True)`), with a
migration adding the constraint if the table exists. The hint rewrites the app's own line,
keeping `db.Column`/`sa.Column`/`mapped_column` and its arguments.
""",
    ),
    Entry(
        "SQLA142", "Joined-table subclass with several foreign keys to its parent", "error",
        "models_import", _joined_ambiguous_hint, facts=("parent",),
        optional=("pk_attribute", "parent_pk_attribute", "parent_key", *SQLA_DOCS),
        explanation="""\
**What it means.** `AmbiguousForeignKeysError: Can't determine the inherit condition between
inherited table 'employees' and inheriting table 'engineers'; tables have more than one
foreign key relationship established.` The subclass table references its parent's table twice
(its primary key, and e.g. a `mentor_id`).

**How to fix.** Name the inheritance join in the subclass body:
`__mapper_args__ = {"inherit_condition": id == Employee.id}` (inside the class body `id` is
the column declared above it).
""",
    ),
    Entry(
        "SQLA143", "Mixin attribute that needs declared_attr", "error", "models_import",
        _declared_attr_hint, facts=("mixin", "kind", "mapped_class"),
        optional=("assignment", *SQLA_DOCS),
        samples={"assignment": SAMPLE_ASSIGNMENT},
        explanation="""\
**What it means.** A mixin (a plain class the models inherit from) declares a
`relationship()` (any SQLAlchemy) or a Column with a `ForeignKey` (SQLAlchemy 1.4) as a plain
class attribute: `InvalidRequestError: Mapper properties (i.e. deferred, column_property(),
relationship(), etc.) must be declared as @declared_attr callables on declarative mixin
classes.` One object cannot belong to several mapped classes.

**How to fix.** Make it a method decorated with `declared_attr` that returns a new object for
each class:

```python
class OwnedMixin:
    @declared_attr
    def owner(cls):
        return relationship("User")
```

The finding points at the mixin's line, in the mixin's own file. SQLAlchemy 2.0 copies a
mixin's plain Columns (ForeignKey included) itself; on 1.4 they need `declared_attr` too.
""",
    ),
    Entry(
        "SQLA144", "polymorphic_identity without polymorphic_on", "warning", "mappers",
        _polymorphic_on_hint, facts=("identity",), optional=("column_callee", "base_identity"),
        explanation="""\
**What it means.** A class sets `__mapper_args__ = {"polymorphic_identity": ...}`, but no class
of its hierarchy sets `polymorphic_on` (the discriminator column). SQLAlchemy accepts this
silently: the identity is never stored, and querying the base returns base objects for every
row. Found by inspecting the configured mappers.

**How to fix.** Give the base a discriminator column and `"polymorphic_on": <that column>` in
its `__mapper_args__`; fill it for existing rows in a migration. Or, if inheritance
polymorphism is not wanted, remove `polymorphic_identity`.
""",
    ),
    Entry(
        "SQLA145", "Two classes share one polymorphic_identity", "error", "mappers",
        _duplicate_identity_hint, facts=("identity", "previous"),
        optional=SQLA_DOCS,
        check_note="(reported under models_import when the classes are defined at import)",
        explanation="""\
**What it means.** `SAWarning: Reassigning polymorphic association for identity 'manager' from
<Mapper ...; Manager> to <Mapper ...; Director>: Check for duplicate use of 'manager' as value
for polymorphic_identity.` Rows written as one class load as the other.

**How to fix.** Give each class its own identity value (usually a copy-paste of
`__mapper_args__`), and correct existing rows' discriminator values.
""",
    ),
    Entry(
        "SQLA150", "Annotated attribute without Mapped[]", "error", "models_import",
        _mapped_missing_hint, optional=("annotation", "value", "column_call", *SQLA_DOCS),
        samples={"column_call": SAMPLE_CALL},
        explanation="""\
**What it means.** On a 2.0-style declarative class (`DeclarativeBase`), an attribute is
annotated with a plain type (`name: str = mapped_column()`, `author: "User" = relationship()`):
`MappedAnnotationError: Type annotation for "Book.name" can't be correctly interpreted for
Annotated Declarative Table form.` (SQLAlchemy 2.0+; error code `zlpr`).

**How to fix.** Wrap the annotation: `name: Mapped[str] = mapped_column()`. For a legacy model
being moved to 2.0 piece by piece, `__allow_unmapped__ = True` on the base leaves plain
annotations alone.
""",
    ),
    Entry(
        "SQLA151", "Mapped[] annotation names something that is not defined", "error",
        "models_import", _unresolved_annotation_hint, facts=("missing",),
        optional=("annotation", *SQLA_DOCS),
        explanation="""\
**What it means.** `MappedAnnotationError: Could not resolve all types within mapped
annotation: "Mapped[ForwardRef('Money')]". Ensure all types are written correctly and are
imported within the module in use.` A column's annotation names a type that does not exist in
the class's module when it is mapped.

**How to fix.** Import the type at module level (not only under `TYPE_CHECKING`) or fix the
name. A relationship's target class may be a string (`Mapped["User"]`, resolved later by
class name); a column's type may not.
""",
    ),
    Entry(
        "SQLA152", "Mapped[] type with no SQL type", "error", "models_import",
        _unmappable_hint, facts=("python_type",), optional=("column_call", *SQLA_DOCS),
        samples={"column_call": SAMPLE_CALL},
        explanation="""\
**What it means.** `MappedAnnotationError: Could not locate SQLAlchemy Core type when resolving
for Python type indicated by '<class 'dict'>' inside the Mapped[] annotation for the 'data'
attribute`. `Mapped[T]` without an explicit type needs T in the registry's
`type_annotation_map` (int, str, bool, float, datetime, date, Decimal, bytes, UUID and enums
are built in; dict, list and your own classes are not).

**How to fix.** Pass the SQL type: `data: Mapped[dict] = mapped_column(JSON)`, or map the
Python type once on the base: `type_annotation_map = {dict: JSON}`.
""",
    ),
    Entry(
        "SQLA153", "MappedAsDataclass field order", "error", "models_import",
        _dataclass_hint, facts=("dataclass_error",),
        optional=("kw_only", "column_call", "assignment", *SQLA_DOCS),
        samples={"column_call": SAMPLE_CALL, "assignment": SAMPLE_ASSIGNMENT},
        explanation="""\
**What it means.** With `MappedAsDataclass`, every mapped attribute is a dataclass field, and
Python's dataclass rules apply: `InvalidRequestError: Python dataclasses error encountered
when creating dataclass for 'Book': TypeError("non-default argument 'title' follows default
argument")` (error code `dcte`). Often the `id` column got `default=None` or `init=False`
comes too late.

**How to fix.** Give the field a default (`mapped_column(default=None)`), make it keyword-only
(`kw_only=True`), or move it above the fields with defaults.
""",
    ),
    Entry(
        "SQLA160", "Self-referential relationship without remote_side", "error", "mappers",
        _remote_side_hint, facts=("other",), optional=("pk_attribute", "assignment",
                                                        *SQLA_DOCS),
        samples={"assignment": SAMPLE_ASSIGNMENT},
        explanation="""\
**What it means.** A class relates to itself (`parent`/`children` over `parent_id`) and both
sides came out one-to-many: `ArgumentError: Node.parent and back-reference Node.children are
both of the same direction ONETOMANY. Did you mean to set remote_side on the many-to-one side
?`

**How to fix.** On the many-to-one side (the one that points at the parent), add
`remote_side="Node.id"` (or `remote_side=[id]` inside the class body, after `id`).
""",
    ),
    Entry(
        "SQLA161", "delete-orphan cascade on a many-to-one relationship", "error", "mappers",
        _delete_orphan_hint, facts=("target",), optional=("direction", "assignment",
                                                          *SQLA_DOCS),
        samples={"assignment": SAMPLE_ASSIGNMENT},
        explanation="""\
**What it means.** `ArgumentError: For many-to-one relationship Comment.post, delete-orphan
cascade is normally configured only on the "one" side of a one-to-many relationship, and not
on the "many" side of a many-to-one or many-to-many relationship.` (error code `bbf0`).

**How to fix.** Put `cascade="all, delete-orphan"` on the one-to-many side
(`Post.comments`), or keep it on the many-to-one side with `single_parent=True` if each
parent may have only one child.
""",
    ),
    Entry(
        "SQLA162", "Relationships that write the same column", "warning", "mappers",
        _overlaps_hint, facts=("overlaps",), optional=("overlaps_keys", "assignment",
                                                       *SQLA_DOCS),
        samples={"assignment": SAMPLE_ASSIGNMENT},
        explanation="""\
**What it means.** `SAWarning: relationship 'Address.user' will copy column users.id to column
addresses.user_id, which conflicts with relationship(s): 'User.addresses' (copies users.id to
addresses.user_id).` (error code `qzyx`). Two relationships maintain one foreign key
independently; changing one overwrites the other at flush.

**How to fix.** Usually they are the two sides of one relationship: link them with
`back_populates` on both. If the overlap is intended, add `overlaps="addresses"` (the other
relationship's attribute name) or make one `viewonly=True`.
""",
    ),
    Entry(
        "SQLA163", "String expression names an attribute that does not exist", "error",
        "mappers", _missing_expression_attribute_hint,
        facts=("target", "missing_attribute", "available"),
        optional=("expression", *SQLA_DOCS),
        explanation="""\
**What it means.** A string argument of `relationship()` (`primaryjoin`, `order_by`,
`foreign_keys`, `remote_side`) is evaluated at configure time, and names an attribute the
class does not map: `AttributeError: Class <class 'app.models.Comment'> does not have a
mapped column named 'created'`.

**How to fix.** Use the mapped attribute's name (`Comment.created_at`); the hint lists the
class's columns.
""",
    ),
    Entry(
        "SQLA164", "secondary names a table that does not exist", "error", "mappers",
        "`secondary=\"{secondary}\"` in `{obj}` ({location}) names no table on this "
        "MetaData. `secondary` takes the association table's name as in `Table(\"{secondary}\", "
        "Base.metadata, ...)`, not a class name: fix the spelling, or import the module that "
        "defines the table before the mappers are configured.",
        facts=("secondary",),
        explanation="""\
**What it means.** `relationship("Role", secondary="user_roles")`, and no table named
`user_roles` exists on the MetaData: `InvalidRequestError: When initializing mapper
Mapper[User(users)], expression 'user_roles' failed to locate a name ('user_roles').` Before
SQLA164 this was reported as a missing class (SQLA104), which sent people looking for a
class.

**How to fix.** Use the association table's name (or the `Table` object), and make sure the
module defining it is imported.
""",
    ),
    Entry(
        "SQLA165", "Relationship to a class that is not mapped", "error", "mappers",
        "`{obj}` ({location}) points at `{target}` ({target_module}), which is not a mapped "
        "class: it does not inherit from the declarative base (or `db.Model`). Make "
        "`{target}` a model, or point the relationship at the mapped class.",
        facts=("target", "target_module"),
        explanation="""\
**What it means.** `relationship(SomeClass)` with a class that is not mapped:
`UnmappedClassError: Class 'app.schemas.User' is not mapped`. Often a Pydantic/dataclass
schema of the same name imported instead of the model.

**How to fix.** Import the model class (or use its name as a string), or map the class.
""",
    ),
    Entry(
        "SQLA166", "Several mapped classes with one name", "error", "mappers",
        _multiple_classes_hint, facts=("name", "paths"),
        optional=("definitions", "assignment", *SQLA_DOCS),
        samples={"assignment": SAMPLE_ASSIGNMENT,
                 "definitions": ["app/billing.py:12", "app/auth.py:9"],
                 "paths": ["app.billing.Account", "app.auth.Account"]},
        explanation="""\
**What it means.** Two classes named alike in different modules share one declarative
registry, and a string names one of them: `InvalidRequestError: Multiple classes found for
path "Account" in the registry of this declarative base. Please use a fully module-qualified
path.` (The same name *and* module is SQLA103 instead.)

**How to fix.** Write the module-qualified path in the string
(`relationship("app.billing.Account")`), or rename one class.
""",
    ),
    Entry(
        "SQLA170", "Column declared next to __table__", "error", "models_import",
        _column_beside_table_hint, optional=("column_call", *SQLA_DOCS),
        samples={"column_call": SAMPLE_CALL},
        explanation="""\
**What it means.** A class maps an existing `Table` with `__table__ = ...` and also declares a
column in its body: `ArgumentError: Can't add additional column 'name' when specifying
__table__`.

**How to fix.** Add the column to the `Table(...)` definition, or declare the class the usual
way (`__tablename__` and columns) without `__table__`.
""",
    ),
    Entry(
        "SQLA117", "The models read an environment variable that is not set", "error",
        "models_import", _env_variable_hint, facts=("variable",),
        samples={"variable": "DATABASE_URL", "file": "app/database.py", "line": 6},
        explanation="""\
**What it means.** A model module (or one it imports) reads `os.environ["NAME"]` at import
time and the variable is not set in the environment sidecar runs in, so the import fails
with `KeyError: 'NAME'`. In compose and Kubernetes the app container has the variable and the
sidecar container does not: the app starts, sidecar cannot import its models.

**How to fix.** Give the sidecar the app's environment (the same `environment:`/`env_file:`
or `env:`/`envFrom:`). sidecar never prints the variable's value.
""",
    ),
    Entry(
        "SQLA118", "The models build an engine at import from an unusable URL", "error",
        "models_import", _engine_url_hint, facts=("reason",),
        optional=("variable", "backend", "suggested"),
        samples={"reason": "empty", "variable": "DATABASE_URL", "file": "app/db.py",
                 "line": 8},
        explanation="""\
**What it means.** A model module (or one it imports) calls `create_engine()` or
`create_async_engine()` while it is imported, and the URL it passes cannot be used:
empty (`facts.reason` `empty`: compose's `${DATABASE_URL}` with the variable unset),
a variable reference left as text (`unexpanded`), `postgres://` (`alias`, refused by
SQLAlchemy 1.4+), an unescaped `@` in the password (`at_sign`) or malformed (`syntax`,
`port`). The import fails, so the app crash-loops before serving anything. `facts.variable`
names the environment variable the URL came from, when known; the URL itself is never
printed.

**How to fix.** Follow the hint for the reason; with `postgres://`, rewrite the scheme where
the app reads the variable.
""",
    ),
    Entry(
        "SQLA176", "A SQLModel field's type has no SQL type", "error", "models_import",
        _sqlmodel_type_hint, facts=("python_type",), optional=("sql_type",),
        samples={"class": "Event", "attribute": "payload", "python_type": "dict",
                 "sql_type": "JSON", "file": "app/models.py", "line": 9},
        explanation="""\
**What it means.** `ValueError: <class 'dict'> has no matching SQLAlchemy type`, raised by
SQLModel while the `class ... (SQLModel, table=True)` statement runs: a field is annotated
with a Python type SQLModel cannot turn into a column type (`dict`, `list`, a custom class).
The import fails at the class line; sidecar names the field.

**How to fix.** Give the field its column type: `payload: dict = Field(sa_type=JSON)`
(SQLModel 0.0.14+), or `Field(sa_column=Column(JSON))`.
""",
    ),
    Entry(
        "SQLA147", "Mapped class without __tablename__ or __table__", "error",
        "models_import", _no_table_hint, facts=("tablename",), optional=SQLA_DOCS,
        samples={"class": "AuditLog", "tablename": "audit_log"},
        explanation="""\
**What it means.** `Class <AuditLog> does not have a __table__ or __tablename__ specified and
does not inherit from an existing table-mapped class.` A declarative class needs a table:
its own (`__tablename__`), a given one (`__table__`), or its parent's (single-table
inheritance). A shared base class that is not a table needs `__abstract__ = True`.

**How to fix.** Add `__tablename__` (the existing table's name, where there is one), or mark
the class `__abstract__`.
""",
    ),
    Entry(
        "SQLA148", "polymorphic_on names an attribute that is not mapped", "error",
        "models_import", _polymorphic_on_unmapped_hint, facts=("value",),
        optional=("mapped", "closest", "column_callee", *SQLA_DOCS),
        samples={"class": "Employee", "value": "kind", "mapped": ["id", "name", "type"],
                 "closest": "type"},
        explanation="""\
**What it means.** `Can't determine polymorphic_on value 'kind' - no attribute is mapped to
this name.` `__mapper_args__ = {"polymorphic_on": "kind"}` names the discriminator column by
its attribute name, and the class maps none of that name (a typo, or the column was renamed).

**How to fix.** Name the attribute that holds the type, or declare the column.
""",
    ),
    Entry(
        "SQLA175", "Index or constraint on a column the table does not have", "error",
        "models_import", _constraint_column_hint, facts=("construct",),
        optional=("table_columns", "closest", *SQLA_DOCS),
        samples={"construct": "Index", "table": "posts", "column": "is_published",
                 "table_columns": ["id", "title", "published"], "closest": "published",
                 "class": "Post", "attribute": "__table_args__"},
        explanation="""\
**What it means.** `Can't create Index on table 'posts': no column named 'is_published' is
present.` An `Index`, `UniqueConstraint`, `PrimaryKeyConstraint` or `CheckConstraint` in
`__table_args__` (or a Core `Table`) names a column by a name the table does not have — most
often a column renamed in the model while its index kept the old name.

**How to fix.** Use the column's current name in the constraint, or remove it. The index's
own name in the database changes only through a migration.
""",
    ),
    Entry(
        "SQLA174", "A table declares the same column twice", "error", "models_import",
        _duplicate_column_hint, optional=("first_location", "first_attribute", *SQLA_DOCS),
        samples={"column": "state", "table": "task_instances"},
        explanation="""\
**What it means.** `DuplicateColumnError: A column with name 'state' is already present in
table 'task_instances'.` (SQLAlchemy 2.0+). Two `Column("state", ...)` in one `Table(...)`
(a copy-paste), or two attributes of a declarative class naming one column
(`state = Column(String)` and `status = Column("state", String)`). Located at the second
column, with the first as a related place.

**How to fix.** Delete the repeated column; or give it its own name (and add it in a
migration); or, for a second Python name of one column, use `synonym()`.
""",
    ),
    Entry(
        "SQLA171", "Attribute is a tuple (trailing comma)", "error", "models_import",
        _tuple_hint, optional=("fixed", *SQLA_DOCS),
        explanation="""\
**What it means.** `name = Column(String(50)),` — the trailing comma makes the attribute a
one-element tuple. Declarative does not map it (SQLAlchemy warns: `Ignoring declarative-like
tuple value of attribute 'name': possibly a copy-and-paste error with a comma accidentally
placed at the end of the line?`), so the table lacks the column and `Model.name == x`
compares a tuple. Also found from the class dicts, e.g. on a mixin, where SQLAlchemy says
nothing.

**How to fix.** Remove the comma.
""",
    ),
)

FAMILY_ENTRIES += (
    Entry(
        "SQLA146", "declared_attr that returns nothing", "error", "models_import",
        "`{obj}` is a `declared_attr` whose function returns None (no `return`), so "
        "`{mapped_class}` maps nothing under that name: the table has no such column and no "
        "relationship exists. In {location}, return what the function builds: `return "
        "Column(...)` / `return relationship(...)`.",
        facts=("mapped_class",),
        explanation="""\
**What it means.** A `@declared_attr` function on a mixin (or a base) builds a Column or
relationship but does not return it. Declarative stores the function's result, None, on each
mapped class and maps nothing, without a warning (1.4, 2.0, 2.1). Found from the mapped
classes' dicts; located at the function, in the mixin's own file.

**How to fix.** Add the `return`.
""",
    ),
    Entry(
        "SQLA172", "__table_args__ on a single-table subclass", "error", "models_import",
        "`{class}` has no table of its own (single-table inheritance: its rows live in "
        "`{parent}`'s table '{table}'), so its `__table_args__` ({location}) has nowhere to "
        "go. Move those constraints and indexes into `{parent}`'s `__table_args__`, or give "
        "`{class}` its own `__tablename__` (joined-table inheritance, with a primary key "
        "that is a ForeignKey to '{table}').",
        facts=("parent",),
        explanation="""\
**What it means.** `ArgumentError: Can't place __table_args__ on an inherited class with no
table.` A subclass without `__tablename__` shares its parent's table, and table arguments
(constraints, indexes, options) can only be given where the table is created.

**How to fix.** Put them in the parent's `__table_args__`; or make the subclass a joined-table
subclass with its own `__tablename__`.
""",
    ),
    Entry(
        "SQLA173", "__table_args__ ignored next to __table__", "warning", "models_import",
        "`{class}` maps the Table given by `__table__` ('{table}') as it is, so SQLAlchemy "
        "ignores its `__table_args__` ({location}) without a word. Pass those arguments to "
        "the `Table('{table}', ...)` call itself, and delete `__table_args__`.",
        explanation="""\
**What it means.** A class sets both `__table__ = some_table` and `__table_args__`. Declarative
uses the given Table unchanged; the constraints, indexes or options in `__table_args__` are
silently dropped (1.4, 2.0, 2.1), so the model does not say what its author thinks. Found by
inspecting the class dicts; the app works, so it is a warning.

**How to fix.** Move the arguments into the `Table(...)` definition.
""",
    ),
)

# --- the app factory (the app_factory check, opt-in) ----------------------------------------


def _callable_name(target: Any) -> str:
    """``create_app`` for ``server.app_factory:create_app``."""
    return str(target or "").rpartition(":")[2] or "the factory"


_WHEN = {"first": "here already on the first call, as the models were imported before it",
         "second": "here on the second call", "threaded": "here when the getter built the app"}


def _registered_again_hint(f: Facts) -> str:
    func = _callable_name(f.get("target"))
    cls = f.get("class") or "the model"
    when = _WHEN.get(str(f.get("call")), "here")
    if f.get("defined_in"):
        return (f"Move class {cls} out of `{f['defined_in']}()` ({f['location']}) into a "
                "models module that is imported once (at module level, or imported inside "
                "the function: an import runs a module once per process). The class statement "
                f"runs on every call of `{func}()`, so {cls} is defined again on the same "
                f"MetaData ({when}), as it is for the second app of a test run, a worker's "
                "warm-up or a getter called twice.")
    if f.get("module_file"):
        stmt = f.get("statement")
        shown = f"`{stmt}` ({f['location']})" if stmt else f"the statement at {f['location']}"
        return (f"Remove {shown}, or import the module instead: it runs "
                f"{f['module_file']} again on every call of `{func}()` ({when}), and every "
                "model class in it is defined again on the same MetaData. `import` runs a "
                "module once per process; the app needs the classes it already has, and the "
                "factory only binds them to the app (`db.init_app(app)`).")
    return (f"Make `{func}()` callable twice in one process: it registers {cls} again on the "
            f"same MetaData ({f['location']}; {when}). Define the models at module level in "
            "a module imported once, and let the factory only bind them to the app.")


def _replaced_again_hint(f: Facts) -> str:
    return ("The same edit as for SQLA180 — here SQLAlchemy only warned, the class was "
            "replaced in the declarative string-lookup table: `relationship(\"...\")` strings "
            "now resolve to the newest copy while the first app's mappers keep the old one. "
            + _registered_again_hint(f))


def _race_hint(f: Facts) -> str:
    getter = _callable_name(f.get("getter"))
    state = f.get("state") or "the app"
    builder = f.get("builder")
    build = f"`{builder}()`" if builder else "the build"
    kind = f.get("kind")
    check = (f"`{f['check_text']}` ({f['check_at']})" if f.get("check_text") else
             "the check")
    if kind == "no_recheck" and f.get("lock_text"):
        why = (f"each passed {check}, waited for `{f['lock_text']}` ({f['lock_at']}) and, "
               f"once it had the lock, ran {build} without checking `{state}` again")
        fix = "Check again inside the lock (double-checked locking)"
    elif kind == "cached" and f.get("cache_text"):
        why = (f"`{f['cache_text']}` ({f['cache_at']}) does not lock: every call made before "
               f"the first one has returned runs the function, so each ran {build}")
        fix = ("Keep the app in a module-level variable built under a lock (double-checked "
               "locking) instead of the cache")
    elif kind == "uncached":
        why = f"the getter runs {build} on every call"
        fix = "Keep the app in a module-level variable built once under a lock"
    else:
        why = (f"each passed {check} before any had set `{state}`, so each ran {build}")
        fix = ("Guard the build with a module-level `threading.Lock()`: `with` the lock, "
               f"check `{state}` again inside it, then build (double-checked locking)")
    text = (f"{f['threads']} threads called `{getter}()` ({f['location']}) at once: "
            f"{f['builds']} of them built an app and {f['apps']} different apps came back, "
            f"as {why}.")
    if f.get("ran_again"):
        text += f" The models ran again too ({f['ran_again']})."
    if f.get("raised"):
        text += f" The concurrent builds raised `{f['raised']}`."
    code = f.get("fixed_code")
    if code:
        block = "\n".join(f"    {line}" if line else "" for line in str(code).splitlines())
        text += f" {fix}, in {f['file']}:\n\n{block}\n\n"
    else:
        text += f" {fix}. "
    at_import = f"`{state} = {builder}()`" if builder and f.get("state") else \
        "the app (`app = create_app()`)"
    return (text + f"Or build the app once at import: {at_import} at module level, under "
            "Python's import lock, and have the getter return it.")


def _target_missing_hint(f: Facts) -> str:
    target, option, missing = str(f["target"]), f["option"], f["missing"]
    module, _, attr = target.partition(":")
    if missing == "module":
        return (f"The module '{module}' of {option} {target} cannot be imported from the app "
                "path. Check the spelling (`module:callable`, the module named as the app "
                "imports it, e.g. `server.app_factory:create_app`) and --app-path.")
    if missing == "attribute":
        closest = f.get("closest")
        guess = f" Did you mean `{module}:{closest}`?" if closest else ""
        return (f"Module '{module}' has no '{attr}' ({option} {target}).{guess} Point "
                f"{option} at the function that builds the app.")
    if missing == "callable":
        return (f"{option} {target} is not a function: point it at the function (or class) "
                "that builds the app, not at an app it built.")
    return (f"`{attr}()` needs arguments ({f.get('parameters') or '?'}) and the check calls "
            "it with none. Give them defaults, or point "
            f"{option} at a function without parameters that calls it with the production "
            f"values, e.g. `def create_app_for_checks(): return {attr}(...)`.")


FACTORY_FACTS = ("defined_in", "module_file", "statement", *SQLA_DOCS)
RACE_FACTS = ("check_at", "check_text", "lock_at", "lock_text", "cache_at", "cache_text",
              "state", "builder", "fixed_code", "ran_again", "raised")
RACE_CODE = """\
import threading

flask_app_lock = threading.Lock()

def get_flask_app():
    global flask_app
    if flask_app is None:
        with flask_app_lock:
            if flask_app is None:
                from server.app_factory import create_app

                flask_app = create_app()
    return flask_app"""

FAMILY_ENTRIES += (
    Entry(
        "SQLA180", "A second app registers a model's table again", "error", "app_factory",
        _registered_again_hint, facts=("target", "call"), optional=FACTORY_FACTS,
        samples={"class": "AuditEntry", "call": "second", "target": "app.factory:create_app",
                 "defined_in": "create_app"},
        explanation="""\
**What it means.** The app_factory check (opt-in, `--app-factory module:callable`) called the
app factory twice in one process, as a test suite, a worker's warm-up or a lazily built app
getter do, and a call registered a model again on the same MetaData: `InvalidRequestError:
Table 'x' is already defined for this MetaData instance.` The second app cannot be built.

**Why it happens.** The factory runs model code on every call: a `class ...(db.Model)`
statement inside `create_app()`, or `importlib.reload(models)` / `exec` of the models file
"to pick up changes". Python runs a class statement each time it is reached, and every run
registers the class and its Table on the one MetaData.

**How to fix.** Define the models at module level in a module that is imported once
(`import` runs a module once per process, also from inside a function), and let the factory
only bind them to the new app (`db.init_app(app)`). The finding points at the statement to
change: the `class` line inside the factory (`defined_in` names the function), or the
statement that runs the models' module again (the `reload` line, with the class as `also:`).
A models module imported under a second name (a `sys.path` entry into the package) stays
[SQLA102](#sqla102), whose hint is about that.

**Example** (`tests/fixtures/app_factory_models_inside`, `app_factory_reload`).

```text
$ sidecar check --app-path tests/fixtures/app_factory_models_inside --models app.models \
    --app-factory app.factory:create_app
[FAIL] app_factory (0.14s)
  ERROR SQLA180 A second app registers a model's table again
      at app/factory.py:14 (AuditEntry)
      fix: Move class AuditEntry out of `create_app()` (app/factory.py:14) into a models module that
      is imported once (at module level, or imported inside the function: an import runs a module
      once per process). The class statement runs on every call of `create_app()`, so AuditEntry is
      defined again on the same MetaData (here on the second call), as it is for the second app of a
      test run, a worker's warm-up or a getter called twice.
      InvalidRequestError: Table 'audit_entries' is already defined for this MetaData instance.
      Specify 'extend_existing=True' to redefine options and columns on an existing Table object.
```

```text
  ERROR SQLA180 A second app registers a model's table again
      at app/factory.py:15 (Business)
      fix: Remove `importlib.reload(models)` (app/factory.py:15), or import the module instead: it
      runs app/models.py again on every call of `create_app()` (here already on the first call, as
      the models were imported before it), and every model class in it is defined again on the same
      MetaData. [...]
      also: app/models.py:8 (the first definition of table 'business')
```

The factory runs the app's own start-up code in the worker: it may connect to the database
and start what the app starts (its writes through SQLAlchemy are refused, SIDE013).
""",
    ),
    Entry(
        "SQLA181", "A second app replaces a model class in the string-lookup table", "warning",
        "app_factory", _replaced_again_hint, facts=("target", "call"),
        optional=FACTORY_FACTS,
        samples={"class": "Business", "call": "second", "target": "app.factory:create_app",
                 "module_file": "app/models.py",
                 "statement": "importlib.reload(models)"},
        explanation="""\
**What it means.** As [SQLA180](#sqla180), but SQLAlchemy only warned: `SAWarning: This
declarative base already contains a class with the same class name and module name as
app.factory.AuditEntry, and will be replaced in the string-lookup table.` The second app is
built, but `relationship("AuditEntry")` strings now resolve to the newest class while the
first app's mappers hold the old one. When the same class also raises "already defined",
the one finding is SQLA180.

**Why it happens.** A model class defined inside the factory whose table allows redefinition
(`__table_args__ = {"extend_existing": True}`), or a module re-run whose tables are built
that way.

**How to fix.** As SQLA180: define the class once, at module level.

```text
  WARNING SQLA181 A second app replaces a model class in the string-lookup table
      at app/factory.py:14 (AuditEntry)
      fix: The same edit as for SQLA180 — here SQLAlchemy only warned, the class was replaced in the
      declarative string-lookup table: [...] Move class AuditEntry out of `create_app()`
      (app/factory.py:14) into a models module that is imported once [...]
      SAWarning: This declarative base already contains a class with the same class name and module
      name as app.factory.AuditEntry, and will be replaced in the string-lookup table.
```
""",
    ),
    Entry(
        "SQLA182", "The app getter builds more than one app when threads call it at once",
        "error", "app_factory", _race_hint,
        facts=("getter", "threads", "builds", "apps", "kind"), optional=RACE_FACTS,
        samples={"getter": "asgi:get_flask_app", "threads": 4, "builds": 4, "apps": 4,
                 "kind": "unguarded", "file": "asgi.py", "line": 25,
                 "check_at": "asgi.py:27", "check_text": "if flask_app is None:",
                 "state": "flask_app", "builder": "create_app", "fixed_code": RACE_CODE},
        explanation="""\
**What it means.** The app_factory check (opt-in, `--app-getter module:callable`) called the
function that builds the app on first use from 4 threads released at once, as a warm-up
thread and the first requests do, and more than one of them built an app (or the models ran
again). This is the incident's second bug: `get_flask_app()` in asgi.py, with a warm-up
thread and the main thread both creating the Flask app.

**How it is tested, deterministically.** The race is made certain, not likely: the builder
the getter calls (the `--app-factory`, or the first call of the getter's build statement,
`create_app()` of `flask_app = create_app()`) is replaced for the test by a gate that holds
each thread until all 4 are inside. A getter without a lock lets them all in, in every run,
whatever the scheduler does. A locked getter lets one in: it builds alone once the other
threads are seen waiting at the getter's `with <lock>:` while that lock is held (or after
2 s), and they then return its app: a pass. An app the
getter built already (at import, say) is set aside for the test and put back afterwards, so
the lazy path is what runs. `observed.getter` says what happened (`builds`, `apps`, `forced`:
whether a builder could be gated; `shape`: what the getter's source looks like).

**How to fix.** The hint gives the getter rewritten, read from its source (`fixed_code`):

- no lock (`if flask_app is None:` then build): a module-level `threading.Lock()`, `with` it
  around the build, and the check again inside (double-checked locking; the first check keeps
  the built app's path lock-free);
- a lock without a check inside: the check again inside the `with`;
- `@functools.lru_cache` (it does not lock: concurrent first calls all run the function) or
  no state at all: a module-level variable built once under a lock.

Or build the app once at import (`flask_app = create_app()` at module level, under Python's
import lock) and have the getter return it. The finding is located at the getter's `def`,
with the check no lock covers (or the lock, or the cache) as `also:`.

**Example** (`tests/fixtures/app_getter_unguarded`; `sidecar/examples/backend/broken_reserved`
once its SQLA101 is fixed).

```text
$ sidecar check --app-path tests/fixtures/app_getter_unguarded --models app.models \
    --app-getter app.asgi:get_flask_app
[FAIL] app_factory (0.07s)
  ERROR SQLA182 The app getter builds more than one app when threads call it at once
      at app/asgi.py:7
      fix: 4 threads called `get_flask_app()` (app/asgi.py:7) at once: 4 of them built an app and 4
      different apps came back, as each passed `if flask_app is None:` (app/asgi.py:9) before any
      had set `flask_app`, so each ran `create_app()`. Guard the build with a module-level
      `threading.Lock()`: `with` the lock, check `flask_app` again inside it, then build
      (double-checked locking), in app/asgi.py:

          import threading

          flask_app_lock = threading.Lock()

          def get_flask_app():
              global flask_app
              if flask_app is None:
                  with flask_app_lock:
                      if flask_app is None:
                          from app.factory import create_app

                          flask_app = create_app()
              return flask_app

      Or build the app once at import: `flask_app = create_app()` at module level, under Python's
      import lock, and have the getter return it.
      also: app/asgi.py:9 (the check every thread passes before any has built the app: no lock
      covers it)
      app.asgi:get_flask_app() returned 4 distinct apps when 4 threads called it at once; 4 of the
      threads built one
```

A getter that never returns (a factory that calls the getter back under its own
`threading.Lock`) is bounded by `--timeout`: SIDE001 with the line it waits on
(`tests/fixtures/app_getter_hangs`).
""",
    ),
    Entry(
        "SQLA183", "The app factory or getter raised an exception", "error", "app_factory",
        _generic_hint, facts=("target",),
        optional=("reproduce", "reproduce_after", "statement", "call", *SQLA_DOCS),
        samples={"reproduce": "cd /srv/app && /usr/bin/python3 -c 'import app.factory; "
                              "app.factory.create_app()'"},
        explanation="""\
**What it means.** The app factory (`--app-factory`) or the getter (`--app-getter`) raised,
while its module was imported or while the check called it; no more specific code applies
(a missing package is still [SQLA111](#sqla111), a missing variable SQLA117, an exit SIDE003).
The location is the innermost frame in the app's own files, as for the models' import.

**How to fix.** Read the exception; the hint's command reproduces the call outside sidecar
with the app's interpreter (`import app.factory; app.factory.create_app()`, twice when the
second call failed). The worker runs with the sidecar's environment: a factory that needs
configuration must find it there too.

```text
$ sidecar check --app-path tests/fixtures/app_factory_raises --models app.models \
    --app-factory app.factory:create_app
  ERROR SQLA183 The app factory or getter raised an exception
      at app/factory.py:16
      fix: Fix `raise RuntimeError("refusing to start: no payment provider configured")` at
      app/factory.py:16: it raised the exception below. To see the full traceback, run `cd
      /srv/app && /usr/bin/python3 -c 'import app.factory; app.factory.create_app()'`.
      RuntimeError: refusing to start: no payment provider configured
```
""",
    ),
    Entry(
        "SQLA184", "The --app-factory or --app-getter target does not exist", "error",
        "app_factory", _target_missing_hint, facts=("target", "option", "missing"),
        optional=("closest", "parameters"),
        samples={"target": "server.app_factory:create_ap", "option": "--app-factory",
                 "missing": "attribute", "closest": "create_app"},
        explanation="""\
**What it means.** `--app-factory` or `--app-getter` names something the worker cannot call:
its module does not import from the app path (`missing`: `module`), the module has no such
attribute (`attribute`, with the closest name), it is not callable (`callable`), or it needs
arguments the check cannot know (`arguments`). A value that is not `module:callable` at all
is refused before the worker starts (a usage error, exit status 2).

**How to fix.** Point the option at the function that builds the app, importable as the app
imports it; for a factory that takes its configuration as an argument, a function without
parameters that calls it with the production values.

```text
  ERROR SQLA184 The --app-factory or --app-getter target does not exist
      at app/factory.py
      fix: Module 'app.factory' has no 'create_ap' (--app-factory app.factory:create_ap). Did you
      mean `app.factory:create_app`? Point --app-factory at the function that builds the app.
      AttributeError: app.factory has no attribute 'create_ap'
```
""",
    ),
)

RESERVED_ACCEPTED = Entry(
    "SQLA116", "Reserved attribute name that this SQLAlchemy still accepts", "warning",
    "models_import", _reserved_accepted_hint,
    optional=("column_call", "column_name", "db_has_column", "declared_in", "sqlalchemy_version"),
    samples={"class": "Package", "attribute": "registry", "sqlalchemy_version": "2.0",
             "column_call": {"callee": "Column", "named": False, "args": "String(100)",
                             "annotation": None, "mapped": False}},
    explanation="""\
**What it means.** A mapped class defines a `registry` attribute (a column). SQLAlchemy 1.4
and 2.0 accept it without a word; 2.1 warns `Attribute name 'registry' should be left
reserved for the Declarative class registry when using a Declarative class.` The app works on
this version, so this is a warning, not an error: `Model.registry` is no longer the declarative
registry, which breaks code (and extensions) that read it, and a later SQLAlchemy may refuse
it. (A `metadata` column is refused by 1.4 and 2.0 and breaks Flask-SQLAlchemy on 2.1: that is
[SQLA101](#sqla101), an error.)

**How to fix.** As SQLA101: rename the attribute and keep the database column,
`package_registry = Column("registry", String(100))` (`tests/fixtures/reserved_registry_plain`).
""",
)

ALL_ENTRIES: tuple[Entry, ...] = tuple(sorted(
    ENTRIES + FAMILY_ENTRIES + (RESERVED_ACCEPTED,), key=lambda e: (e.code == GENERIC, e.code)))


FAMILY = Family(
    "SQLA1xx", "the model definition",
    "what importing the model modules and configuring the mappers reveals (checks "
    "`models_import` and `mappers`), and, opt-in, calling the app factory and its getter "
    "(check `app_factory`). Fix these in the app's code.",
    "", ALL_ENTRIES,
)

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
    ``db.Column("metadata", db.JSON, nullable=True)`` or None when the value is not a plain
    ``Column(...)`` / ``mapped_column(...)`` call whose first argument is not a name.
    """
    if not call or call.get("named"):
        return None  # not a call, or it already names its column explicitly
    callee = str(call.get("callee") or "")
    if callee.rsplit(".", 1)[-1] not in ("Column", "mapped_column"):
        return None
    args = call.get("args")
    return f'{callee}("{attribute}"' + (f", {args})" if args else ")")


def _reserved_hint(f: Facts) -> str:
    attr = f.get("attribute") or "metadata"
    cls = f.get("class")
    new = suggested_name(cls, attr)
    where = f" in {f['location']}" if f.get("file") else ""
    column_call = f.get("column_call") or {}
    call = _column_call_with_name(column_call, attr)
    # keep `Mapped[...]`: for a bare mapped_column() it is where the column's type comes from
    annotation = f": {column_call['annotation']}" if column_call.get("mapped") else ""
    reason = (
        "the MetaData collection" if attr == "metadata" else "the declarative class registry"
    )
    keep = (
        f"Rename the attribute and keep the database column{where}: "
        f"`{new}{annotation} = {call}` — the table keeps its '{attr}' column, so no migration "
        "is needed."
        if call
        else f"Rename the attribute{where} (for example to `{new}`) and pass the column name "
        f"explicitly: `{new} = Column(\"{attr}\", ...)` — no migration is needed."
    )
    migrate = (
        f" Or rename the column too (`{new} = Column(...)`) and ship a migration that runs "
        f"`ALTER TABLE ... RENAME COLUMN {attr} TO {new}` before the new code serves — the "
        "schema_drift check then reports any database where it has not run."
    )
    return (
        f"{keep}{migrate} Declarative reserves `{attr}` on every mapped class for {reason}. "
        f"Update code that reads `{cls or 'Model'}.{attr}` to `.{new}`."
    )


def _generic_hint(f: Facts) -> str:
    """The worker sends ``reproduce``: a shell command that imports the same modules with the
    app's interpreter in the app path (and configures the mappers when that is what failed)."""
    if f.get("reproduce"):
        first = f.get("reproduce_after")
        after = (f" It stops at the first failing mapper, {first}: fix that one first to see "
                 "this one." if first else "")
        return (f"Read the exception at {f['location']}. To see the full traceback, run "
                f"`{f['reproduce']}`.{after}")
    return (f"Read the exception at {f['location']}. Run `python -c 'import {f['target']}'` "
            "from the app path to see the full traceback.")


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
    if len(mods) >= 2:
        names = " and ".join(f"'{m['name']}' (sys.path entry {m['path_entry']!r})" for m in mods)
        keep = mods[0]["name"]
        site = f.get("second_import")
        at = f" The second import happens at {site}." if site else ""
        return (
            f"{f.get('file') or 'The module'} is imported twice, as {names}, so its module "
            "code runs twice: any model class in it is defined twice on one MetaData, and any "
            f"other module-level state exists twice.{at} Import it under one name only "
            f"(`import {keep}` everywhere) and remove the sys.path entry that exposes the "
            "package's inner folder (a sys.path.insert/append or PYTHONPATH)."
        )
    return (
        f"Two classes map the table '{f['table']}' on the same MetaData. Rename "
        "one `__tablename__`, merge the classes, or pass `__table_args__ = {'extend_existing': "
        "True}` if redefining is intended. If the same file is imported twice (two module "
        "names), import it under one name only."
    )


DOUBLE_IMPORT_FACTS = ("modules", "reimported", "first_error", "second_import")
# what locate.duplicate_modules sends, for the docs and the render test
TWO_MODULES = ({"name": "app.helpers", "path_entry": "/app"},
               {"name": "helpers", "path_entry": "/app/app"})


def _missing_dependency_hint(f: Facts) -> str:
    missing = f.get("missing_module") or "?"
    top = missing.split(".")[0]
    return (
        f"{f['location']} imports '{missing}', which is not installed in the app's "
        f"environment (Python: {f['python']}). Install the distribution that "
        f"provides '{top}' (add it to the app's requirements), or point --python at the "
        f"interpreter that has it. Imported while loading '{f.get('target') or ''}'."
    )


ENTRIES = (
    Entry(
        "SQLA101", "Reserved attribute name on a declarative class", "error", "models_import",
        _reserved_hint, optional=("column_call",),
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
      `event_metadata = db.Column("metadata", db.JSON, nullable=True)` — the table keeps its
      'metadata' column, so no migration is needed. Declarative reserves `metadata` on every mapped
      class for the MetaData collection. Update code that reads `SecurityEvent.metadata` to
      `.event_metadata`.
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
        "Several foreign keys link the tables behind `{obj}`. Say which one this relationship "
        "uses, in {location}: `relationship(..., foreign_keys=[{fk_hint}])`.",
        facts=("fk_hint",),
        explanation="""\
**What it means.** `AmbiguousForeignKeysError: Could not determine join condition between
parent/child tables on relationship Ticket.assignee - there are multiple foreign key paths
linking the tables.` Two or more foreign keys connect the two tables and the relationship
does not say which one it follows.

**Why it happens.** A second FK to the same table was added (`reporter_id` and
`assignee_id`, both to `users.id`), and existing relationships were not updated.

**How to fix.** Give each relationship its column: `relationship("User",
foreign_keys=[assignee_id])` (inside the class body) or `foreign_keys="Ticket.assignee_id"`.
The hint proposes the **first** FK column it finds in the class; check that it is the one the
relationship means (in the example below it proposes `reporter_id`, but `assignee` needs
`assignee_id`).

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
      relationship uses, in app/models.py:27: `relationship(...,
      foreign_keys=[Ticket.reporter_id])`.
```
""",
    ),
    Entry(
        "SQLA107", "No foreign key links a relationship's tables", "error", "mappers",
        "`{obj}` ({location}) joins tables that no ForeignKey links. Add "
        "`ForeignKey('<table>.<column>')` to the referencing column, or give the relationship "
        "an explicit `primaryjoin=`.",
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
        "`{obj}` ({location}) says back_populates='{missing_property}', but `{target}` has no "
        "such attribute. Add `{missing_property} = relationship(..., back_populates="
        "'{attribute}')` to `{target}`, or fix the name to the relationship that exists there.",
        facts=("missing_property", "target"),
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
        "`{obj}` ({location}) has ForeignKey('{target}'), but {missing}. Fix the target "
        "('<table>.<column>', table name not class name), or import the module that defines "
        "that table before mappers are configured.",
        facts=("target", "missing"),
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

**Why it happens.** Commonly: overlapping relationships that write the same FK column,
relationships that should be linked with `back_populates`, type or cascade settings that
SQLAlchemy ignores. Many SAWarnings become errors in the next major version (SQLA101's
2.0 error is a 2.1 warning in the other direction), so do not leave them.

**How to fix.** Read the warning text; it usually names the fix. To get a traceback to the
line that triggers it, run the import with `python -W error::sqlalchemy.exc.SAWarning -c
"import app.models; from sqlalchemy.orm import configure_mappers; configure_mappers()"`.
If a warning is understood and accepted, lower it with `--severity SQLA120=info`.

**Example** (two one-way relationships over the same FK).

```python
class User(Base):
    addresses = relationship("Address")                          # broken
    addresses = relationship("Address", back_populates="user")   # fixed
class Address(Base):
    user = relationship("User")                                  # broken
    user = relationship("User", back_populates="addresses")      # fixed
```

```text
[warn] mappers (0.01s)
  WARNING SQLA120 SQLAlchemy warning
      SAWarning: relationship 'Address.user' will copy column users.id to column addresses.user_id,
      which conflicts with relationship(s): 'User.addresses' (copies users.id to addresses.user_id).
      If this is not the intention, consider if these relationships should be linked with
      back_populates, [...] (Background on this warning at: https://sqlalche.me/e/21/qzyx)
      fix: Read the warning at the model package; SQLAlchemy warnings usually become errors in the
      next major version. Run with `-W error::sqlalchemy.exc.SAWarning` to get a traceback.
```
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
        "SQLA130", "No SQLAlchemy models found", "warning", "mappers",
        "Nothing mapped was found after importing {targets}. Point --models at the module(s) "
        "that define the model classes (or `module:attribute` for the declarative base, "
        "`db` object or MetaData).",
        facts=("targets",),
        explanation="""\
**What it means.** The `--models` modules imported without error, but no mapped class and no
table was found afterwards. Nothing was actually checked.

**Why it happens.** `--models` points at the wrong module (the app factory that imports
models lazily inside a function, a `__init__.py` that imports nothing), or the models are
only imported when the app is created.

**How to fix.** Point `--models` at the module(s) that define the classes, or at the
declarative base / `db` / `MetaData` object with `module:attribute` (e.g.
`--models server.models_sql`, `--models server.db:db`). Repeat `--models` for several
modules.

**Example** (`tests/fixtures/no_models`).

```text
[warn] mappers (0.05s)
  WARNING SQLA130 No SQLAlchemy models found
      no mapped class or table found after importing app.models
      fix: Nothing mapped was found after importing app.models. Point --models at the module(s) that
      define the model classes (or `module:attribute` for the declarative base, `db` object or
      MetaData).
```
""",
    ),
    Entry(
        GENERIC, "Unexpected exception while loading the models", "error", "models_import",
        _generic_hint,
        facts=("target",), optional=("reproduce", "reproduce_after"),
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
      path to see the full traceback.
```

When the app printed something first (`prints_then_fails`), the finding ends with
`output (tail):` and the app's lines, here `| connecting to redis at redis://cache:6379`.
""",
    ),
)

FAMILY = Family(
    "SQLA1xx", "the model definition",
    "what importing the model modules and configuring the mappers reveals (checks "
    "`models_import` and `mappers`). Fix these in the app's code.",
    "", ENTRIES,
)

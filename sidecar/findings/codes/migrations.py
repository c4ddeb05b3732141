"""MIG3xx: the migrations check, the database's Alembic revision against the scripts."""

from __future__ import annotations

from sidecar.findings.catalog import Entry, Family

ENTRIES = (
    Entry(
        "MIG301", "Database is behind the migration head", "error", "migrations",
        "Apply the {count} pending migration(s): `alembic upgrade head` (or the app's "
        "migrate step) before this version of the app serves traffic.",
        facts=("count",),
        explanation="""\
**What:** revisions exist in the scripts that the database has not applied; each pending
revision is listed with its message (`facts.pending`, oldest first).
**Why:** the deploy skipped the migrate step, or it failed.
**Fix:** `alembic upgrade head` before the new code serves traffic.

```
The database is 2 revision(s) behind head c3d2 (at a1f0).
Pending: b2e1 (add users.email); c3d2 (create security_events).
```
""",
    ),
    Entry(
        "MIG302", "Database revision unknown to the migration scripts", "error", "migrations",
        "The database is stamped with {revision}, which is not among the scripts (heads: "
        "{heads}). A newer release or another branch migrated it: deploy the code that has "
        "that revision, or restore the missing version file. Do not `alembic stamp` over "
        "it unless you know the schema matches.",
        facts=("revision", "heads"),
        explanation="""\
**What:** `alembic_version` holds a revision no script defines.
**Why:** a newer release (or another branch) migrated this database; a rollback of code
without a rollback of the schema.
**Fix:** deploy code that has the revision, or restore the missing version file.

```
alembic_version: ffff9999   scripts: a1f0 -> b2e1 -> c3d2
```
""",
    ),
    Entry(
        "MIG303", "Migration scripts have several heads", "warning", "migrations",
        "Two branches of migrations were merged in code without a merge revision: "
        "`alembic merge -m 'merge heads' {heads}`. `alembic upgrade head` refuses to run "
        "until then.",
        facts=("heads",),
        explanation="""\
**What:** the version graph has more than one head.
**Why:** two branches each added a migration; `alembic upgrade head` refuses to run.
**Fix:** `alembic merge -m "merge heads" <head1> <head2>`.

```
heads: c3d2 d4c3
```
""",
    ),
    Entry(
        "MIG304", "No alembic_version table", "error", "migrations",
        "Migrations never ran against this database. For an empty database run "
        "`alembic upgrade head`; if the schema was built by create_all() and matches the "
        "models, record that with `alembic stamp {head}`.",
        facts=("head",),
        explanation="""\
**What:** an Alembic configuration exists, but the database has no `alembic_version`.
**Why:** migrations never ran here, or the schema was built with `create_all()`.
**Fix:** `alembic upgrade head` on an empty database; `alembic stamp head` if the schema
already matches.

```
alembic stamp head
```
""",
    ),
    Entry(
        "MIG305", "Alembic configuration cannot be loaded", "error", "migrations",
        "Fix {config}: it must exist and name an existing script_location (relative paths "
        "are resolved from the current directory or next to the ini; `%(here)s/migrations` "
        "is unambiguous).",
        facts=("config",),
        explanation="""\
**What:** the configured `alembic.ini` (or `[tool.alembic]` in pyproject.toml) is missing or
its `script_location` does not exist.
**Why:** a path relative to another working directory.
**Fix:** use `script_location = %(here)s/migrations`.

```ini
[alembic]
script_location = %(here)s/migrations
```
""",
    ),
    Entry(
        "MIG399", "Reading the migration state failed", "error", "migrations",
        "Run `alembic current` and `alembic heads` with the app's configuration to see the "
        "full error.",
        explanation="""\
**What:** Alembic raised while reading the scripts or `alembic_version`.
**Why:** a version file that fails to import, a broken revision graph.
**Fix:** run `alembic heads` and `alembic current` to see the full error.

```
alembic heads
```
""",
    ),
)

FAMILY = Family(
    "MIG3xx", "the migration state",
    "what the `migrations` check finds comparing the revision in `alembic_version` with the "
    "heads of the app's migration scripts (the scripts are read, never run).",
    "", ENTRIES,
)

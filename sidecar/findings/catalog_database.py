"""Catalog entries for the database, migrations and schema_drift checks (DB2xx, MIG3xx,
DRIFT4xx). The worker (sidecar/worker/database.py, migrations.py, drift*.py) decides the
code and the facts; this file says it to humans. Each code has a section in
docs/findings.md.
"""

from __future__ import annotations

from sidecar.findings.catalog import Entry, RawFinding


def _facts(raw: RawFinding) -> dict:
    return dict(raw.get("facts") or {})


def _and_op(raw: RawFinding, lead: str = "Or, as an Alembic migration") -> str:
    op = _facts(raw).get("alembic_op")
    if not op:
        return ""
    if len(op) > 160:  # a whole create_table: too long for a hint line; facts carry it
        return f" {lead}: `{_one_line(op)[:60]}...` (complete in facts.alembic_op)."
    return f" {lead}: `{_one_line(op)}`."


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fix(raw: RawFinding, what: str) -> str:
    """'<what>: run the fix_sql (shown) ... or the Alembic op' for drift findings."""
    sql = raw.get("fix_sql")
    text = f"{what} " if what else ""
    if sql:
        text += "The SQL in fix_sql makes the database match the models; apply it through a " \
            "migration rather than by hand, so every environment gets it."
    else:
        text += "This database cannot do it with one ALTER statement; use Alembic's batch mode."
    return text + _and_op(raw, "Alembic op")


# --- database -----------------------------------------------------------------------------


def _auth_hint(raw: RawFinding) -> str:
    f = _facts(raw)
    user, db = f.get("user") or "?", f.get("database") or "?"
    if f.get("reason") == "role":
        return (f"The role '{user}' does not exist on the server. Create it (`CREATE ROLE "
                f"{user} LOGIN PASSWORD '...'`) or fix the user name in the URL.")
    if f.get("reason") == "hba":
        return ("The server's pg_hba.conf has no entry for this client (host, user, database, "
                "SSL). Add one, or connect with sslmode=require if only SSL entries exist.")
    return (f"The server rejected the password for '{user}' on database '{db}'. Check the "
            "secret the app is given (DATABASE_URL or its parts) against the role's "
            f"password (`ALTER ROLE {user} PASSWORD '...'`). Special characters in the "
            "password must be percent-encoded in a URL (@ → %40, / → %2F, : → %3A).")


def _malformed_hint(raw: RawFinding) -> str:
    f = _facts(raw)
    reason = f.get("reason")
    if reason == "alias":
        return (f"SQLAlchemy 1.4+ does not accept '{f.get('backend')}://'. Write "
                f"'{f.get('suggested')}://' (or '{f.get('suggested')}+psycopg2://'), e.g. "
                "`url = url.replace('postgres://', 'postgresql://', 1)` where the app reads it.")
    if reason == "at_sign":
        return ("Percent-encode special characters in the user name and password: '@' is "
                "%40, ':' is %3A, '/' is %2F (`urllib.parse.quote_plus(password)`), or build "
                "the URL with `sqlalchemy.URL.create(...)`.")
    if reason == "port":
        return "The port after the host must be a number: `postgresql://user:pw@host:5432/db`."
    if reason == "driver_name":
        return (f"SQLAlchemy has no '{f.get('driver')}' driver for {f.get('backend')}; known "
                f"ones: {f.get('known')}. Write `{f.get('backend')}+<driver>://...`.")
    if reason == "dialect":
        return (f"'{f.get('backend')}' is not a SQLAlchemy dialect. Use the form "
                "`dialect+driver://user:password@host:port/database` (postgresql, mysql, "
                "sqlite, ...), or install the package that provides this dialect.")
    if reason == "empty":
        return "Set the database URL (--database-url, SIDECAR_DATABASE_URL or DATABASE_URL)."
    return ("Use the form `dialect+driver://user:password@host:port/database`, e.g. "
            "`postgresql+psycopg2://app:secret@db:5432/app`; percent-encode special "
            "characters in the password.")


def _no_driver_hint(raw: RawFinding) -> str:
    f = _facts(raw)
    if f.get("suggested"):
        return (f"Install `{f.get('package')}` in the app's environment, or use the driver "
                f"that is installed: write the URL as `{f.get('suggested')}://...`.")
    return (f"Install `{f.get('package')}` in the app's environment (add it to the app's "
            "requirements), or name another installed driver in the URL "
            f"(`{f.get('backend')}+<driver>://`).")


# --- drift --------------------------------------------------------------------------------


def _rename_hint(raw: RawFinding) -> str:
    f = _facts(raw)
    old, new = f.get("old_column") or "?", f.get("new_column") or "?"
    kind = f.get("type") or "..."
    table = raw.get("table") or "?"
    changed = (f" Note the type also differs (database {f.get('db_type')}, models {kind})."
               if f.get("type_changed") else "")
    return (
        f"The model's `{new}` is most likely the database's `{old}` renamed without a "
        f"migration. Either apply the rename with a migration — "
        f"`op.alter_column('{table}', '{old}', new_column_name='{new}')`, whose SQL is in "
        f"fix_sql — or keep the database as it is, with no migration, by mapping the "
        f"attribute to the old column name: `{new} = Column(\"{old}\", {kind}, ...)` "
        f"(`mapped_column(\"{old}\", ...)` in 2.0 style). Deploy the code and the rename "
        f"together: in between, every query naming the other column fails.{changed}"
    )


def _enum_hint(raw: RawFinding) -> str:
    f = _facts(raw)
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


def _unreflectable_hint(raw: RawFinding) -> str:
    return (f"The sidecar could not read {raw.get('table')}'s definition "
            f"({_facts(raw).get('detail', '?')}); every other table was compared. Grant the "
            "sidecar's role access to it, or exclude it with drift_exclude "
            "(SIDECAR_DRIFT_EXCLUDE).")


def _timeout_hint(raw: RawFinding) -> str:
    which = {"lock_timeout": "lock_timeout (--lock-timeout-ms)",
             "statement_timeout": "statement_timeout (--statement-timeout-ms)"}.get(
        str(_facts(raw).get("reason")), "lock or statement timeout")
    return (f"The server answered, but one of the sidecar's reads was cancelled by its {which}. "
            "Another session holds a lock on a table the check reads (a migration or an ALTER "
            "TABLE running, a session idle in transaction), or the server is overloaded. Find "
            "the holder: `SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid "
            "IN (SELECT unnest(pg_blocking_pids(pid)) FROM pg_stat_activity)`. Raise the "
            "timeout only if the wait is expected.")


ENTRIES: list[Entry] = [
    # database ---------------------------------------------------------------------------
    Entry("DB201", "Database server not reachable", "error",
          "Nothing accepted the connection at {host}:{port}. Check that the database is "
          "running and ready (`pg_isready -h {host} -p {port}`), that host and port in the URL "
          "are right, and that the network allows the connection (in compose, use the "
          "service name as host, not localhost).",
          "database"),
    Entry("DB202", "Database host name does not resolve", "error",
          "The host '{host}' has no DNS entry where the app runs. Fix the host in the URL; in "
          "docker compose the host is the database's service name, and both containers must "
          "share a network.",
          "database"),
    Entry("DB203", "Connecting to the database timed out", "error",
          "No answer from {host}:{port} within {timeout_s} s. A firewall or security group "
          "dropping packets, a wrong IP, or an overloaded server are the usual causes; "
          "raise connect_timeout_s only if the server is merely slow.",
          "database"),
    Entry("DB204", "Database authentication failed", "error", _auth_hint, "database"),
    Entry("DB205", "Database does not exist", "error",
          "The server has no database '{database}'. Create it (`createdb -h {host} -p {port} "
          "-U <admin> -O {user} {database}`, or POSTGRES_DB in the postgres image), or fix "
          "its name in the URL.",
          "database"),
    Entry("DB206", "No driver installed for the URL's dialect", "error", _no_driver_hint,
          "database"),
    Entry("DB207", "Malformed database URL", "error", _malformed_hint, "database"),
    Entry("DB208", "Database driver substituted", "info",
          "A bare '{backend}://' means '{default_driver}' in the app's SQLAlchemy, which is "
          "not installed; the sidecar used '{driver}'. The app itself will fail the same way: "
          "write the URL as `{suggested}://...` (or install {default_driver}).",
          "database"),
    Entry("DB209", "SQLite database file does not exist", "error",
          "Nothing at {path}. A relative sqlite:/// path is resolved against the app path; "
          "use sqlite://// with an absolute path, or mount the volume holding the file. The "
          "sidecar opens SQLite read-only and never creates the file.",
          "database"),
    Entry("DB210", "The sidecar's session is not read-only", "warning",
          "The {dialect} session did not report a read-only transaction. The sidecar only "
          "reads, but give its role read-only privileges (or a read replica) to guarantee it.",
          "database"),
    Entry("DB211", "A database statement timed out", "error", _timeout_hint, "database"),
    Entry("DB299", "Unexpected database error", "error",
          "Read the driver's message above; if it does not name the cause, connect with the "
          "same URL using the app's driver (e.g. `psql`) from where the app runs.",
          "database"),
    # migrations -------------------------------------------------------------------------
    Entry("MIG301", "Database is behind the migration head", "error",
          "Apply the {count} pending migration(s): `alembic upgrade head` (or the app's "
          "migrate step) before this version of the app serves traffic.",
          "migrations"),
    Entry("MIG302", "Database revision unknown to the migration scripts", "error",
          "The database is stamped with {revision}, which is not among the scripts (heads: "
          "{heads}). A newer release or another branch migrated it: deploy the code that has "
          "that revision, or restore the missing version file. Do not `alembic stamp` over "
          "it unless you know the schema matches.",
          "migrations"),
    Entry("MIG303", "Migration scripts have several heads", "warning",
          "Two branches of migrations were merged in code without a merge revision: "
          "`alembic merge -m 'merge heads' {heads}`. `alembic upgrade head` refuses to run "
          "until then.",
          "migrations"),
    Entry("MIG304", "No alembic_version table", "error",
          "Migrations never ran against this database. For an empty database run "
          "`alembic upgrade head`; if the schema was built by create_all() and matches the "
          "models, record that with `alembic stamp {head}`.",
          "migrations"),
    Entry("MIG305", "Alembic configuration cannot be loaded", "error",
          "Fix {config}: it must exist and name an existing script_location (relative paths "
          "are resolved from the current directory or next to the ini; `%(here)s/migrations` "
          "is unambiguous).",
          "migrations"),
    Entry("MIG399", "Reading the migration state failed", "error",
          "Run `alembic current` and `alembic heads` with the app's configuration to see the "
          "full error.",
          "migrations"),
    # drift ------------------------------------------------------------------------------
    Entry("DRIFT401", "Table missing in the database", "error",
          lambda raw: _fix(raw, f"The models map '{raw.get('table')}', which the database "
                           "lacks: every query on it fails."),
          "schema_drift"),
    Entry("DRIFT402", "Extra table in the database", "warning",
          lambda raw: (f"No model maps '{raw.get('table')}'. If the app still needs it, add a "
                       "model; if it is another app's table, exclude it (drift_exclude); if "
                       "it is obsolete, drop it in a migration (fix_sql)."
                       + _and_op(raw, "Alembic op")),
          "schema_drift"),
    Entry("DRIFT403", "Column missing in the database", "error",
          lambda raw: _fix(raw, f"`{raw.get('table')}.{raw.get('column')}` is in the models "
                           "but not the database: every query on that table that selects it "
                           "fails (UndefinedColumn)."),
          "schema_drift"),
    Entry("DRIFT404", "Extra column in the database", "warning",
          lambda raw: (("It is NOT NULL without a default: add it to the model (with its "
                        "server_default) or give it a default / drop NOT NULL, or inserts "
                        "fail. " if _facts(raw).get("blocks_inserts") else "")
                       + "If the app no longer uses it, drop it in a migration (fix_sql); if a "
                       "model attribute should map it, add the Column."
                       + _and_op(raw, "Alembic op")),
          "schema_drift"),
    Entry("DRIFT405", "Column type differs", "warning",
          lambda raw: _fix(raw, f"Database {_facts(raw).get('db_type')}, models "
                           f"{_facts(raw).get('model_type')}. A narrower database type "
                           "truncates or rejects values; a cast may need USING."),
          "schema_drift"),
    Entry("DRIFT406", "Column nullability differs", "warning",
          lambda raw: _fix(raw, "NOT NULL only in the database makes inserts without the "
                           "column fail; NOT NULL only in the models lets NULLs in that the "
                           "code does not expect."),
          "schema_drift"),
    Entry("DRIFT407", "Server default differs", "warning",
          lambda raw: _fix(raw, f"Database default {_facts(raw).get('db_default')}, models "
                           f"{_facts(raw).get('model_default')}."),
          "schema_drift"),
    Entry("DRIFT408", "Index missing in the database", "warning",
          lambda raw: _fix(raw, "Queries relying on it scan the table. On a large table "
                           "create it CONCURRENTLY (postgresql_concurrently=True)."),
          "schema_drift"),
    Entry("DRIFT409", "Extra index in the database", "warning",
          lambda raw: _fix(raw, "Add it to the models (Index(...) or index=True) if it is "
                           "wanted, so the next autogenerate does not drop it."),
          "schema_drift"),
    Entry("DRIFT410", "Unique constraint missing in the database", "warning",
          lambda raw: _fix(raw, "Duplicates the models forbid can be inserted; check for "
                           "existing duplicates before adding it."),
          "schema_drift"),
    Entry("DRIFT411", "Extra unique constraint in the database", "warning",
          lambda raw: _fix(raw, "Inserts the models allow can fail with a unique violation; "
                           "add UniqueConstraint(...) to the model if it is intended."),
          "schema_drift"),
    Entry("DRIFT412", "Foreign key missing in the database", "warning",
          lambda raw: _fix(raw, "Referential integrity the models declare is not enforced; "
                           "check for orphan rows before adding it."),
          "schema_drift"),
    Entry("DRIFT413", "Extra foreign key in the database", "warning",
          lambda raw: _fix(raw, "Deletes and inserts the models allow can fail on it; add "
                           "the ForeignKey to the model if it is intended."),
          "schema_drift"),
    Entry("DRIFT414", "Likely unapplied column rename", "error", _rename_hint,
          "schema_drift"),
    Entry("DRIFT415", "Enum values differ", "warning", _enum_hint, "schema_drift"),
    Entry("DRIFT416", "Primary key differs", "warning",
          lambda raw: _fix(raw, "Alembic does not compare primary keys; the sidecar does. "
                           "Identity-map lookups and upserts use the models' key."),
          "schema_drift"),
    Entry("DRIFT417", "Check constraint missing in the database", "warning",
          lambda raw: _fix(raw, "Rows the models' CHECK forbids can be stored (named "
                           "constraints only are compared)."),
          "schema_drift"),
    Entry("DRIFT418", "Extra check constraint in the database", "warning",
          lambda raw: _fix(raw, "Inserts the models allow can fail on it; add "
                           "CheckConstraint(..., name=...) to the model if it is intended."),
          "schema_drift"),
    Entry("DRIFT419", "Comment differs", "info",
          lambda raw: _fix(raw, "Only documentation; harmless."),
          "schema_drift"),
    Entry("DRIFT420", "Table could not be compared", "warning", _unreflectable_hint,
          "schema_drift"),
    Entry("DRIFT429", "Other schema difference", "warning",
          lambda raw: _fix(raw, "Alembic reported a difference of a kind the sidecar has no "
                           "specific code for."),
          "schema_drift"),
    Entry("DRIFT431", "Schema differences explained by pending migrations", "info",
          "The differences are what the pending migrations ({pending}) change: run "
          "`alembic upgrade head` and they should disappear. Any that remain are real drift.",
          "schema_drift"),
    Entry("DRIFT432", "Schema changed outside the migrations", "warning",
          "The database is at head {heads}, yet differs from the models in {differences} "
          "place(s). Either someone changed the schema by hand (make a migration that "
          "records it, or revert it), or the models changed without a migration (`alembic "
          "revision --autogenerate`, then review it).",
          "schema_drift"),
    Entry("DRIFT433", "Schema compared against an unknown revision", "warning",
          "The database was migrated to {revision} by code this app does not have, so its "
          "{differences} difference(s) may be that code's intended schema. Deploy matching "
          "code before trusting or fixing them.",
          "schema_drift"),
    Entry("DRIFT499", "The schema comparison failed", "error",
          "Run `alembic check` (or `alembic revision --autogenerate` on a scratch branch) "
          "with the app's configuration to see the full error; exclude the table that "
          "causes it with drift_exclude meanwhile.",
          "schema_drift"),
]

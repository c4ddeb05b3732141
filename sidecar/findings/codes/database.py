"""DB2xx: the database check, connecting read-only to the app's database."""

from __future__ import annotations

from sidecar.findings.catalog import Entry, Facts, Family


def _mysql(f: Facts) -> bool:
    return f.get("dialect") in ("mysql", "mariadb")


def _auth_hint(f: Facts) -> str:
    hint = _auth_cause(f)
    if f.get("percent_decoded"):
        hint += (" The password in the URL holds %XX sequences, which SQLAlchemy decodes ('%41' "
                 "is read as 'A'): if the real password contains a '%' itself, write that '%' "
                 "as %25.")
    return hint


def _auth_cause(f: Facts) -> str:
    user, db = f.get("user") or "?", f.get("database") or "?"
    if _mysql(f):
        return (f"The server rejected '{user}' (MySQL/MariaDB error 1045). Check the secret the "
                f"app is given against the account: `ALTER USER '{user}'@'%' IDENTIFIED BY "
                "'...'` (an account is user@host: a user created for 'localhost' cannot log in "
                "over TCP from another container). Special characters in the password must be "
                "percent-encoded in a URL (@ → %40, / → %2F, : → %3A).")
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


# Encodes the password typed at a prompt that does not echo it, so it stays out of the shell
# history; the encoded form it prints is the password too (decoded trivially): paste it
# into the secret, do not leave it on a shared screen.
ENCODE_PASSWORD = ("python3 -c 'import getpass, urllib.parse; "
                   "print(urllib.parse.quote(getpass.getpass(), safe=\"\"))'")
# quote(..., safe=""), not quote_plus: SQLAlchemy decodes with unquote, so a '+' for a space
# would stay a '+'; and quote's default safe="/" would leave '/' as is.
ALEMBIC_PERCENT = ("in alembic.ini or `config.set_main_option(\"sqlalchemy.url\", url)`, "
                   "double each '%' of the encoded URL (`url.replace(\"%\", \"%%\")`): "
                   "Alembic's configparser reads '%' as interpolation")


def _password_characters_hint(f: Facts) -> str:
    return (f"Write the password percent-encoded in the URL ({f.get('escapes')}); SQLAlchemy "
            "decodes it, so the app connects as before and every other reader gets the same "
            f"password. Encode it without it entering the shell history: `{ENCODE_PASSWORD}` "
            "(type the password at the prompt; what it prints is the password, encoded, so "
            "paste it straight into the secret). Then "
            f"{ALEMBIC_PERCENT}.")


def _malformed_hint(f: Facts) -> str:
    reason = f.get("reason")
    if reason == "alias":
        return (f"SQLAlchemy 1.4+ does not accept '{f.get('backend')}://'. Write "
                f"'{f.get('suggested')}://' (or '{f.get('suggested')}+psycopg2://'), e.g. "
                "`url = url.replace('postgres://', 'postgresql://', 1)` where the app reads it.")
    if reason == "at_sign":
        return ("Percent-encode special characters in the user name and password: '@' is "
                "%40, ':' is %3A, '/' is %2F, '#' is %23, '%' is %25. Encode the password "
                f"without it entering the shell history: `{ENCODE_PASSWORD}` (what it prints is "
                "the password, encoded); or build the URL with "
                "`sqlalchemy.URL.create(...)`, which takes the password as it is. Then "
                f"{ALEMBIC_PERCENT}.")
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
        if f.get("variable"):
            return (f"`{f.get('variable')}` is set but empty in the sidecar's environment — "
                    f"compose expands `${{{f.get('variable')}}}` to nothing when the variable "
                    "is unset where `docker compose` runs (it warns: 'variable is not set. "
                    "Defaulting to a blank string'). Set it in the shell or `.env` beside the "
                    "compose file, or give the sidecar the app's `env_file:`; "
                    f"`${{{f.get('variable')}:?set {f.get('variable')}}}` makes compose refuse "
                    "to start without it.")
        return "Set the database URL (--database-url, SIDECAR_DATABASE_URL or DATABASE_URL)."
    if reason == "unexpanded":
        name = f.get("variable")
        return (f"The URL reached the sidecar as text containing `${{{name}}}` (or `$({name})`): "
                "nothing expanded it. An exec-form `CMD [\"sidecar\", \"--database-url\", "
                f"\"${name}\"]` runs no shell; an `env_file:` value is not expanded from other "
                "variables by older compose versions; Kubernetes expands `$(VAR)` only for a "
                "variable defined earlier in the same `env:` list. Pass the final URL, or let "
                f"the sidecar read `{name}` itself (`DATABASE_URL` is read when no "
                "--database-url is given).")
    return ("Use the form `dialect+driver://user:password@host:port/database`, e.g. "
            "`postgresql+psycopg2://app:secret@db:5432/app`; percent-encode special "
            "characters in the password.")


def _no_driver_hint(f: Facts) -> str:
    if f.get("suggested"):  # sent as "" when no other driver of the backend is installed
        return (f"Install `{f.get('package')}` in the app's environment, or use the driver "
                f"that is installed: write the URL as `{f.get('suggested')}://...`.")
    return (f"Install `{f.get('package')}` in the app's environment (add it to the app's "
            "requirements), or name another installed driver in the URL "
            f"(`{f.get('backend')}+<driver>://`).")


def _refused_hint(f: Facts) -> str:
    host, port = f.get("host"), f.get("port")
    ready = (f"`mariadb-admin ping -h {host} -P {port}` (or mysqladmin)" if _mysql(f)
             else f"`pg_isready -h {host} -p {port}`")
    return (f"Nothing accepted the connection at {host}:{port}. Check that the database is "
            f"running and ready ({ready}), that host and port in the URL are right, and that "
            "the network allows the connection (in compose, use the service name as host, not "
            "localhost).")


def _no_database_hint(f: Facts) -> str:
    db, host, port, user = f.get("database"), f.get("host"), f.get("port"), f.get("user")
    if f.get("reason") == "database_or_grant":  # MySQL/MariaDB error 1044
        return (f"The server refused '{user}' the database '{db}' (error 1044): it does not "
                f"exist, or the account has no privilege on it — MariaDB and MySQL say the "
                f"same for both. As an administrator: `SHOW DATABASES LIKE '{db}'`, then "
                f"`CREATE DATABASE `{db}`` if missing and `GRANT ALL ON `{db}`.* TO "
                f"'{user}'@'%'` (or MARIADB_DATABASE/MARIADB_USER in the image).")
    if _mysql(f):
        return (f"The server has no database '{db}' (error 1049). Create it (`CREATE DATABASE "
                f"`{db}``, or MARIADB_DATABASE / MYSQL_DATABASE in the image), or fix its name "
                "in the URL.")
    return (f"The server has no database '{db}'. Create it (`createdb -h {host} -p {port} "
            f"-U <admin> -O {user} {db}`, or POSTGRES_DB in the postgres image), or fix "
            "its name in the URL.")


def _timeout_hint(f: Facts) -> str:
    which = {"lock_timeout": "lock_timeout (--lock-timeout-ms)",
             "statement_timeout": "statement_timeout (--statement-timeout-ms)"}.get(
        str(f.get("reason")), "lock or statement timeout")
    find = ("`SHOW FULL PROCESSLIST` (a `Waiting for table metadata lock` row is the "
            "waiter; the holder is the long-running or sleeping session on that table, or a "
            "`LOCK TABLES`)" if _mysql(f) else
            "`SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid IN (SELECT "
            "unnest(pg_blocking_pids(pid)) FROM pg_stat_activity)`")
    if _mysql(f):
        which = {"lock_timeout": "lock_wait_timeout (--lock-timeout-ms)",
                 "statement_timeout": "max_statement_time / max_execution_time "
                 "(--statement-timeout-ms)"}.get(str(f.get("reason")), which)
    return (f"The server answered, but one of the sidecar's reads was cancelled by its {which}. "
            "Another session holds a lock on a table the check reads (a migration or an ALTER "
            "TABLE running, a session idle in transaction), or the server is overloaded. Find "
            f"the holder: {find}. Raise the timeout only if the wait is expected.")


ENTRIES = (
    Entry(
        "DB201", "Database server not reachable", "error", "database", _refused_hint,
        facts=("host", "port"), optional=("dialect",),
        explanation="""\
**What:** the connection was refused, or the server is starting up / shutting down
(`facts.reason`: `refused` or `starting`).
**Why:** the database is not running, the port is wrong, or the app connects to
`localhost` inside a container where the database is another service.
**Fix:** start the database or fix host/port; in compose use the service name.

```
postgresql+psycopg2://app:***@localhost:5432/app   # inside the backend container: wrong
postgresql+psycopg2://app:***@db:5432/app          # the compose service name: right
```
""",
    ),
    Entry(
        "DB202", "Database host name does not resolve", "error", "database",
        "The host '{host}' has no DNS entry where the app runs. Fix the host in the URL; in "
        "docker compose the host is the database's service name, and both containers must "
        "share a network.",
        facts=("host",),
        explanation="""\
**What:** DNS has no entry for the URL's host (`could not translate host name`).
**Why:** a typo, or the containers do not share a network.
**Fix:** correct the host; put app and database on one compose network.

```
DATABASE_URL=postgresql://app:***@dbb:5432/app   # "dbb": no such service
```
""",
    ),
    Entry(
        "DB203", "Connecting to the database timed out", "error", "database",
        "No answer from {host}:{port} within {timeout_s} s. A firewall or security group "
        "dropping packets, a wrong IP, or an overloaded server are the usual causes; "
        "raise --connect-timeout only if the server is merely slow.",
        facts=("host", "port", "timeout_s"),
        explanation="""\
**What:** no answer within `--connect-timeout` seconds (default 5, whole seconds for libpq
drivers).
**Why:** packets dropped by a firewall or security group, a wrong IP, an overloaded server.
**Fix:** open the path to the database; raise `--connect-timeout` only for a slow server.

```
sidecar check --database-url postgresql://app:***@10.0.0.99/app   # DB203 after 5 s
```
""",
    ),
    Entry(
        "DB204", "Database authentication failed", "error", "database", _auth_hint,
        facts=("reason", "user", "database"), optional=("dialect", "percent_decoded"),
        explanation="""\
**What:** the server rejected the credentials (`facts.reason`: `password`, `role` for an
unknown user, `hba` for no pg_hba.conf entry).
**Why:** a rotated secret, a wrong user, or a password with unescaped special characters.
**Fix:** fix the secret or the role; percent-encode `@ : /` in URL passwords.

```
postgresql://app:p@ss@db/app      # wrong: '@' in the password
postgresql://app:p%40ss@db/app    # right
```
""",
    ),
    Entry(
        "DB205", "Database does not exist", "error", "database", _no_database_hint,
        facts=("database", "host", "port", "user"), optional=("dialect", "reason"),
        explanation="""\
**What:** the server is up and the login works, but the named database does not exist.
**Why:** it was never created (fresh volume), or the name in the URL is wrong.
**Fix:** `createdb -O app app`, or `POSTGRES_DB=app` for the postgres image.

```
FATAL:  database "ap" does not exist
```
""",
    ),
    Entry(
        "DB206", "No driver installed for the URL's dialect", "error", "database",
        _no_driver_hint, facts=("package", "suggested", "backend"),
        explanation="""\
**What:** the DBAPI module the URL needs is not importable by the app's interpreter, and no
substitute applies (the URL names its driver, or none of the backend's drivers is installed).
**Why:** a missing requirement, e.g. `postgresql+pg8000://` without pg8000.
**Fix:** install the package, or name the installed driver in the URL (`facts.suggested`).

```
pip install psycopg2-binary        # or: postgresql+psycopg://... if psycopg 3 is installed
```
""",
    ),
    Entry(
        "DB207", "Malformed database URL", "error", "database", _malformed_hint,
        # which of the others come depends on the reason (sidecar/worker/checks/database/url.py)
        facts=("reason",), optional=("backend", "suggested", "driver", "known", "variable"),
        explanation="""\
**What:** the URL cannot be used (`facts.reason`: `syntax`, `port`, `alias` for
`postgres://`, `at_sign` for an unescaped `@`, `driver_name`, `dialect`, `empty` — also a
variable set to an empty value, `facts.variable` — or `unexpanded`, a `${VAR}` left as text).
**Why:** SQLAlchemy 1.4+ rejects `postgres://` (Heroku style); special characters in the
password must be percent-encoded.
**Fix:** see the hint for the reason; build URLs with `sqlalchemy.URL.create(...)`.

```
postgres://app:***@db/app     ->  postgresql://app:***@db/app
```
""",
    ),
    Entry(
        "DB208", "Database driver substituted", "info", "database",
        "A bare '{backend}://' means '{default_driver}' in the app's SQLAlchemy, which is "
        "not installed; the sidecar used '{driver}'. The app itself will fail the same way: "
        "write the URL as `{suggested}://...` (or install {default_driver}).",
        facts=("backend", "default_driver", "driver", "suggested"),
        explanation="""\
**What:** the URL names no driver, the dialect's default driver is missing, and the sidecar
used another installed driver of the same backend (noted in `observed.driver`).
**Why:** SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg (3); 1.4/2.0 mapped it to
psycopg2. An app with only psycopg2 installed will fail the same way at start-up.
**Fix:** write the driver into the URL.

```
postgresql://app:***@db/app  ->  postgresql+psycopg2://app:***@db/app
```
""",
    ),
    Entry(
        "DB209", "SQLite database file does not exist", "error", "database",
        "Nothing at {path}. A relative sqlite:/// path is resolved against the app path; "
        "use sqlite://// with an absolute path, or mount the volume holding the file. The "
        "sidecar opens SQLite read-only and never creates the file.",
        facts=("path",),
        explanation="""\
**What:** the SQLite URL names a file that is not there. The sidecar opens SQLite
read-only (`file:...?mode=ro`) and never creates it.
**Why:** a relative path resolved from another directory (relative paths are resolved
against the app path), or a volume that is not mounted.
**Fix:** use an absolute path (`sqlite:////data/app.db`) or mount the volume.

```
sqlite:///app.db     # relative: <app path>/app.db
sqlite:////data/app.db
```
""",
    ),
    Entry(
        "DB210", "The sidecar's session is not read-only", "warning", "database",
        "The {dialect} session did not report a read-only transaction. The sidecar only "
        "reads, but give its role read-only privileges (or a read replica) to guarantee it.",
        facts=("dialect",),
        explanation="""\
**What:** the session did not report a read-only transaction (e.g. a MySQL server that
ignored `SET SESSION TRANSACTION READ ONLY`).
**Why:** the sidecar cannot prove it never writes on this server.
**Fix:** give the sidecar's role read-only privileges, or point it at a replica.

```sql
GRANT SELECT ON ALL TABLES IN SCHEMA public TO sidecar_ro;
```
""",
    ),
    Entry(
        "DB211", "A database statement timed out", "error", "database", _timeout_hint,
        facts=("reason",), optional=("dialect",),
        explanation="""\
**What it means.** The server accepted the connection, but one of the sidecar's first reads
(the driver's own start-up queries included) was cancelled by the `lock_timeout` or
`statement_timeout` the sidecar sets on its session (`--lock-timeout-ms`,
`--statement-timeout-ms`). The cycle ends on time and the next cycle retries.

**Why it happens.** Another session holds a lock on a table the check reads — a migration or
an `ALTER TABLE` in progress, a session left idle in a transaction after DDL, even a lock on
a catalog table such as `pg_class` — or the server is too loaded to answer in time. The app
would block on the same lock.

**How to fix.** Find the session holding the lock and let it finish (or end it):
`SELECT pid, state, xact_start, query FROM pg_stat_activity WHERE pid IN (SELECT
unnest(pg_blocking_pids(pid)) FROM pg_stat_activity)`. Raise the timeouts only when long
waits are expected.
""",
    ),
    Entry(
        "DB212", "The role may not connect to this database", "error", "database",
        "The server knows the role and its password, but the role lacks the CONNECT privilege "
        "on the database (revoked, or never granted to it or to PUBLIC). As an administrator: "
        "`GRANT CONNECT ON DATABASE <database> TO <role>;` (the app uses the same role, so it "
        "cannot connect either).",
        explanation="""\
**What it means.** Authentication succeeded, then PostgreSQL refused the session: `permission
denied for database "app"` / `User does not have CONNECT privilege.` (SQLSTATE 42501).

**Why it happens.** `REVOKE CONNECT ON DATABASE ... FROM PUBLIC` as part of hardening, without
a grant to the app's role; a database re-created from a dump that did not restore grants.

**How to fix.** `GRANT CONNECT ON DATABASE <database> TO <role>;`
""",
    ),
    Entry(
        "DB213", "The database has no free connection slots", "error", "database",
        "The server refused a new session: all its connection slots are in use (or those left "
        "are reserved for superusers, or the role's or database's CONNECTION LIMIT is "
        "reached). The app's new connections fail the same way. Find who holds them: `SELECT "
        "usename, application_name, state, count(*) FROM pg_stat_activity GROUP BY 1, 2, 3 "
        "ORDER BY 4 DESC;` — then fix the leak or the pool sizes (replicas × pool_size + "
        "max_overflow must stay below max_connections), or put a pooler (pgbouncer) in front.",
        explanation="""\
**What it means.** `FATAL: sorry, too many clients already`, `too many connections for role`,
or `remaining connection slots are reserved` (SQLSTATE 53300) while connecting.

**Why it happens.** More replicas or larger pools than `max_connections` allows, a
connection leak, idle-in-transaction sessions, a role-level `CONNECTION LIMIT`.

**How to fix.** Look at `pg_stat_activity`, then size the pools (and sidecar's one connection
per cycle) below `max_connections`, or add a pooler.
""",
    ),
    Entry(
        "DB214", "The URL's password has characters other URL readers cut it at", "warning",
        "database", _password_characters_hint,
        facts=("characters", "escapes"), optional=("dialect",),
        samples={"characters": "# /", "escapes": "# → %23, / → %2F"},
        explanation="""\
**What:** the password in the URL holds `/`, `?`, `#` (or a `%` that starts no `%XX` escape)
as written. SQLAlchemy reads the password up to the `@`, so the app and the sidecar connect;
the finding is a warning.
**Why:** the same variable is read by other tools: libpq's URI parser (`psql "$DATABASE_URL"`,
`pg_isready -d`), Python's `urllib.parse`, Go and Node drivers, most migration runners.
urllib.parse ends the user information at the first `/`, `?` or `#` (RFC 3986's
delimiters); libpq at the first `/`, and it refuses a `%` that starts no `%XX` escape.
**Fix:** write the password percent-encoded; SQLAlchemy decodes it (`%23` is `#`). The hint
gives a one-liner that encodes it off the shell history; inside Alembic's config (alembic.ini,
`config.set_main_option`) a `%` must then be doubled.

```
postgresql://app:pa#ss/word@db/app        ->  postgresql://app:pa%23ss%2Fword@db/app
```
""",
    ),
    Entry(
        "DB299", "Unexpected database error", "error", "database",
        "Read the driver's message above; if it does not name the cause, connect with the "
        "same URL using the app's driver (e.g. `psql`) from where the app runs.",
        explanation="""\
**What:** connecting failed in a way the sidecar does not recognise; the driver's message
(redacted) is in the finding.
**Why:** SSL errors, proxies, exotic drivers.
**Fix:** connect with the same URL from where the app runs (`psql "$DATABASE_URL"`).

```
SSL SYSCALL error: EOF detected
```
""",
    ),
)

FAMILY = Family(
    "DB2xx", "the database connection",
    "what the `database` check finds reaching the app's database with the app's own driver, "
    "read-only.",
    """\
The `database` (DB2xx), `migrations` (MIG3xx) and `schema_drift` (DRIFT4xx) checks
all connect read-only: on PostgreSQL the session starts with
`default_transaction_read_only=on`, `statement_timeout` and `lock_timeout` (libpq startup
options), every transaction is rolled back, and SQLite files are opened with `mode=ro`.
Passwords are masked (`***`) in every message, fact and phase.
""",
    ENTRIES,
)

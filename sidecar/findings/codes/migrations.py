"""MIG3xx: the migrations check, the database's Alembic revision against the scripts."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from typing import Any

from sidecar.findings.catalog import Entry, Facts, Family

# A runner as the worker sends it (sidecar/worker/checks/migrations/howto.py), for the docs
# and the render test: the demo's own Alembic setup, DATABASE_URL read by env.py.
SAMPLE_RUNNER = {
    "tool": "alembic", "cwd": "/srv/app", "config": "alembic.ini", "alembic": "alembic",
    "url_var": "DATABASE_URL", "url_set": False, "url_value": None,
    "url_shown": "postgresql://app:***@db:5432/app", "other_env": [], "alembic_own": True,
    "python": "/usr/local/bin/python", "script_location": "/srv/app/migrations",
    "ini_abs": "/srv/app/alembic.ini", "package": None,
}


def _value(r: Mapping[str, Any]) -> str:
    value = r.get("url_value")
    if value and str(value).startswith("$"):
        return f'"{value}"'  # a variable that already holds the URL
    if value:
        return shlex.quote(str(value))
    if r.get("url_shown"):
        return shlex.quote(str(r["url_shown"]))
    return "'<the database URL>'"


def _env_prefix(r: Mapping[str, Any]) -> str:
    var = r.get("url_var")
    if not var or r.get("url_set"):
        return ""
    return f"{var}={_value(r)} "


def _api_code(r: Mapping[str, Any], action: str, args: tuple[str, ...]) -> str:
    """Alembic's API with the resolved folder and the URL from DATABASE_URL: for a config
    whose ini names another database (the CLI would migrate that one). Python strings in
    double quotes (JSON's are valid Python), so the shell's single quotes stay simple."""
    q = json.dumps
    ini = r.get("ini_abs")
    code = ["import os", "from alembic import command", "from alembic.config import Config",
            f"c = Config({q(str(ini))})" if ini else "c = Config()",
            f"c.set_main_option({q('script_location')}, {q(str(r.get('script_location')))})"]
    if r.get("api_sets_url", True):  # else env.py reads the URL variable itself
        var = q(str(r.get("url_var") or "DATABASE_URL"))
        code.append(f'c.set_main_option("sqlalchemy.url", os.environ[{var}].replace("%", "%%"))')
    if action == "merge":
        code.append(f'command.merge(c, {q(list(args))}, message="merge heads")')
    else:
        code.append(f"command.{action}(c, {q(args[0] if args else 'head')})")
    return "; ".join(code)


def migrate_command(r: Mapping[str, Any], action: str, *args: str) -> str:
    """The app's own migrate command for ``action`` (upgrade, stamp, merge) and a sentence of
    what it needs, from what the worker found. ``args``: the revision(s)."""
    tool = r.get("tool")
    cd = f"cd {shlex.quote(str(r.get('cwd')))} && " if r.get("cwd") else ""
    notes = []
    if tool == "flask-migrate":
        sub = {"upgrade": "upgrade", "stamp": f"stamp {' '.join(args)}",
               "merge": f"merge -m 'merge heads' {' '.join(args)}"}[action]
        directory = f" -d {shlex.quote(str(r['directory']))}" if r.get("directory") else ""
        flask_app = r.get("flask_app")
        env = f"FLASK_APP={shlex.quote(str(flask_app))} " if flask_app else ""
        cmd = f"`{cd}{env}{r.get('flask') or 'flask'} db{directory} {sub}`"
        if not flask_app and not r.get("flask_app_from"):
            notes.append("with FLASK_APP set to the module that creates the Flask app (no "
                         "FLASK_APP in the environment, .flaskenv or .env, and no app.py or "
                         "wsgi.py for flask to find)")
        if r.get("bind") and r.get("multidb") == "flask":
            notes.append("in the app's environment: Flask-Migrate's multidb env.py migrates "
                         "the SQLALCHEMY_DATABASE_URI database and every SQLALCHEMY_BINDS one, "
                         f"'{r['bind']}' among them")
        else:
            notes.append("in the app's environment: Flask-Migrate migrates the database that "
                         "the Flask app's SQLALCHEMY_DATABASE_URI names")
    elif tool == "alembic-api":
        code = _api_code(r, action, args)
        cmd = (f"`{cd}{_env_prefix(r)}{shlex.quote(str(r.get('python')))} "
               f"-c {shlex.quote(code)}`")
        ini_url = r.get("ini_url")
        if ini_url:
            notes.append(f"the ini's sqlalchemy.url is {ini_url}, another database, which the "
                         "alembic command would migrate: this sets the URL first")
        elif r.get("api_sets_url", True):
            notes.append("env.py reads no URL variable, so this sets sqlalchemy.url first")
        else:
            notes.append("there is no ini for the alembic command: this names the folder")
        if r.get("url_var") and r.get("url_set"):
            notes.append(f"{r['url_var']} is already set in the app's environment")
        elif not r.get("url_value") and r.get("url_shown"):
            notes.append("put the password where *** is")
        if r.get("package"):
            notes.append(f"the migrations ship inside the package {r['package']!r}: its own "
                         "upgrade command, if it has one, does the same")
    else:
        verb = {"upgrade": "upgrade head", "stamp": f"stamp {' '.join(args)}",
                "merge": f"merge -m 'merge heads' {' '.join(args)}"}[action]
        config = f" -c {shlex.quote(str(r['config']))}" if r.get("config") else ""
        cmd = f"`{cd}{_env_prefix(r)}{r.get('alembic') or 'alembic'}{config} {verb}`"
        if r.get("url_var") and r.get("url_set"):
            notes.append(f"{r['url_var']} is already set in the app's environment")
        elif r.get("url_var") and not r.get("url_value") and r.get("url_shown"):
            notes.append("put the password where *** is")
        elif r.get("url_var") and not r.get("url_value"):
            notes.append(f"env.py reads the database URL from {r['url_var']}")
    if r.get("bind") and r.get("multidb") and action == "stamp":
        notes.append("it stamps every database the multidb env.py migrates, the default one "
                     "too: only right if each of them matches its models; to record the "
                     f"revision in '{r['bind']}' alone, run there `CREATE TABLE "
                     "alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY); INSERT "
                     f"INTO alembic_version VALUES ('{' '.join(args)}')`")
    if r.get("bind") and r.get("multidb") == "alembic":
        notes.append("the multidb env.py migrates every database the ini's `databases` names, "
                     f"'{r['bind']}' among them, with the URL of its own section")
    other = [v for v in (r.get("other_env") or []) if v != r.get("url_var")]
    if other:
        notes.append(f"env.py also reads {', '.join(other)}: set them as the app's deploy does")
    if r.get("alembic_own") is False:
        notes.append("Alembic is not installed in the app's environment, sidecar lent its "
                     "own to read the scripts: install it there first")
    return cmd + (f" ({'; '.join(notes)})" if notes else "")


def _unknown_revision_hint(f: Facts) -> str:
    hint = (f"The database is stamped with {f['revision']}, which is not among the scripts "
            f"(heads: {f['heads']}). A newer release or another branch migrated it: deploy the "
            "code that has that revision, or restore the missing version file. Do not "
            "`alembic stamp` over it unless you know the schema matches.")
    if f.get("unmanaged"):
        bind = f.get("bind") or "NAME"
        hint += (f" These migrations' env.py migrates one database, so the '{bind}' database "
                 "may belong to another set of migrations (another service's): then give "
                 f"that one's config, `--alembic-ini {bind}=PATH`, and its revisions are "
                 "compared instead.")
    return hint


def _behind_hint(f: Facts) -> str:
    runner = f.get("runner")
    if not runner:
        return (f"Apply the {f['count']} pending migration(s) with the app's migrate step "
                "(`alembic upgrade head` where alembic.ini is) before this version of the "
                "app serves traffic.")
    return (f"Apply the {f['count']} pending migration(s) before this version of the app "
            f"serves traffic: {migrate_command(runner, 'upgrade')}.")


def _heads_hint(f: Facts) -> str:
    heads = str(f["heads"]).split()
    runner = f.get("runner")
    cmd = (migrate_command(runner, "merge", *heads) if runner else
           f"`alembic merge -m 'merge heads' {' '.join(heads)}`")
    return ("Two branches of migrations were merged in code without a merge revision: "
            f"create one with {cmd} and commit it. Upgrading to head refuses to run until "
            "then.")


def _no_table_hint(f: Facts) -> str:
    runner = f.get("runner")
    if not runner:
        return ("Migrations never ran against this database. For an empty database run "
                "`alembic upgrade head`; if the schema was built by create_all() and matches "
                f"the models, record that with `alembic stamp {f['head']}`.")
    empty = str(f.get("table_count") or "0") == "0"
    upgrade = migrate_command(runner, "upgrade")
    stamp = migrate_command(runner, "stamp", str(f["head"]))
    if empty:
        return f"Migrations never ran against this empty database: {upgrade}."
    return ("Migrations never ran against this database, yet it has tables (create_all(), "
            "or another tool): if the schema matches the models (see schema_drift), record "
            f"that with {stamp}; do not upgrade over existing tables.")


def _unreadable_hint(f: Facts) -> str:
    reason = f.get("reason")
    if reason == "runtime":
        return (f"List every folder env.py adds in `version_locations` in {f['config']} "
                "(separated by spaces, with `path_separator = space`: older Alembic splits on "
                "spaces anyway), so the revisions can be read without running "
                "env.py; until then the database's revision is not compared with the "
                "scripts (a static read would report heads that the app does not have).")
    if reason == "no_versions":
        return ("Ship the version files with the app (the image must contain the folder the "
                "config names), or point --alembic-ini at the config the deploy uses.")
    return ("No migration has been written yet, or the version files are elsewhere: point "
            f"`version_locations` in {f['config']} at them (or --alembic-ini at the config "
            "the deploy uses).")


ENTRIES = (
    Entry(
        "MIG301", "Database is behind the migration head", "error", "migrations",
        _behind_hint,
        facts=("count",), optional=("runner",), samples={"runner": SAMPLE_RUNNER},
        explanation="""\
**What:** revisions exist in the scripts that the database has not applied; each pending
revision is listed with its message (`facts.pending`, oldest first).
**Why:** the deploy skipped the migrate step, or it failed.
**Fix:** run the app's migrate step before the new code serves traffic. The hint names it
as the app runs it: `flask db upgrade` for a Flask-Migrate folder (with `FLASK_APP` when flask
cannot find the app by itself), `alembic -c <config> upgrade head` from the folder its
relative paths need, with the URL variable env.py reads (`DATABASE_URL=... alembic ...`), or
Alembic's API when the ini's `sqlalchemy.url` names another database.

```
The database is 2 revision(s) behind head c3d2 (at a1f0).
Pending: b2e1 (add users.email); c3d2 (create security_events).
```
""",
    ),
    Entry(
        "MIG302", "Database revision unknown to the migration scripts", "error", "migrations",
        _unknown_revision_hint, facts=("revision", "heads"), optional=("bind", "unmanaged"),
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
        _heads_hint,
        facts=("heads",), optional=("runner",), samples={"runner": SAMPLE_RUNNER},
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
        _no_table_hint,
        facts=("head",), optional=("runner", "table_count"),
        samples={"runner": SAMPLE_RUNNER},
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
        "Fix {config}: {detail} It must exist and name an existing script_location (a "
        "relative path is tried against the config's folder, the working directory, the app "
        "path and the package; `script_location = %(here)s/migrations` is unambiguous).",
        facts=("config",), optional=("detail",),
        explanation="""\
**What:** the Alembic config found (see the family's order above) is missing, or its
`script_location` / `version_locations` does not resolve to a folder.
**Why:** a path relative to another working directory.
**Fix:** use `script_location = %(here)s/migrations`.

```ini
[alembic]
script_location = %(here)s/migrations
```
""",
    ),
    Entry(
        "MIG306", "Migration revisions cannot be read from the files", "warning",
        "migrations", _unreadable_hint,
        facts=("reason", "config"), optional=("detail", "locations"),
        samples={"reason": "runtime", "config": "migrations/alembic.ini"},
        explanation="""\
**What:** the config was found, but which revisions the app has cannot be known without
running env.py: env.py sets `version_locations` (or `script_location`) while it runs, or the
version folder is missing or empty. The database's revision is read and shown, but not
compared: no "several heads" or "unknown revision" that only the static read would produce.
**Why:** plugins or apps that add version folders in code; version files generated at deploy
time; a brand-new migrations folder.
**Fix:** list the folders in the ini's `version_locations` (env.py may still set them too).

```ini
[alembic]
script_location = %(here)s/migrations
version_locations = %(here)s/migrations/versions %(here)s/plugins/versions
path_separator = space
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
    """\
**Which config.** Without flags the check looks, in this order, and uses the first it finds
(`observed.found_by` says which and why, `observed.also_found` lists the others):

1. `--alembic-ini` / `SIDECAR_ALEMBIC_INI` (an ini, a `pyproject.toml`, or a folder);
2. `alembic.ini` at the app path;
3. `pyproject.toml` with `[tool.alembic]` at the app path (Alembic 1.16+);
4. a Flask-Migrate folder at the app path: `migrations/`, then any other direct subfolder
   with `alembic.ini` and `env.py`; then an `alembic.ini` in any other direct subfolder
   (`db/alembic.ini`);
5. an `alembic.ini` shipped inside the top-level packages of the `--models` targets, wherever
   they are installed (`optuna/storages/_rdb/alembic.ini`), shallowest first, a `tests/`
   folder's last;
6. a migrations folder without an ini inside those packages (`env.py` beside `versions/`).

**Where its scripts are**, as the app's tool resolves them: no `script_location` in a folder
with env.py → that folder (Flask-Migrate sets it at run time); `package:path` → inside the
importable package; a relative path → the config's folder, then the working directory, then
the app path, then the package (and the folder holding it); `%(here)s` is Alembic's own.
`version_locations` is read from the ini, split by `path_separator` (or the legacy spaces
and commas). env.py is never run: it may migrate, or need the app's settings.
""", ENTRIES,
)

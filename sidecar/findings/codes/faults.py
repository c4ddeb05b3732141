"""SIDE0xx: the worker process itself, as the runner (or the worker) saw it end."""

from __future__ import annotations

from sidecar.findings.catalog import Entry, Facts, Family
from sidecar.worker.registry import CHECKS

# a timeout in these is the app's import-time code, in the others our database work
_APP_CODE_CHECKS = tuple(check.name for check in CHECKS if check.imports_app_code)


def _timeout_hint(f: Facts) -> str:
    """What to do depends on where the time went: the app's import, or our database work."""
    head = (f"The worker was still busy after {f['timeout_s']} s, in {f['phase']}; it "
            f"was killed with everything it started. {f['stuck_at']}").strip()
    if ": calling " in str(f["phase"]):  # the app's factory or getter, called by a check
        advice = ("The app's start-up code did not return: a lock it waits for that is "
                  "never released (a factory that calls the getter under the getter's own "
                  "threading.Lock: do not, or use threading.RLock), or a service that never "
                  "answers. Raise --timeout if the app is merely slow to start.")
    elif str(f["phase"]).startswith((*_APP_CODE_CHECKS, "starting")):
        advice = ("Import-time code must not wait on the network or loop forever: move it "
                  "behind a function, or raise --timeout if the app is merely slow to import.")
    else:
        advice = ("The database work took too long: check the database's load and locks "
                  "(the statement and lock timeouts bound each query), narrow the comparison "
                  "with --include-table/--exclude-table, or raise --timeout for a very large "
                  "schema.")
    return f"{head} {advice}"


_SIDE012_EXAMPLE = """\
```text
  WARNING SIDE012 A check cannot run on this SQLAlchemy without the app's own Alembic
      SQLAlchemy 1.3.24 is not supported by check migrations without an Alembic in the app's
      environment: the app has none, and the sidecar's own Alembic 1.20.1 needs SQLAlchemy>=2.0.
      fix: Install an Alembic that supports SQLAlchemy 1.3.24 into the app's environment:
      `/app/.venv/bin/python -m pip install 'alembic>=1.7,<1.15'` [...]
```
"""


# what Python 3.6 and older say to the worker's first line (``from __future__ import
# annotations``, new in 3.7)
_TOO_OLD_PYTHON = "future feature annotations is not defined"


def _not_started_hint(f: Facts) -> str:
    if _TOO_OLD_PYTHON in str(f["detail"]):
        return (f"{f['python']} is older than Python 3.7, and the sidecar's worker runs in the "
                "app's interpreter: it needs Python 3.8 or newer (any SQLAlchemy from 1.3 "
                "on). Run the app on a newer Python, or check that --python is the app's "
                "own interpreter.")
    return (f"Could not run {f['python']}: {f['detail']}. Point --python at the app "
            "environment's interpreter.")


def _internal_hint(f: Facts) -> str:
    known = "; ".join(str(v) for v in (f["where"], f["versions"]) if v and v != "?")
    return (f"This is a bug in the sidecar{f' ({known})' if known else ''}, not in the app or "
            "the database: please report it with the message and these versions. The other "
            "checks still ran.")


def _unsupported_hint(f: Facts) -> str:
    head = (f"The app's SQLAlchemy is {f['sqlalchemy']} ({f['reason']}); the sidecar's checks "
            f"support SQLAlchemy {f['supported']}.")
    if f["side"] == "older":
        return (f"{head} Upgrade the app to SQLAlchemy 1.3 or later (1.3.24 is the last 1.3), "
                "or check that --python is the app's own interpreter.")
    if f["side"] == "newer":
        return (f"{head} Run a sidecar release that supports SQLAlchemy {f['sqlalchemy']}, or "
                "check that --python is the app's own interpreter.")
    return (f"{head} Check `<python> -c 'import sqlalchemy; print(sqlalchemy.__version__)'` "
            "with the app's interpreter (--python).")


def _alembic_hint(f: Facts) -> str:
    return (f"Install an Alembic that supports SQLAlchemy {f['sqlalchemy']} into the app's "
            f"environment: `{f['python']} -m pip install '{f['suggested']}'` (the sidecar "
            f"uses the app's own Alembic first; its own {f['alembic']} needs "
            f"{f['requires']}). Until then the checks that use Alembic (migrations, "
            "schema_drift) do not run; the others still do.")


def _write_hint(f: Facts) -> str:
    """Whether the models were checked depends on whether the refusal broke the import."""
    outcome = ("The refusal made the import fail, so the models could not be checked."
               if f["import_failed"] == "yes" else
               "The app caught the refusal, so the models were checked.")
    return (f"Importing the models ran `{f['statement']}`{f.get('where_text') or ''} "
            f"({f['statements']} write(s) in all); sidecar refused it before it reached the "
            f"database. {outcome} In the app it runs on every start, in every replica, "
            "before any migration. Move it out of import time: schema changes into a "
            "migration, seed data into a command or the app factory (e.g. `create_all()` "
            "under `if __name__ == \"__main__\":`).")


WORKER_CHECK = "(or the check the worker was in)"

ENTRIES = (
    Entry(
        "SIDE001", "The worker timed out", "error", "models_import", _timeout_hint,
        facts=("timeout_s", "phase", "stuck_at"), check_note=WORKER_CHECK,
        samples={"phase": "models_import: importing app.models"},
        explanation="""\
**What it means.** The worker did not finish within `--timeout` seconds (default 30,
`SIDECAR_TIMEOUT`). It was killed together with every process it started (it runs in its
own process group). The location is where the app's code was when the time ran out.

**Why it happens.** Import-time code that waits: a network call to a host that does not
answer, a database connect without timeout, a `while True` poll, `input()`, a lock held by a
thread that never releases it. Rarely, an app that is simply slow to import.

**How to fix.** Move the waiting code out of module level (into a function, the app factory,
or behind `if __name__ == "__main__":`) and give network calls timeouts. If the import is
slow but correct, raise `--timeout`.

**Example** (`tests/fixtures/hangs`, run with `--timeout 5`).

```text
  ERROR SIDE001 The worker timed out
      at app/models.py:21
      no result after 5 s (models_import: importing app.models); the worker was killed
      fix: The worker was still busy after 5.0 s, in models_import: importing app.models; it was
      killed. It was at app/models.py:21 (`time.sleep(10**6)`). Import-time code must not wait on
      the network or loop forever: move it behind a function, or raise --timeout if the app is
      merely slow to import.
```
""",
    ),
    Entry(
        "SIDE002", "Worker crashed (killed by a signal)", "error", "models_import",
        "The app's interpreter died with {signal} in {phase}. {stuck_at} A segfault at import "
        "comes from a C extension: check the versions of compiled packages in the app's "
        "environment.",
        facts=("signal", "phase", "stuck_at"), check_note=WORKER_CHECK,
        explanation="""\
**What it means.** The app's interpreter died from a signal (SIGSEGV, SIGABRT, SIGKILL, ...)
while importing. There is no Python exception; the location comes from the interpreter's
fault dump.

**Why it happens.** A C extension crashing: mismatched binary wheels (built for another
Python or libc), a driver library (`psycopg2`, `mysqlclient`) linked against a missing or
incompatible shared library, `ctypes` misuse. SIGKILL usually means the kernel's OOM killer
(check the container's memory limit).

**How to fix.** Check the versions of compiled packages in the app's environment
(`pip list`, rebuild wheels for the image's Python); reproduce with `python -X faulthandler
-c "import app.models"` for a full stack.

**Example** (`tests/fixtures/segfault`).

```text
  ERROR SIDE002 Worker crashed (killed by a signal)
      at app/models.py:21
      the worker died with SIGSEGV (models_import: importing app.models)
      fix: The app's interpreter died with SIGSEGV in models_import: importing app.models. It was at
      app/models.py:21 (`ctypes.string_at(0)`). A segfault at import comes from a C extension: check
      the versions of compiled packages in the app's environment.
```
""",
    ),
    Entry(
        "SIDE003", "The app exited while being imported", "error", "models_import",
        "Code at import time called exit with status {exit_code} in {phase}. {stuck_at} Do not "
        "call sys.exit() (or os._exit()) at module level: raise an exception, or move the "
        "start-up logic under `if __name__ == '__main__':`.",
        # the worker knows the line of a SystemExit only when it was raised in the app's files
        facts=("exit_code", "phase"), optional=("stuck_at",), check_note=WORKER_CHECK,
        explanation="""\
**What it means.** Code run at import called `sys.exit()` (a `SystemExit` the sidecar
catches, with its line) or `os._exit()` (the process just ends; no line is known).

**Why it happens.** A module-level "fail fast" (`if not os.environ.get(...): sys.exit(1)`),
CLI code (`argparse` exits on unknown arguments) or a `main()` call without an
`if __name__ == "__main__":` guard.

**How to fix.** Raise an exception instead of exiting at import, and put start-up logic
under `if __name__ == "__main__":`.

**Example** (`tests/fixtures/sys_exit`, `os_exit`).

```text
  ERROR SIDE003 The app exited while being imported
      at app/models.py:21
      SystemExit: sys.exit(3) was called while importing app.models
      fix: Code at import time called exit with status 3 in importing app.models. It was called at
      app/models.py:21. Do not call sys.exit() (or os._exit()) at module level: raise an exception,
      or move the start-up logic under `if __name__ == '__main__':`.
```

With `os._exit(4)` there is no line: `the worker exited with status 4 without a result
(models_import: importing app.models)`.
""",
    ),
    Entry(
        "SIDE004", "The app flooded its output at import", "warning", "models_import",
        "The app wrote {output_bytes} bytes to stdout/stderr in {phase}; the sidecar kept the "
        "last {kept_bytes} bytes. Import-time logging this heavy slows start-up: lower the "
        "log level for imports.",
        facts=("output_bytes", "phase", "kept_bytes"), check_note=WORKER_CHECK,
        explanation="""\
**What it means.** The app wrote more than 1 MiB to stdout/stderr during the worker's run.
The sidecar keeps only the last 64 KiB of each stream (and attaches the last lines); the
checks themselves still ran.

**Why it happens.** DEBUG logging configured at import, `echo=True` on an engine, a loop
printing progress.

**How to fix.** Lower the log level for import-time code, turn off `echo`, or configure
logging in the app's entry point instead of in model modules.

**Example** (`tests/fixtures/flood`).

```text
[warn] models_import (0.41s)
  WARNING SIDE004 The app flooded its output at import
      the app wrote 20,000,019 bytes of output (20,000,019 to stdout, 0 to stderr)
      fix: The app wrote 20,000,019 bytes to stdout/stderr in the worker's run; the sidecar kept the
      last 65,536 bytes. Import-time logging this heavy slows start-up: lower the log level for
      imports.
      output (tail):
        | [stdout]
        | DEBUG warming cache xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
        | LAST-LINE-OF-FLOOD
```
""",
    ),
    Entry(
        "SIDE005", "The worker gave no result", "error", "models_import",
        "The worker ended (status {exit_code}) without reporting; its output is attached. This "
        "is a sidecar bug if the output shows no app error: please report it.",
        facts=("exit_code",), check_note=WORKER_CHECK,
        explanation="""\
**What it means.** The worker process ended with status 0 but never delivered its result.

**Why it happens.** Most often the app: `os._exit(0)` at import, or code that closes or
redirects inherited file descriptors (daemonizing libraries, `os.closerange`). Otherwise it
is a sidecar bug.

**How to fix.** Look at the attached output and at the app's import-time code for
`os._exit`, forking or fd manipulation. If there is nothing of the sort, report it as a
sidecar bug with the output.

**Example** (an app that calls `os._exit(0)` at the end of `app/models.py`).

```text
  ERROR SIDE005 The worker gave no result
      the worker ended without a result (models_import: importing app.models)
      fix: The worker ended (status 0) without reporting; its output is attached. This is a sidecar
      bug if the output shows no app error: please report it.
```
""",
    ),
    Entry(
        "SIDE006", "SQLAlchemy is not importable by the app's interpreter", "error",
        "models_import",
        "`{python} -c 'import sqlalchemy'` fails: {detail}. Point --python at the interpreter "
        "of the app's environment (its venv's bin/python).",
        facts=("python", "detail"), check_note="(every other check is skipped)",
        explanation="""\
**What it means.** The interpreter given by `--python` (default: the sidecar's own) started,
but `import sqlalchemy` fails in it.

**Why it happens.** `--python` points at the system Python instead of the app's venv; the
sidecar runs in its own image/venv without `--python`; or SQLAlchemy is broken in that
environment (the detail shows the import error).

**How to fix.** Set `--python` / `SIDECAR_PYTHON` to the app environment's interpreter, e.g.
`/app/.venv/bin/python`. Check with
`<python> -c 'import sqlalchemy; print(sqlalchemy.__version__)'`.

**Example.**

```text
$ sidecar check --app-path tests/fixtures/good_plain --models app.models --python /usr/bin/python3
  ERROR SIDE006 SQLAlchemy is not importable by the app's interpreter
      ModuleNotFoundError: SQLAlchemy cannot be imported by /usr/bin/python3
      fix: `/usr/bin/python3 -c 'import sqlalchemy'` fails: ModuleNotFoundError: No module named
      'sqlalchemy'. Point --python at the interpreter of the app's environment (its venv's
      bin/python).
```
""",
    ),
    Entry(
        "SIDE007", "The app's interpreter could not be started", "error", "models_import",
        _not_started_hint,
        facts=("python", "detail"), check_note="(every other check is skipped)",
        explanation="""\
**What it means.** The `--python` executable could not be run, or it exited before the
worker said hello — so it is not a working Python.

**Why it happens.** A venv whose base interpreter was removed or moved (dangling symlink, bad
shebang), missing shared libraries (`libpython3.x.so`), a wrapper script that fails, or a
path to something that is not Python at all.

**How to fix.** Run the path by hand: `<python> -c 'print(1)'`. Point `--python` at a
working interpreter of the app's environment; recreate the venv if its base Python is gone.

**Example.**

```text
  ERROR SIDE007 The app's interpreter could not be started
      could not start /tmp/docapps/badshebang: FileNotFoundError: No such file or directory
      fix: Could not run /tmp/docapps/badshebang: FileNotFoundError: No such file or directory.
      Point --python at the app environment's interpreter.
```

A Python older than 3.7 stops at the worker's first line (`SyntaxError: future feature
annotations is not defined`); the hint then says that the worker needs Python 3.8 or newer.

An interpreter that starts but dies at once is reported as `<path> did not start the worker`,
with the last line of its stderr in the hint (e.g. `error while loading shared libraries:
libpython3.11.so.1.0: cannot open shared object file`).
""",
    ),
    Entry(
        "SIDE008", "Internal error in a sidecar check", "error", "models_import",
        _internal_hint, optional=("where", "versions"),
        samples={"where": "sidecar/worker/checks/database/url.py:61",
                 "versions": "Python 3.8.18, SQLAlchemy 1.3.24, Alembic none"},
        check_note="(reported under whichever check raised)",
        explanation="""\
**What it means.** One of the sidecar's own checks raised an exception. This is a bug in the
sidecar, not in the app. The other checks still ran; the traceback is attached as output.

**Why it happens.** An app shape the check does not handle, an unfinished check, or a
SQLAlchemy/Alembic API that differs in the app's version. An exception whose innermost frame
is in the sidecar's own worker files is always reported here, with that file:line
(`sidecar/worker/...`) and the Python/SQLAlchemy/Alembic versions — never as a database
(`DB299`), migration or drift fault.

**How to fix.** Report it with the attached traceback and the sidecar/SQLAlchemy versions
from the report's last line. Until fixed, judge the app by the other checks; to keep it from
failing the health check, lower it: `--severity SIDE008=warning`.

**Example.**

```text
  ERROR SIDE008 Internal error in a sidecar check
      ImportError: internal error in the sidecar at sidecar/worker/checks/database/url.py:61:
      ImportError: cannot import name 'make_url' from 'sqlalchemy.engine'
      fix: This is a bug in the sidecar (sidecar/worker/checks/database/url.py:61; Python 3.8.18,
      SQLAlchemy 1.3.24, Alembic none), not in the app or the database: please report it with the
      message and these versions. The other checks still ran.
      output (tail):
        | Traceback (most recent call last):
        | [...]
```
""",
    ),
    Entry(
        "SIDE009", "The worker ran out of memory", "error", "models_import",
        "The worker hit its memory limit ({limit_mb} MiB of address space, --memory-limit) "
        "in {phase}. {stuck_at} Import-time code must not load unbounded data (caches, "
        "whole tables, large files): load lazily, or raise --memory-limit if the app "
        "legitimately needs more.",
        # a MemoryError names its line only when it was raised in the app's files
        facts=("limit_mb", "phase"), optional=("stuck_at",),
        check_note="(every later check is skipped)",
        explanation="""\
**What it means.** Importing the models needed more memory than the worker may use. Each
worker runs under an address-space cap (`--memory-limit`, `SIDECAR_MEMORY_LIMIT`, default
4096 MiB, applied with `setrlimit(RLIMIT_AS)` in the worker only), so a leaking import gets
`MemoryError` (or dies allocating) instead of waking the node's OOM killer, which could pick
the app or the sidecar itself.

**Why it happens.** Import-time code that loads unbounded data: a cache warmed from a whole
table or file, a list that grows in a loop, a large model file read eagerly.

**How to fix.** Load lazily (on first use, not at import). If the app legitimately needs
more memory at import, raise `--memory-limit` (address space, not RSS: allow for thread
stacks and shared libraries).

**Example.**

```text
  ERROR SIDE009 The worker ran out of memory
      at app/models.py:22
      MemoryError: the worker hit its memory limit while importing app.models
      fix: The worker hit its memory limit (256 MiB of address space, --memory-limit) in importing
      app.models. It was allocating at app/models.py:22. Import-time code must not load unbounded
      data (caches, whole tables, large files): load lazily, or raise --memory-limit if the app
      legitimately needs more.
```

A worker killed while allocating outside Python (a C extension reporting `Cannot allocate
memory`, `std::bad_alloc`) gets the same code, from the runner.
""",
    ),
    Entry(
        "SIDE010", "The worker speaks another protocol than the daemon", "error",
        "models_import",
        "The worker in {worker_dir} speaks protocol {worker_protocol}, this daemon "
        "{daemon_protocol}: the sidecar's files were replaced (an upgrade) while the daemon "
        "kept running. Restart the sidecar so the daemon and its worker come from one "
        "installation.",
        facts=("worker_dir", "worker_protocol", "daemon_protocol"),
        check_note="(the first check run; every other check is skipped)",
        explanation="""\
**What it means.** The worker's first event (`hello`) carries the version of the
worker↔daemon protocol (`sidecar/worker/protocol.py`); this worker's differs from the
daemon's, so none of its results are read: a report from a misread result would be wrong.

**Why it happens.** The daemon loads its code once, but starts the worker from the files on
disk every cycle: an upgrade of the installed package (or a new image layer mounted over
the package) under a running daemon leaves an old daemon with a new worker.

**How to fix.** Restart the sidecar, so the daemon and the worker come from one installation.

**Example.**

```text
  ERROR SIDE010 The worker speaks another protocol than the daemon
      the worker speaks protocol 3, this daemon 2; its results were not read
      fix: The worker in /opt/sidecar/lib/python3.11/site-packages/sidecar/worker speaks protocol 3,
      this daemon 2: the sidecar's files were replaced (an upgrade) while the daemon kept running.
      Restart the sidecar so the daemon and its worker come from one installation.
```

The other checks are skipped with `the worker speaks another protocol (see models_import)`.
""",
    ),
    Entry(
        "SIDE011", "SQLAlchemy version not supported", "error", "models_import",
        _unsupported_hint, facts=("sqlalchemy", "supported", "reason", "side"),
        optional=("python",), samples={"side": "older"},
        check_note="(the first check run; every other check is skipped)",
        explanation="""\
**What it means.** The app's interpreter (`--python`) has a SQLAlchemy outside the range the
sidecar is tested on (1.3 to 2.1; a later 2.x minor still runs). No check ran: the sidecar's
reading of errors, mappers and schemas depends on the version, and a guess could call a
broken app ready — or a healthy one broken.

**Why it happens.** A SQLAlchemy older than 1.3 (upgrade it), or a new major release the
sidecar does not know yet.

**How to fix.** Below 1.3: upgrade the app's SQLAlchemy. A newer major: use a sidecar
release that supports it. Either way, check that `--python` is the app's real environment
(the versions are on the report's last line).

**Example.**

```text
  ERROR SIDE011 SQLAlchemy version not supported
      SQLAlchemy 1.2.19 is not supported by the sidecar's checks: it is older than 1.3;
      supported: 1.3 to 2.1. No check ran.
```
""",
    ),
    Entry(
        "SIDE012", "A check cannot run on this SQLAlchemy without the app's own Alembic",
        "warning", "migrations", _alembic_hint,
        facts=("check", "sqlalchemy", "alembic", "requires", "python", "suggested"),
        check_note="(or schema_drift, whichever runs first; the other is skipped)",
        explanation=f"""\
**What it means.** The migrations and schema_drift checks use Alembic. The app's environment
has none, and the Alembic the sidecar would lend it (its own) declares a SQLAlchemy
requirement the app's SQLAlchemy does not meet (Alembic 1.20 needs SQLAlchemy 2.0; 1.15 to
1.17 need 1.4), so it is not lent: those checks did not run. The database itself may be fine;
this is a warning so that it does not hold the app NOT READY.

**Why it happens.** An app on SQLAlchemy 1.3 or 1.4 that runs its migrations from another
image or tool, so Alembic is not installed where the app runs.

**How to fix.** Install an Alembic release that supports the app's SQLAlchemy in the app's
environment (SQLAlchemy 1.3 and 1.4 on Python 3.8+: `alembic>=1.7,<1.15`; the sidecar is
tested with Alembic 1.7.7 on SQLAlchemy 1.3.24).

**Example.**

{_SIDE012_EXAMPLE}""",
    ),
    Entry(
        "SIDE013", "The app's code writes to the database when imported", "error",
        "models_import",
        _write_hint,
        facts=("statement", "statements", "import_failed"),
        optional=("where_text",),
        samples={"statement": "CREATE TABLE audit_log (id INTEGER NOT NULL, PRIMARY KEY (id))",
                 "statements": "2", "import_failed": "yes",
                 "where_text": " at app/models.py:31"},
        explanation="""\
**What it means.** While the worker imported the `--models` modules, the app's own code
issued a statement that writes (`CREATE`, `INSERT`, `UPDATE`, `DELETE`, `ALTER`, `DROP`, ...).
sidecar refused it before it reached the database: SQLAlchemy engines get a
`before_cursor_execute` guard while the app's code runs, and libpq connections are opened
with `PGOPTIONS=-c default_transaction_read_only=on`. An error when the refusal made the
import fail (the models could not be checked), a warning when the app caught it.

**Why it happens.** `Base.metadata.create_all(engine)` or a seed INSERT at module level, an
extension that creates its tables on import.

**How to fix.** Keep imports free of I/O: schema changes belong in migrations, seed data in
a command or the app factory.

**Example.**

```text
  ERROR SIDE013 The app's code writes to the database when imported
      at app/models.py:31
      the app's code tried to write to the database while sidecar imported it (1 statement
      refused): CREATE TABLE audit_log (id SERIAL NOT NULL, PRIMARY KEY (id))
```

What is and is not guaranteed: docs/reliability.md, "Read-only proof".
""",
    ),
)

FAMILY = Family(
    "SIDE0xx", "the worker process",
    "the separate interpreter (the app's own, `--python`) that imports the models. "
    "Timeouts, crashes, exits, output floods, an interpreter without SQLAlchemy, and the "
    "sidecar's own bugs (SIDE008).",
    "", ENTRIES,
)

"""The app's own code never writes to the database while the worker imports it.

The worker inherits the app's environment, DATABASE_URL included, and real apps run
``create_all()`` or an INSERT at import time. Two layers:

- the runner sets libpq's ``PGOPTIONS=-c default_transaction_read_only=on`` for the worker,
  so every psycopg2/psycopg connection the app opens, through SQLAlchemy or not, refuses
  writes in PostgreSQL itself;
- while checks that run the app's code are running (``imports_app_code`` in the registry),
  a ``before_cursor_execute`` listener on every SQLAlchemy Engine refuses any statement that
  writes (any dialect: SQLite, MySQL, ...), before it reaches the driver, and records where
  in the app it came from.

Not covered: a raw DBAPI connection of a driver other than libpq's (``sqlite3.connect``,
``pymysql.connect`` without SQLAlchemy), files the app writes, other services. The sidecar's
own session is read-only on its own (checks/database) and runs after these checks.
"""

from __future__ import annotations

import re
import traceback
from typing import Any, Dict, List, Optional

from .redact import redact_text

READ_ONLY_PGOPTION = "-c default_transaction_read_only=on"
_COMMENT = re.compile(r"^\s*(?:--[^\n]*\n|/\*.*?\*/|\s)*", re.S)
_WRITE_VERBS = ("INSERT", "UPDATE", "DELETE", "MERGE", "UPSERT", "REPLACE", "CREATE", "ALTER",
                "DROP", "TRUNCATE", "GRANT", "REVOKE", "COMMENT", "COPY", "REINDEX", "CLUSTER",
                "VACUUM", "REFRESH", "RENAME", "ATTACH", "DETACH")
_CTE_WRITE = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.I)
# psycopg2's ReadOnlySqlTransaction (SQLSTATE 25006), SQLite's read-only database, MySQL 1792
READ_ONLY_REFUSALS = ("read-only transaction", "readonly database", "read only transaction",
                      "READ ONLY transaction")


class SidecarRefusedWrite(Exception):
    """Raised into the app's code instead of a statement that would write."""


def is_write(statement: str) -> bool:
    text = _COMMENT.sub("", statement or "", count=1)
    verb = text.split(None, 1)[0].upper() if text.strip() else ""
    if verb == "WITH":
        return bool(_CTE_WRITE.search(text))
    return verb in _WRITE_VERBS


def pgoptions(existing: Optional[str]) -> str:
    """The app's PGOPTIONS with read-only transactions added (libpq reads it at connect)."""
    existing = (existing or "").strip()
    if READ_ONLY_PGOPTION in existing:
        return existing
    return (existing + " " + READ_ONLY_PGOPTION).strip()


class WriteGuard:
    """Refuses and records the app's writes through SQLAlchemy while ``active``."""

    def __init__(self, secrets: Optional[List[str]] = None) -> None:
        self.active = False
        self.attempts: List[Dict[str, Any]] = []
        self.secrets = secrets or []
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._before_execute)
        self._installed = True

    def _before_execute(self, conn: Any, cursor: Any, statement: str, parameters: Any,
                        context: Any, executemany: bool) -> None:
        if not self.active or not is_write(statement):
            return
        frames = traceback.extract_stack()[:-1]
        self.attempts.append({
            "statement": redact_text(" ".join(str(statement).split())[:300], self.secrets),
            "frames": [(f.filename, f.lineno, f.name) for f in frames],
        })
        raise SidecarRefusedWrite(
            "sidecar refused a write by the app's code while importing it: "
            + self.attempts[-1]["statement"][:120])


def refused(raw: Dict[str, Any]) -> bool:
    """A finding of an exception that was a refused write (ours, or the database's)."""
    if raw.get("exception") == SidecarRefusedWrite.__name__:
        return True
    message = str(raw.get("message") or "")
    return SidecarRefusedWrite.__name__ in message or any(
        text in message for text in READ_ONLY_REFUSALS)


def fold_refused_writes(result: Dict[str, Any], guard: WriteGuard, locator: Any) -> None:
    """Replace the findings of refused writes in a check's result by one SIDE013 first."""
    findings: List[Dict[str, Any]] = list(result.get("findings") or [])
    failures = [raw for raw in findings if refused(raw)]
    if not guard.attempts and not failures:
        return
    first = failures[0] if failures else {}
    where: Dict[str, Any] = {}
    statement = str(first.get("message") or "")[:300]
    if guard.attempts:
        statement = guard.attempts[0]["statement"]
        frames = locator.user_frames(guard.attempts[0]["frames"]) if locator else []
        if frames:
            filename, lineno = frames[-1]
            where = {"file": locator.relative(filename), "line": lineno}
    if not where and first.get("file"):
        where = {"file": first["file"], "line": first.get("line")}
    count = max(len(guard.attempts), 1)
    from .protocol import finding

    raw = finding(
        "SIDE013", "the app's code tried to write to the database while sidecar imported it "
        "(%d statement%s refused): %s" % (count, "" if count == 1 else "s", statement),
        exception=(first.get("exception") or SidecarRefusedWrite.__name__) if failures
        else None, **where,
        facts={"statement": statement, "statements": str(count),
               "import_failed": "yes" if failures else "no",
               "where_text": " at %s:%s" % (where["file"], where["line"]) if where else ""})
    if not failures:
        raw["severity"] = "warning"  # the app caught the refusal: its models were checked
    result["findings"] = [raw] + [f for f in findings if f not in failures]

"""Finding codes as data: title, default severity, docs anchor and the hint that fixes it.

The worker decides *what* happened (a code plus facts: file, line, class, attribute, table,
column, and a few extra strings); this catalog decides *how to say it*. Every code has a
section in docs/findings.md (a test keeps the two in sync). Codes never change meaning.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sidecar.findings.model import Finding, Severity

RawFinding = Mapping[str, Any]
HintFn = Callable[[RawFinding], "str | None"]


@dataclass(frozen=True)
class Entry:
    code: str
    title: str
    severity: Severity
    hint: str | HintFn
    check: str  # the check this code belongs to (documentation only)

    @property
    def docs(self) -> str:
        return f"docs/findings.md#{self.code.lower()}"

    def render_hint(self, raw: RawFinding) -> str | None:
        if callable(self.hint):
            return self.hint(raw)
        return self.hint.format_map(_Facts(raw))


class _Facts(dict):
    """Format-map over a raw finding and its ``facts``; a missing key renders as ``?``."""

    def __init__(self, raw: RawFinding) -> None:
        super().__init__({k: v for k, v in raw.items() if k != "facts"})
        super().update(raw.get("facts") or {})
        self["location"] = _location(raw)
        self["obj"] = _obj(raw)

    def __missing__(self, key: str) -> str:
        return "?"


def _location(raw: RawFinding) -> str:
    if not raw.get("file"):
        return "the model package"
    return f"{raw['file']}:{raw['line']}" if raw.get("line") else str(raw["file"])


def _obj(raw: RawFinding) -> str:
    if raw.get("class"):
        return f"{raw['class']}.{raw['attribute']}" if raw.get("attribute") else str(raw["class"])
    if raw.get("table"):
        return f"{raw['table']}.{raw['column']}" if raw.get("column") else str(raw["table"])
    return "the model"


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


def _reserved_hint(raw: RawFinding) -> str:
    attr = raw.get("attribute") or "metadata"
    cls = raw.get("class")
    new = suggested_name(cls, attr)
    where = f" in {_location(raw)}" if raw.get("file") else ""
    facts = raw.get("facts") or {}
    column_call = facts.get("column_call") or {}
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


def _double_import_hint(raw: RawFinding) -> str:
    facts = raw.get("facts") or {}
    mods = facts.get("modules") or []
    if facts.get("reimported"):
        names = ", ".join(f"'{m}'" for m in facts["reimported"])
        first = facts.get("first_error")
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
        site = facts.get("second_import")
        at = f" The second import happens at {site}." if site else ""
        return (
            f"{raw.get('file') or 'The module'} is imported twice, as {names}, so its module "
            "code runs twice: any model class in it is defined twice on one MetaData, and any "
            f"other module-level state exists twice.{at} Import it under one name only "
            f"(`import {keep}` everywhere) and remove the sys.path entry that exposes the "
            "package's inner folder (a sys.path.insert/append or PYTHONPATH)."
        )
    return (
        f"Two classes map the table '{raw.get('table') or '?'}' on the same MetaData. Rename "
        "one `__tablename__`, merge the classes, or pass `__table_args__ = {'extend_existing': "
        "True}` if redefining is intended. If the same file is imported twice (two module "
        "names), import it under one name only."
    )


def _missing_module_hint(raw: RawFinding) -> str:
    facts = raw.get("facts") or {}
    missing = facts.get("missing_module") or "?"
    top = missing.split(".")[0]
    target = facts.get("target") or ""
    if facts.get("is_target"):
        return (
            f"The models module '{missing}' does not exist under the app path "
            f"{facts.get('app_path', '')!r}. Check --models/SIDECAR_MODELS and --app-path: "
            "the module must be importable from the app path as the app itself imports it."
        )
    return (
        f"{_location(raw)} imports '{missing}', which is not installed in the app's "
        f"environment (Python: {facts.get('python', '?')}). Install the distribution that "
        f"provides '{top}' (add it to the app's requirements), or point --python at the "
        f"interpreter that has it. Imported while loading '{target}'."
    )


def _timeout_hint(raw: RawFinding) -> str:
    """What to do depends on where the time went: the app's import, or our database work."""
    facts = _Facts(raw)
    head = (f"The worker was still busy after {facts['timeout_s']} s, in {facts['phase']}; it "
            f"was killed with everything it started. {facts['stuck_at']}").strip()
    if str(facts["phase"]).startswith(("models_import", "mappers", "starting")):
        advice = ("Import-time code must not wait on the network or loop forever: move it "
                  "behind a function, or raise --timeout if the app is merely slow to import.")
    else:
        advice = ("The database work took too long: check the database's load and locks "
                  "(the statement and lock timeouts bound each query), narrow the comparison "
                  "with --include-table/--exclude-table, or raise --timeout for a very large "
                  "schema.")
    return f"{head} {advice}"


CATALOG_ENTRIES: list[Entry] = [
    Entry(
        "SQLA101", "Reserved attribute name on a declarative class", "error",
        _reserved_hint, "models_import",
    ),
    Entry(
        "SQLA102", "Table already defined for this MetaData", "error",
        _double_import_hint, "models_import",
    ),
    Entry(
        "SQLA103", "Class replaced in the declarative string-lookup table", "warning",
        _double_import_hint, "models_import",
    ),
    Entry(
        "SQLA104", "Relationship to a class that does not exist", "error",
        "In {location}, `{obj}` refers to '{target}', which no mapped class is named. Fix the "
        "spelling, or import the module defining '{target}' before mappers are configured "
        "(add it to --models).",
        "mappers",
    ),
    Entry(
        "SQLA105", "Mapped class without a primary key", "error",
        "Give `{class}` (table '{table}') a primary key in {location}: for example "
        "`id = Column(Integer, primary_key=True)`, or `__mapper_args__ = {{'primary_key': "
        "[...]}}` for a table that has none.",
        "models_import",
    ),
    Entry(
        "SQLA106", "Ambiguous foreign keys for a relationship", "error",
        "Several foreign keys link the tables behind `{obj}`. Say which one this relationship "
        "uses, in {location}: `relationship(..., foreign_keys=[{fk_hint}])`.",
        "mappers",
    ),
    Entry(
        "SQLA107", "No foreign key links a relationship's tables", "error",
        "`{obj}` ({location}) joins tables that no ForeignKey links. Add "
        "`ForeignKey('<table>.<column>')` to the referencing column, or give the relationship "
        "an explicit `primaryjoin=`.",
        "mappers",
    ),
    Entry(
        "SQLA108", "back_populates names an attribute that does not exist", "error",
        "`{obj}` ({location}) says back_populates='{missing_property}', but `{target}` has no "
        "such attribute. Add `{missing_property} = relationship(..., back_populates="
        "'{attribute}')` to `{target}`, or fix the name to the relationship that exists there.",
        "mappers",
    ),
    Entry(
        "SQLA109", "Backref conflicts with an existing attribute", "error",
        "`{obj}` ({location}) creates backref '{backref}' on `{target}`, which already has an "
        "attribute of that name. Drop the backref and use `back_populates` on both sides, or "
        "rename one of them.",
        "mappers",
    ),
    Entry(
        "SQLA110", "ForeignKey to a table or column that does not exist", "error",
        "`{obj}` ({location}) has ForeignKey('{target}'), but {missing}. Fix the target "
        "('<table>.<column>', table name not class name), or import the module that defines "
        "that table before mappers are configured.",
        "mappers",
    ),
    Entry(
        "SQLA111", "A module the models import is not installed", "error",
        _missing_module_hint, "models_import",
    ),
    Entry(
        "SQLA112", "Syntax error in a model module", "error",
        "Fix the syntax at {location}: `{text}`.", "models_import",
    ),
    Entry(
        "SQLA113", "The models attribute does not exist", "error",
        "Module '{module}' has no attribute '{attribute}'. Check --models "
        "(`package.module:attribute`).",
        "models_import",
    ),
    Entry(
        "SQLA114", "The same model module is imported under two names", "warning",
        _double_import_hint, "models_import",
    ),
    Entry(
        "SQLA115", "The models module does not exist", "error",
        _missing_module_hint, "models_import",
    ),
    Entry(
        "SQLA120", "SQLAlchemy warning", "warning",
        "Read the warning at {location}; SQLAlchemy warnings usually become errors in the next "
        "major version. Run with `-W error::sqlalchemy.exc.SAWarning` to get a traceback.",
        "models_import",
    ),
    Entry(
        "SQLA121", "Warning while loading the models", "info",
        "Emitted at {location}. Not a failure; listed because warnings often precede one.",
        "models_import",
    ),
    Entry(
        "SQLA130", "No SQLAlchemy models found", "warning",
        "Nothing mapped was found after importing {targets}. Point --models at the module(s) "
        "that define the model classes (or `module:attribute` for the declarative base, "
        "`db` object or MetaData).",
        "mappers",
    ),
    Entry(
        "SQLA199", "Unexpected exception while loading the models", "error",
        "Read the exception at {location}. Run `python -c 'import {target}'` from the app "
        "path to see the full traceback.",
        "models_import",
    ),
    Entry("SIDE001", "The worker timed out", "error", _timeout_hint, "models_import"),
    Entry(
        "SIDE002", "Worker crashed (killed by a signal)", "error",
        "The app's interpreter died with {signal} in {phase}. {stuck_at} A segfault at import "
        "comes from a C extension: check the versions of compiled packages in the app's "
        "environment.",
        "models_import",
    ),
    Entry(
        "SIDE003", "The app exited while being imported", "error",
        "Code at import time called exit with status {exit_code} in {phase}. {stuck_at} Do not "
        "call sys.exit() (or os._exit()) at module level: raise an exception, or move the "
        "start-up logic under `if __name__ == '__main__':`.",
        "models_import",
    ),
    Entry(
        "SIDE004", "The app flooded its output at import", "warning",
        "The app wrote {output_bytes} bytes to stdout/stderr in {phase}; the sidecar kept the "
        "last {kept_bytes} bytes. Import-time logging this heavy slows start-up: lower the "
        "log level for imports.",
        "models_import",
    ),
    Entry(
        "SIDE005", "The worker gave no result", "error",
        "The worker ended (status {exit_code}) without reporting; its output is attached. This "
        "is a sidecar bug if the output shows no app error: please report it.",
        "models_import",
    ),
    Entry(
        "SIDE008", "Internal error in a sidecar check", "error",
        "This is a bug in the sidecar, not in the app: please report it with the traceback "
        "attached. The other checks still ran.",
        "models_import",
    ),
    Entry(
        "SIDE009", "The worker ran out of memory", "error",
        "The worker hit its memory limit ({limit_mb} MiB of address space, --memory-limit) "
        "in {phase}. {stuck_at} Import-time code must not load unbounded data (caches, "
        "whole tables, large files): load lazily, or raise --memory-limit if the app "
        "legitimately needs more.",
        "models_import",
    ),
    Entry(
        "SIDE006", "SQLAlchemy is not importable by the app's interpreter", "error",
        "`{python} -c 'import sqlalchemy'` fails: {detail}. Point --python at the interpreter "
        "of the app's environment (its venv's bin/python).",
        "models_import",
    ),
    Entry(
        "SIDE007", "The app's interpreter could not be started", "error",
        "Could not run {python}: {detail}. Point --python at the app environment's "
        "interpreter.",
        "models_import",
    ),
]

GENERIC = "SQLA199"
CATALOG: dict[str, Entry] = {}


def register(entries: list[Entry]) -> None:
    for entry in entries:
        if entry.code in CATALOG:
            raise ValueError(f"duplicate finding code {entry.code}")
        CATALOG[entry.code] = entry


register(CATALOG_ENTRIES)


def to_finding(
    raw: RawFinding, severity_overrides: Mapping[str, Severity] | None = None
) -> Finding:
    """Turn the worker's raw finding into a Finding; unknown codes get the generic entry."""
    entry = CATALOG.get(str(raw.get("code")), CATALOG[GENERIC])
    severity = (severity_overrides or {}).get(entry.code) or raw.get("severity") or entry.severity
    return Finding.from_dict({
        **raw,
        "code": entry.code,
        "severity": severity,
        "title": raw.get("title") or entry.title,
        "message": str(raw.get("message") or entry.title),
        "hint": raw.get("hint") or entry.render_hint(raw),
        "docs": entry.docs,
    })


def _register_database_codes() -> None:
    # DB2xx / MIG3xx / DRIFT4xx live in their own module (they import Entry from here)
    from sidecar.findings.catalog_database import ENTRIES

    register(ENTRIES)


_register_database_codes()

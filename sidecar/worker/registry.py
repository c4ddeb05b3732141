"""Every check, in run order: the one list that names them.

The worker runs these; the daemon (settings, diagnosis, metrics, scheduler, the CLI's
``--check`` and ``--list-checks``) and the tests derive every check name from here, so a new
check is one module plus one line below. What used to be a branch on a check's name is data
on its ``Check``.

Standard library only, Python 3.8 syntax: the daemon imports this as
``sidecar.worker.registry`` without SQLAlchemy, the worker as ``_sidecar_worker.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple


@dataclass(frozen=True)
class Check:
    name: str
    run: str  # "module:function", the module relative to the worker package
    description: str  # one line, for --list-checks
    needs: Tuple[str, ...] = ()  # checks whose results this one reads (run first, too)
    uses_alembic: bool = False  # the Alembic fallback is installed before the first of these
    imports_app_code: bool = False  # its error findings carry the app's output tail
    counts_schema_differences: bool = False  # its findings feed sidecar_schema_drift_objects
    uses_database: bool = False  # runs on the engine: in the async bridge for an async driver


CHECKS: Tuple[Check, ...] = (
    Check("models_import", "checks.models.check:run_models_import",
          "import the --models modules; their warnings and exceptions become findings",
          imports_app_code=True),
    Check("mappers", "checks.models.check:run_mappers",
          "configure the mappers, find the MetaData, resolve every ForeignKey",
          needs=("models_import",), imports_app_code=True),
    Check("database", "checks.database.check:run_database",
          "connect read-only with the app's database URL and ping", uses_database=True),
    Check("migrations", "checks.migrations.check:run_migrations",
          "the revision in alembic_version vs the migration scripts' heads",
          needs=("database",), uses_alembic=True, uses_database=True),
    Check("schema_drift", "checks.drift.check:run_schema_drift",
          "the models vs the live schema (Alembic autogenerate), with a verdict",
          needs=("mappers", "database", "migrations"), uses_alembic=True,
          counts_schema_differences=True, uses_database=True),
    Check("app_factory", "checks.app_factory.check:run_app_factory",
          "opt-in: call --app-factory twice and --app-getter from threads at once",
          needs=("models_import",), imports_app_code=True),
)

_BY_NAME: Dict[str, Check] = {check.name: check for check in CHECKS}


def base_name(name: str) -> str:
    """``schema_drift`` for ``schema_drift:analytics``: a check run again for a further
    database (a bind) reports as ``<check>:<bind>``."""
    return name.split(":", 1)[0]


def names() -> List[str]:
    return [check.name for check in CHECKS]


def get(name: str) -> Check:
    """The check called ``name``; KeyError for an unknown one."""
    return _BY_NAME[name]


def selected(wanted: Iterable[str] = ()) -> List[Check]:
    """The checks to run for ``wanted`` (empty: all): each with what it needs, in run order."""
    wanted = list(wanted)
    if not wanted:
        return list(CHECKS)
    chosen = set()
    todo = list(wanted)
    while todo:
        name = todo.pop()
        if name not in chosen:
            chosen.add(name)
            todo.extend(get(name).needs)
    return [check for check in CHECKS if check.name in chosen]

"""What one worker run knows, and what each check hands the next, as typed attributes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

if TYPE_CHECKING:  # the worker imports nothing it does not run
    from .source.locate import Locator


class Skip(Exception):
    """Raised by a check that cannot run; the message is the reason shown to users."""


@dataclass
class Context:
    config: Dict[str, Any]  # the daemon's config (sent on stdin)
    emit_phase: Callable[[str], None]  # tell the daemon what runs now (placing a hang)
    app_path: str = field(init=False)

    # models_import →
    targets: List[Tuple[str, Any]] = field(default_factory=list)  # (target, object) imported
    locator: Optional[Locator] = None  # places findings in the app's files
    import_ok: bool = False  # every target imported
    # (table, column) of reserved-name findings: does the database have them (database)
    model_columns: List[Tuple[str, str]] = field(default_factory=list)
    # the import failed inside configure_mappers() (the app calls it at import): the classes
    # exist, so the mappers check still looks for the other broken ones
    import_failed_configuring: bool = False
    import_reported: List[Tuple[Any, ...]] = field(default_factory=list)  # (code, file, line)
    failed_import_errors: List[BaseException] = field(default_factory=list)  # kept alive
    # mappers →
    models_ok: bool = False  # every target imported and mappers configured
    models_error: Optional[str] = None  # why not, for checks that depend on models
    metadatas: List[Any] = field(default_factory=list)  # discovered sqlalchemy MetaData
    # where each of ``metadatas`` was found (same order), e.g. "pkg.models:Base.metadata"
    metadata_sources: List[str] = field(default_factory=list)
    mappers: List[Any] = field(default_factory=list)  # every configured Mapper
    # database →
    engine: Any = None  # the run's Engine, after a successful connection
    db_error: Optional[str] = None  # why there is no engine (a redacted sentence)
    db_observed: Dict[str, Any] = field(default_factory=dict)  # what connecting found
    # what connecting said of the URL and driver (DB208, DB214): repeated while the engine
    # is kept, so a kept connection (--keep-connection) does not make them disappear
    db_findings: List[Dict[str, Any]] = field(default_factory=list)
    secrets: Optional[List[str]] = None  # the password's forms, for ``scrub``
    # an async driver's event loop (checks/database/bridge.py), for the worker's life
    async_bridge: Any = None
    # migrations →
    migration_state: Optional[Dict[str, Any]] = None  # for schema_drift's verdict
    # the migration scripts the migrations check read (a ScriptDirectory), for `revision`
    migration_scripts: Any = None
    # the worker's loop → the checks that use Alembic (sidecar/worker/versions.py)
    alembic_refused: Optional[Dict[str, str]] = None  # why sidecar's Alembic was not lent
    alembic_reported_by: Optional[str] = None  # the check that said so (said once)
    # schema_drift: the models' hash by settings and MetaData (a resident worker's
    # MetaData are the same objects every cycle)
    models_hash_memo: Dict[str, str] = field(default_factory=dict)
    # the running check's ``cache`` from the previous cycle (set before each check)
    previous_cache: Optional[Dict[str, Any]] = None

    # the further databases' contexts (``for_bind``), kept across a resident worker's cycles
    binds: Dict[str, "Context"] = field(default_factory=dict, repr=False)
    _cleanups: List[Callable[[], None]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.app_path = self.config["app_path"]

    def for_bind(self, name: str, url: str) -> "Context":
        """The context of one further database (a bind): the same models, its own URL,
        engine and migration state; one per name for the worker's life, cleaned up and
        started anew with this one (``cleanup``, ``start_cycle``)."""
        import dataclasses

        bound = self.binds.get(name)
        if bound is None or bound.config.get("database_url") != url:
            if bound is not None:
                bound.cleanup()
            config = {**self.config, "database_url": url, "bind": name}
            own_ini = (self.config.get("alembic_binds") or {}).get(name)
            if own_ini:  # migrations of its own (--alembic-ini NAME=PATH), not the default's
                config.update(alembic_ini=own_ini, alembic_own=True)
            bound = dataclasses.replace(
                self, config=config, engine=None,
                db_error=None, db_observed={}, db_findings=[], secrets=None,
                migration_state=None, migration_scripts=None,
                previous_cache=None, async_bridge=None, binds={}, _cleanups=[])
            self.binds[name] = bound
        return bound

    def start_cycle(self, keep_connection: bool = False) -> None:
        """A resident worker's next cycle: what the database, migrations and drift checks
        found last time is forgotten; the imported models (and, kept, the engine) stay."""
        if not keep_connection or self.engine is None:
            self._run_cleanups()  # its own: each bind keeps or closes its engine below
            self.engine, self.db_observed, self.db_findings = None, {}, []
        self.db_error = None
        self.migration_state = None
        self.migration_scripts = None
        self.alembic_reported_by = None
        self.previous_cache = None
        for bound in self.binds.values():
            bound.start_cycle(keep_connection)

    def on_cleanup(self, close: Callable[[], None]) -> None:
        """Run ``close`` at the end of the run (last registered, first run)."""
        self._cleanups.append(close)

    def cleanup(self) -> None:
        """The end of the run: this context's cleanups, then every bind's."""
        self._run_cleanups()
        for bound in self.binds.values():
            bound.cleanup()

    def _run_cleanups(self) -> None:
        while self._cleanups:
            with contextlib.suppress(Exception):  # the results are out already
                self._cleanups.pop()()


CheckOutcome = Dict[str, Any]  # {"findings": [raw, ...], "observed": {...}, "cache"?: {...}}

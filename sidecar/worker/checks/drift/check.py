"""The ``schema_drift`` check: the models' MetaData vs the live schema.

Alembic's autogenerate comparison does the work (compare_type and server defaults on),
over read-only connections; ``drift_extra`` adds what it does not compare (PostgreSQL enum
labels, primary keys, named CHECK constraints via Alembic's opt-in plugin), the passes in
``drift_passes`` turn its add/drop noise into findings with fixes, and the verdict joins the
result with the migrations check's state (``ctx.migration_state``). Each table/column
finding then points at the model's class and attribute statement too.

A table that cannot be reflected is isolated by bisection (compare halves of the table list
until the failing one is alone) and reported as DRIFT420; the rest is compared normally.

Cheap re-checks: see ``drift_fingerprint``. Observed carries ``fingerprint``,
``models_hash``, ``reused`` and ``last_full_compare``; the outcome's ``cache`` (fingerprint,
models hash, the raw unlocated findings) comes back as ``ctx.previous_cache`` next cycle.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import fnmatch
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from ... import compat, versions
from ...context import CheckOutcome, Context, Skip
from ...protocol import finding
from ...redact import guarded
from ...source import locate
from ..database.check import (
    cancelled_by_server,
    ensure_engine,
    read_only_connection,
    secrets_for,
)
from .diffs import Diff, Renderer, from_upgrade_ops
from .extra import check_constraint_plugins, compare_enums, compare_primary_keys
from .fingerprint import catalog_fingerprint, models_hash
from .passes import PassEnv, run_pipeline, to_findings

DEFAULT_EXCLUDE = ["alembic_version"]
TableKey = Tuple[Optional[str], str]  # (schema as Alembic names it: None = default, name)


def run_schema_drift(ctx: Context) -> CheckOutcome:
    return guarded(lambda: _run(ctx), "DRIFT499", "The schema comparison failed",
                   secrets_for(ctx))


class Settings:
    """The comparison's inputs from the config: table globs and schemas."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.include: List[str] = list(config.get("drift_include") or [])
        exclude = config.get("drift_exclude")
        self.exclude: List[str] = list(DEFAULT_EXCLUDE if exclude is None else exclude)
        self.schemas: List[Optional[str]] = list(config.get("schemas") or [None])

    def table_allowed(self, schema: Optional[str], name: str) -> bool:
        names = [name] if not schema else [name, f"{schema}.{name}"]
        if self.include and not any(fnmatch.fnmatchcase(n, g) for g in self.include
                                    for n in names):
            return False
        return not any(fnmatch.fnmatchcase(n, g) for g in self.exclude for n in names)

    def compared_schemas(self, metadatas: List[Any],
                         default_schema: Optional[str]) -> List[Optional[str]]:
        """Configured schemas plus every schema a model table names (None = default)."""
        found: Set[Optional[str]] = set()
        for s in self.schemas:
            found.add(None if s in (None, default_schema) else s)
        for md in metadatas:
            for t in md.tables.values():
                found.add(None if t.schema in (None, default_schema) else t.schema)
        return sorted(found, key=lambda s: (s is not None, s or ""))

    def as_dict(self) -> Dict[str, Any]:
        return {"include": self.include, "exclude": self.exclude, "schemas":
                [s or "" for s in self.schemas]}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _run(ctx: Context) -> CheckOutcome:
    if not ctx.models_ok:
        raise Skip(f"the models did not load: {ctx.models_error or 'see models_import'}")
    metadatas = [md for md in ctx.metadatas if md is not None]
    if not metadatas or not any(md.tables for md in metadatas):
        raise Skip("no tables in the models' MetaData")
    engine = ensure_engine(ctx)  # first: without a database there is nothing to compare
    no_alembic = versions.require_alembic(ctx, "schema_drift")  # Skip, or SIDE012 once
    if no_alembic is not None:
        return no_alembic
    import alembic
    import sqlalchemy

    settings = Settings(ctx.config)
    observed: Dict[str, Any] = {}
    with read_only_connection(engine) as conn:
        dialect = conn.dialect.name
        default_schema = conn.dialect.default_schema_name
        schemas = settings.compared_schemas(metadatas, default_schema)
        observed["schemas"] = [s or default_schema or "default" for s in schemas]
        observed["models_hash"] = models_hash(metadatas, {
            **settings.as_dict(), "dialect": dialect, "default_schema": default_schema,
            "alembic": alembic.__version__, "sqlalchemy": sqlalchemy.__version__})
        ctx.emit_phase("fingerprinting the database catalog")
        try:
            fp = catalog_fingerprint(conn, schemas)
        except Exception:
            fp = None  # a catalog we cannot hash just means a full compare every cycle
            _restart_transaction(conn)
        observed["fingerprint"] = fp["fingerprint"] if fp else None
        cache = ctx.previous_cache or {}
        reuse = bool(fp and cache.get("fingerprint") == fp["fingerprint"]
                     and cache.get("models_hash") == observed["models_hash"]
                     and isinstance(cache.get("result"), list))
        if reuse:
            result = list(cache["result"])
            observed["last_full_compare"] = cache.get("compared_at")
            observed["compare_s"] = 0.0
        else:
            ctx.emit_phase(f"comparing the models with the {dialect} schema")
            started = time.perf_counter()
            result, stats = compare(conn, metadatas, settings, schemas)
            observed.update(stats)
            observed["compare_s"] = round(time.perf_counter() - started, 3)
            observed["last_full_compare"] = _now()
    observed["reused"] = reuse
    observed["compared_at"] = observed["last_full_compare"]
    differences = [f for f in result if f["code"] != "DRIFT420"]
    observed["differences"] = len(differences)
    verdict, verdict_finding = join_verdict(ctx.migration_state, differences)
    observed["verdict"] = verdict
    # the cache keeps the findings as compared; locating copies, so a later reuse is
    # located afresh against the models as they are then
    findings = copy.deepcopy(result) + ([verdict_finding] if verdict_finding else [])
    with contextlib.suppress(Exception):  # pointing at the model is a bonus
        locate_model_columns(ctx, findings)
    outcome: CheckOutcome = {"findings": findings, "observed": observed}
    if observed["fingerprint"]:  # without one, a cache could never be reused
        outcome["cache"] = {"fingerprint": observed["fingerprint"],
                            "models_hash": observed["models_hash"], "result": result,
                            "compared_at": observed["last_full_compare"]}
    return outcome


# --- the comparison ------------------------------------------------------------------------


def compare(conn: Any, metadatas: List[Any], settings: Settings,
            schemas: List[Optional[str]]) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Full comparison: raw findings and a few stats for observed."""
    from sqlalchemy import inspect

    default_schema = conn.dialect.default_schema_name
    probe = inspect(conn)
    views: Set[TableKey] = set()
    db_tables: Set[TableKey] = set()
    for s in schemas:
        db_tables.update((s, n) for n in probe.get_table_names(schema=s)
                         if settings.table_allowed(s, n))
        names = list(probe.get_view_names(schema=s))
        with contextlib.suppress(NotImplementedError, AttributeError):
            names += probe.get_materialized_view_names(schema=s)
        views.update((s, n) for n in names)
    model_tables: Dict[TableKey, Any] = {}
    for md in metadatas:
        for t in md.tables.values():
            key = (None if t.schema in (None, default_schema) else t.schema, t.name)
            if settings.table_allowed(*key) and key not in views:
                model_tables[key] = t
    plugins = check_constraint_plugins()
    renderer = Renderer(conn.dialect.name)

    diffs: List[Diff] = []
    contexts: List[Any] = []
    everything = sorted(db_tables | set(model_tables), key=lambda k: (k[0] or "", k[1]))
    for ok_keys, result in _isolate(conn, everything, lambda keys: _autogen(
            conn, metadatas, settings, schemas, views, plugins, set(keys))):
        if isinstance(result, Exception):
            key = ok_keys[0]
            diffs.append(Diff(
                "unreflectable", key[1], key[0],
                message=f"Table {_q(key)} could not be compared: "
                f"{type(result).__name__}: {_short(result)}",
                facts={"exception": type(result).__name__, "detail": _short(result)},
                alembic_op=None))
            continue
        upgrade_ops, autogen_context = result
        contexts.append((ok_keys, autogen_context))
        diffs.extend(from_upgrade_ops(upgrade_ops, conn.dialect))

    missing_tables = {(d.schema, d.table) for d in diffs if d.kind == "missing_table"}
    skip_cols = {(d.schema, d.table, None) for d in diffs if d.kind == "missing_table"} | \
        {(d.schema, d.table, d.column) for d in diffs if d.kind == "missing_column"}
    broken = {(d.schema, d.table) for d in diffs if d.kind == "unreflectable"}
    for keys, ac in contexts:
        both = [(k[0], model_tables[k]) for k in keys
                if k in model_tables and k in db_tables and k not in missing_tables
                and k not in broken]
        # primary keys and enums are a bonus over Alembic: never fail the check for them
        with contextlib.suppress(Exception):
            diffs.extend(compare_primary_keys(both, ac.inspector, renderer))
    if conn.dialect.name == "postgresql" and contexts:
        with contextlib.suppress(Exception):
            diffs.extend(compare_enums(metadatas, contexts[0][1].inspector, default_schema,
                                       skip_cols, renderer))

    env = PassEnv(conn.dialect.name, renderer, model_tables)
    diffs = run_pipeline(diffs, env)
    stats = {"tables_compared": len(everything) - len(broken), "tables_in_models":
             len(model_tables), "tables_in_database": len(db_tables), "views_ignored":
             len(views), "check_constraints": "compared (named only)" if plugins else
             "not compared (this Alembic has no checkconstraint_byname plugin)"}
    return to_findings(diffs), stats


def _autogen(conn: Any, metadatas: List[Any], settings: Settings,
             schemas: List[Optional[str]], views: Set[TableKey],
             plugins: Optional[List[str]], subset: Set[TableKey]) -> Tuple[Any, Any]:
    """One Alembic comparison restricted to ``subset``: (UpgradeOps, AutogenContext)."""
    from alembic.migration import MigrationContext

    wanted_schemas = set(schemas)
    default_schema = conn.dialect.default_schema_name

    def include_name(name: Any, type_: str, parent: Dict[str, Any]) -> bool:
        if type_ == "schema":
            return (None if name in (None, default_schema) else name) in wanted_schemas
        if type_ == "table":
            schema = parent.get("schema_name")
            key = (None if schema in (None, default_schema) else schema, name)
            return key in subset
        return True

    def include_object(obj: Any, name: Any, type_: str, reflected: bool,
                       compare_to: Any) -> bool:
        # reflected tables too: Alembic < 1.5 (still paired with SQLAlchemy 1.3) has no
        # include_name and ignores it, so this is its only filter (--exclude-table, subsets)
        if type_ == "table":
            key = (None if obj.schema in (None, default_schema) else obj.schema, obj.name)
            return key in subset
        return True

    opts: Dict[str, Any] = {
        "compare_type": True,
        "compare_server_default": True,
        "include_schemas": any(s is not None for s in schemas),
        "include_name": include_name,
        "include_object": include_object,
        "target_metadata": metadatas,
    }
    if plugins:
        opts["autogenerate_plugins"] = plugins
    mc = MigrationContext.configure(conn, opts=opts)
    return compat.compare_models(mc, metadatas if len(metadatas) > 1 else metadatas[0])


def _isolate(conn: Any, keys: List[TableKey],
             run: Callable[[List[TableKey]], Any]) -> List[Tuple[List[TableKey], Any]]:
    """Run over all keys; on failure, bisect until each failing table is alone.

    Returns (keys, result or the exception of a single table) pairs. A timeout or a lost
    connection is not a table's fault: it propagates."""
    try:
        return [(keys, run(keys))]
    except Exception as exc:
        if _fatal(exc) or not keys:
            raise
        _restart_transaction(conn)
        if len(keys) == 1:
            return [(keys, exc)]
    mid = len(keys) // 2
    return _isolate(conn, keys[:mid], run) + _isolate(conn, keys[mid:], run)


def _fatal(exc: BaseException) -> bool:
    return bool(getattr(exc, "connection_invalidated", False)) or cancelled_by_server(exc)


def _restart_transaction(conn: Any) -> None:
    """After an error PostgreSQL refuses further statements until the transaction ends."""
    with contextlib.suppress(Exception):
        compat.rollback_transaction(conn)


def _q(key: TableKey) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300]


# --- pointing at the model ---------------------------------------------------------------


def locate_model_columns(ctx: Context, findings: List[Dict[str, Any]]) -> None:
    """Give table/column findings (schema drift) the model's file:line, class and attribute.

    On-call reads "security_events.event_metadata"; the developer needs
    "server/models_sql.py:105, SecurityEvent.event_metadata".
    """
    mappers, locator = ctx.mappers, ctx.locator
    if not mappers or locator is None:
        return
    for raw in findings:
        table, column = raw.get("table"), raw.get("column")
        if not table or raw.get("file"):
            continue
        for mapper in mappers:
            local = getattr(mapper, "local_table", None)
            if getattr(local, "name", None) != table:
                continue
            cls = mapper.class_
            attribute = None
            if column:
                for key, col in mapper.columns.items():
                    if getattr(col, "name", None) == column and getattr(col, "table",
                                                                        None) is local:
                        attribute = key
                        break
                if attribute is None:
                    continue  # a column only the database has: the class line is enough
            try:
                import inspect  # the stdlib's (compare() imports SQLAlchemy's)

                filename = inspect.getsourcefile(cls)
            except (TypeError, OSError):
                filename = None
            if not filename or not locator.is_user_file(filename):
                break
            found = locator.find_class(cls.__name__, [filename])
            if found is None:
                break
            stmt = locate.attribute_statement(found[1], attribute) if attribute else None
            raw["file"] = locator.relative(filename)
            raw["line"] = stmt.lineno if stmt is not None else found[1].lineno
            raw["class"] = cls.__name__
            if attribute:
                raw["attribute"] = attribute
            break


# --- the verdict ---------------------------------------------------------------------------


def join_verdict(state: Optional[Dict[str, Any]],
                 differences: List[Dict[str, Any]]) -> Tuple[str, Optional[Dict[str, Any]]]:
    """One word for migration state + drift, and the finding that explains it (if any)."""
    mig = (state or {}).get("state")
    n = len(differences)
    if mig == "unknown_revision":
        revs = ", ".join((state or {}).get("current") or [])
        return "unknown_revision", finding(
            "DRIFT433", f"The database is stamped with revision {revs}, unknown to the "
            f"migration scripts, and has {n} difference(s) from the models: it was migrated "
            "by another branch or a newer release of the app.",
            facts={"revision": revs, "differences": str(n)})
    if mig == "behind":
        pending = (state or {}).get("pending") or []
        if not n:
            return "pending_migration", None
        return "pending_migration", finding(
            "DRIFT431", f"{n} difference(s) from the models, with {len(pending)} migration(s) "
            "not applied: the differences are expected until the migrations run.",
            facts={"pending": ", ".join(p["revision"] for p in pending),
                   "differences": str(n)})
    if not n:
        return "in_sync", None
    if mig == "at_head":
        heads = ", ".join((state or {}).get("heads") or [])
        return "out_of_band", finding(
            "DRIFT432", f"The database is at migration head {heads}, yet differs from the "
            f"models in {n} place(s): the schema was changed outside the migrations, or the "
            "models changed without a migration.",
            facts={"heads": heads, "differences": str(n)})
    return "drifted", None

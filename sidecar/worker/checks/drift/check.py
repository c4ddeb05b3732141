"""The ``schema_drift`` check: the models' MetaData vs the live schema.

Alembic's autogenerate comparison does the work (compare_type and server defaults on),
over read-only connections; ``drift_extra`` adds what it does not compare (PostgreSQL enum
labels, primary keys, named CHECK constraints via Alembic's opt-in plugin), the passes in
``drift_passes`` turn its add/drop noise into findings with fixes, and the verdict joins the
result with the migrations check's state (``ctx.migration_state``). Each table/column
finding then points at the model's class and attribute statement too.

Several MetaData: ``scope.py`` puts every model table, once, into one view MetaData (the
app's own Table objects); a table two MetaData define differently is DRIFT422, its other
definitions compared on their own. Observed carries ``coverage`` (MetaData, tables and
columns compared, what was left out and why); nothing compared is DRIFT423, verdict
``not_compared``, never ``in_sync``.

Fault isolation: a failing comparison is bisected over the table list until the failing
table is alone, then over that table's columns (left out on both sides through
``include_object``): a column whose type or server default cannot be rendered or compared
is DRIFT421 and every other column is compared; a table that fails even without its
columns is DRIFT420.

Cheap re-checks: see ``drift_fingerprint``. Observed carries ``fingerprint``,
``models_hash``, ``reused`` and ``last_full_compare``; the outcome's ``cache`` (fingerprint,
models hash, the raw unlocated findings) comes back as ``ctx.previous_cache`` next cycle.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import fnmatch
import gc
import re
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Set, Tuple

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
    timeouts_named,
)
from .binds import resolve_targets, split_by_bind
from .diffs import Diff, Renderer, from_upgrade_ops
from .extra import check_constraint_plugins, compare_enums, compare_primary_keys
from .fingerprint import catalog_fingerprint, catalog_version, models_hash
from .order import dependency_order
from .passes import (
    PIPELINE,
    PassEnv,
    clip_bytes,
    render_fixes,
    run_pipeline,
    to_findings,
)
from .scope import (
    Conflict,
    Scope,
    TableKey,
    build_scope,
    describe_difference,
    metadata_labels,
    table_key,
)

DEFAULT_EXCLUDE = ["alembic_version"]
# findings about the comparison itself, not differences between the models and the database
NOT_DIFFERENCES = {"DRIFT420", "DRIFT421", "DRIFT422", "DRIFT423"}
# hints that paste the model's Column(...) call rewritten: they get its AST facts
REWRITES_THE_CALL = {"DRIFT414", "DRIFT424"}
ColumnKey = Tuple[Optional[str], str, str]  # (schema as Alembic names it, table, column)


def run_schema_drift(ctx: Context) -> CheckOutcome:
    return guarded(timeouts_named(lambda: _run(ctx), "comparing the schema"), "DRIFT499",
                   "The schema comparison failed", secrets_for(ctx))


class Settings:
    """The comparison's inputs from the config: table globs and schemas."""

    def __init__(self, config: Dict[str, Any]) -> None:
        self.include: List[str] = list(config.get("drift_include") or [])
        exclude = config.get("drift_exclude")
        self.exclude: List[str] = list(DEFAULT_EXCLUDE if exclude is None else exclude)
        self.schemas: List[Optional[str]] = list(config.get("schemas") or [None])
        # (schema, table) the models map to a database other than the one compared: a
        # database shared by several binds holds them, and they are not extra here
        self.other_binds: Set[Tuple[Optional[str], str]] = set()

    def table_allowed(self, schema: Optional[str], name: str) -> bool:
        if (schema or None, name) in self.other_binds:
            return False  # the models map it to another database: not this one's to judge
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
                [s or "" for s in self.schemas],
                "other_binds": sorted(f"{s or ''}.{n}" for s, n in self.other_binds)}


def _bind_without_url(name: str, metadatas: List[Any]) -> Dict[str, Any]:
    tables = sorted(t.name for md in metadatas for t in md.tables.values())
    shown = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    return finding(
        "DRIFT425", f"The models' tables of the '{name}' database ({shown}) were not compared: "
        f"no URL was given for it.", facts={"bind": name, "tables": tables})


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()


def _run(ctx: Context) -> CheckOutcome:
    if not ctx.models_ok:
        raise Skip(f"the models did not load: {ctx.models_error or 'see models_import'}")
    bind = ctx.config.get("bind")  # a further database's name; None: the default one
    explicit, unresolved = resolve_targets(ctx.config.get("binds") or {})
    by_bind = split_by_bind([md for md in ctx.metadatas if md is not None], explicit)
    metadatas = by_bind.get(bind, [])
    # tables of a bind no URL was given for: not compared anywhere, and said so
    unchecked = sorted(k for k in by_bind if k is not None and k != bind
                       and k not in (ctx.config.get("database_binds") or {}))
    if bind is not None and not any(md.tables for md in metadatas):
        raise Skip(f"no model tables have the bind key '{bind}'")
    if not metadatas or not any(md.tables for md in metadatas):
        raise Skip("no tables in the models' MetaData")
    engine = ensure_engine(ctx)  # first: without a database there is nothing to compare
    no_alembic = versions.require_alembic(ctx, "schema_drift")  # Skip, or SIDE012 once
    if no_alembic is not None:
        return no_alembic
    import alembic
    import sqlalchemy

    settings = Settings(ctx.config)
    settings.other_binds = {(t.schema or None, t.name) for key, mds in by_bind.items()
                            if key != bind for md in mds for t in md.tables.values()}
    observed: Dict[str, Any] = {}
    with read_only_connection(engine) as conn:
        dialect = conn.dialect.name
        default_schema = conn.dialect.default_schema_name
        schemas = settings.compared_schemas(metadatas, default_schema)
        observed["schemas"] = [s or default_schema or "default" for s in schemas]
        hash_settings = {**settings.as_dict(), "dialect": dialect,
                         "default_schema": default_schema, "alembic": alembic.__version__,
                         "sqlalchemy": sqlalchemy.__version__}
        # a resident worker holds the same MetaData every cycle: hash them once (linear in
        # the tables, the largest CPU cost of a re-check after the fingerprint query)
        # by the tables' identity: a bind's MetaData may be a view built afresh each cycle
        memo_key = repr((sorted(hash_settings.items()),
                         [sorted(id(t) for t in md.tables.values()) for md in metadatas]))
        if memo_key not in ctx.models_hash_memo:
            ctx.models_hash_memo[memo_key] = models_hash(metadatas, hash_settings)
        observed["models_hash"] = ctx.models_hash_memo[memo_key]
        ctx.emit_phase("fingerprinting the database catalog")
        cache = ctx.previous_cache or {}
        try:
            version = catalog_version(conn, schemas)
        except Exception:
            version = None
            _restart_transaction(conn)
        fp: Optional[Dict[str, Any]] = None
        if version and version == cache.get("catalog_version") and cache.get("fingerprint"):
            fp = {"fingerprint": cache["fingerprint"]}  # the same catalog rows as then
        else:
            try:
                fp = catalog_fingerprint(conn, schemas)
            except Exception:
                fp = None  # a catalog we cannot hash just means a full compare every cycle
                _restart_transaction(conn)
        observed["fingerprint"] = fp["fingerprint"] if fp else None
        observed["catalog_version_reused"] = bool(version and fp is not None
                                                  and "parts" not in fp)
        revision = ctx.config.get("revision")  # `sidecar revision`: the ops are needed
        kept: Dict[str, Any] = {}
        reuse = bool(fp and cache.get("fingerprint") == fp["fingerprint"]
                     and cache.get("models_hash") == observed["models_hash"]
                     and isinstance(cache.get("result"), list)) and not revision
        if reuse:
            result = list(cache["result"])
            stats = dict(cache.get("stats") or {})
            observed.update(stats)
            observed["last_full_compare"] = cache.get("compared_at")
            observed["compare_s"] = 0.0
        else:
            ctx.emit_phase(f"comparing the models with the {dialect} schema")
            started = time.perf_counter()
            packages = [str(t).split(":")[0].split(".")[0]
                        for t in ctx.config.get("models") or []]
            with _collector_paused():
                result, stats = compare(conn, metadatas, settings, schemas, packages,
                                        kept if revision else None)
            observed.update(stats)
            observed["compare_s"] = round(time.perf_counter() - started, 3)
            observed["last_full_compare"] = _now()
    observed["reused"] = reuse
    observed["compared_at"] = observed["last_full_compare"]
    differences = [f for f in result if f["code"] not in NOT_DIFFERENCES]
    observed["differences"] = len(differences)
    verdict, verdict_finding = join_verdict(ctx.migration_state, differences)
    coverage = observed.get("coverage") or {}
    if not coverage.get("tables"):
        verdict = "not_compared"  # a comparison of nothing is never "in sync"
    elif verdict == "in_sync" and (coverage.get("tables_not_compared")
                                   or coverage.get("columns_not_compared")
                                   or coverage.get("indexes_not_compared")):
        verdict = "in_sync_partial"  # no difference in what could be compared
    observed["verdict"] = verdict
    # the cache keeps the findings as compared; locating copies, so a later reuse is
    # located afresh against the models as they are then
    findings = copy.deepcopy(result) + ([verdict_finding] if verdict_finding else [])
    if bind is None and unchecked:
        observed["binds_not_checked"] = unchecked
        findings.extend(_bind_without_url(name, by_bind[name]) for name in unchecked)
    if bind is None:
        findings.extend(finding("DRIFT426", f"--bind {name}={target}: {why}; that database's "
                                "tables were compared with the default one.",
                                facts={"bind": name, "target": target, "reason": why})
                        for name, target, why in unresolved)
    with contextlib.suppress(Exception):  # pointing at the model is a bonus
        locate_model_columns(ctx, findings)
    with contextlib.suppress(Exception):
        locate_core_tables(ctx, findings)
    if revision and bind is None:  # `sidecar revision`: the default database's repair
        from ...revision.make import make_revision

        observed["revision"] = make_revision(ctx, kept, findings, revision)
    outcome: CheckOutcome = {"findings": findings, "observed": observed}
    if observed["fingerprint"]:  # without one, a cache could never be reused
        outcome["cache"] = {"fingerprint": observed["fingerprint"],
                            "catalog_version": version,
                            "models_hash": observed["models_hash"], "result": result,
                            "compared_at": observed["last_full_compare"], "stats": stats}
    return outcome


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while comparing.

    Reflection allocates millions of small objects beside the app's models (a 5,000-table
    schema: ~10 M), and each full collection CPython's thresholds trigger walks them all;
    measured on 2,000-4,000 tables that is 20-25% of the comparison's CPU. What it builds
    lives until the comparison returns, so pausing costs little memory; the collector runs
    again after (a resident worker frees the reflected tables then)."""
    if not gc.isenabled():  # the app turned it off: not ours to turn back on
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# --- the comparison ------------------------------------------------------------------------


def compare(conn: Any, metadatas: List[Any], settings: Settings,
            schemas: List[Optional[str]], packages: Sequence[str] = (),
            keep: Optional[Dict[str, Any]] = None,
            ) -> Tuple[List[Dict[str, Any]], Dict[str, Any]]:
    """Full comparison: raw findings and what it covered (``coverage``) for observed.
    ``packages``: the targets' top-level packages, where MetaData are named first.
    ``keep``: receives the differences with their Alembic ops (``diffs``) and the
    ``renderer``, for ``sidecar revision``."""
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
    scope = build_scope(metadatas, default_schema, settings.table_allowed, views)
    model_tables = scope.tables
    plugins = check_constraint_plugins()
    renderer = Renderer(conn.dialect.name, compat.server_of(conn.dialect))
    view = scope.view()

    def run(keys: List[TableKey], skip: Set[ColumnKey],
            bare: bool = False) -> Tuple[List[Diff], Any]:
        """``bare``: the one table of ``keys`` as a copy without indexes and constraints
        (their comparison raised), indexes and constraints left out on both sides."""
        md = view if not bare else bare_view(model_tables[keys[0]])
        upgrade_ops, ac = _autogen(conn, md, settings, schemas, plugins, set(keys), skip,
                                   bare)
        return from_upgrade_ops(upgrade_ops, conn.dialect), ac

    diffs: List[Diff] = []
    contexts: List[Any] = []
    skipped: Dict[ColumnKey, Dict[str, str]] = {}  # columns left out -> DRIFT421's facts
    everything = sorted(db_tables | set(model_tables), key=lambda k: (k[0] or "", k[1]))
    partly: Set[TableKey] = set()  # compared without their indexes and constraints
    for ok_keys, result, bad, objects_error in _isolate(conn, everything, run, model_tables):
        skipped.update(bad)
        if objects_error is not None:
            key = ok_keys[0]
            partly.add(key)
            diffs.append(Diff(
                "objects_not_compared", key[1], key[0],
                message=f"The indexes and constraints of table {_q(key)} could not be "
                f"compared ({type(objects_error).__name__}: {_short(objects_error)}); its "
                "columns were.", facts={**_failure_facts(objects_error),
                                        "columns_compared": "yes"}, alembic_op=None))
        if isinstance(result, Exception):
            key = ok_keys[0]
            diffs.append(Diff(
                "unreflectable", key[1], key[0],
                message=f"Table {_q(key)} could not be compared: "
                f"{type(result).__name__}: {_short(result)}",
                facts=_failure_facts(result), alembic_op=None))
            continue
        found, autogen_context = result
        contexts.append((ok_keys, autogen_context))
        diffs.extend(found)
    for (schema, table, column), why in sorted(skipped.items(),
                                               key=lambda kv: (kv[0][0] or "", kv[0][1:])):
        what = {"type": f"its type {why.get('object_name')} cannot be compiled",
                "server_default": f"its server default {why.get('object_name')} cannot be "
                "rendered"}.get(why.get("object", ""), "comparing it raised")
        facts = dict(why)
        if "requires a length" in str(why.get("reason")):
            facts.update(_db_length(conn, schema, table, column))
        diffs.append(Diff(
            "not_compared", table, schema, column,
            message=f"Column {_q((schema, table))}.{column} was not compared: {what} for "
            f"{why['dialect']} ({why['reason']}). Every other column and table was compared.",
            facts=facts))

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
    if keep is not None:
        keep.update(diffs=diffs, renderer=renderer, model_tables=model_tables)
        if conn.dialect.name == "postgresql" and contexts:
            with contextlib.suppress(Exception):  # which enum types exist, for create_table
                keep["db_enums"] = {e["name"] for e in
                                    contexts[0][1].inspector.get_enums(schema="*")}
    coverage = _coverage(scope, db_tables, broken, missing_tables, skipped)
    coverage["indexes_not_compared"] = sorted(_q(k) for k in partly)
    extra: List[Dict[str, Any]] = []
    labels = metadata_labels(metadatas, packages)
    for conflict in scope.conflicts:
        with contextlib.suppress(Exception):  # the conflict is known even if this fails
            _compare_alternatives(conflict, conn, scope, settings, schemas, plugins)
        extra.append(conflict_finding(conflict, labels, diffs))
    if not coverage["tables"]:
        extra.append(nothing_compared(scope, coverage, len(db_tables)))
    stats = {"tables_compared": coverage["tables"], "tables_in_models":
             len(model_tables), "tables_in_database": len(db_tables), "views_ignored":
             len(views), "check_constraints": "compared (named; unnamed ones matched by "
             "expression or PostgreSQL's generated name)" if plugins else
             "not compared (this Alembic has no checkconstraint_byname plugin)",
             "metadata": labels, "coverage": coverage}
    return to_findings(diffs) + extra, stats


def _db_length(conn: Any, schema: Optional[str], table: str, column: str) -> Dict[str, str]:
    """For a model ``String()`` without a length on MySQL/MariaDB ("VARCHAR requires a length
    on dialect mysql"): the database column's VARCHAR length, the length to write."""
    from sqlalchemy import inspect

    with contextlib.suppress(Exception):
        for info in inspect(conn).get_columns(table, schema=schema):
            length = getattr(info.get("type"), "length", None)
            if info.get("name") == column and isinstance(length, int):
                return {"db_type": f"VARCHAR({length})", "length": str(length)}
    return {}


def _coverage(scope: Scope, db_tables: Set[TableKey], broken: Set[TableKey],
              missing: Set[TableKey], skipped: Dict[ColumnKey, Any]) -> Dict[str, Any]:
    """How much the comparison covered, in numbers a renderer puts on one line."""
    tables = columns = 0
    for key, table in scope.tables.items():
        if key in broken:
            continue
        tables += 1
        if key in db_tables and key not in missing:
            columns += sum(1 for c in table.columns if (key[0], key[1], c.name) not in skipped)
    return {
        "metadata": len(scope.metadatas),
        "tables": tables,
        "columns": columns,
        "shared_tables": scope.shared(),
        "tables_not_compared": sorted(_q(k) for k in broken),
        "columns_not_compared": sorted(f"{_q((s, t))}.{c}" for s, t, c in skipped),
        "tables_excluded": sorted(_q(k) for k in scope.excluded),
        "model_views": sorted(_q(k) for k in scope.views),
    }


def _autogen(conn: Any, metadata: Any, settings: Settings, schemas: List[Optional[str]],
             plugins: Optional[List[str]], subset: Set[TableKey],
             skip: Set[ColumnKey], bare: bool = False) -> Tuple[Any, Any]:
    """One Alembic comparison restricted to ``subset`` and without the columns in ``skip``
    (on both sides): (UpgradeOps, AutogenContext)."""
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
            return table_key(obj, default_schema) in subset
        if type_ == "column" and skip:
            table = getattr(obj, "table", None)
            if table is not None and (*table_key(table, default_schema), name) in skip:
                return False
        return not (bare and type_ in _OBJECTS)

    opts: Dict[str, Any] = {
        "compare_type": True,
        "compare_server_default": compare_default,
        "include_schemas": any(s is not None for s in schemas),
        "include_name": include_name,
        "include_object": include_object,
        "target_metadata": metadata,
    }
    if plugins:
        opts["autogenerate_plugins"] = plugins
    mc = MigrationContext.configure(conn, opts=opts)
    return compat.compare_models(mc, metadata, dependency_order(metadata.tables.values()))


def compare_default(context: Any, inspected_column: Any, metadata_column: Any,
                    inspected_default: Optional[str], metadata_default: Any,
                    rendered_metadata_default: Optional[str]) -> Optional[bool]:
    """Alembic's ``compare_server_default`` hook: False (the same) when both defaults read
    the same as SQL text, True for JSON columns whose texts differ, None to let Alembic
    decide.

    On PostgreSQL Alembic 1.20 compares by running ``SELECT <db default> = <model default>``:
    a volatile default (Prefect's ``(GEN_RANDOM_UUID())`` vs the catalog's
    ``gen_random_uuid()``) is never equal to itself, and ``'{}'::json = '{}'`` raises
    (json has no equality operator)."""
    if inspected_default is None or rendered_metadata_default is None:
        return None
    model_text = rendered_metadata_default
    if isinstance(getattr(metadata_default, "arg", None), str):  # server_default="{}"
        model_text = "'" + metadata_default.arg.replace("'", "''") + "'"
    db, model = _norm_default(inspected_default), _norm_default(model_text)
    if getattr(getattr(context, "dialect", None), "name", None) in ("mysql", "mariadb"):
        db, model = _mysql_default(db), _mysql_default(model)
    if db == model:
        return False
    if getattr(getattr(context, "dialect", None), "name", None) == "postgresql" and \
            compat.changes_kind(getattr(inspected_column, "type", None),
                                getattr(metadata_column, "type", None)):
        # the type changes kind too ('3'::varchar to INTEGER 3): Alembic's SELECT would
        # raise (no varchar = integer operator) and the column go uncompared (DRIFT421);
        # texts that differ across kinds are a default to restate with the new type
        return True
    from sqlalchemy.types import JSON

    affinity = compat.type_affinity(getattr(metadata_column, "type", None))
    if isinstance(affinity, type) and issubclass(affinity, JSON):
        return _json_literal(db) != _json_literal(model)  # '{"a": 1}' is '{"a":1}'
    return None


# MySQL/MariaDB store a Boolean (TINYINT(1)) default as 0/1 and report CURRENT_TIMESTAMP
# for now() (MariaDB 10.2+: `current_timestamp()`); the models render false/true and now()
_MYSQL_DEFAULTS = {"false": "0", "true": "1", "'0'": "0", "'1'": "1", "now": "current_timestamp",
                   "current_timestamp": "current_timestamp", "localtimestamp": "current_timestamp"}


def _mysql_default(text: str) -> str:
    """A normalized default (``_norm_default``: no parentheses) as MySQL means it."""
    return _MYSQL_DEFAULTS.get(text, text)


def _json_literal(text: str) -> Any:
    import json

    match = re.fullmatch(r"'((?:[^']|'')*)'", text)
    if not match:
        return text
    try:
        return json.loads(match.group(1).replace("''", "'"))
    except ValueError:
        return text


def _norm_default(text: str) -> str:
    """Lower case, no casts, parentheses or spaces — outside string literals only."""
    parts = re.split(r"('(?:[^']|'')*')", str(text))
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # a literal: kept as it is
            out.append(part)
            continue
        t = re.sub(r"::\s*[a-z_][a-z0-9_ ]*(\(\d+\))?(\[\])?", "", part.lower())
        out.append(re.sub(r"[\s()]+", "", t))
    return "".join(out)


Result = Any  # what ``run`` returns, or the Exception of a table that failed alone


def _isolate(conn: Any, keys: List[TableKey],
             run: Callable[[List[TableKey], Set[ColumnKey]], Any],
             model_tables: Dict[TableKey, Any],
             ) -> List[Tuple[List[TableKey], Result, Dict[ColumnKey, Dict[str, str]],
                             Optional[Exception]]]:
    """Run over all keys; on failure, bisect until each failing table is alone, then
    bisect that table's columns (``_isolate_columns``).

    Returns (keys, result or the exception of a single table, columns left out -> why,
    the exception that left the table's indexes and constraints out). A timeout or a lost
    connection is not a table's fault: it propagates."""
    try:
        return [(keys, run(keys, set()), {}, None)]
    except Exception as exc:
        if _fatal(exc) or not keys:
            raise
        _restart_transaction(conn)
        if len(keys) == 1:
            result, bad, objects = _isolate_columns(conn, keys[0], model_tables.get(keys[0]),
                                                    run, exc)
            return [(keys, result, bad, objects)]
    mid = len(keys) // 2
    return _isolate(conn, keys[:mid], run, model_tables) + \
        _isolate(conn, keys[mid:], run, model_tables)


def _isolate_columns(conn: Any, key: TableKey, table: Any, run: Callable[..., Any],
                     failure: Exception
                     ) -> Tuple[Result, Dict[ColumnKey, Dict[str, str]], Optional[Exception]]:
    """One table fails: find the model columns whose comparison raises (a type whose
    compiler is missing for this dialect, a server default only a dialect-specific
    @compiles renders), leave them out, compare the rest.

    With every model column left out it still fails: its indexes or constraints (a name
    over the identifier limit: SQLAlchemy's IdentifierError, raised before any
    include_object filter) — compare its columns on a copy without them, and say so. If
    even that fails, it is the table's fault (reflection, permissions): the original
    exception, reported as DRIFT420."""
    names = [c.name for c in table.columns] if table is not None else []

    def attempt(included: List[str], bare: bool = False
                ) -> Tuple[Optional[Result], Optional[Exception]]:
        skip = {(key[0], key[1], n) for n in names if n not in included}
        try:
            return run([key], skip, bare), None
        except Exception as exc:
            if _fatal(exc):
                raise
            _restart_transaction(conn)
            return None, exc

    if not names:
        return failure, {}, None
    if attempt([])[1] is not None:
        result, exc = attempt(names, bare=True)
        return (failure, {}, None) if exc is not None else (result, {}, failure)
    bad: Dict[str, Exception] = {}

    def bisect(candidates: List[str], good: List[str]) -> List[str]:
        """The columns of ``candidates`` that fail next to ``good``; returns the good ones."""
        _, exc = attempt(good + candidates)
        if exc is None:
            return candidates
        if len(candidates) == 1:
            bad[candidates[0]] = exc
            return []
        mid = len(candidates) // 2
        left = bisect(candidates[:mid], good)
        return left + bisect(candidates[mid:], good + left)

    good = bisect(names, [])
    result, exc = attempt(good)
    if exc is not None:  # fails only in combination: the whole table
        return failure, {}, None
    return result, {(key[0], key[1], n): _why(table.columns[n], e, conn.dialect)
                    for n, e in bad.items()}, None


# what a bare comparison leaves out on both sides (Alembic's include_object type names)
_OBJECTS = {"index", "unique_constraint", "foreign_key_constraint", "check_constraint"}


def bare_view(table: Any) -> Any:
    """A MetaData holding a copy of ``table`` with its columns and primary key only."""
    from sqlalchemy import Column, MetaData, Table

    md = MetaData()
    columns: List[Any] = []
    for c in table.columns:
        default = getattr(c.server_default, "arg", None)  # a Computed/Identity has none
        columns.append(Column(c.name, c.type, nullable=c.nullable, primary_key=c.primary_key,
                              server_default=default, autoincrement=c.autoincrement,
                              comment=c.comment))
    Table(table.name, md, *columns, schema=table.schema, comment=table.comment)
    return md


def _failure_facts(exc: Exception) -> Dict[str, str]:
    facts = {"exception": type(exc).__name__, "detail": _short(exc)}
    too_long = _NAME_TOO_LONG.search(str(exc))
    if type(exc).__name__ == "IdentifierError" and too_long:
        # SQLAlchemy refuses a model name over the limit; PostgreSQL would cut it
        name, limit = too_long.group(1), int(too_long.group(2))
        facts.update(identifier=name, limit=str(limit), cut_name=clip_bytes(name, limit))
    return facts


def _why(column: Any, exc: Exception, dialect: Any) -> Dict[str, str]:
    """Which part of the column cannot be rendered for the dialect: facts for DRIFT421."""
    facts = {"reason": f"{type(exc).__name__}: {_short(exc)}", "dialect": dialect.name}
    try:
        column.type.compile(dialect=dialect)
    except Exception:
        facts.update(object="type", object_name=f"{type(column.type).__name__}()")
        return facts
    arg = getattr(column.server_default, "arg", None)
    if arg is not None and not isinstance(arg, str):
        try:
            str(arg.compile(dialect=dialect))
        except Exception:
            facts.update(object="server_default", object_name=f"{type(arg).__name__}()")
    return facts


# --- several MetaData ----------------------------------------------------------------------

# kinds that break queries through the models (the others are warnings by default)
_BREAKING = {"missing_table", "missing_column", "rename"}


def _compare_alternatives(conflict: Conflict, conn: Any, scope: Scope, settings: Settings,
                          schemas: List[Optional[str]], plugins: Optional[List[str]]) -> None:
    """Compare each other definition of a conflicting table on its own (``conflict.alt``)."""
    from sqlalchemy import MetaData

    for _, table in conflict.others:
        md = MetaData()
        compat.add_table_to_view(md, table)
        env = PassEnv(conn.dialect.name, None, {conflict.key: table})
        try:
            upgrade_ops, _ = _autogen(conn, md, settings, schemas, plugins, {conflict.key},
                                      set())
            # the pipeline without its fixes: only what differs, and how badly
            diffs = run_pipeline(from_upgrade_ops(upgrade_ops, conn.dialect), env,
                                 [p for p in PIPELINE if p is not render_fixes])
        except Exception as exc:
            if _fatal(exc):
                raise
            _restart_transaction(conn)
            conflict.alt.append(None)
            continue
        conflict.alt.append(diffs)


def conflict_finding(conflict: Conflict, labels: List[str],
                     main: List[Diff]) -> Dict[str, Any]:
    """DRIFT422: one table, two different definitions; which one the database matches."""
    key = conflict.key
    first_label = labels[conflict.first[0]]
    first = [d for d in main if (d.schema, d.table) == key and d.kind != "not_compared"]
    names = [first_label] + [labels[i] for i, _ in conflict.others]
    matches = ([first_label] if not first else []) + [
        labels[i] for (i, _), alt in zip(conflict.others, conflict.alt) if alt == []]
    other_msgs: List[str] = []
    breaking = False
    for (i, _), alt in zip(conflict.others, conflict.alt):
        if alt is None:
            other_msgs.append(f"{labels[i]}: could not be compared")
            continue
        other_msgs.extend(f"{labels[i]}: {d.message}" for d in alt)
        breaking = breaking or any(d.kind in _BREAKING or d.severity == "error" for d in alt)
    text = "; ".join(describe_difference(conflict.first[1], table, first_label, labels[i])
                     for i, table in conflict.others)
    where = _q(key)
    if matches:
        verdict = f"The database matches the definition in {', '.join(matches)}."
    else:
        verdict = "The database matches none of them."
    message = (f"Table {where} is defined in {len(names)} MetaData with different "
               f"definitions ({', '.join(names)}): {text}. {verdict} Other findings on "
               f"this table compare the definition in {first_label}.")
    fields: Dict[str, Any] = {
        "table": where,
        "facts": {"metadatas": ", ".join(names), "compared": first_label,
                  "definitions_differ": text, "db_matches": ", ".join(matches),
                  "other_differences": other_msgs[:10], "kind": "conflict"}}
    if breaking or (first and any(d.kind in _BREAKING for d in first)):
        fields["severity"] = "error"
    return finding("DRIFT422", message, **fields)


def nothing_compared(scope: Scope, coverage: Dict[str, Any], db_count: int) -> Dict[str, Any]:
    """DRIFT423: the models have tables, and not one of them was compared."""
    n = sum(len(md.tables) for md in scope.metadatas)
    why = []
    if coverage["tables_excluded"]:
        why.append(f"{len(coverage['tables_excluded'])} excluded by --include-table/"
                   "--exclude-table")
    if coverage["model_views"]:
        why.append(f"{len(coverage['model_views'])} are views in the database")
    if coverage["tables_not_compared"]:
        why.append(f"{len(coverage['tables_not_compared'])} could not be reflected or "
                   "compared (DRIFT420)")
    return finding(
        "DRIFT423", f"The models define {n} table(s) in {len(scope.metadatas)} MetaData, and "
        f"none of them was compared with the database ({db_count} table(s) there): "
        f"{'; '.join(why) or 'nothing was left to compare'}.",
        facts={"tables_in_models": str(n), "reasons": "; ".join(why),
               "excluded": coverage["tables_excluded"][:20],
               "not_compared": coverage["tables_not_compared"][:20]})


def _fatal(exc: BaseException) -> bool:
    return bool(getattr(exc, "connection_invalidated", False)) or cancelled_by_server(exc)


def _restart_transaction(conn: Any) -> None:
    """After an error PostgreSQL refuses further statements until the transaction ends."""
    with contextlib.suppress(Exception):
        compat.rollback_transaction(conn)


def _q(key: TableKey) -> str:
    return f"{key[0]}.{key[1]}" if key[0] else key[1]


def _short(exc: BaseException) -> str:
    # "<...SQLiteCompiler object at 0x7f..>" differs from run to run: keep the class only
    text = _ADDRESS.sub(r"\1", " ".join(str(exc).split()))
    return text[:300]


_NAME_TOO_LONG = re.compile(r"Identifier '([^']+)' exceeds maximum length of (\d+)")
_ADDRESS = re.compile(r"<([\w.]+) object at 0x[0-9a-fA-F]+>")


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
        candidates = [m for m in mappers if _names_table(getattr(m, "local_table", None), table)]
        chosen, attribute = None, None
        for mapper in candidates:  # the mapper whose attribute maps the column, if any
            local = mapper.local_table
            for key, col in (mapper.columns.items() if column else []):
                if getattr(col, "name", None) == column and getattr(col, "table",
                                                                    None) is local:
                    chosen, attribute = mapper, key
                    break
            if chosen is not None:
                break
        if chosen is None and candidates:
            chosen = candidates[0]  # a column only the database has: the class to add it to
        if chosen is None:
            continue
        cls = chosen.class_
        try:
            import inspect  # the stdlib's (compare() imports SQLAlchemy's)

            filename = inspect.getsourcefile(cls)
        except (TypeError, OSError):
            filename = None
        if not filename or not locator.is_user_file(filename):
            continue
        found = locator.find_class(cls.__name__, [filename])
        if found is None:
            continue
        stmt = locate.attribute_statement(found[1], attribute) if attribute else None
        raw["file"] = locator.relative(filename)
        raw["line"] = stmt.lineno if stmt is not None else found[1].lineno
        raw["class"] = cls.__name__
        if attribute:
            raw["attribute"] = attribute
        if stmt is not None and raw.get("code") in REWRITES_THE_CALL:
            with contextlib.suppress(Exception):
                call = locator.assigned_call(filename, stmt)
                if call:
                    raw.setdefault("facts", {})["column_call"] = call


def _names_table(local: Any, table: str) -> bool:
    """Whether a finding's ``table`` ("events" or "audit.events") is this Table."""
    name = getattr(local, "name", None)
    if name is None:
        return False
    schema = getattr(local, "schema", None)
    return table == name or (schema is not None and table == f"{schema}.{name}")


def locate_core_tables(ctx: Context, findings: List[Dict[str, Any]]) -> None:
    """Table/column findings no mapped class explains (Core ``Table(...)``, Dagster-style)
    point at the ``Table("name", ...)`` call in the app's files, or at its
    ``Column("name", ...)`` argument: the statement to edit."""
    locator = ctx.locator
    if locator is None:
        return
    wanted = [f for f in findings if f.get("table") and not f.get("file")]
    if not wanted:
        return
    import ast
    import sys

    names: Set[str] = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and path.endswith(".py") and locator.is_user_file(path):
            names.add(path)
    files = sorted(names)
    calls: Dict[str, List[Tuple[str, Any]]] = {}  # table name -> (file, Table call)
    for filename in files:
        tree = locator.tree(filename)
        for node in ast.walk(tree) if tree is not None else []:
            name = _call_name(node, "Table")
            if name is not None:
                calls.setdefault(name, []).append((filename, node))
    for raw in wanted:
        table = str(raw["table"]).rpartition(".")[2]
        found = calls.get(table)
        if not found:
            continue
        filename, call = found[0]
        line = call.lineno
        if raw.get("column"):
            col = next((a for a in call.args if _call_name(a, "Column") == raw["column"]), None)
            if col is None:
                continue  # a column only the database has: the finding says where
            line = col.lineno
        raw["file"] = locator.relative(filename)
        raw["line"] = line


def _call_name(node: Any, callee: str) -> Optional[str]:
    """``"events"`` for ``Table("events", ...)`` / ``db.Table("events", ...)`` (callee
    "Table"), else None."""
    import ast

    if not isinstance(node, ast.Call) or not node.args:
        return None
    func = node.func
    tail = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = node.args[0]
    if tail != callee or not isinstance(first, ast.Constant) or not isinstance(first.value,
                                                                             str):
        return None
    return first.value


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
                   "differences": str(n),
                   # how this app runs its migrations, when the migrations check knows it
                   "upgrade_command": (state or {}).get("upgrade_command")})
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

"""Every private or semi-private SQLAlchemy / Alembic API the worker relies on, in one place.

Checked against SQLAlchemy 1.4.54, 2.0.58 and 2.1.9, and Alembic 1.20.1 (the sidecar's own,
also lent to apps that have none); each entry says what it depends on. The frame readers are
exercised against the real exceptions and warnings of each SQLAlchemy version by
tests/test_classify_versions.py, so a renamed internal fails there, in milliseconds.

Standard library at import time; SQLAlchemy and Alembic are imported where used (the app's
interpreter may lack Alembic). Python 3.8 syntax, like the rest of the worker.
"""

from __future__ import annotations

from typing import Any, Dict, List, NamedTuple, Optional, Tuple

# --- what the failing frames hold --------------------------------------------------------
#
# SQLAlchemy raises most model errors as a plain InvalidRequestError / ArgumentError, and
# warns with a plain SAWarning; the objects involved are in the frames that raised them. A
# reader below names the SQLAlchemy function that raises one problem and the locals it
# reads there.


class Scope(NamedTuple):
    """One frame of a traceback or warning stack: where, and (SQLAlchemy's only) its locals."""

    module: str
    function: str
    locals: Dict[str, Any]


def scope_of(frame: Any) -> Scope:
    """Snapshot a frame now: a warning's frames keep running (and rebinding their locals)."""
    module = frame.f_globals.get("__name__") or ""
    # only SQLAlchemy's locals are ever read; copying app frames (a module's globals) is waste
    local = dict(frame.f_locals) if module.startswith("sqlalchemy.") else {}
    return Scope(module, frame.f_code.co_name, local)


def traceback_scopes(tb: Any) -> List[Scope]:
    """The scopes of an exception's traceback, outermost first (as they were at the raise)."""
    out = []
    while tb is not None:
        out.append(scope_of(tb.tb_frame))
        tb = tb.tb_next
    return out


def _raising(scopes: List[Scope]) -> Optional[Scope]:
    """The innermost scope that is not a raise/warn helper (``sqlalchemy.util``: 1.4's
    ``compat.raise_``, ``langhelpers.warn``/``_warnings_warn``; Python's ``warnings``)."""
    for scope in reversed(scopes):
        if scope.module == "warnings" or scope.module.startswith("sqlalchemy.util"):
            continue
        return scope
    return None


def raising_scope(scopes: List[Scope]) -> Optional[Scope]:
    """The SQLAlchemy frame that raised or warned (past the raise/warn helpers)."""
    return _raising(scopes)


def _raised_in(scopes: List[Scope], module: str, *functions: str) -> Optional[Scope]:
    scope = _raising(scopes)
    if scope is not None and scope.module == module and scope.function in functions:
        return scope
    return None


def declarative_attribute(scopes: List[Scope]) -> Optional[Tuple[type, str]]:
    """(class, attribute name) when declarative's scan of a class's attributes raised or warned.

    ``decl_base._ClassScanMapperConfig._extract_mappable_attributes`` (1.4, 2.0; 2.1:
    ``_DeclarativeMapperConfig``) loops with ``k`` over the attribute names of ``cls``: 1.4
    and 2.0 raise there for a mapped ``metadata``, 2.1 warns for ``metadata`` and ``registry``.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.decl_base", "_extract_mappable_attributes")
    if scope is None:
        return None
    cls, key = scope.locals.get("cls"), scope.locals.get("k")
    if isinstance(cls, type) and isinstance(key, str):
        return cls, key
    return None


def table_already_defined(scopes: List[Scope]) -> Optional[str]:
    """The table name when ``Table(name, metadata, ...)`` raised for a key its MetaData has.

    ``schema.Table._new`` (2.0, 2.1; ``Table.__new__`` in 1.4), locals ``name``, ``key`` and
    ``metadata``: the one InvalidRequestError it raises with the key present is "already
    defined" (the other, ``must_exist``, is raised when the key is absent).
    """
    scope = _raised_in(scopes, "sqlalchemy.sql.schema", "_new", "__new__")
    if scope is None:
        return None
    name, key = scope.locals.get("name"), scope.locals.get("key")
    tables = getattr(scope.locals.get("metadata"), "tables", None)
    if isinstance(name, str) and tables is not None and key in tables:
        return name
    return None


def existing_table(scopes: List[Scope]) -> Any:
    """The Table already on the MetaData when ``Table(name, metadata, ...)`` raised "already
    defined" (the same frame as ``table_already_defined``: ``metadata.tables[key]``)."""
    scope = _raised_in(scopes, "sqlalchemy.sql.schema", "_new", "__new__")
    if scope is None:
        return None
    tables = getattr(scope.locals.get("metadata"), "tables", None)
    key = scope.locals.get("key")
    return tables.get(key) if tables is not None and isinstance(key, str) else None


def replaced_class(scopes: List[Scope]) -> Optional[type]:
    """The class the string-lookup registry warned it replaces (same name and module).

    ``clsregistry._MultipleClassMarker.add_item(self, item)`` (1.4, 2.0, 2.1): its one warning.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.clsregistry", "add_item")
    item = scope.locals.get("item") if scope is not None else None
    return item if isinstance(item, type) else None


def unresolved_name(scopes: List[Scope]) -> Optional[Tuple[Any, str, str]]:
    """(relationship, expression, name) when a relationship's string argument named nothing.

    ``clsregistry._class_resolver._raise_for_name(self, name, err)`` (1.4, 2.0, 2.1), with
    ``self.arg`` (the expression) and ``self.prop``. 2.0+ raise a different error from it for
    a generic class name (``generic_match``), not a missing one. For an expression that
    fails to evaluate, SQLAlchemy passes the NameError's text as ``name``; the NameError
    itself (``err``) knows the bare name on Python 3.10+.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.clsregistry", "_raise_for_name")
    if scope is None or scope.locals.get("generic_match"):
        return None
    resolver, name = scope.locals.get("self"), scope.locals.get("name")
    name = getattr(scope.locals.get("err"), "name", None) or name
    prop, arg = getattr(resolver, "prop", None), getattr(resolver, "arg", None)
    if prop is None or not isinstance(arg, str) or not isinstance(name, str):
        return None
    return prop, arg, name


def string_argument(scopes: List[Scope], prop: Any) -> Optional[str]:
    """The string argument of ``prop`` (``primaryjoin="..."``, ``order_by``, ``secondary``,
    the target class name) that SQLAlchemy was evaluating when it raised: ``self.arg`` of the
    ``clsregistry._class_resolver`` whose ``self.prop`` is ``prop`` (1.4, 2.0, 2.1)."""
    for scope in reversed(scopes):
        if scope.module != "sqlalchemy.orm.clsregistry":
            continue
        resolver = scope.locals.get("self")
        arg = getattr(resolver, "arg", None)
        if getattr(resolver, "prop", None) is prop and isinstance(arg, str):
            return arg
    return None


def same_named_classes(scopes: List[Scope]) -> List[type]:
    """The classes a string named ambiguously ("Multiple classes found for path"):
    ``clsregistry._MultipleClassMarker.attempt_get(self, path, key)`` raising with more than
    one weak reference in ``self.contents`` (1.4, 2.0, 2.1)."""
    scope = _raised_in(scopes, "sqlalchemy.orm.clsregistry", "attempt_get")
    contents = getattr(scope.locals.get("self"), "contents", None) if scope else None
    classes = [ref() for ref in list(contents or ())]
    found = [cls for cls in classes if isinstance(cls, type)]
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


def overlapping_relationships(scopes: List[Scope]) -> List[Any]:
    """The relationships an "overlaps" SAWarning names (they write the same column):
    ``other_props``, a list of (relationship, column), in
    ``relationships.JoinCondition._warn_for_conflicting_sync_targets`` (1.4, 2.0, 2.1)."""
    scope = _raised_in(scopes, "sqlalchemy.orm.relationships",
                       "_warn_for_conflicting_sync_targets")
    pairs = scope.locals.get("other_props") if scope is not None else None
    return [pair[0] for pair in pairs or () if isinstance(pair, tuple) and pair]


def mapper_without_primary_key(scopes: List[Scope]) -> Any:
    """The Mapper whose ``_configure_pks`` raised (1.4, 2.0, 2.1: its only ArgumentErrors are
    "could not assemble any primary key columns")."""
    scope = _raised_in(scopes, "sqlalchemy.orm.mapper", "_configure_pks")
    return scope.locals.get("self") if scope is not None else None


def missing_reverse_property(scopes: List[Scope]) -> Optional[Tuple[Any, str, Any]]:
    """(relationship, name, target Mapper) when ``back_populates`` names no property.

    ``Mapper.get_property(self, key)`` raising inside
    ``RelationshipProperty._add_reverse_property(self, key)`` (1.4, 2.0, 2.1).
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.mapper", "get_property")
    if scope is None:
        return None
    for outer in reversed(scopes):
        if (outer.module, outer.function) == ("sqlalchemy.orm.relationships",
                                              "_add_reverse_property"):
            key = outer.locals.get("key")
            if isinstance(key, str):
                return outer.locals.get("self"), key, scope.locals.get("self")
    return None


def conflicting_backref(scopes: List[Scope]) -> Optional[Tuple[Any, str, Any]]:
    """(relationship, backref name, Mapper that already has it) for a clashing ``backref=``.

    ``RelationshipProperty._generate_backref`` (1.4, 2.0, 2.1) loops with ``m`` over the
    target's mappers and raises when ``m.has_property(backref_key)``.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.relationships", "_generate_backref")
    if scope is None:
        return None
    key, mapper = scope.locals.get("backref_key"), scope.locals.get("m")
    if isinstance(key, str) and mapper is not None and mapper.has_property(key):
        return scope.locals.get("self"), key, mapper
    return None


def relationship_in(scopes: List[Scope]) -> Any:
    """The innermost relationship() being configured: ``self`` of its methods (``do_init``,
    ``_setup_join_conditions``, ...; 2.x's ``_RelationshipDeclared`` is a subclass)."""
    from sqlalchemy.orm import RelationshipProperty

    for scope in reversed(scopes):
        candidate = scope.locals.get("self")
        if isinstance(candidate, RelationshipProperty):
            return candidate
    return None


def foreign_key_in(scopes: List[Scope]) -> Any:
    """The ForeignKey whose target did not resolve: ``self`` of the ForeignKey method that
    raised NoReferencedTableError / NoReferencedColumnError (only ForeignKey raises them)."""
    from sqlalchemy import ForeignKey

    for scope in reversed(scopes):
        candidate = scope.locals.get("self")
        if isinstance(candidate, ForeignKey):
            return candidate
    return None


# --- SQL types ----------------------------------------------------------------------------


def type_affinity(type_: Any) -> Any:
    """The generic type a type belongs to (VARCHAR -> String): ``TypeEngine._type_affinity``
    (private; 1.4, 2.0, 2.1), or the type's own class when it has none."""
    try:
        return type_._type_affinity
    except Exception:
        return type(type_)


# --- Alembic ------------------------------------------------------------------------------


def compare_models(mc: Any, metadata: Any) -> Tuple[Any, Any]:
    """Autogenerate's comparison: (UpgradeOps, AutogenContext).

    ``alembic.autogenerate.compare._populate_migration_script`` (private; 1.20.1) keeps the
    AutogenContext whose inspector holds the reflected constraints (``cached_pk_constraint``
    reads them); the public ``produce_migrations`` is the fallback for an Alembic without it.
    """
    from alembic.autogenerate.api import AutogenContext
    from alembic.operations import ops

    try:
        from alembic.autogenerate.compare import _populate_migration_script
    except ImportError:
        from alembic.autogenerate import produce_migrations

        script = produce_migrations(mc, metadata)
        return script.upgrade_ops, AutogenContext(mc, metadata=metadata)
    ac = AutogenContext(mc, metadata=metadata)
    script = ops.MigrationScript(rev_id=None, upgrade_ops=ops.UpgradeOps([]),
                                 downgrade_ops=ops.DowngradeOps([]))
    _populate_migration_script(ac, script)
    return script.upgrade_ops, ac


def cached_pk_constraint(inspector: Any, schema: Optional[str], table: str) -> Any:
    """The primary key autogenerate already reflected for a table, or None.

    Alembic 1.20.1 pre-caches ``get_multi_pk_constraint`` in the inspector's ``info_cache``
    under ``"alembic_pk_constraint"``, keyed ``(schema, table)`` (``_InspectorConv``).
    """
    cached = inspector.info_cache.get("alembic_pk_constraint")
    return cached.get((schema, table)) if isinstance(cached, dict) else None


def has_autogenerate_plugin(name: str) -> bool:
    """Whether this Alembic registered the autogenerate plugin ``name``.

    ``alembic.runtime.plugins._all_plugins`` (private; Alembic >= 1.18), filled when
    ``alembic.autogenerate.compare`` is imported.
    """
    try:
        from alembic.autogenerate import compare  # noqa: F401  (registers the plugins)
        from alembic.runtime.plugins import _all_plugins
    except ImportError:
        return False
    return name in _all_plugins


# --- where the app built its schema objects (source/origins.py) ---------------------------


def construction_hooks() -> List[Tuple[type, str, str]]:
    """(class, method, "init" | "init_near" | "copy") that ``origins`` wraps while the models
    import ("init_near": only when the app's frame is at most a few frames up).

    ``__init__`` of the objects a configure-time error is about: ``Column``, ``ForeignKey``,
    constraints, ``Index`` and ``Table`` (``Table.__new__`` builds it in 1.4 through
    ``_init``, in 2.x through ``_new`` and ``__init__(_no_init=False)``; Python calls
    ``__init__`` after ``__new__`` in every version, so wrapping ``__init__`` sees each
    table once or twice at the same line), ``RelationshipProperty`` (``relationship()`` is
    a function re-exported in several modules; in 2.x it builds ``_RelationshipDeclared``,
    a subclass without its own ``__init__``), ``ColumnProperty`` (``column_property()``),
    and 2.x's ``MappedColumn`` (``mapped_column()``). ``_copy`` of ``Column``,
    ``MappedColumn`` and ``ForeignKey``: declarative copies a mixin's columns (with their
    foreign keys) onto each mapped subclass (``decl_base._produce_column_copies``, 1.4, 2.0,
    2.1) and the copy keeps the original's place. Each method is wrapped on the class that
    defines it.
    """
    import sqlalchemy
    from sqlalchemy.orm import ColumnProperty, RelationshipProperty

    hooks: List[Tuple[type, str, str]] = []
    classes: Tuple[type, ...] = (sqlalchemy.Column, sqlalchemy.ForeignKey, sqlalchemy.Table,
                sqlalchemy.Index, sqlalchemy.ForeignKeyConstraint, sqlalchemy.UniqueConstraint,
                sqlalchemy.CheckConstraint, sqlalchemy.PrimaryKeyConstraint,
                                 RelationshipProperty)
    for cls in classes:
        hooks.append((cls, "__init__", "init"))
    # declarative builds a ColumnProperty for every column, deep in its own frames, and the
    # column locates those; only column_property() called by the app (a few frames up:
    # its decorators add two) counts
    hooks.append((ColumnProperty, "__init__", "init_near"))
    hooks.append((sqlalchemy.Column, "_copy", "copy"))
    hooks.append((sqlalchemy.ForeignKey, "_copy", "copy"))
    try:  # 2.0+
        from sqlalchemy.orm.properties import MappedColumn
    except ImportError:
        pass
    else:
        hooks.append((MappedColumn, "__init__", "init"))
        hooks.append((MappedColumn, "_copy", "copy"))
    # wrap the class that defines the method (a subclass without one reaches it), once
    out: List[Tuple[type, str, str]] = []
    for cls, name, kind in hooks:
        owner = next((c for c in cls.__mro__ if name in c.__dict__), None)
        if owner is not None and owner is not object and (owner, name, kind) not in out:
            out.append((owner, name, kind))
    return out


# --- configuring every mapper, not only up to the first failure (checks/models/configure.py)


class ConfigureFailure(NamedTuple):
    """One failed ``configure_mappers()``: the root exception, what was being configured."""

    exception: BaseException  # the original one (not "One or more mappers failed ...")
    mapper: Any  # the Mapper being configured, or None when the frames do not say
    prop: Any  # the MapperProperty whose ``init()`` raised, or None


def configure_failure(exc: BaseException) -> ConfigureFailure:
    """Read a ``configure_mappers()`` error.

    ``mapper._do_configure_registries`` (2.0, 2.1; 1.4 the same, in ``orm/mapper.py``) loops
    with ``mapper`` over each registry's unconfigured mappers and calls
    ``Mapper._post_configure_properties``, which loops with ``prop`` and calls
    ``prop.init()``. A mapper that failed before keeps the error as ``_configure_failed``;
    the next configure raises "One or more mappers failed to initialize" carrying it as
    ``exc._configure_failed`` (the original's traceback is still on it).
    """
    original = getattr(exc, "_configure_failed", None)
    root = original if isinstance(original, BaseException) else exc
    mapper = prop = None
    for scope in traceback_scopes(exc.__traceback__):
        if scope.module == "sqlalchemy.orm.mapper" and "mapper" in scope.locals and \
                scope.function == "_do_configure_registries":
            mapper = scope.locals["mapper"]
    for scope in traceback_scopes(root.__traceback__):
        if (scope.module, scope.function) == ("sqlalchemy.orm.mapper",
                                              "_post_configure_properties"):
            if mapper is None:
                mapper = scope.locals.get("self")
            if scope.locals.get("self") is mapper:
                prop = scope.locals.get("prop")
    return ConfigureFailure(root, mapper, prop)


def is_configure_loop(scope: Scope) -> bool:
    """The frame of ``mapper._do_configure_registries`` (1.4, 2.0, 2.1), which every
    ``configure_mappers()`` / ``registry.configure()`` / first query runs through."""
    return (scope.module, scope.function) == ("sqlalchemy.orm.mapper",
                                              "_do_configure_registries")


def resume_after(failure: ConfigureFailure) -> bool:
    """Let the next ``configure_mappers()`` go on past this failure; False when only
    skipping the whole mapper (``skip_mappers``) can.

    Clears ``Mapper._configure_failed``. The failing property stays
    ``_configure_started`` and not ``_configure_finished`` (``MapperProperty.init`` sets them
    around ``do_init``; 1.4, 2.0, 2.1), and ``_post_configure_properties`` only initialises
    properties not started yet: the mapper's other properties get configured, this one is
    left out.
    """
    mapper, prop = failure.mapper, failure.prop
    if mapper is None:
        return False
    mapper.__dict__.pop("_configure_failed", None)
    return (prop is not None and getattr(prop, "parent", None) is mapper
            and bool(getattr(prop, "_configure_started", False))
            and not getattr(prop, "_configure_finished", True))


def mark_failed(mapper: Any, exc: BaseException) -> None:
    """Leave ``mapper`` as a failed configure leaves it: every later configure raises."""
    if not getattr(mapper, "configured", False):
        mapper._configure_failed = exc


def skip_mappers(skipped: Any) -> Any:
    """Make ``configure_mappers()`` pass over the mappers in ``skipped`` (a set of ids):
    the public ``before_mapper_configured`` event returning ``EXT_SKIP`` (1.3+). Returns the
    function that removes the listener again."""
    from sqlalchemy import event
    from sqlalchemy.orm import EXT_CONTINUE, EXT_SKIP, Mapper

    def before(mapper: Any, cls: Any) -> Any:
        return EXT_SKIP if id(mapper) in skipped else EXT_CONTINUE

    event.listen(Mapper, "before_mapper_configured", before, retval=True)
    return lambda: event.remove(Mapper, "before_mapper_configured", before)


def mapped_class_of_table(table: Any) -> Optional[type]:
    """The class mapped to ``table`` (its primary mapper's), from every registry:
    ``orm.mapperlib._all_registries()`` and each registry's ``_managers`` (private; 1.4, 2.0,
    2.1). Not ``registry.mappers``: it raises UnmappedClassError for a class whose mapping
    failed half-way, which is exactly the package we are looking at."""
    if table is None:
        return None
    try:
        from sqlalchemy.orm import mapperlib

        registries = list(mapperlib._all_registries())
    except Exception:
        return None
    for reg in registries:
        for manager in list(getattr(reg, "_managers", None) or ()):
            try:
                if manager.is_mapped and manager.mapper.local_table is table:
                    return manager.mapper.class_
            except Exception:  # a half-mapped class: not this one
                continue
    return None


def reverse_property(prop: Any) -> Any:
    """The relationship on the other side named by ``back_populates`` (or a ``backref``
    created from it), without configuring anything: the target mapper's ``_props`` (private;
    1.4, 2.0, 2.1). None when it cannot be told."""
    name = getattr(prop, "back_populates", None)
    backref = getattr(prop, "backref", None)
    if not name and backref:
        name = backref if isinstance(backref, str) else backref[0]
    if not name:
        return None
    try:
        target = prop.entity.mapper
    except Exception:  # the target itself does not resolve: that is the finding
        return None
    return getattr(target, "_props", {}).get(name)

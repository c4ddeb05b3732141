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


def add_table_to_view(metadata: Any, table: Any) -> None:
    """Put the app's ``table`` into ``metadata`` without copying it or touching its own
    MetaData (``table.metadata`` stays the app's).

    ``MetaData._add_table(name, schema, table)`` (private; the same in 1.3, 1.4, 2.0 and
    2.1): the dict entry and the schema set, no events, no change to the Table.
    """
    metadata._add_table(table.name, table.schema, table)


def constraint_has_name(constraint: Any) -> bool:
    """Whether a constraint was given a name (a naming convention's too).

    SQLAlchemy >= 1.4 marks "no name" with the private ``_NoneName`` (``_NONE_NAME``) as
    well as None; Alembic's own check is ``sqla_compat.constraint_name_string``."""
    name = constraint.name
    return isinstance(name, str) and type(name).__name__ != "_NoneName"


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

"""Every private or semi-private SQLAlchemy / Alembic API the worker relies on, in one place.

Checked against SQLAlchemy 1.3.24, 1.4.54, 2.0.58 and 2.1.9, and Alembic 1.20.1 (the
sidecar's own, lent to apps that have none when their SQLAlchemy meets its requirement),
1.7.7 and 1.4.3 (an app's own, on 1.3); each entry says what it depends on. The frame readers are
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
    """The raising scope when it is ``module.<one of functions>``; ``module`` is the 1.4+
    name, its SQLAlchemy 1.3 location (``MOVED_IN_14``) counts as the same."""
    scope = _raising(scopes)
    if scope is not None and scope.module in (module, MOVED_IN_14.get(module)) \
            and scope.function in functions:
        return scope
    return None


def engine_url_argument(scopes: List[Scope]) -> Any:
    """The URL an app passed to ``create_engine`` (``create_async_engine`` calls it too),
    when the failure came through it: the ``url`` argument of
    ``sqlalchemy.engine.create.create_engine`` (1.4-2.1), ``name_or_url`` of 1.3's
    ``sqlalchemy.engine.strategies`` ``create``. A string or a URL object; None if absent."""
    for scope in scopes:
        if scope.module == "sqlalchemy.engine.create" and scope.function == "create_engine":
            return scope.locals.get("url")
        if scope.module == "sqlalchemy.engine.strategies" and scope.function == "create":
            return scope.locals.get("name_or_url")
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


def duplicate_column(scopes: List[Scope]) -> Optional[Tuple[Any, Any, Any]]:
    """(the new Column, the Column it collides with, the Table) when a Table was given two
    columns of one name: ``DuplicateColumnError`` (2.0+), raised in ``Column._set_parent``
    with ``self``, ``existing_col`` and ``table`` (2.0, 2.1); a declarative class's
    ``state = Column(...)`` and ``status = Column("state", ...)`` raise the same."""
    scope = _raised_in(scopes, "sqlalchemy.sql.schema", "_set_parent")
    if scope is None:
        return None
    column, existing = scope.locals.get("self"), scope.locals.get("existing_col")
    table = scope.locals.get("table")
    if existing is None or getattr(table, "name", None) is None \
            or not isinstance(getattr(column, "name", None), str):
        return None
    return column, existing, table


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


def secondary_table(prop: Any) -> Any:
    """The association Table of a ``secondary=`` relationship, also while it is configuring:
    2.0/2.1 set ``prop.secondary`` only once the join conditions are built (the very step
    that fails) and hold the resolved argument in ``prop._init_args.secondary.resolved``
    (private); 1.4 sets ``prop.secondary`` when it resolves the argument."""
    resolved = getattr(getattr(getattr(prop, "_init_args", None), "secondary", None),
                       "resolved", None)
    if resolved is None:
        try:
            resolved = prop.secondary
        except AttributeError:
            return None
    return resolved if hasattr(resolved, "columns") else None


def foreign_key_in(scopes: List[Scope]) -> Any:
    """The ForeignKey whose target did not resolve: ``self`` of the ForeignKey method that
    raised NoReferencedTableError / NoReferencedColumnError (only ForeignKey raises them)."""
    from sqlalchemy import ForeignKey

    for scope in reversed(scopes):
        candidate = scope.locals.get("self")
        if isinstance(candidate, ForeignKey):
            return candidate
    return None


# --- the failure families of issue 10 (inheritance, mixins, annotations, relationships) ---


def sqlalchemy_docs(obj: Any) -> Optional[str]:
    """SQLAlchemy's own page for an error or warning: ``https://sqlalche.me/e/<ver>/<code>``.

    ``sqlalchemy.exc.HasDescriptionCode.code`` (1.4, 2.0, 2.1; SAWarning too), and the
    version part as SQLAlchemy writes it (``exc._version_token``: "14", "20", "21").
    """
    try:
        from sqlalchemy import exc
    except ImportError:  # pragma: no cover - the worker only runs with SQLAlchemy
        return None
    # only SQLAlchemy's own: ``SystemExit("bye").code`` is a string too
    if not isinstance(obj, (exc.SQLAlchemyError, exc.SAWarning)):
        return None
    code = getattr(obj, "code", None)
    if not isinstance(code, str) or not code:
        return None
    version = str(getattr(exc, "_version_token", "") or "")
    if not version:
        import sqlalchemy

        version = "".join(sqlalchemy.__version__.split(".")[:2])
    return "https://sqlalche.me/e/%s/%s" % (version, code)


def inheriting_column_conflict(scopes: List[Scope]) -> Optional[Tuple[type, Any]]:
    """(subclass, Column) when single-table inheritance found a column the parent has.

    ``decl_base._ClassScanMapperConfig._setup_inheriting_columns`` (2.0, 2.1; 1.4:
    ``_setup_inheritance``), locals ``cls`` and ``col`` (1.4: ``c``).
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.decl_base", "_setup_inheriting_columns",
                       "_setup_inheritance")
    if scope is None:
        return None
    cls = scope.locals.get("cls")
    col = scope.locals.get("col", scope.locals.get("c"))
    if isinstance(cls, type) and getattr(col, "key", None):
        return cls, col
    return None


def inheriting_class(scopes: List[Scope]) -> Optional[type]:
    """The subclass declarative was setting up inheritance for (the same functions as
    ``inheriting_column_conflict``): it raises "Can't place __table_args__ on an inherited
    class with no table" there too."""
    scope = _raised_in(scopes, "sqlalchemy.orm.decl_base", "_setup_inheriting_columns",
                       "_setup_inheritance")
    cls = scope.locals.get("cls") if scope is not None else None
    return cls if isinstance(cls, type) else None


def inherit_condition_mapper(scopes: List[Scope]) -> Any:
    """The Mapper whose joined-inheritance condition could not be derived:
    ``Mapper._configure_inheritance`` (1.4, 2.0, 2.1), ``self``."""
    scope = _raised_in(scopes, "sqlalchemy.orm.mapper", "_configure_inheritance")
    return scope.locals.get("self") if scope is not None else None


def mixin_attribute(scopes: List[Scope]) -> Optional[Tuple[type, type, str, Any]]:
    """(mapped class, mixin, attribute, value) when a mixin attribute needs declared_attr.

    1.4's ``_produce_column_copies`` (a Column with a ForeignKey; locals ``cls``, ``name``,
    ``obj``) and ``_scan_attributes`` (a relationship()/deferred() on a mixin, 1.4, 2.0,
    2.1; locals ``cls``, ``base``, ``name``, ``obj``). The mixin is the first class of the
    MRO whose own ``__dict__`` holds the value.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.decl_base", "_produce_column_copies",
                       "_scan_attributes")
    if scope is None:
        return None
    cls, name, obj = scope.locals.get("cls"), scope.locals.get("name"), scope.locals.get("obj")
    if not isinstance(cls, type) or not isinstance(name, str):
        return None
    for base in cls.__mro__:
        if base.__dict__.get(name) is obj and obj is not None:
            return cls, base, name, obj
    mixin = scope.locals.get("base")
    if isinstance(mixin, type):
        return cls, mixin, name, obj
    return None


def annotation_without_mapped(scopes: List[Scope]) -> Optional[Tuple[type, str]]:
    """(class, attribute) whose annotation is not ``Mapped[...]`` on a 2.0 declarative class.

    ``orm.util._extract_mapped_subtype`` (2.0, 2.1; not in 1.4), locals ``cls`` and ``key``.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.util", "_extract_mapped_subtype")
    if scope is None:
        return None
    cls, key = scope.locals.get("cls"), scope.locals.get("key")
    if isinstance(cls, type) and isinstance(key, str):
        return cls, key
    return None


def unmappable_annotation(scopes: List[Scope]) -> Optional[Tuple[type, str, Any]]:
    """(class, attribute, Python type) for a ``Mapped[T]`` whose T has no SQL type.

    ``properties.MappedColumn._init_column_for_annotation`` (2.0, 2.1), locals ``cls``,
    ``key`` and ``our_type``.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.properties", "_init_column_for_annotation")
    if scope is None:
        return None
    cls, key = scope.locals.get("cls"), scope.locals.get("key")
    if isinstance(cls, type) and isinstance(key, str):
        return cls, key, scope.locals.get("our_type")
    return None


def dataclass_class(scopes: List[Scope]) -> Optional[type]:
    """The class ``MappedAsDataclass`` failed to turn into a dataclass.

    2.0: ``decl_base._ClassScanMapperConfig._apply_dataclasses_to_any_class`` (local
    ``klass``); 2.1: ``_DeclarativeMapperConfig._setup_dataclasses_transforms`` (``self.cls``).
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.decl_base", "_apply_dataclasses_to_any_class",
                       "_setup_dataclasses_transforms")
    if scope is None:
        return None
    klass = scope.locals.get("klass") or getattr(scope.locals.get("self"), "cls", None)
    return klass if isinstance(klass, type) else None


def same_direction_pair(scopes: List[Scope]) -> Optional[Tuple[Any, Any]]:
    """(relationship, its back-reference) when both ended up one-to-many (a self-referential
    pair without ``remote_side``): ``RelationshipProperty._add_reverse_property`` (1.4, 2.0,
    2.1), locals ``self`` and ``other``."""
    scope = _raised_in(scopes, "sqlalchemy.orm.relationships", "_add_reverse_property")
    if scope is None:
        return None
    prop, other = scope.locals.get("self"), scope.locals.get("other")
    if prop is None or other is None or getattr(prop, "direction", None) is None:
        return None
    return prop, other


def cascade_relationship(scopes: List[Scope]) -> Any:
    """The relationship whose cascade settings were refused:
    ``RelationshipProperty._check_cascade_settings`` (1.4, 2.0, 2.1), ``self``."""
    scope = _raised_in(scopes, "sqlalchemy.orm.relationships", "_check_cascade_settings")
    return scope.locals.get("self") if scope is not None else None


def conflicting_sync_targets(scopes: List[Scope]) -> Optional[Tuple[Any, List[Any]]]:
    """(relationship, the relationships it conflicts with) for the "will copy column ...
    which conflicts with relationship(s)" warning.

    ``relationships.JoinCondition._warn_for_conflicting_sync_targets`` (1.4, 2.0, 2.1):
    ``self.prop`` and ``other_props``, a list of (relationship, column) pairs.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.relationships",
                       "_warn_for_conflicting_sync_targets")
    if scope is None:
        return None
    prop = getattr(scope.locals.get("self"), "prop", None)
    others = scope.locals.get("other_props") or []
    props = [pair[0] for pair in others if isinstance(pair, tuple) and pair]
    return (prop, props) if prop is not None else None


def missing_column_attribute(scopes: List[Scope]) -> Optional[Tuple[type, str]]:
    """(class, name) when a string expression (``primaryjoin``, ``order_by``,
    ``foreign_keys``, ``remote_side``) read an attribute the class does not map.

    ``clsregistry._GetColumns.__getattr__`` (1.4, 2.0, 2.1), locals ``mp`` (the Mapper) and
    ``key``.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.clsregistry", "__getattr__")
    if scope is None:
        return None
    mapper, key = scope.locals.get("mp"), scope.locals.get("key")
    cls = getattr(mapper, "class_", None)
    if isinstance(cls, type) and isinstance(key, str):
        return cls, key
    return None


def multiple_classes(scopes: List[Scope]) -> Optional[Tuple[str, List[type]]]:
    """(name, the classes) when a string names several classes of one registry.

    ``clsregistry._MultipleClassMarker.attempt_get`` (1.4, 2.0, 2.1): ``key`` and
    ``self.contents``, a set of weak references.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.clsregistry", "attempt_get")
    if scope is None:
        return None
    key = scope.locals.get("key")
    refs = getattr(scope.locals.get("self"), "contents", None) or ()
    classes = [c for c in (ref() for ref in refs) if isinstance(c, type)]
    if not isinstance(key, str) or len(classes) < 2:
        return None
    return key, sorted(classes, key=lambda c: (c.__module__, c.__qualname__))


def unmapped_class(scopes: List[Scope]) -> Optional[type]:
    """The class ``orm.base.class_mapper`` (1.4, 2.0, 2.1) found unmapped: ``class_``."""
    scope = _raised_in(scopes, "sqlalchemy.orm.base", "class_mapper")
    cls = scope.locals.get("class_") if scope is not None else None
    return cls if isinstance(cls, type) else None


def column_beside_table(scopes: List[Scope]) -> Optional[Tuple[type, Any]]:
    """(class, Column) when a class body declares a Column next to ``__table__``:
    ``decl_base._ClassScanMapperConfig._setup_table`` (1.4, 2.0, 2.1), locals ``cls``, ``c``.
    """
    scope = _raised_in(scopes, "sqlalchemy.orm.decl_base", "_setup_table")
    if scope is None:
        return None
    cls, col = scope.locals.get("cls"), scope.locals.get("c")
    if isinstance(cls, type) and col is not None:
        return cls, col
    return None


def is_declarative_construct(obj: Any) -> bool:
    """A Column, ``mapped_column()``, relationship() or other mapper property: what a
    trailing comma turns into a one-element tuple. ``MappedColumn`` is 2.0+ only."""
    from sqlalchemy import Column
    from sqlalchemy.orm.interfaces import MapperProperty

    kinds: List[type] = [Column, MapperProperty]
    try:
        from sqlalchemy.orm.properties import MappedColumn  # 2.0, 2.1

        kinds.append(MappedColumn)
    except ImportError:  # 1.4
        pass
    return isinstance(obj, tuple(kinds))


def tuple_attribute(scopes: List[Scope]) -> Optional[Tuple[type, str]]:
    """(class, attribute) for "Ignoring declarative-like tuple value of attribute": the
    warning ``_extract_mappable_attributes`` (1.4, 2.0, 2.1) emits with ``k`` and a tuple
    ``value``."""
    scope = _raised_in(scopes, "sqlalchemy.orm.decl_base", "_extract_mappable_attributes")
    if scope is None or not isinstance(scope.locals.get("value"), tuple):
        return None
    cls, key = scope.locals.get("cls"), scope.locals.get("k")
    if isinstance(cls, type) and isinstance(key, str):
        return cls, key
    return None


def polymorphic_reassigned(scopes: List[Scope]) -> Any:
    """The Mapper that took over another's ``polymorphic_identity``: the "Reassigning
    polymorphic association" warning of ``Mapper._configure_inheritance`` (1.4, 2.0, 2.1),
    ``self``; the previous owner is still in ``self.polymorphic_map`` then."""
    scope = _raised_in(scopes, "sqlalchemy.orm.mapper", "_configure_inheritance")
    return scope.locals.get("self") if scope is not None else None


def relationship_secondary(prop: Any) -> Any:
    """What ``relationship(secondary=...)`` was given, before it is resolved: 2.0/2.1 keep it
    in ``prop._init_args.secondary.argument`` (``secondary`` is set only by ``do_init``);
    1.4 has the raw argument in ``prop.secondary`` until then."""
    init_args = getattr(prop, "_init_args", None)
    if init_args is not None:
        return getattr(getattr(init_args, "secondary", None), "argument", None)
    return prop.__dict__.get("secondary")


def declared_relationships(mapper: Any) -> List[Any]:
    """The relationship() properties a mapper holds, without configuring it (its public
    ``relationships`` runs configure_mappers(), which raises again for a broken one):
    ``Mapper._props`` (private; 1.3-2.1), those with ``back_populates`` (RelationshipProperty)."""
    props = getattr(mapper, "_props", None) or {}
    try:
        return [p for p in props.values() if hasattr(p, "back_populates")]
    except Exception:
        return []


def mapped_column_names(mapper: Any) -> List[str]:
    """The attribute names of a mapper's column properties, without configuring it (which
    would raise again for the mapper that just failed): ``Mapper._props`` (1.4, 2.0, 2.1)."""
    from sqlalchemy.orm import ColumnProperty

    props = getattr(mapper, "_props", None) or {}
    return sorted(k for k, v in props.items() if isinstance(v, ColumnProperty))


def sqlalchemy_version() -> Tuple[int, int]:
    import sqlalchemy

    parts = sqlalchemy.__version__.split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


# --- SQL types ----------------------------------------------------------------------------


def type_affinity(type_: Any) -> Any:
    """The generic type a type belongs to (VARCHAR -> String): ``TypeEngine._type_affinity``
    (private; 1.4, 2.0, 2.1), or the type's own class when it has none."""
    try:
        return type_._type_affinity
    except Exception:
        return type(type_)


def changes_kind(old: Any, new: Any) -> bool:
    """Text to number, number to boolean...: neither type's affinity contains the other's."""
    a, b = type_affinity(old), type_affinity(new)
    try:
        return not (issubclass(b, a) or issubclass(a, b))
    except Exception:
        return True


# --- Alembic ------------------------------------------------------------------------------


def compare_models(mc: Any, metadata: Any,
                   sorted_tables: Optional[List[Any]] = None) -> Tuple[Any, Any]:
    """Autogenerate's comparison: (UpgradeOps, AutogenContext).

    ``alembic.autogenerate.compare._populate_migration_script`` (private; 1.20.1) keeps the
    AutogenContext whose inspector holds the reflected constraints (``cached_pk_constraint``
    reads them); the public ``produce_migrations`` is the fallback for an Alembic without it.
    ``sorted_tables``: the metadata's tables already in dependency order, put in place of
    ``AutogenContext.sorted_tables`` (a memoized property, 1.4-1.20: an instance attribute
    wins) so Alembic does not sort them again.
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
    if sorted_tables is not None:
        ac.sorted_tables = sorted_tables
    script = ops.MigrationScript(rev_id=None, upgrade_ops=ops.UpgradeOps([]),
                                 downgrade_ops=ops.DowngradeOps([]))
    _populate_migration_script(ac, script)
    return script.upgrade_ops, ac


def server_of(dialect: Any) -> Optional[Tuple[bool, Tuple[int, ...]]]:
    """(MariaDB?, server version) of a connected MySQL-family dialect, else None.
    ``_is_mariadb`` (1.3-2.1; ``is_mariadb`` is public from 1.4 on) and
    ``server_version_info`` are set when the dialect first connects."""
    if getattr(dialect, "name", None) not in ("mysql", "mariadb"):
        return None
    version = getattr(dialect, "server_version_info", None) or ()
    mariadb = bool(getattr(dialect, "is_mariadb", getattr(dialect, "_is_mariadb", False)))
    return mariadb, tuple(int(p) for p in version if isinstance(p, int))


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


# === SQLAlchemy 1.3 to 2.1: version differences ==========================================
#
# Everything the worker does differently per SQLAlchemy version, from 1.3.24 (still used by
# large apps) to 2.1. Checked against 1.3.24, 1.4.54, 2.0.x and 2.1.9 (tests/test_sqla13.py,
# tests/test_classify_versions.py). Outside SUPPORTED the worker runs no check at all and says
# so once (SIDE011): a crash of sidecar's own code must never read as an app problem.
#
# Avoided rather than wrapped, so that one spelling works on every version:
# - ``select([...])`` (1.3's list form) vs ``select(...)`` (2.0): literal SQL through
#   ``exec_driver_sql`` below, or ``text()`` with a dict of parameters (1.3 to 2.1);
# - ``Row._mapping`` (1.4+): rows are read by position;
# - ``create_engine(future=True)`` (1.4 only) and ``MetaData(bind=...)`` (gone in 2.0):
#   never passed; nothing is bound;
# - ``isolation_level`` and 2.0's autobegin: the read-only transaction is begun explicitly
#   (``conn.begin()``, the same on 1.3 and 2.x) and always rolled back;
# - ``sqlalchemy.inspect(conn)``, ``sqlalchemy.exc.<Name>`` of the errors classified:
#   the same names from 1.3 on (tests/sqla_cases.py reads each under 1.3).

SUPPORTED = ((1, 3), (2, 1))  # the oldest and newest (major, minor) tested
SUPPORTED_TEXT = "1.3 to 2.1"
# below 1.3, or a major after the newest tested one: not run (a 2.x minor after 2.1 runs)
_FIRST_UNSUPPORTED_MAJOR = SUPPORTED[1][0] + 1

# 1.3 kept declarative in sqlalchemy.ext.declarative; 1.4 moved it into sqlalchemy.orm with
# the same function names and locals (_MapperConfig._extract_mappable_attributes with
# ``cls``/``k``; _MultipleClassMarker.add_item; _class_resolver._raise_for_name).
MOVED_IN_14: Dict[str, str] = {
    "sqlalchemy.orm.decl_base": "sqlalchemy.ext.declarative.base",
    "sqlalchemy.orm.clsregistry": "sqlalchemy.ext.declarative.clsregistry",
}


def version_tuple(text: Optional[str]) -> Tuple[int, ...]:
    """``"1.3.24"`` -> (1, 3, 24); ``"2.1.0b1"`` -> (2, 1, 0); () for no version."""
    out: List[int] = []
    for part in (text or "").split(".")[:3]:
        digits = ""
        for char in part:
            if not char.isdigit():
                break
            digits += char
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def unsupported_sqlalchemy(version: Optional[str]) -> Optional[Tuple[str, str]]:
    """(``"older"``, ``"newer"`` or ``"unreadable"``, why) when the worker does not run on
    this SQLAlchemy; None when it does."""
    found = version_tuple(version)
    if len(found) < 2:
        return "unreadable", "its version %r cannot be read" % (version,)
    if found[:2] < SUPPORTED[0]:
        return "older", "it is older than %d.%d" % SUPPORTED[0]
    if found[0] >= _FIRST_UNSUPPORTED_MAJOR:
        return "newer", "major version %d is newer than the newest tested, %d.%d" % (
            (found[0],) + SUPPORTED[1])
    return None


def make_url(text: Any) -> Any:
    """``sqlalchemy.engine.url.make_url`` (1.3 to 2.1; ``sqlalchemy.engine.make_url`` only
    from 1.4)."""
    from sqlalchemy.engine.url import make_url as make

    return make(text)


def url_set(url: Any, **parts: Any) -> Any:
    """A copy of ``url`` with ``parts`` replaced: ``URL.set`` (1.4+, URL is immutable); on
    1.3 the URL is a mutable object, copied and assigned (``query`` a plain dict)."""
    setter = getattr(url, "set", None)
    if setter is not None:
        return setter(**parts)
    import copy

    new = copy.copy(url)
    for key, value in parts.items():
        setattr(new, key, dict(value) if key == "query" else value)
    return new


def exec_driver_sql(conn: Any, sql: str) -> Any:
    """Run a literal SQL string with no parameters: ``Connection.exec_driver_sql`` (1.4+);
    1.3 runs a plain string as driver SQL through ``execute``."""
    run = getattr(conn, "exec_driver_sql", None)
    if run is not None:
        return run(sql)
    return conn.execute(sql)


def registry_class() -> Optional[type]:
    """``sqlalchemy.orm.registry`` (1.4+); None on 1.3, which has no registry object."""
    try:
        from sqlalchemy.orm import registry
    except ImportError:
        return None
    return registry


def mappers_without_registry(metadatas: List[Any]) -> List[Any]:
    """SQLAlchemy 1.3 (no ``registry``): every Mapper whose table is in one of ``metadatas``.

    1.3 keeps all mappers in the module-level ``sqlalchemy.orm.mapper._mapper_registry``
    (a WeakKeyDictionary, Mapper -> True); 1.4+ list them per ``registry.mappers``.
    """
    import importlib

    module = importlib.import_module("sqlalchemy.orm.mapper")
    known = getattr(module, "_mapper_registry", None)
    if known is None:
        return []
    wanted = {id(md) for md in metadatas}
    out = []
    for mapper in list(known):
        table = getattr(mapper, "local_table", None)
        if id(getattr(table, "metadata", None)) in wanted:
            out.append(mapper)
    return out


def rollback_transaction(conn: Any) -> None:
    """Roll back the connection's open transaction, so PostgreSQL takes statements again.

    ``Connection.get_transaction()`` (1.4+); 1.3 has none, so the DBAPI connection is rolled
    back under SQLAlchemy's Transaction, which stays open (and is rolled back again, as a
    no-op, when the read-only connection closes).
    """
    get = getattr(conn, "get_transaction", None)
    if get is not None:
        trans = get()
        if trans is not None:
            trans.rollback()
        return
    conn.connection.rollback()


# --- Alembic's own requirement (the fallback Alembic is sidecar's, built for another app) --

_OPERATORS = (">=", "<=", "==", "!=", "~=", ">", "<")


def requirement_met(version: str, spec: str) -> Optional[bool]:
    """Whether ``version`` meets a PEP 440 specifier like ``>=1.3.0,<2`` (numbers only:
    release parts, no pre-releases or wildcards); None when ``spec`` cannot be read."""
    have = version_tuple(version)
    for clause in (c.strip() for c in spec.split(",") if c.strip()):
        op = next((o for o in _OPERATORS if clause.startswith(o)), None)
        want = version_tuple(clause[len(op):].strip()) if op else ()
        if op is None or not want or not have:
            return None
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        if op == "~=":  # ~=X.Y means >=X.Y, ==X.*
            ok = a >= b and a[:len(want) - 1] == b[:len(want) - 1]
        else:
            ok = {">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b,
                  "<": a < b}[op]
        if not ok:
            return False
    return True


def distribution_requirement(paths: List[str], dist: str,
                             requirement: str) -> Optional[Tuple[str, str]]:
    """(version of ``dist``, its specifier for ``requirement``) from the ``.dist-info``
    METADATA of ``dist`` installed in one of ``paths``; None when not found there.

    Read from the file (stdlib only, nothing imported): Alembic >= 1.15 declares
    ``Requires-Dist: SQLAlchemy>=1.4.0``, 1.20 ``SQLAlchemy>=2.0``; an unconditional line
    (no ``;`` marker) is the one that applies.
    """
    import glob
    import os
    import re

    wanted = re.sub(r"[-_.]+", "_", requirement).lower()
    for path in paths:
        for info in sorted(glob.glob(os.path.join(path, "%s-*.dist-info" % dist))):
            try:
                with open(os.path.join(info, "METADATA"), encoding="utf-8") as fh:
                    lines = fh.read().split("\n\n", 1)[0].splitlines()
            except OSError:
                continue
            version, spec = "", ""
            for line in lines:
                if line.startswith("Version:"):
                    version = line.split(":", 1)[1].strip()
                elif line.startswith("Requires-Dist:") and ";" not in line:
                    match = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*\(?([^)]*)\)?",
                                     line.split(":", 1)[1])
                    if match and re.sub(r"[-_.]+", "_", match.group(1)).lower() == wanted:
                        spec = match.group(2).replace(" ", "")
            if version:
                return version, spec
    return None


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


def table_being_built(scopes: List[Scope], name: Optional[str]) -> Any:
    """The Table named ``name`` that an Index/constraint was attaching to when it raised:
    ``table`` in ``ColumnCollectionConstraint._set_parent`` / ``Index._set_parent`` (1.4,
    2.0, 2.1); its columns are attached already (declarative passes them first)."""
    for scope in reversed(scopes):
        table = scope.locals.get("table")
        if hasattr(table, "columns") and getattr(table, "name", None) == name:
            return table
    return None


def polymorphic_on_mapper(scopes: List[Scope]) -> Any:
    """The Mapper whose ``polymorphic_on`` string names no mapped attribute: ``self`` of
    ``Mapper._configure_polymorphic_setter`` (1.4, 2.0, 2.1), which raises it."""
    scope = _raised_in(scopes, "sqlalchemy.orm.mapper", "_configure_polymorphic_setter")
    return scope.locals.get("self") if scope is not None else None


def constraint_in(scopes: List[Scope]) -> Any:
    """The Index / UniqueConstraint / other column-collection constraint being attached to
    its table when it raised: ``self`` of ``ColumnCollectionMixin._col_expressions`` or
    ``_set_parent`` (2.0, 2.1: ConstraintColumnNotFoundError; 1.4: a bare KeyError)."""
    from sqlalchemy.sql.schema import ColumnCollectionMixin

    for scope in reversed(scopes):
        candidate = scope.locals.get("self")
        if isinstance(candidate, ColumnCollectionMixin):
            return candidate
    return None

"""Specific codes for failures the generic path already locates well.

These are recognized by the exception and its message once the generic rule (the app's
innermost frame, the class statement declarative raised on) has found the place; each adds
the facts its hint needs. Messages are SQLAlchemy's own, the same in 1.4, 2.0 and 2.1.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from typing import Any, Dict, List, Optional, Tuple

from ... import compat

Raw = Dict[str, Any]

# sqlalchemy.sql.schema ColumnCollectionMixin._col_expressions: ConstraintColumnNotFoundError
# (2.0+, an ArgumentError subclass) / ArgumentError (1.4)
CONSTRAINT_COLUMN = re.compile(
    r"Can't create (?P<construct>\w+) on table '(?P<table>[^']+)': "
    r"no column named '(?P<column>[^']+)' is present")
# sqlalchemy.orm.decl_base: InvalidRequestError
NO_TABLE = re.compile(r"does not have a __table__ or __tablename__ specified")
# sqlalchemy.orm.mapper Mapper._configure_polymorphic_setter: ArgumentError
POLYMORPHIC_ON = re.compile(
    r"Can't determine polymorphic_on value '(?P<value>[^']+)' - no attribute is mapped")
# os.environ["NAME"] / environ['NAME'] in the statement that raised KeyError: 'NAME'
DISCRIMINATORS = ("type", "kind", "discriminator", "role", "category")
ENVIRON_ITEM = re.compile(r"\benviron\s*\[\s*(['\"])(?P<name>[^'\"]+)\1\s*\]")


def refine(p: Any, raw: Raw) -> Raw:
    """Turn a located SQLA199 into a specific code where the failure is recognized."""
    text = p.text or ""
    facts = raw.setdefault("facts", {})
    if p.stage == "import" and _engine_url(p, raw):
        return raw
    if p.category == "ValueError" and _sqlmodel_field_type(p, raw, text):
        return raw
    attached = _constraint_column(p, text)
    if attached is not None:
        construct, table_name, column = attached
        table = compat.table_being_built(p.scopes, table_name)
        names = [c.name for c in table.columns] if table is not None else []
        facts.update(construct=construct, table_columns=names,
                     closest=_closest(column, names))
        constraint = compat.constraint_in(p.scopes)
        if not raw.get("class") and constraint is not None:  # Core: the Index's own line
            p.at_origin(raw, constraint)
        raw.update(code="SQLA175", table=table_name, column=column)
        return raw
    if NO_TABLE.search(text) and p.category == "InvalidRequestError" and raw.get("class"):
        facts["tablename"] = _table_name(str(raw["class"]))
        raw["code"] = "SQLA147"
        return raw
    found = POLYMORPHIC_ON.search(text)
    if found is not None and p.category == "ArgumentError":
        mapper = compat.polymorphic_on_mapper(p.scopes)
        names = compat.mapped_column_names(mapper) if mapper is not None else []
        # a misspelt name, else the one column named like a discriminator
        typed = [n for n in names if n in DISCRIMINATORS or n.endswith("_type")]
        closest = _closest(found["value"], names, 0.75) or (typed[0] if len(typed) == 1
                                                               else None)
        facts.update(value=found["value"], mapped=names, closest=closest)
        if mapper is not None:
            facts["column_callee"] = _column_callee(p, mapper.class_)
        raw["code"] = "SQLA148"
        return raw
    if p.category == "KeyError" and p.stage == "import":
        stmt = facts.get("statement") or ""
        item = ENVIRON_ITEM.search(stmt)
        name = p.exception.args[0] if p.exception is not None and p.exception.args else None
        if item is not None and item["name"] == name:
            facts["variable"] = name
            raw["code"] = "SQLA117"
    return raw


# os.environ.get("NAME" / os.getenv("NAME" / environ["NAME"]: the variable a statement reads
ENV_READ = re.compile(r"\b(?:environ\s*(?:\.get\s*\(|\[)|getenv\s*\()\s*(['\"])(?P<name>[^'\"]+)\1")


def _engine_url(p: Any, raw: Raw) -> bool:
    """SQLA118: the models' module builds an engine at import from a URL that cannot be used
    (empty, a `${VAR}` left as text, `postgres://`, malformed). True when recognized; the
    finding then carries the reason and the variable, never the URL (it may hold the
    password), and the located statement is redacted with the URL's secrets."""
    if p.category not in ("ArgumentError", "NoSuchModuleError", "ValueError"):
        return False
    value = compat.engine_url_argument(p.scopes)
    if value is None or not isinstance(value, str):
        return False
    from ...redact import redact_text
    from ..database import url as db_url

    try:
        db_url.parse(value)
        return False  # SQLAlchemy refused it for another reason: the generic path says it
    except db_url.UrlProblem as refused:
        problem = refused
    reason = str(problem.facts.get("reason") or "syntax")
    facts = {k: str(v) for k, v in problem.facts.items() if k in ("backend", "suggested")}
    secrets = db_url.secrets_of(value)
    found = raw.setdefault("facts", {})
    statement = str(found.get("statement") or "")
    read = ENV_READ.search(statement)
    variable = problem.facts.get("variable") or (read["name"] if read else "")
    if not variable:  # the value came from somewhere else: a variable holding exactly it
        variable = next((k for k, v in os.environ.items() if value and v == value), "")
    found.update(facts, reason=reason, variable=str(variable),
                 statement=redact_text(statement, secrets))
    what = {"empty": "an empty database URL", "unexpanded": "a database URL holding an "
            "unexpanded variable reference", "alias": f"a '{facts.get('backend')}://' URL"
            }.get(reason, "a database URL SQLAlchemy cannot parse")
    source = f" from {variable}" if variable else ""
    raw.update(code="SQLA118", message=redact_text(
        f"The models' module calls create_engine() at import with {what}{source}: "
        f"{problem}", secrets))
    return True


# sqlmodel.main get_sqlalchemy_type (0.0.x): ValueError(f"{type_} has no matching SQLAlchemy
# type") while the class statement runs; the field is only named in sqlmodel's own frames
SQLMODEL_TYPE = re.compile(r"^(?P<type>.+?) has no matching SQLAlchemy type$")
PY_TYPE_NAME = re.compile(r"<class '(?:[\w.]+\.)?(?P<name>\w+)'>|(?:typing\.)?(?P<bare>\w+)")


def _sqlmodel_field_type(p: Any, raw: Raw, text: str) -> bool:
    """SQLA176: a SQLModel field annotated with a Python type SQLModel cannot map (dict,
    list, a custom class), at the field's own statement: the one annotation in the class
    body that names that type."""
    import ast

    found = SQLMODEL_TYPE.match(text.strip())
    if found is None or not raw.get("class"):
        return False
    name_match = PY_TYPE_NAME.match(found["type"])
    type_name = (name_match["name"] or name_match["bare"]) if name_match else None
    spot = p.locator.find_class(str(raw["class"]), [f for f, *_ in p.frames
                                                    if p.locator.is_user_file(f)])
    if spot is None or not type_name:
        return False
    filename, cls = spot
    fields = []
    for stmt in cls.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names = {n.id.lower() for n in ast.walk(stmt.annotation) if isinstance(n, ast.Name)}
            names |= {n.attr.lower() for n in ast.walk(stmt.annotation)
                      if isinstance(n, ast.Attribute)}
            if type_name.lower() in names:
                fields.append(stmt)
    if len(fields) != 1:
        return False
    stmt = fields[0]
    target = stmt.target
    p._at(raw, filename, stmt)
    raw.update(code="SQLA176", attribute=target.id if isinstance(target, ast.Name) else None)
    raw.setdefault("facts", {}).update(
        python_type=type_name, sql_type="JSON" if type_name.lower() in (
            "dict", "list", "tuple", "set", "any") else "")
    return True


def _column_callee(p: Any, cls: type) -> Optional[str]:
    """How the class body writes a column (``db.Column``, ``mapped_column``). A module whose
    import failed is gone from ``sys.modules``: the frames name its file."""
    module = sys.modules.get(cls.__module__)
    files = [getattr(module, "__file__", None) or ""] + [fr[0] for fr in p.frames]
    spot = p.locator.find_class(cls.__name__, [f for f in files if f])
    return p.locator.column_callee(spot[0], spot[1]) if spot is not None else None


def _constraint_column(p: Any, text: str) -> Optional[Tuple[str, str, str]]:
    """(construct, table, column) of an Index/constraint naming a column its table lacks."""
    found = CONSTRAINT_COLUMN.search(text)
    if found is not None and p.category in ("ConstraintColumnNotFoundError", "ArgumentError"):
        return found["construct"], found["table"], found["column"]
    # 1.4: the column collection's own KeyError, raised while the constraint attaches
    if p.category == "KeyError" and p.exception is not None and p.exception.args:
        constraint = compat.constraint_in(p.scopes)
        table = getattr(constraint, "table", None) if constraint is not None else None
        if table is None:
            for scope in reversed(p.scopes):
                if hasattr(scope.locals.get("table"), "columns"):
                    table = scope.locals["table"]
                    break
        if constraint is not None and table is not None:
            return type(constraint).__name__, table.name, str(p.exception.args[0])
    return None


def _closest(name: str, names: List[str], cutoff: float = 0.6) -> Optional[str]:
    match = difflib.get_close_matches(name, names, n=1, cutoff=cutoff)
    return match[0] if match else None


def _table_name(class_name: str) -> str:
    """``AuditLog`` -> ``audit_log``: a suggestion; the hint asks for the existing name."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name).lower()

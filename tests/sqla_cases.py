"""Real SQLAlchemy errors and warnings, classified in-process by the worker's own code.

Run by tests/test_classify_versions.py once per SQLAlchemy version, under that version's
interpreter: ``python tests/sqla_cases.py WORKER_DIR`` prints one JSON object, case name ->
{"code": the code it checks (null: none), "error": null or what went wrong}. Each case
builds a few declarative classes, provokes the problem, and checks what the classifier made
of it: the code, the class and attribute, the facts, and the line (``# <- CASE name``). When
SQLAlchemy changes what a rule reads (an exception attribute, a function or local name in
worker/compat.py), the case fails here instead of a finding silently turning generic.

Standard library and SQLAlchemy only, as in the worker: the other versions' venvs have
nothing else (no pytest).
"""

import importlib.util
import json
import os
import sys
import traceback

import sqlalchemy
from sqlalchemy import JSON, Column, ForeignKey, Integer, String
from sqlalchemy.orm import declarative_base, relationship

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2])
CASES = []


def load_worker(path):
    """The worker package, by file location under its private name (as the runner does)."""
    spec = importlib.util.spec_from_file_location(
        "_sidecar_worker", os.path.join(path, "__init__.py"), submodule_search_locations=[path])
    module = importlib.util.module_from_spec(spec)
    sys.modules["_sidecar_worker"] = module
    spec.loader.exec_module(module)
    import _sidecar_worker.checks.models.capture as capture
    import _sidecar_worker.checks.models.classify as classify
    import _sidecar_worker.source.locate as locate

    return capture, classify, locate


def case(code):
    def register(fn):
        CASES.append((fn.__name__, code, fn))
        return fn

    return register


def marked(name):
    """(file relative to this folder, line) of the statement marked ``# <- CASE name``."""
    with open(__file__) as fh:
        for number, line in enumerate(fh, 1):
            if line.rstrip().endswith("# <- CASE " + name):
                return os.path.basename(__file__), number
    raise AssertionError("no marker for " + name)


def classified(provoke, stage="import"):
    """Raw findings for everything ``provoke`` raised or warned, as the models checks make
    them (warnings recorded with their frames, then the exception)."""
    with capture.WarningRecorder() as recorder:
        try:
            provoke()
            error = None
        except Exception as exc:
            error = exc
    out = [classify.from_warning(w, stage, "cases", LOCATOR) for w in recorder.take()]
    if error is not None:
        out.append(classify.from_exception(error, stage, "cases", LOCATOR))
    return [raw for raw in out if raw is not None]


def only(raws, code):
    found = [raw for raw in raws if raw["code"] == code]
    assert found, f"no {code} in {[(r['code'], r['message']) for r in raws]}"
    return found[0]


def expect(raw, name=None, facts=None, **fields):
    """``raw`` has these fields and facts (``class_`` for ``class``), and the marked line."""
    for key, value in fields.items():
        key = key.rstrip("_")
        got = raw.get(key)
        assert got == value, f"{key}: {got!r}, expected {value!r} ({raw['message']})"
    for key, value in (facts or {}).items():
        got = raw["facts"].get(key)
        assert got == value, f"facts.{key}: {got!r}, expected {value!r} ({raw['message']})"
    if name is not None:
        where = (raw.get("file"), raw.get("line"))
        assert where == marked(name), f"at {where}, expected {marked(name)}"


# --- import time: declarative scanning a class ----------------------------------------------


@case("SQLA101")
def reserved_metadata():
    Base = declarative_base()

    def define():
        class ReservedMetadata(Base):
            __tablename__ = "reserved_metadata"
            id = Column(Integer, primary_key=True)
            metadata = Column(JSON, nullable=True)  # <- CASE reserved_metadata

    # 1.4 and 2.0 raise; 2.1 only warns
    raised = "SAWarning" if VERSION >= (2, 1) else "InvalidRequestError"
    expect(only(classified(define), "SQLA101"), "reserved_metadata", exception=raised,
           class_="ReservedMetadata", attribute="metadata", facts={"column_call": {
               "callee": "Column", "named": False, "args": "JSON, nullable=True",
               "annotation": None, "mapped": False}})


@case("SQLA101")
def reserved_registry():
    Base = declarative_base()

    def define():
        class ReservedRegistry(Base):
            __tablename__ = "reserved_registry"
            id = Column(Integer, primary_key=True)
            registry = Column(String(100))  # <- CASE reserved_registry

    raws = classified(define)
    if VERSION < (2, 1):  # accepted silently: check.py's lint is what reports it there
        assert not [r for r in raws if r["code"] == "SQLA101"], raws
        return
    expect(only(raws, "SQLA101"), "reserved_registry", exception="SAWarning",
           class_="ReservedRegistry", attribute="registry")


@case("SQLA102")
def table_already_defined():
    Base = declarative_base()

    class FirstBusiness(Base):
        __tablename__ = "business"
        id = Column(Integer, primary_key=True)

    def define():
        class SecondBusiness(Base):  # <- CASE table_already_defined
            __tablename__ = "business"
            id = Column(Integer, primary_key=True)

    expect(only(classified(define), "SQLA102"), "table_already_defined",
           exception="InvalidRequestError", table="business", class_="SecondBusiness")


@case("SQLA103")
def replaced_in_string_lookup():
    Base = declarative_base()

    def define(table):
        class Twin(Base):  # <- CASE replaced_in_string_lookup
            __tablename__ = table
            id = Column(Integer, primary_key=True)

        return Twin

    # the registry holds the first class weakly: a garbage collection in between (the
    # classifier allocates) would remove it, and with it the warning
    first = define("twin_one")
    raw = only(classified(lambda: define("twin_two")), "SQLA103")
    assert first.__name__ == "Twin"
    expect(raw, "replaced_in_string_lookup", exception="SAWarning", class_="Twin",
           facts={"module": __name__})


@case("SQLA105")
def missing_primary_key():
    Base = declarative_base()

    def define():
        class NoKey(Base):  # <- CASE missing_primary_key
            __tablename__ = "no_key"
            name = Column(String(20))

    expect(only(classified(define), "SQLA105"), "missing_primary_key",
           exception="ArgumentError", class_="NoKey", table="no_key")


# --- configure time: relationships ----------------------------------------------------------


@case("SQLA104")
def relationship_missing_class():
    Base = declarative_base()

    class Owner(Base):
        __tablename__ = "owners"
        id = Column(Integer, primary_key=True)
        pets = relationship("Pett")  # <- CASE relationship_missing_class

    raw = only(classified(Base.registry.configure, "configure"), "SQLA104")
    expect(raw, "relationship_missing_class", exception="InvalidRequestError",
           class_="Owner", attribute="pets", facts={"target": "Pett", "expression": "Pett"})


@case("SQLA104")
def expression_names_nothing():
    Base = declarative_base()

    class Shelter(Base):
        __tablename__ = "shelters"
        id = Column(Integer, primary_key=True)

    class Kennel(Base):
        __tablename__ = "kennels"
        id = Column(Integer, primary_key=True)
        shelter_id = Column(ForeignKey("shelters.id"))
        # the line to edit is the string's own, in a relationship() over several lines
        shelter = relationship(
            "Shelter",
            primaryjoin="Kennel.shelter_id == Shelterr.id",  # <- CASE expression_names_nothing
        )

    # SQLAlchemy names the NameError's text; the NameError knows the name from Python 3.10
    name = "Shelterr" if sys.version_info >= (3, 10) else "name 'Shelterr' is not defined"
    raw = only(classified(Base.registry.configure, "configure"), "SQLA104")
    expect(raw, "expression_names_nothing", class_="Kennel",
           attribute="shelter", facts={"target": name,
                                       "expression": "Kennel.shelter_id == Shelterr.id"})


@case("SQLA106")
def ambiguous_foreign_keys():
    Base = declarative_base()

    class Person(Base):
        __tablename__ = "people"
        id = Column(Integer, primary_key=True)

    class Ticket(Base):
        __tablename__ = "tickets"
        id = Column(Integer, primary_key=True)
        reporter_id = Column(ForeignKey("people.id"))
        assignee_id = Column(ForeignKey("people.id"))
        assignee = relationship("Person")  # <- CASE ambiguous_foreign_keys

    raw = only(classified(Base.registry.configure, "configure"), "SQLA106")
    expect(raw, "ambiguous_foreign_keys", exception="AmbiguousForeignKeysError",
           class_="Ticket", attribute="assignee",
           facts={"target": "Person", "fk_hint": "Ticket.assignee_id",
                  "candidates": "Ticket.assignee_id, Ticket.reporter_id"})


@case("SQLA107")
def no_foreign_keys():
    Base = declarative_base()

    class Customer(Base):
        __tablename__ = "customers"
        id = Column(Integer, primary_key=True)

    class Order(Base):
        __tablename__ = "orders"
        id = Column(Integer, primary_key=True)
        customer_id = Column(Integer)
        customer = relationship("Customer")  # <- CASE no_foreign_keys

    raw = only(classified(Base.registry.configure, "configure"), "SQLA107")
    expect(raw, "no_foreign_keys", exception="NoForeignKeysError", class_="Order",
           attribute="customer")


@case("SQLA108")
def back_populates_missing():
    Base = declarative_base()

    class Author(Base):
        __tablename__ = "authors"
        id = Column(Integer, primary_key=True)
        books = relationship("Book", back_populates="author")

    class Book(Base):
        __tablename__ = "books"
        id = Column(Integer, primary_key=True)
        author_id = Column(ForeignKey("authors.id"))
        author = relationship("Author", back_populates="writer")  # <- CASE back_populates_missing

    raw = only(classified(Base.registry.configure, "configure"), "SQLA108")
    expect(raw, "back_populates_missing", exception="InvalidRequestError", class_="Book",
           attribute="author", facts={"missing_property": "writer", "target": "Author"})


@case("SQLA109")
def conflicting_backref():
    Base = declarative_base()

    class Mailbox(Base):
        __tablename__ = "mailboxes"
        id = Column(Integer, primary_key=True)
        owner_id = Column(ForeignKey("mail_users.id"))
        owner = relationship("MailUser")

    class MailUser(Base):
        __tablename__ = "mail_users"
        id = Column(Integer, primary_key=True)
        boxes = relationship("Mailbox", backref="owner")  # <- CASE conflicting_backref

    raw = only(classified(Base.registry.configure, "configure"), "SQLA109")
    expect(raw, "conflicting_backref", exception="ArgumentError", class_="MailUser",
           attribute="boxes", facts={"backref": "owner", "target": "Mailbox"})


# --- ForeignKey targets (resolved by the mappers check) -------------------------------------


def _resolve_foreign_keys(table):
    def resolve():
        for fk in table.foreign_keys:
            _ = fk.column

    return resolve


@case("SQLA110")
def foreign_key_to_missing_table():
    Base = declarative_base()

    class Invoice(Base):
        __tablename__ = "invoices"
        id = Column(Integer, primary_key=True)
        account_id = Column(ForeignKey("accounts.id"))  # <- CASE foreign_key_to_missing_table

    raw = only(classified(_resolve_foreign_keys(Invoice.__table__), "configure"), "SQLA110")
    expect(raw, "foreign_key_to_missing_table", exception="NoReferencedTableError",
           class_="Invoice", attribute="account_id", table="invoices", column="account_id",
           facts={"target": "accounts.id",
                  "missing": "no table named 'accounts' is defined on this MetaData"})


@case("SQLA110")
def foreign_key_to_missing_column():
    Base = declarative_base()

    class Member(Base):
        __tablename__ = "members"
        id = Column(Integer, primary_key=True)

    class Visit(Base):
        __tablename__ = "visits"
        id = Column(Integer, primary_key=True)
        member_uuid = Column(ForeignKey("members.uuid"))  # <- CASE foreign_key_to_missing_column

    raw = only(classified(_resolve_foreign_keys(Visit.__table__), "configure"), "SQLA110")
    expect(raw, "foreign_key_to_missing_column", exception="NoReferencedColumnError",
           class_="Visit", attribute="member_uuid", table="visits", column="member_uuid",
           facts={"target": "members.uuid",
                  "missing": "table 'members' has no column named 'uuid'"})


# --- database errors ------------------------------------------------------------------------


@case(None)
def background_link_is_dropped():
    """The database check quotes SQLAlchemy's errors without the link it appends."""
    import sqlite3

    import _sidecar_worker.checks.database.check as database
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from sqlalchemy.pool import QueuePool

    pool = QueuePool(lambda: sqlite3.connect(":memory:"), pool_size=1, max_overflow=0,
                     timeout=0.01)
    held = pool.connect()
    try:
        pool.connect()
        raise AssertionError("the pool gave a second connection")
    except PoolTimeout as exc:
        text = database._driver_message(exc)
        assert "sqlalche.me" in str(exc) and "sqlalche.me" not in text, text
        assert text.startswith("QueuePool limit of size 1 overflow 0 reached"), text
    finally:
        held.close()


def main():
    global capture, classify, LOCATOR
    capture, classify, locate = load_worker(sys.argv[1])
    LOCATOR = locate.Locator(HERE)
    results = {}
    for name, code, fn in CASES:
        try:
            fn()
            error = None
        except Exception:
            error = traceback.format_exc(limit=-3)
        results[name] = {"code": code, "error": error}
    print(json.dumps({"sqlalchemy": sqlalchemy.__version__, "cases": results}))


if __name__ == "__main__":
    main()

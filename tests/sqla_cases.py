# ruff: noqa: RUF012, F821  (class bodies as apps write them; an undefined name on purpose)
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
from sqlalchemy.orm import relationship

try:
    from sqlalchemy.orm import declarative_base, declared_attr
except ImportError:  # SQLAlchemy 1.3: only in sqlalchemy.ext.declarative
    from sqlalchemy.ext.declarative import declarative_base, declared_attr

HERE = os.path.dirname(os.path.abspath(__file__))
VERSION = tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2])
CASES = []
TOO_NEW = {}  # case -> code, for cases of a newer SQLAlchemy than this one


KEEP = []  # classes a case needs alive: the registry holds them weakly


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


def configure(Base):
    """``Base.registry.configure`` (1.4+); SQLAlchemy 1.3 has no registry, only the global
    ``configure_mappers()``, which fails again on every mapper an earlier case left broken,
    so the case's own classes are configured first through their mappers."""
    registry = getattr(Base, "registry", None)
    if registry is not None:
        return registry.configure
    from sqlalchemy.orm import configure_mappers

    return configure_mappers


def case(code, since=(1, 3)):
    """Register a case; ``since``: the oldest SQLAlchemy whose error it classifies (older
    versions word the failure differently and get the generic, located SQLA199)."""
    def register(fn):
        if since <= VERSION:
            CASES.append((fn.__name__, code, fn))
        else:
            TOO_NEW[fn.__name__] = code
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


@case("SQLA116")
def reserved_registry():
    Base = declarative_base()

    def define():
        class ReservedRegistry(Base):
            __tablename__ = "reserved_registry"
            id = Column(Integer, primary_key=True)
            registry = Column(String(100))  # <- CASE reserved_registry

    raws = classified(define)
    assert not [r for r in raws if r["code"] == "SQLA101"], raws  # it works: not an error
    if VERSION < (2, 1):  # accepted silently: check.py's lint is what reports it there
        assert not [r for r in raws if r["code"] == "SQLA116"], raws
        return
    expect(only(raws, "SQLA116"), "reserved_registry", exception="SAWarning",
           class_="ReservedRegistry", attribute="registry",
           facts={"sqlalchemy_version": "{}.{}".format(*VERSION)})


@case("SQLA102")
def table_already_defined():
    Base = declarative_base()

    class FirstBusiness(Base):
        __tablename__ = "business"
        id = Column(Integer, primary_key=True)

    def define():
        class SecondBusiness(Base):
            __tablename__ = "business"  # <- CASE table_already_defined
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

    # kept alive: the string-lookup table holds classes weakly, and a garbage collection
    # between the two definitions (its timing depends on allocations, even on the size of
    # the environment) would leave nothing to replace, and no warning
    first = define("twin_one")
    raw = only(classified(lambda: define("twin_two")), "SQLA103")
    assert first.__tablename__ == "twin_one"
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

    raw = only(classified(configure(Base), "configure"), "SQLA104")
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
    raw = only(classified(configure(Base), "configure"), "SQLA104")
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

    raw = only(classified(configure(Base), "configure"), "SQLA106")
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

    raw = only(classified(configure(Base), "configure"), "SQLA107")
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

    raw = only(classified(configure(Base), "configure"), "SQLA108")
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

    raw = only(classified(configure(Base), "configure"), "SQLA109")
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


# --- issue 10's failure families ------------------------------------------------------------


def _docs(code):
    """SQLAlchemy's page for its error code, as the finding carries it."""
    from sqlalchemy import exc

    return f"https://sqlalche.me/e/{exc._version_token}/{code}"


@case("SQLA140")
def single_table_column_conflict():
    Base = declarative_base()

    class StaffMember(Base):
        __tablename__ = "staff"
        id = Column(Integer, primary_key=True)
        kind = Column(String(20))
        title = Column(String(50))
        __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "staff"}

    def define():
        class Supervisor(StaffMember):
            title = Column(Integer)  # <- CASE single_table_column_conflict
            __mapper_args__ = {"polymorphic_identity": "supervisor"}

    raw = only(classified(define), "SQLA140")
    expect(raw, "single_table_column_conflict", exception="ArgumentError", class_="Supervisor",
           attribute="title", table="staff", column="title", facts={"parent": "StaffMember"})


@case("SQLA141", since=(1, 4))
def joined_inheritance_without_foreign_key():
    Base = declarative_base()

    class Vehicle(Base):
        __tablename__ = "vehicles"
        id = Column(Integer, primary_key=True)

    def define():
        class Truck(Vehicle):
            __tablename__ = "trucks"
            id = Column(Integer, primary_key=True)  # <- CASE joined_inheritance_without_fk

    raw = only(classified(define), "SQLA141")
    expect(raw, "joined_inheritance_without_fk", exception="NoForeignKeysError",
           class_="Truck", attribute="id", table="trucks",
           facts={"parent": "Vehicle", "parent_key": "vehicles.id", "pk_attribute": "id"})
    assert raw["facts"]["column_call"]["positional"] == ["Integer"], raw["facts"]


@case("SQLA142", since=(1, 4))
def joined_inheritance_ambiguous():
    Base = declarative_base()

    class Ledger(Base):
        __tablename__ = "ledgers"
        id = Column(Integer, primary_key=True)

    def define():
        class SubLedger(Ledger):  # <- CASE joined_inheritance_ambiguous
            __tablename__ = "sub_ledgers"
            id = Column(ForeignKey("ledgers.id"), primary_key=True)
            mirror_id = Column(ForeignKey("ledgers.id"))

    raw = only(classified(define), "SQLA142")
    expect(raw, "joined_inheritance_ambiguous", exception="AmbiguousForeignKeysError",
           class_="SubLedger", facts={"parent": "Ledger", "pk_attribute": "id",
                                      "parent_pk_attribute": "id"})


class OwnedByMixin:
    owner = relationship("Proprietor")  # <- CASE mixin_relationship


@case("SQLA143")
def mixin_relationship():
    Base = declarative_base()

    class Proprietor(Base):
        __tablename__ = "proprietors"
        id = Column(Integer, primary_key=True)

    def define():
        class Shop(OwnedByMixin, Base):
            __tablename__ = "shops"
            id = Column(Integer, primary_key=True)
            owner_id = Column(ForeignKey("proprietors.id"))

    raw = only(classified(define), "SQLA143")
    expect(raw, "mixin_relationship", exception="InvalidRequestError", class_="OwnedByMixin",
           attribute="owner", facts={"mixin": "OwnedByMixin", "kind": "property",
                                     "mapped_class": "Shop"})
    assert raw["facts"]["assignment"]["value"] == 'relationship("Proprietor")', raw["facts"]


class TenantColumnMixin:
    tenant_id = Column(Integer, ForeignKey("tenants.id"))  # <- CASE mixin_foreign_key


@case("SQLA143")
def mixin_foreign_key_column():
    Base = declarative_base()

    class Tenant(Base):
        __tablename__ = "tenants"
        id = Column(Integer, primary_key=True)

    def define():
        class Site(TenantColumnMixin, Base):
            __tablename__ = "sites"
            id = Column(Integer, primary_key=True)

    raws = classified(define)
    if VERSION >= (2, 0):  # 2.0 copies a mixin's ForeignKey columns itself: no finding
        assert not [r for r in raws if r["code"] == "SQLA143"], raws
        return
    expect(only(raws, "SQLA143"), "mixin_foreign_key", class_="TenantColumnMixin",
           attribute="tenant_id", facts={"kind": "column", "mapped_class": "Site"})


@case("SQLA144", since=(1, 4))
def polymorphic_identity_without_on():
    Base = declarative_base()

    class Document(Base):
        __tablename__ = "documents"
        id = Column(Integer, primary_key=True)
        kind = Column(String(20))
        __mapper_args__ = {"polymorphic_identity": "document"}  # <- CASE polymorphic_no_on

    class Invoice2(Document):
        __mapper_args__ = {"polymorphic_identity": "invoice"}

    configure(Base)()
    raws = classify.lint_polymorphic(LOCATOR, list(Base.registry.mappers))
    expect(only(raws, "SQLA144"), "polymorphic_no_on", class_="Document",
           attribute="__mapper_args__",
           facts={"identity": "'document' (Document), 'invoice' (Invoice2)"})


@case("SQLA145")
def polymorphic_identity_reused():
    Base = declarative_base()

    class Animal(Base):
        __tablename__ = "animals"
        id = Column(Integer, primary_key=True)
        kind = Column(String(20))
        __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "animal"}

    class Cat(Animal):
        __mapper_args__ = {"polymorphic_identity": "cat"}

    def define():
        class Lion(Animal):
            __mapper_args__ = {"polymorphic_identity": "cat"}  # <- CASE polymorphic_reused

        configure(Base)()

    raw = only(classified(define), "SQLA145")
    expect(raw, "polymorphic_reused", exception="SAWarning", class_="Lion",
           attribute="__mapper_args__", facts={"identity": "'cat'", "previous": "Cat"})


@case("SQLA150")
def annotation_without_mapped():
    if VERSION < (2, 0):
        return
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        pass

    def define():
        class Book(Base):
            __tablename__ = "books_150"
            id: Mapped[int] = mapped_column(primary_key=True)
            title: str = mapped_column(String(200))  # <- CASE annotation_without_mapped

    raw = only(classified(define), "SQLA150")
    expect(raw, "annotation_without_mapped", class_="Book", attribute="title",
           facts={"annotation": "str", "value": "mapped_column(String(200))",
                  "sqlalchemy_docs": _docs("zlpr")})


@case("SQLA151")
def annotation_not_defined():
    if VERSION < (2, 0):
        return
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        pass

    def define():
        class Price(Base):
            __tablename__ = "prices_151"
            id: Mapped[int] = mapped_column(primary_key=True)
            amount: Mapped["Moneyy"] = mapped_column()  # <- CASE annotation_not_defined

    raw = only(classified(define), "SQLA151")
    expect(raw, "annotation_not_defined", class_="Price", attribute="amount",
           facts={"missing": "Moneyy", "annotation": 'Mapped["Moneyy"]'})


@case("SQLA152")
def annotation_without_sql_type():
    if VERSION < (2, 0):
        return
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    class Base(DeclarativeBase):
        pass

    def define():
        class Setting(Base):
            __tablename__ = "settings_152"
            id: Mapped[int] = mapped_column(primary_key=True)
            data: Mapped[dict] = mapped_column(nullable=True)  # <- CASE annotation_no_sql_type

    raw = only(classified(define), "SQLA152")
    expect(raw, "annotation_no_sql_type", class_="Setting", attribute="data",
           facts={"python_type": "dict"})


@case("SQLA153")
def dataclass_field_order():
    if VERSION < (2, 0):
        return
    from sqlalchemy.orm import DeclarativeBase, Mapped, MappedAsDataclass, mapped_column

    class Base(MappedAsDataclass, DeclarativeBase):
        pass

    def define():
        class Ticket2(Base):
            __tablename__ = "tickets_153"
            id: Mapped[int] = mapped_column(primary_key=True, init=False)
            status: Mapped[str] = mapped_column(default="open")
            subject: Mapped[str] = mapped_column(String(200))  # <- CASE dataclass_order

    raw = only(classified(define), "SQLA153")
    expect(raw, "dataclass_order", exception="InvalidRequestError", class_="Ticket2",
           attribute="subject", facts={"sqlalchemy_docs": _docs("dcte")})


@case("SQLA160", since=(1, 4))
def self_referential_without_remote_side():
    Base = declarative_base()

    class Category(Base):
        __tablename__ = "categories"
        id = Column(Integer, primary_key=True)
        parent_id = Column(ForeignKey("categories.id"))
        parent = relationship(  # <- CASE self_referential
            "Category", back_populates="children")
        children = relationship("Category", back_populates="parent")

    raw = only(classified(Base.registry.configure, "configure"), "SQLA160")
    expect(raw, "self_referential", exception="ArgumentError", class_="Category",
           attribute="parent", facts={"other": "Category.children", "pk_attribute": "id"})


@case("SQLA161", since=(1, 4))
def delete_orphan_on_many_to_one():
    Base = declarative_base()

    class Post(Base):
        __tablename__ = "posts"
        id = Column(Integer, primary_key=True)

    class Remark(Base):
        __tablename__ = "remarks"
        id = Column(Integer, primary_key=True)
        post_id = Column(ForeignKey("posts.id"))
        post = relationship("Post", cascade="all, delete-orphan")  # <- CASE delete_orphan

    raw = only(classified(Base.registry.configure, "configure"), "SQLA161")
    expect(raw, "delete_orphan", exception="ArgumentError", class_="Remark", attribute="post",
           facts={"target": "Post", "direction": "many-to-one",
                  "sqlalchemy_docs": _docs("bbf0")})


@case("SQLA162", since=(1, 4))
def overlapping_relationships():
    Base = declarative_base()

    class Mailer(Base):
        __tablename__ = "mailers"
        id = Column(Integer, primary_key=True)
        letters = relationship("Letter")

    class Letter(Base):
        __tablename__ = "letters"
        id = Column(Integer, primary_key=True)
        mailer_id = Column(ForeignKey("mailers.id"))
        mailer = relationship("Mailer")  # <- CASE overlapping_relationships

    raw = only(classified(Base.registry.configure, "configure"), "SQLA162")
    expect(raw, "overlapping_relationships", exception="SAWarning", class_="Letter",
           attribute="mailer", facts={"overlaps": "Mailer.letters", "overlaps_keys": "letters",
                                      "sqlalchemy_docs": _docs("qzyx")})


@case("SQLA163", since=(1, 4))
def expression_names_missing_attribute():
    Base = declarative_base()

    class Thread(Base):
        __tablename__ = "threads"
        id = Column(Integer, primary_key=True)
        notes = relationship("Note", order_by="Note.created")  # <- CASE expression_attribute

    class Note(Base):
        __tablename__ = "notes"
        id = Column(Integer, primary_key=True)
        thread_id = Column(ForeignKey("threads.id"))
        created_at = Column(Integer)

    raw = only(classified(Base.registry.configure, "configure"), "SQLA163")
    expect(raw, "expression_attribute", class_="Thread", attribute="notes",
           facts={"target": "Note", "missing_attribute": "created", "expression": "Note.created",
                  "available": "created_at, id, thread_id"})


@case("SQLA164", since=(1, 4))
def secondary_table_missing():
    Base = declarative_base()

    class Player(Base):
        __tablename__ = "players"
        id = Column(Integer, primary_key=True)
        teams = relationship("Team", secondary="player_teams")  # <- CASE secondary_missing

    class Team(Base):
        __tablename__ = "teams"
        id = Column(Integer, primary_key=True)

    raw = only(classified(Base.registry.configure, "configure"), "SQLA164")
    expect(raw, "secondary_missing", exception="InvalidRequestError", class_="Player",
           attribute="teams", facts={"secondary": "player_teams"})


class PlainSchema:
    """Not mapped: what a Pydantic schema of the same name looks like to SQLAlchemy."""


@case("SQLA165", since=(1, 4))
def relationship_to_unmapped_class():
    Base = declarative_base()

    class Album(Base):
        __tablename__ = "albums"
        id = Column(Integer, primary_key=True)
        tracks = relationship(PlainSchema)  # <- CASE unmapped_target

    raw = only(classified(Base.registry.configure, "configure"), "SQLA165")
    expect(raw, "unmapped_target", exception="UnmappedClassError", class_="Album",
           attribute="tracks", facts={"target": "PlainSchema", "target_module": __name__})




@case("SQLA166", since=(1, 4))
def several_classes_with_one_name():
    Base = declarative_base()
    for module, table in (("shop.billing", "billing_customers"), ("shop.crm", "crm_customers")):
        KEEP.append(type("Customer", (Base,), {"__module__": module, "__tablename__": table,
                                               "id": Column(Integer, primary_key=True)}))

    class Purchase(Base):
        __tablename__ = "purchases"
        id = Column(Integer, primary_key=True)
        customer_id = Column(ForeignKey("billing_customers.id"))
        customer = relationship("Customer")  # <- CASE several_classes

    raw = only(classified(Base.registry.configure, "configure"), "SQLA166")
    expect(raw, "several_classes", exception="InvalidRequestError", class_="Purchase",
           attribute="customer", facts={"name": "Customer",
                                        "paths": ["shop.billing.Customer", "shop.crm.Customer"]})


@case("SQLA170")
def column_beside_table():
    from sqlalchemy import Table

    Base = declarative_base()
    gadgets = Table("gadgets", Base.metadata, Column("id", Integer, primary_key=True))

    def define():
        class Gadget(Base):
            __table__ = gadgets
            label = Column(String(40))  # <- CASE column_beside_table

    raw = only(classified(define), "SQLA170")
    expect(raw, "column_beside_table", exception="ArgumentError", class_="Gadget",
           attribute="label", table="gadgets")


@case("SQLA171")
def tuple_valued_attribute():
    Base = declarative_base()

    def define():
        class Badge(Base):
            __tablename__ = "badges"
            id = Column(Integer, primary_key=True)
            label = Column(String(40)),  # <- CASE tuple_attribute

        return Badge

    raw = only(classified(define), "SQLA171")
    expect(raw, "tuple_attribute", exception="SAWarning", class_="Badge", attribute="label",
           facts={"fixed": "label = Column(String(40))"})


class LabelMixin:
    label = Column(String(40)),  # <- CASE tuple_on_mixin


@case("SQLA171")
def tuple_on_a_mixin_found_from_the_class_dict():
    Base = declarative_base()

    class Sticker(LabelMixin, Base):
        __tablename__ = "stickers"
        id = Column(Integer, primary_key=True)

    raws = classify.lint_tuple_attributes(LOCATOR, [Sticker])
    expect(only(raws, "SQLA171"), "tuple_on_mixin", class_="LabelMixin", attribute="label",
           facts={"fixed": "label = Column(String(40))"})


@case("SQLA172")
def table_args_on_single_table_subclass():
    from sqlalchemy import Index

    Base = declarative_base()

    class Shape(Base):
        __tablename__ = "shapes"
        id = Column(Integer, primary_key=True)
        kind = Column(String(20))
        sides = Column(Integer)
        __mapper_args__ = {"polymorphic_on": kind, "polymorphic_identity": "shape"}

    def define():
        class Polygon(Shape):
            __table_args__ = (Index("ix_sides", "sides"),)  # <- CASE sti_table_args
            __mapper_args__ = {"polymorphic_identity": "polygon"}

    raw = only(classified(define), "SQLA172")
    expect(raw, "sti_table_args", exception="ArgumentError", class_="Polygon",
           attribute="__table_args__", table="shapes", facts={"parent": "Shape"})


@case("SQLA173")
def table_args_beside_table():
    from sqlalchemy import Table, UniqueConstraint

    Base = declarative_base()
    widgets = Table("widgets", Base.metadata, Column("id", Integer, primary_key=True),
                    Column("code", String(10)))

    class Widget(Base):
        __table__ = widgets
        __table_args__ = (UniqueConstraint("code"),)  # <- CASE table_args_beside_table

    class Gizmo(Base):  # the usual way: declarative builds __table__ from these
        __tablename__ = "gizmos"
        __table_args__ = (UniqueConstraint("code"),)
        id = Column(Integer, primary_key=True)
        code = Column(String(10))

    raws = classify.lint_table_args_beside_table(LOCATOR, [Widget, Gizmo])
    assert [r["class"] for r in raws] == ["Widget"], raws
    expect(only(raws, "SQLA173"), "table_args_beside_table", class_="Widget",
           attribute="__table_args__", table="widgets")


class LabelledMixin:
    @declared_attr
    def caption(cls):  # <- CASE declared_attr_none
        Column(String(40))


@case("SQLA146")
def declared_attr_returns_nothing():
    Base = declarative_base()

    class Poster(LabelledMixin, Base):
        __tablename__ = "posters"
        id = Column(Integer, primary_key=True)

    raws = classify.lint_declared_attr_none(LOCATOR, [Poster])
    expect(only(raws, "SQLA146"), "declared_attr_none", class_="LabelledMixin",
           attribute="caption", facts={"mapped_class": "Poster"})


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
        if VERSION < (1, 4):  # one global set of mappers: a broken one fails every later case
            from sqlalchemy.orm import clear_mappers

            clear_mappers()
        results[name] = {"code": code, "error": error}
    print(json.dumps({"sqlalchemy": sqlalchemy.__version__, "cases": results,
                      "too_new": TOO_NEW}))


if __name__ == "__main__":
    main()

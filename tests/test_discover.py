"""Discovery over live objects, in this process: what a target module contributes."""

from __future__ import annotations

import types
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, Table
from sqlalchemy.orm import declarative_base

from sidecar.worker.checks.models import discover
from sidecar.worker.source.locate import Locator


class _Proxy:
    """Like a context-local proxy outside its context: every attribute read raises."""

    def __getattribute__(self, name: str):
        raise RuntimeError("working outside of application context")


def _module(name: str, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name)
    vars(module).update(attrs)
    return module


def test_one_metadata_reached_several_ways_is_listed_once(tmp_path: Path) -> None:
    metadata = MetaData()
    Base = declarative_base(metadata=metadata)

    class Customer(Base):
        __tablename__ = "discover_customers"
        id = Column(Integer, primary_key=True)

    audit = Table("discover_audit", metadata, Column("id", Integer, primary_key=True))
    target = _module("shopx.models", Base=Base, Customer=Customer, audit=audit,
                     metadata=metadata, current_app=_Proxy())
    found = discover.discover(Locator(str(tmp_path), ["shopx.models"]),
                              [("shopx.models", target)])
    assert found["metadatas"] == [metadata]
    assert found["sources"] == ["shopx.models:Base.metadata"]
    assert found["observed"]["tables"] == 2
    assert [m.class_ for m in found["mappers"]] == [Customer]


def test_a_core_table_alone_brings_its_metadata(tmp_path: Path) -> None:
    metadata = MetaData()
    stock = Table("discover_stock", metadata, Column("id", Integer, primary_key=True))
    found = discover.discover(Locator(str(tmp_path), ["corex.tables"]),
                              [("corex.tables", _module("corex.tables", stock=stock))])
    assert found["metadatas"] == [metadata]
    assert found["sources"] == ["corex.tables:stock.metadata"]


def test_nothing_mapped_names_what_was_imported_and_looked_for(tmp_path: Path) -> None:
    target = _module("emptyx.db", Base=declarative_base(), current_app=_Proxy())
    targets = [("emptyx.db", target)]
    found = discover.discover(Locator(str(tmp_path), ["emptyx.db"]), targets)
    raw = discover.nothing_mapped(targets, ["emptyx.db"], found)
    assert raw is not None and raw["code"] == "SQLA130"
    assert raw["facts"]["empty_metadata"] == "emptyx.db:Base.metadata"
    assert "emptyx.db (no file)" in raw["message"] and discover.LOOKED_FOR in raw["message"]

"""The drift check's linear dependency sort gives SQLAlchemy's ``sorted_tables`` order."""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.worker.checks.drift.order import dependency_order


def _schema(edges: list[tuple[int, int]], n: int, *, use_alter: frozenset[int] = frozenset(),
            outside: bool = False) -> sa.MetaData:
    """Tables t0..t{n-1}; (child, parent) edges become foreign keys (several per table)."""
    md = sa.MetaData()
    other = sa.MetaData()
    if outside:
        sa.Table("elsewhere", other, sa.Column("id", sa.Integer, primary_key=True))
    for i in range(n):
        cols = [sa.Column("id", sa.Integer, primary_key=True)]
        for j, (_child, parent) in enumerate(e for e in edges if e[0] == i):
            cols.append(sa.Column(f"p{j}", sa.Integer,
                                  sa.ForeignKey(f"t{parent}.id", use_alter=j in use_alter)))
        if outside and i == 0:
            cols.append(sa.Column("x", sa.Integer, sa.ForeignKey(other.tables["elsewhere"].c.id)))
        # "t10" sorts before "t2": key order inside a level differs from creation order
        sa.Table(f"t{i}", md, *cols)
    return md


@st.composite
def dags(draw):
    n = draw(st.integers(1, 25))
    order = draw(st.permutations(range(n)))  # a random topological order of the nodes
    edges = set()
    for _ in range(draw(st.integers(0, 3 * n))):
        a, b = sorted(draw(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))))
        if a != b:
            edges.add((order[b], order[a]))  # a later node refers to an earlier one
    return n, sorted(edges)


@settings(max_examples=300, deadline=None)
@given(dags())
def test_same_order_as_sqlalchemy(dag):
    n, edges = dag
    md = _schema(edges, n)
    assert [t.key for t in dependency_order(md.tables.values())] == \
        [t.key for t in md.sorted_tables]


def test_self_reference_use_alter_and_tables_outside():
    md = _schema([(1, 0), (2, 1), (2, 2), (0, 2)], 3, use_alter={0}, outside=True)
    got = dependency_order(md.tables.values())
    assert got is not None
    assert [t.key for t in got] == [t.key for t in md.sorted_tables]


def test_a_cycle_is_left_to_sqlalchemy():
    md = _schema([(0, 1), (1, 0)], 2)
    assert dependency_order(md.tables.values()) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)  # SQLAlchemy breaks it, warning
        assert len(md.sorted_tables) == 2


def test_an_unresolvable_foreign_key_is_left_to_sqlalchemy():
    md = sa.MetaData()
    sa.Table("a", md, sa.Column("id", sa.Integer, sa.ForeignKey("nowhere.id")))
    assert dependency_order(md.tables.values()) is None


def test_a_long_chain():
    """The benchmark's shape (each table refers to the previous one): one level each."""
    md = _schema([(i, i - 1) for i in range(1, 300)], 300)
    assert [t.key for t in dependency_order(md.tables.values())] == \
        [t.key for t in md.sorted_tables]

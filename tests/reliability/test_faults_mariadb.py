"""The fault matrix's MariaDB rows, against a real daemon and a real MariaDB server
(tests/support/mariadb.py): stopped while ready, a wrong password, the database dropped,
a table locked. Recorded like the PostgreSQL rows (``matrix.record``)."""

from __future__ import annotations

import itertools
import os

import pytest

from tests.reliability.conftest import FAST
from tests.reliability.matrix import record
from tests.reliability.test_faults import msum

pytestmark = [pytest.mark.reliability, pytest.mark.mariadb]
USER, PASSWORD = "relapp", "Rel-Maria-pw-3"
SCHEMA = "CREATE TABLE items (id integer PRIMARY KEY AUTO_INCREMENT, name varchar(100))"
_names = itertools.count()


@pytest.fixture
def maria(mariadb_server):
    mariadb_server.create_user(USER, PASSWORD)
    if mariadb_server.proc is None:  # a test stopped it
        mariadb_server.start()
    yield mariadb_server
    if mariadb_server.proc is None:
        mariadb_server.start()


def _database(maria) -> str:
    name = f"rel{os.getpid()}_{next(_names)}"
    maria.create_database(name, owner=USER)
    maria.sql(SCHEMA, name)
    return name


def _daemon(daemon, app, maria, name, password=PASSWORD):
    return daemon("--app-path", str(app), "--models", "app.models", "--database-url",
                  maria.url(name, USER, password), *FAST)


def test_mariadb_stopped_while_ready(daemon, maria, items_app):
    d = _daemon(daemon, items_app, maria, _database(maria))
    d.wait_ready()
    before = d.metrics()["sidecar_ready"]
    maria.stop()
    d.wait_code("DB201")
    obs = {"readiness": d.readyz(), "code": "DB201", "hint": d.finding("DB201")["hint"],
           "metric": f'sidecar_ready {before:g}→{d.metrics()["sidecar_ready"]:g}'}
    d.assert_healthy_process()
    maria.start()
    back = d.wait_ready()
    d.stop_and_check()
    record("mariadb-goes-down", recovery_s=back, **obs)


def test_mariadb_wrong_password(daemon, maria, items_app):
    d = _daemon(daemon, items_app, maria, _database(maria), password="not-the-password")
    d.wait_code("DB204")
    m = d.metrics()
    obs = {"readiness": d.readyz(), "code": "DB204", "hint": d.finding("DB204")["hint"],
           "metric": f'sidecar_findings{{code="DB204"}} '
                     f'{msum(m, "sidecar_findings", code="DB204"):g}'}
    assert "not-the-password" not in str(d.report())
    d.assert_healthy_process()
    d.stop_and_check()
    record("mariadb-wrong-password", **obs)


def test_mariadb_database_dropped_while_ready(daemon, maria, items_app):
    name = _database(maria)
    d = _daemon(daemon, items_app, maria, name)
    d.wait_ready()
    m = d.metrics()
    maria.sql(f"DROP DATABASE `{name}`")
    d.wait_code("DB205")
    m2 = d.metrics()
    obs = {"readiness": d.readyz(), "code": "DB205", "hint": d.finding("DB205")["hint"],
           "metric": f'sidecar_ready {m["sidecar_ready"]:g}→{m2["sidecar_ready"]:g}; '
                     f'sidecar_findings{{code="DB205"}} '
                     f'{msum(m2, "sidecar_findings", code="DB205"):g}'}
    d.assert_healthy_process()
    maria.create_database(name, owner=USER)
    maria.sql(SCHEMA, name)
    back = d.wait_ready()
    d.stop_and_check()
    record("mariadb-db-dropped", recovery_s=back, **obs)


def test_mariadb_locked_table_does_not_block(daemon, maria, items_app):
    import pymysql

    name = _database(maria)
    holder = pymysql.connect(unix_socket=str(maria.socket), user="root", database=name)
    try:
        holder.cursor().execute("LOCK TABLES items WRITE")
        d = _daemon(daemon, items_app, maria, name)
        d.wait_ready()
        cycles = d.metrics()["sidecar_cycles_total"]
        d.wait_for(lambda: d.metrics()["sidecar_cycles_total"] >= cycles + 3, 60,
                   "three more cycles under the lock")
        m = d.metrics()
        obs = {"readiness": d.readyz(), "code": "—", "hint": None,
               "metric": f'sidecar_worker_runs_total{{outcome="timeout"}} '
                         f'{msum(m, "sidecar_worker_runs_total", outcome="timeout"):g}'}
        d.assert_healthy_process()
        d.stop_and_check()
    finally:
        holder.cursor().execute("UNLOCK TABLES")
        holder.close()
    record("mariadb-locked-table", **obs)

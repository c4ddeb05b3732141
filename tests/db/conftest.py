"""Fixtures for the database checks: one throwaway PostgreSQL 15 cluster per session, a
fresh database per test, SQLite files, and a ``Context`` built in-process.

Every test that emits anything asserts the password never appears (``assert_secret_free``).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sidecar.worker.context import Context
from tests.db.db_helpers import APP_PASSWORD, APP_USER
from tests.support import pgcluster

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg(pg_cluster):
    """The suite's one cluster (tests/conftest.py), with this package's app role."""
    pg_cluster.create_role(APP_USER, APP_PASSWORD)
    return pg_cluster


class PgDb:
    """One database owned by the app role; ``sql`` runs as that role."""

    def __init__(self, cluster: pgcluster.PgCluster, name: str) -> None:
        self.cluster = cluster
        self.name = name

    def sql(self, text: str) -> str:
        return self.cluster.psql("SET ROLE app;\n" + textwrap.dedent(text), self.name)

    def url(self, driver: str | None = "psycopg2", password: str | None = APP_PASSWORD,
            **kw: Any) -> str:
        return self.cluster.url(self.name, APP_USER, password, driver=driver, **kw)


@pytest.fixture
def pgdb(pg) -> Callable[[str], PgDb]:
    def make(schema_sql: str = "") -> PgDb:
        name = f"t{os.getpid()}_{next(_counter)}"
        pg.create_database(name, owner=APP_USER)
        db = PgDb(pg, name)
        if schema_sql:
            db.sql(schema_sql)
        return db

    return make


@pytest.fixture
def sqlite_file(tmp_path) -> Callable[[str], Path]:
    def make(schema_sql: str, name: str = "app.db") -> Path:
        path = tmp_path / name
        conn = sqlite3.connect(str(path))
        conn.executescript(textwrap.dedent(schema_sql))
        conn.commit()
        conn.close()
        return path

    return make


class Run:
    """A Context for one worker run, recording phases; runs its cleanups (the engine's) at
    the end."""

    def __init__(self, app_path: str, config: dict[str, Any], metadata: Any = None) -> None:
        self.phases: list[str] = []
        cfg = {"app_path": app_path, **config}
        self.ctx = Context(cfg, self.phases.append)
        if metadata is not None:
            self.ctx.models_ok = True
            self.ctx.metadatas = metadata if isinstance(metadata, list) else [metadata]

    def close(self) -> None:
        self.ctx.cleanup()


@pytest.fixture
def make_run(tmp_path):
    runs: list[Run] = []

    def make(url: str | None, metadata: Any = None, app_path: str | None = None,
             **config: Any) -> Run:
        run = Run(str(app_path or tmp_path), {"database_url": url, **config}, metadata)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.close()

"""Fixtures for the real-application tests: the suite's PostgreSQL cluster with a role of
their own, and one fresh database per test module."""

from __future__ import annotations

import itertools
import os

import pytest

from tests.realapps.harness import ROLE, ROLE_PASSWORD, AppDatabase

_counter = itertools.count()


@pytest.fixture(scope="session")
def realapps_pg(pg_cluster):
    """The suite's one cluster (tests/conftest.py) with the role the apps connect as (created
    once, whichever package of the suite asked first)."""
    pg_cluster.psql(
        f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN PASSWORD '{ROLE_PASSWORD}'; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
    return pg_cluster


@pytest.fixture(scope="module")
def app_database(realapps_pg, request) -> AppDatabase:
    """A new, empty database owned by the apps' role, for this test module only."""
    app = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    name = f"ra_{app}_{os.getpid()}_{next(_counter)}"
    realapps_pg.create_database(name, owner=ROLE)
    return AppDatabase(realapps_pg, name)

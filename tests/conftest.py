"""Test-suite wide fixtures: strict findings, interpreters with other SQLAlchemy versions
(made on demand), the PostgreSQL cluster."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.findings.model import STRICT_ENV
from tests.support.helpers import ROOT

VENVS = Path(os.environ.get("SIDECAR_TEST_VENVS", ROOT / ".test-venvs"))

# name -> requirements. The worker must run under the app's interpreter with the app's
# SQLAlchemy: 1.4 (raises for 'metadata', accepts 'registry'), 2.0 (raises), 2.1 (warns).
SQLA_ENVS = {
    "sqla14": ["SQLAlchemy==1.4.54", "Flask-SQLAlchemy==3.0.5", "Flask<3.1"],
    "sqla20": ["SQLAlchemy==2.0.*", "Flask-SQLAlchemy==3.1.1"],
    "py38": ["SQLAlchemy==1.4.54"],  # an older app: Python 3.8, no Alembic of its own
    # a large old app: SQLAlchemy 1.3 (declarative_base in sqlalchemy.ext.declarative, no
    # exec_driver_sql, no registry) with the last Alembic that supports it, and a driver.
    # Werkzeug<3: Flask 2.2 predates Werkzeug 3's removals.
    "sqla13": ["SQLAlchemy==1.3.24", "Flask-SQLAlchemy==2.5.1", "Flask==2.2.5",
               "Werkzeug==2.2.3", "alembic==1.7.7", "psycopg2-binary==2.9.10"],
    # the usual interpreter of such an app: Python 3.8 (the worker's oldest), with an
    # Alembic from before include_name (1.5)
    "sqla13_py38": ["SQLAlchemy==1.3.24", "alembic==1.4.3"],
    # the same without an Alembic of its own: sidecar's fallback Alembic needs 1.4+
    "sqla13_bare": ["SQLAlchemy==1.3.24"],
    # an async app's environment: its async drivers and no sync PostgreSQL driver
    # (tests/db/test_async_drivers.py)
    "async_only": ["SQLAlchemy[asyncio]==2.0.*", "asyncpg==0.32.0", "aiosqlite==0.22.1"],
    # below the supported range: no check runs (SIDE011)
    "sqla12": ["SQLAlchemy==1.2.19"],
}
# interpreters other than the suite's own, where a machine of this kind has them (pyenv)
ENV_PYTHONS = {"py38": "/root/.pyenv/versions/3.8.18/bin/python3.8",
               "sqla13_py38": "/root/.pyenv/versions/3.8.18/bin/python3.8"}


@pytest.fixture(scope="session", autouse=True)
def strict_findings():
    """An unknown key in a raw finding fails the suite (in production it is kept under
    ``facts``): in this process and in every CLI, daemon and worker run the tests start."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STRICT_ENV, "1")
        yield


def _make_venv(name: str) -> str:
    target = VENVS / name
    python = target / "bin" / "python"
    stamp = target / ".requirements"
    wanted = "\n".join(SQLA_ENVS[name])
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return str(python)
    base = ENV_PYTHONS.get(name, sys.executable)
    if not Path(base).exists():
        pytest.skip(f"{base} is not installed on this machine")
    subprocess.run([base, "-m", "venv", "--clear", str(target)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *SQLA_ENVS[name]], check=True)
    stamp.write_text(wanted)
    return str(python)


@pytest.fixture(scope="session")
def sqla14_python() -> str:
    return _make_venv("sqla14")


@pytest.fixture(scope="session")
def sqla20_python() -> str:
    return _make_venv("sqla20")


@pytest.fixture(scope="session")
def py38_python() -> str:
    return _make_venv("py38")


@pytest.fixture(scope="session")
def sqla13_python() -> str:
    return _make_venv("sqla13")


@pytest.fixture(scope="session")
def sqla13_py38_python() -> str:
    return _make_venv("sqla13_py38")


@pytest.fixture(scope="session")
def sqla13_bare_python() -> str:
    return _make_venv("sqla13_bare")


@pytest.fixture(scope="session")
def sqla12_python() -> str:
    return _make_venv("sqla12")


@pytest.fixture(scope="session")
def pg_cluster():
    """The suite's one throwaway PostgreSQL cluster; each package adds its own roles and
    databases, and a test that stops or freezes it starts it again."""
    from tests.support import pgcluster

    if not pgcluster.available():
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL binaries missing in CI (scripts/test.sh installs them)")
        pytest.skip("PostgreSQL 15 binaries not found (set PG_BIN)")
    cluster = pgcluster.PgCluster().init().start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def mariadb_server():
    """The suite's one throwaway MariaDB server (tests/support/mariadb.py), if installed."""
    from tests.support import mariadb

    if not mariadb.available():
        if os.environ.get("CI") == "true":
            pytest.fail("MariaDB server missing in CI (scripts/test.sh installs it)")
        pytest.skip("mariadbd not found (apt-get install mariadb-server)")
    server = mariadb.MariaDb().init().start()
    yield server
    server.destroy()

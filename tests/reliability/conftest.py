"""Fixtures for the reliability suite: a throwaway PostgreSQL the tests stop, start, lock and
freeze; a small app whose schema matches a fresh database; daemons tagged so that any process
they leave behind is found."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.reliability import procs
from tests.support import pgcluster
from tests.support.daemon import Daemon

APP_USER = "relapp"
APP_PASSWORD = "rel-Pw-4e1b"
_counter = itertools.count()

MODELS = '''
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class Item(Base):
    __tablename__ = "items"

    id = Column(Integer, primary_key=True)
    name = Column(String(100))
'''
SCHEMA = "CREATE TABLE items (id serial PRIMARY KEY, name varchar(100))"
# Fast cycles, short limits: every fault shows within a second or two.
FAST = ("--interval", "0.5", "--retry-min", "0.2", "--retry-max", "1",
        "--refresh-min-interval", "0.1", "--timeout", "8", "--connect-timeout", "2",
        "--statement-timeout-ms", "1000", "--lock-timeout-ms", "500", "--watch", "off")


@pytest.fixture(scope="session")
def pg(pg_cluster) -> pgcluster.PgCluster:
    """The suite's one cluster (tests/conftest.py), with this package's app role; the fault
    tests stop, freeze and lock it, and ``running_pg`` puts it back."""
    pg_cluster.create_role(APP_USER, APP_PASSWORD)
    return pg_cluster


@pytest.fixture
def running_pg(pg) -> Iterator[pgcluster.PgCluster]:
    """The cluster, running again after the test whatever the test did to it."""
    yield pg
    postmaster = pg.data / "postmaster.pid"
    if postmaster.exists():  # a test that froze it must not leave it stopped
        import signal

        pid = int(postmaster.read_text().split()[0])
        with _suppress():
            os.kill(pid, signal.SIGCONT)
    if not pg.is_running():
        pg.start()


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return True


def new_database(cluster: pgcluster.PgCluster, schema: str = SCHEMA) -> str:
    name = f"rel{os.getpid()}_{next(_counter)}"
    cluster.create_database(name, owner=APP_USER)
    if schema:
        cluster.psql(f"SET ROLE {APP_USER};\n{schema}", name)
    return name


@pytest.fixture
def app_db(running_pg) -> str:
    """A fresh database matching ``MODELS``; its name."""
    return new_database(running_pg)


def app_url(cluster: pgcluster.PgCluster, dbname: str, password: str = APP_PASSWORD) -> str:
    return cluster.url(dbname, APP_USER, password)


@pytest.fixture
def items_app(tmp_path) -> Path:
    app = tmp_path / "items_app"
    (app / "app").mkdir(parents=True)
    (app / "app" / "__init__.py").write_text("")
    (app / "app" / "models.py").write_text(textwrap.dedent(MODELS).lstrip())
    return app


class RelDaemon(Daemon):
    """A real ``sidecar serve`` whose processes (and their children) carry a unique tag."""

    def __init__(self, *args: str, env: dict[str, str] | None = None,
                 preexec: Callable[[], None] | None = None) -> None:
        self.tag = uuid.uuid4().hex
        super().__init__(*args, env={**(env or {}), procs.TAG_VAR: self.tag}, preexec=preexec)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def metrics(self) -> dict[str, float]:
        """``name{label="v",...}`` -> value, labels sorted."""
        status, body = self.get("/metrics")
        assert status == 200, body
        out: dict[str, float] = {}
        for family in text_string_to_metric_families(body):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
        return out

    def report(self) -> dict:
        status, body = self.get("/diagnose?format=json")
        assert status == 200, body
        return json.loads(body)

    def findings(self) -> list[dict]:
        status, body = self.get("/diagnose?format=json")
        if status == 503 and '"pending"' in body:
            return []  # the first cycle has not finished
        assert status == 200, body
        return [f for c in json.loads(body)["checks"] for f in c["findings"]]

    def finding(self, code: str) -> dict | None:
        return next((f for f in self.findings() if f["code"] == code), None)

    def readyz(self) -> int:
        return self.get("/readyz")[0]

    def wait_code(self, code: str, timeout: float = 60) -> float:
        return self.wait_for(lambda: self.finding(code) is not None, timeout, f"finding {code}")

    def wait_ready(self, ready: bool = True, timeout: float = 60) -> float:
        want = 200 if ready else 503
        return self.wait_for(lambda: self.readyz() == want, timeout,
                             "ready" if ready else "not ready")

    def assert_healthy_process(self) -> None:
        assert self.proc.poll() is None, "the daemon died:\n" + "\n".join(self.log)
        assert self.get("/livez") == (200, "ok\n")
        assert procs.zombies(self.pid) == [], "zombie children"
        assert procs.orphans(self.tag, self.pid) == [], "orphaned processes"

    def stop_and_check(self, timeout: float = 30) -> float:
        """SIGTERM; exit status 0; nothing carrying the tag survives (no orphan)."""
        took = self.stop(timeout=timeout)
        assert self.proc.returncode == 0, f"exit {self.proc.returncode}:\n" + "\n".join(
            self.log)
        left = procs.wait_no_tagged(self.tag)
        assert left == [], f"orphans: {left}"
        return took


@pytest.fixture
def daemon() -> Iterator[Callable[..., RelDaemon]]:
    started: list[RelDaemon] = []

    def make(*args: str, env: dict[str, str] | None = None,
             preexec: Callable[[], None] | None = None) -> RelDaemon:
        d = RelDaemon(*args, env=env, preexec=preexec)
        started.append(d)
        return d

    yield make
    for d in started:  # a failed test still leaves nothing running
        if d.proc.poll() is None:
            d.stop()


def copy_fixture(name: str, target: Path) -> Path:
    from tests.support.helpers import FIXTURES

    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


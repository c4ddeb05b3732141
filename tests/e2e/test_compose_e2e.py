"""The product where users meet it: `docker compose up` with compose.override.yml, for real.

A throwaway Docker engine (tests/e2e/engine.py) builds the example backend and the sidecar
(Dockerfile.sidecar, layered on the backend's image) and runs examples/compose/compose.yml +
compose.override.yml, with tests/e2e/compose.e2e.yml on top (host loopback networking and no
build network: the engine has no bridge and no NAT). Three databases, three outcomes:

- good models, migrated to head: every service healthy, `jobs` starts, /metrics and
  /diagnose answer from the host, and the worker ran with the backend's SQLAlchemy;
- the incident's reserved `metadata` attribute: backend unhealthy, `jobs` never started, the
  health log names SQLA101 at server/models_sql.py:98 and /diagnose shows the fix;
- good models on a database left at 0001: the unapplied rename, with its `RENAME COLUMN`.

Outside CI it skips when no engine can start (not root, tools missing); under CI=true that is
a failure. Everything it started is removed in the fixture's finalizer, and checked.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.engine import Engine, EngineUnavailable
from tests.support.helpers import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WHEELS = ROOT / "build" / "wheels"
COMPOSE_FILES = ("examples/compose/compose.yml", "compose.override.yml",
                 "tests/e2e/compose.e2e.yml")
BACKEND_LINE = "server/models_sql.py:98"
RENAME_SQL = "ALTER TABLE security_events RENAME COLUMN metadata TO event_metadata"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, accept: str = "text/plain") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _pip_wheel(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q",
                           "--disable-pip-version-check", "-w", str(WHEELS), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"pip wheel {' '.join(args)} failed:\n{proc.stderr[-3000:]}")


class Stack:
    """The example project under one compose project name, on the test's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.project = f"sidecare2e{os.getpid()}"
        self.ports = {"DB_PORT": _free_port(), "BACKEND_PORT": _free_port(),
                      "SIDECAR_PORT": _free_port()}
        self.base_env = {
            "COMPOSE_PROJECT_NAME": self.project,
            "PIP_NO_INDEX": "1",
            "DB_HOST": "127.0.0.1",
            "SIDECAR_HOST": "127.0.0.1",
            "SIDECAR_HEALTH_INTERVAL": "1s",
            "SIDECAR_RETRY_MAX": "2",
            **{k: str(v) for k, v in self.ports.items()},
        }
        self.env: dict[str, str] = dict(self.base_env)

    @property
    def sidecar_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['SIDECAR_PORT']}"

    def prepare(self) -> None:
        # wheels for hermetic image builds: the sidecar's (its own SQLAlchemy) and the
        # backend's pins (SQLAlchemy 2.0) side by side; each image picks what it asks for
        WHEELS.mkdir(parents=True, exist_ok=True)
        for old in WHEELS.glob("sqla_sidecar-*.whl"):
            old.unlink()
        _pip_wheel(".", "setuptools>=68")
        _pip_wheel("-r", "examples/compose/backend/requirements.txt")
        base = self.engine.import_base()
        postgres = self.engine.build_postgres()
        self.base_env.update(BACKEND_BASE_IMAGE=base, POSTGRES_IMAGE=postgres)

    def compose(self, *args: str, check: bool = True, timeout: float = 300
                ) -> subprocess.CompletedProcess:
        files = [arg for f in COMPOSE_FILES for arg in ("-f", f)]
        return self.engine.run("docker", "compose", *files, "-p", self.project, *args,
                               env=self.env, check=check, timeout=timeout)

    def up(self, variant: str, migrate_to: str = "head", start_period: str = "60s",
           wait_s: int = 90) -> subprocess.CompletedProcess:
        self.env = {**self.base_env, "BACKEND_VARIANT": variant, "MIGRATE_TO": migrate_to,
                    "SIDECAR_START_PERIOD": start_period}
        self.compose("build", timeout=300)
        return self.compose("up", "-d", "--wait", "--wait-timeout", str(wait_s), check=False,
                            timeout=wait_s + 60)

    def down(self) -> None:
        self.compose("down", "-t", "1", "-v", "--remove-orphans", check=False, timeout=120)

    def container(self, service: str) -> dict:
        ids = self.compose("ps", "-a", "-q", service).stdout.split()
        assert ids, f"no container for {service}"
        return json.loads(self.engine.docker("inspect", ids[0]).stdout)[0]

    def health_log(self, service: str) -> str:
        health = self.container(service)["State"].get("Health") or {}
        return "\n".join(entry.get("Output", "") for entry in health.get("Log") or [])

    def health_log_with(self, service: str, *words: str, timeout: float = 180) -> str:
        """The health log once a probe's output holds ``words``: the container turns unhealthy
        after start_period + 3 probes, which on a loaded machine can come before the first
        cycle ends ("first cycle pending"); the probes go on every 5 s. A deadline against
        hangs, not a timing bound."""
        deadline = time.monotonic() + timeout
        log = self.health_log(service)
        while not all(word in log for word in words) and time.monotonic() < deadline:
            time.sleep(2)
            log = self.health_log(service)
        return log


@pytest.fixture(scope="module")
def stack():
    started = time.monotonic()
    engine = Engine()
    try:
        engine.start()
    except EngineUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but no Docker engine could be started: {exc}")
        pytest.skip(f"no Docker engine can be started here: {exc}")
    state = engine.state
    assert state is not None
    s = Stack(engine)
    try:
        s.prepare()
        yield s
    finally:
        s.down()
        engine.stop()
        leftovers = engine.leftovers(state)
        assert not leftovers, f"the e2e test left behind: {leftovers}"
        elapsed = time.monotonic() - started
        assert elapsed < 600, f"the e2e test took {elapsed:.0f}s (budget 600s)"


def test_good_variant_is_healthy_and_dependents_start(stack: Stack) -> None:
    try:
        up = stack.up("good")
        assert up.returncode == 0, f"compose up --wait failed:\n{up.stdout}\n{up.stderr}"
        for service in ("db", "backend", "sidecar"):
            assert stack.container(service)["State"]["Health"]["Status"] == "healthy", service
        jobs = stack.container("jobs")["State"]
        assert jobs["Status"] == "running"
        assert "jobs: started" in stack.compose("logs", "jobs").stdout

        status, body = _get(f"{stack.sidecar_url}/metrics")
        assert status == 200
        assert "sidecar_ready 1.0" in body
        assert 'sidecar_check_status{check="schema_drift",status="pass"} 1.0' in body
        status, body = _get(f"{stack.sidecar_url}/diagnose")
        assert status == 200 and "sidecar: ready" in body
        # the worker imported the models with the backend's packages, not the sidecar's
        status, body = _get(f"{stack.sidecar_url}/diagnose?format=json", "application/json")
        report = json.loads(body)
        assert report["versions"]["sqlalchemy"].startswith("2.0."), report["versions"]

        # the image: non-root, no compiler, probe-based HEALTHCHECK, explicit STOPSIGNAL
        image = stack.container("sidecar")["Image"]
        config = json.loads(stack.engine.docker("image", "inspect", image).stdout)[0]["Config"]
        assert config["User"] not in ("", "0", "root", "0:0")
        assert config["Healthcheck"]["Test"][-1] == "probe"
        assert config["StopSignal"] == "SIGTERM"
        probe = stack.engine.docker("run", "--rm", "--network", "none", "--entrypoint",
                                    "/bin/sh", image, "-c",
                                    "id -u; command -v gcc cc c++ make || true")
        assert probe.stdout.split() == [config["User"].split(":")[0]], probe.stdout
    finally:
        stack.down()


def test_reserved_metadata_keeps_backend_unhealthy(stack: Stack) -> None:
    try:
        up = stack.up("broken_reserved", start_period="3s", wait_s=60)
        assert up.returncode != 0, "compose up --wait succeeded with the incident's models"
        assert "unhealthy" in up.stderr + up.stdout
        backend = stack.container("backend")["State"]
        assert backend["Health"]["Status"] == "unhealthy"
        # the dependent service was created but never started
        jobs = stack.container("jobs")["State"]
        assert jobs["Status"] == "created" and jobs["StartedAt"].startswith("0001-")

        log = stack.health_log_with("backend", "SQLA101", BACKEND_LINE)
        assert "SQLA101" in log and BACKEND_LINE in log, log
        # `sidecar probe`: the fix comes along
        sidecar_log = stack.health_log_with("sidecar", "SQLA101", "event_metadata")
        assert "SQLA101" in sidecar_log and "event_metadata" in sidecar_log, sidecar_log

        status, body = _get(f"{stack.sidecar_url}/diagnose")
        assert status == 200
        assert "SQLA101" in body and BACKEND_LINE in body
        # conditioned on the database: a fresh one has no 'metadata' column yet, so the
        # column is named after the attribute (with the column, it keeps "metadata")
        assert "event_metadata = db.Column(" in body
        status, _ = _get(f"{stack.sidecar_url}/readyz")
        assert status == 503
    finally:
        stack.down()


def test_unapplied_rename_is_reported_with_its_sql(stack: Stack) -> None:
    try:
        up = stack.up("good", migrate_to="0001", start_period="3s", wait_s=60)
        assert up.returncode != 0
        assert stack.container("jobs")["State"]["Status"] == "created"
        assert "DRIFT414" in stack.health_log_with("backend", "DRIFT414")

        status, body = _get(f"{stack.sidecar_url}/diagnose?format=json", "application/json")
        assert status == 200
        findings = [f for check in json.loads(body)["checks"] for f in check["findings"]]
        codes = {f["code"] for f in findings}
        assert {"MIG301", "DRIFT414"} <= codes, codes
        rename = next(f for f in findings if f["code"] == "DRIFT414")
        assert rename["fix_sql"] == RENAME_SQL
        status, text = _get(f"{stack.sidecar_url}/diagnose")
        assert status == 200 and RENAME_SQL in text
    finally:
        stack.down()

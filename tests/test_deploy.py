"""Static checks of what ships for deployment: Dockerfiles, compose, Kubernetes, Prometheus,
Grafana, and the configuration reference. Fast (no engine); the tools come from
scripts/install-e2e.sh. Outside CI a missing tool skips; under CI=true it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sidecar.cli.main import build_parser
from sidecar.daemon.metrics import exposition
from sidecar.settings import OPTIONS
from tests.support.helpers import ROOT

BIN = Path(sys.executable).parent
DOCKERFILES = ("Dockerfile.sidecar", "examples/compose/backend/Dockerfile",
               "tests/e2e/postgres.Dockerfile")


def _tool(name: str) -> str:
    found = shutil.which(name, path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} missing in CI (scripts/install-e2e.sh installs it)")
        pytest.skip(f"{name} not installed (bash scripts/install-e2e.sh)")
    return found


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_is_clean(dockerfile: str) -> None:
    proc = _run(_tool("hadolint"), "--failure-threshold", "info", dockerfile)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sidecar_dockerfile_shape() -> None:
    text = (ROOT / "Dockerfile.sidecar").read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.\d+-slim", text, re.M)
    assert len(re.findall(r"^FROM ", text, re.M)) >= 2  # multi-stage
    assert re.search(r"^USER (?!0\b|root\b)\S+", text.split("FROM ")[-1], re.M)  # final: non-root
    assert re.search(r'^HEALTHCHECK .*\n?.*CMD \[".*sidecar", "probe"\]', text, re.M)
    assert re.search(r"^STOPSIGNAL SIGTERM", text, re.M)
    final = text.split("\nFROM ")[-1]
    assert not re.search(r"\b(gcc|build-essential|g\+\+|clang)\b", final)


def _compose() -> list[str]:
    from tests.e2e.engine import _compose_binary

    binary = _compose_binary()
    return [binary] if binary else [_tool("docker-compose")]


@pytest.mark.parametrize("variant", ["good", "broken_reserved"])
def test_compose_config_merges_the_override(variant: str) -> None:
    proc = _run(*_compose(), "-f", "examples/compose/compose.yml", "-f",
                "compose.override.yml", "config", "--format", "json",
                env={"BACKEND_VARIANT": variant, "COMPOSE_PROJECT_NAME": "sidecar-example"})
    assert proc.returncode == 0, proc.stderr
    config = json.loads(proc.stdout)
    services = config["services"]
    assert set(services) == {"db", "backend", "jobs", "sidecar"}
    assert services["backend"]["build"]["args"]["VARIANT"] == variant
    sidecar = services["sidecar"]
    # the sidecar is built on the backend's image, after it
    assert sidecar["build"]["args"]["BASE_IMAGE"] == "sidecar-example-backend"
    assert Path(sidecar["build"]["context"]) == ROOT
    assert "backend" in sidecar["depends_on"]
    assert sidecar["environment"]["SIDECAR_MODELS"] == "server.models_sql,server.models_plain"
    assert sidecar["environment"]["SIDECAR_DATABASE_URL"] == \
        "postgresql://app:app@db:5432/app" == services["backend"]["environment"]["DATABASE_URL"]
    health = sidecar["healthcheck"]
    assert health["test"][-1] == "probe"
    assert {"start_period", "start_interval", "interval", "timeout", "retries"} <= set(health)
    # the backend's health is the sidecar's readiness; jobs waits for it
    backend_health = services["backend"]["healthcheck"]
    assert "http://sidecar:8787/readyz" in " ".join(backend_health["test"])
    assert services["jobs"]["depends_on"]["backend"]["condition"] == "service_healthy"


def test_compose_override_comments_every_choice() -> None:
    """Each setting in the override carries a comment line saying why (the brief's rule)."""
    lines = (ROOT / "compose.override.yml").read_text().splitlines()
    uncommented = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith("- "):
            continue
        if re.match(r"^ {4}\w[\w-]*:", line) is None:  # only service-level keys
            continue
        key = stripped.split(":")[0]
        if key in ("build", "environment", "healthcheck", "depends_on", "ports", "tmpfs"):
            continue  # their children are commented one by one
        if not lines[i - 1].strip().startswith("#"):
            uncommented.append(f"{i + 1}: {stripped}")
    assert not uncommented, uncommented


def test_kubernetes_manifests_validate() -> None:
    tool = _tool("kubernetes-validate")
    files = sorted(str(p) for p in (ROOT / "deploy" / "kubernetes").glob("*.yaml"))
    assert files
    # native sidecars (initContainers with restartPolicy: Always): beta 1.29, GA 1.33
    for version in ("1.29.0", "1.33.0", "1.37.0"):
        proc = _run(tool, "--strict", "-k", version, *files)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (ROOT / "deploy" / "kubernetes" / "backend.yaml").read_text()
    for needle in ("restartPolicy: Always", "startupProbe:", "path: /readyz", "path: /livez",
                   'prometheus.io/scrape: "true"'):
        assert needle in text, needle
    assert "kind: ServiceMonitor" in (ROOT / "deploy/kubernetes/servicemonitor.yaml").read_text()


def test_promtool_checks_and_unit_tests_the_alerts() -> None:
    tool = _tool("promtool")
    proc = _run(tool, "check", "rules", "deploy/prometheus/alerts.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = _run(tool, "test", "rules", "deploy/prometheus/tests/alerts_test.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _known_metrics() -> set[str]:
    from sidecar.daemon.state import DaemonState, ReadinessPolicy

    state = DaemonState(policy=ReadinessPolicy(checks=(), severity="error", fail_after=1,
                                               pass_after=1), history_size=1)
    text = exposition(state).decode()
    # sample names (with _total, _info) and family names (families may have no sample yet)
    return set(re.findall(r"^(sidecar_\w+)", text, re.M)) | set(
        re.findall(r"^# TYPE (sidecar_\w+)", text, re.M))


def test_alerts_and_dashboard_use_real_metrics() -> None:
    known = _known_metrics()
    for path in ("deploy/prometheus/alerts.yml", "deploy/grafana/sidecar-dashboard.json"):
        used = set(re.findall(r"\bsidecar_\w+", (ROOT / path).read_text()))
        assert used, path
        assert used <= known, f"{path}: unknown metrics {sorted(used - known)}"
    dashboard = json.loads((ROOT / "deploy/grafana/sidecar-dashboard.json").read_text())
    assert dashboard["panels"] and all(p["targets"] for p in dashboard["panels"])


def test_configuration_reference_is_generated_and_current() -> None:
    proc = _run(sys.executable, "scripts/gen_config_docs.py", "--check")
    assert proc.returncode == 0, proc.stderr


def test_configuration_reference_lists_every_cli_option() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text()
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, command in sub.choices.items():
        for action in command._actions:
            for flag in action.option_strings:
                if flag in ("-h", "--help", "--once"):
                    continue
                assert f"`{flag}" in page, f"sidecar {name} {flag} is not in docs"
    for opt in OPTIONS:
        for var in opt.env:
            assert f"`{var}`" in page, var
    for var in re.findall(r"SIDECAR_[A-Z_]+", (ROOT / "sidecar" / "cli" / "main.py").read_text()):
        assert f"`{var}`" in page, var


def test_docs_exist_and_readme_links_them() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in ("quickstart", "configuration", "findings", "runbook", "metrics",
                 "architecture"):
        assert (ROOT / "docs" / f"{page}.md").exists(), page
        assert f"docs/{page}.md" in readme, f"README does not link docs/{page}.md"


def test_runbook_has_a_section_per_alert() -> None:
    runbook = (ROOT / "docs" / "runbook.md").read_text().lower()
    for alert in re.findall(r"alert: (\w+)", (ROOT / "deploy/prometheus/alerts.yml").read_text()):
        assert f"## {alert.lower()}" in runbook or f"### {alert.lower()}" in runbook, alert


def test_metrics_reference_lists_every_metric() -> None:
    page = (ROOT / "docs" / "metrics.md").read_text()
    exposed = {m for m in _known_metrics() if not m.endswith("_created")}
    # a counter's family name without _total is the same metric as its sample name
    missing = sorted(m for m in exposed if f"`{m}`" not in page and f"`{m}_total`" not in page
                     and f"`{m}_info`" not in page)
    assert not missing, f"docs/metrics.md does not list {missing}"


def test_compose_mariadb_variant_merges_last() -> None:
    """examples/compose/compose.mariadb.yml after the override: MariaDB replaces PostgreSQL
    (no PG variable left, its own data folder and health), and the backend and the sidecar
    get the same mysql+pymysql:// URL, whose driver the backend's image installs."""
    proc = _run(*_compose(), "-f", "examples/compose/compose.yml", "-f",
                "compose.override.yml", "-f", "examples/compose/compose.mariadb.yml",
                "config", "--format", "json", env={"COMPOSE_PROJECT_NAME": "sidecar-example"})
    assert proc.returncode == 0, proc.stderr
    services = json.loads(proc.stdout)["services"]
    db = services["db"]
    assert db["image"].startswith("mariadb:")
    assert not [k for k in db["environment"] if k.startswith(("POSTGRES", "PG"))]
    assert [(v["source"], v["target"]) for v in db["volumes"]] == \
        [("mariadb-data", "/var/lib/mysql")]  # not PostgreSQL's db-data
    assert db["healthcheck"]["test"][1] == "healthcheck.sh"
    url = services["backend"]["environment"]["DATABASE_URL"]
    assert url == "mysql+pymysql://app:app@db:3306/app"
    assert services["sidecar"]["environment"]["SIDECAR_DATABASE_URL"] == url
    pins = (ROOT / "examples/compose/backend/requirements.txt").read_text().lower()
    assert re.search(r"^pymysql==", pins, re.M)
